"""带金销售线索 (kickback clues): institutions whose purchases of one enterprise's non-selected product look
like what 医保发〔2024〕31号 asks bureaus to analyse ("分析研判'带金销售'等不正之风线索"), ranked with their
evidence. **Clues, never verdicts**: a high share may have a clinical reason; a row says where a bureau
should look, and the action it names (:mod:`jicai.analytics.clue_actions`) is a suggestion.

A row is one institution × one non-selected product (a product of a variety with no ``selected_products``
row for it, of any role), as of a day D. Volumes are ordered units (quantity × units_per_pack) of
``orders`` by ``ordered_at``. Two windows of ``clue_window_months`` whole months each:

* *recent*: the N months up to D's month, lines ordered on or before D;
* *early*: the first N months of the variety's batch (from the month of the batch's ``start_date``).

Signals (``clue_factors``; a row exists when at least one fires and the institution ordered the product on at
least ``clue_min_lines`` lines in the recent window):

* ``peer_overuse`` 非中选产品用量远超同级且上升 — the product's *recent share* (its units / the institution's
  units of the variety, recent window) is at least ``clue_peer_excess`` above the median share of the
  same-level institutions (``institutions.level``; every institution of that level with units of the variety
  in the recent window counts, with share 0 when it did not buy the product; the institution itself
  included), **and** at least ``clue_share_rise`` above its *early share* (same ratio, early window). Only
  when the batch is old enough that the windows do not overlap (D's month ≥ start month + 2N − 1) and the
  institution bought the variety in the early window. Both differences exactly at the threshold fire.
* ``priced_concentrated`` 高价产品集中采购 — the product's in-force listing is above the winning price (the
  ``above_winning_price`` or ``suspend_or_delist`` findings of :mod:`jicai.measures.listing`, its rules and
  ``price_tolerance`` reused as they are), **and** this institution holds at least
  ``clue_concentration_share`` of the product's recent units province-wide (a high price bought at few
  places). ``above_win_amount`` is what it paid above the winning price: Σ amount − winning price × units.

* ``class_overuse`` 非集采同类产品用量远超同级且上升 — the same test for a **non-VBP product of an ATC-4 class**
  holding a VBP variety (a product in no variety, with DDDs: :mod:`jicai.analytics.ddd`), its share counted in
  DDDs of the class (molecules and strengths differ), the early window being the first N months of the
  class's first started batch. A product without DDDs is not a candidate and not in the class's DDDs.

``suggested_action``: 提醒教育 for one signal, 约谈 for both (:mod:`jicai.analytics.clue_actions`). ``rank``:
both signals first, then the larger ``above_win_amount``, then the larger ``share_vs_peers``.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import ibis
import ibis.expr.types as ir

from jicai.analytics.clue_actions import ACTIONS, action_text, suggested
from jicai.analytics.ddd import product_ddd, with_class_name
from jicai.assess.text import one_decimal, percent
from jicai.calendar import month_label, parse_month, shift_month
from jicai.contract.columns import cols
from jicai.measures.exact import snap, to_micro
from jicai.measures.listing import listing_governance
from jicai.measures.progress import ratio
from jicai.measures.registry import Dims, Measure
from jicai.measures.supply_base import quantiles
from jicai.policy import Policy, load_policy
from jicai.store import Warehouse

INPUT_TABLES = ("orders", "products", "varieties", "batches", "selected_products", "listings", "institutions",
                "enterprises")
POLICY = ("clue_window_months", "clue_min_lines", "clue_peer_excess", "clue_share_rise", "clue_concentration_share",
          "price_tolerance", "nonselected_price_multiple")
FACTORS: dict[str, tuple[str, str]] = {
    "peer_overuse": ("非中选产品用量远超同级且上升", "share far above same-level peers and rising since the batch began"),
    "class_overuse": ("非集采同类产品用量远超同级且上升",
                      "a non-VBP product's share of its ATC class (in DDDs) far above same-level peers and rising "
                      "since the class's first batch began"),
    "priced_concentrated": ("高价产品集中采购", "listed above the winning price, bought mostly by this institution"),
}
LEVELS = {3: "三级", 2: "二级", 1: "一级", 0: "未定级"}

COLUMNS = cols(
    "rank", "as_of", "institution_code", "institution_name", "region_code", "level", "variety_id", "variety_name",
    "atc4", "atc4_name", "product_code", "product_name", "enterprise_code", "enterprise_name", "recent_lines", "recent_units",
    "recent_share", "early_share", "peer_median_share", "share_vs_peers", "share_rise", "listed_unit_price",
    "winning_price", "above_win_amount", "province_share", "clue_factors", "suggested_action", "clue_reasons",
    rank=("线索排序", "1 = first: both signals, then the larger above_win_amount, then the larger share_vs_peers"),
    as_of=("截至日期", "the as-of date D (inclusive)"),
    enterprise_code=("生产企业代码", "maker of the non-selected product (products.manufacturer_code)"),
    enterprise_name=("生产企业名称", "maker of the non-selected product"),
    recent_lines=("近期订单行数", "order lines of the product at the institution in the recent window"),
    product_code=("医保编码", "the non-selected product, or the non-VBP product of the class"),
    variety_id=("品种编号", "the VBP variety of a non-selected product; empty for a non-VBP product of a class"),
    atc4=("ATC类别", "the ATC level-4 class of a non-VBP product (class_overuse); empty for a variety's product"),
    recent_share=("近期占比", "the product's use / the institution's use of the variety (units) or of the class "
                              "(DDDs) in the recent window (clue_window_months up to the as-of date)"),
    early_share=("执行初期占比", "the same share in the first clue_window_months months of the batch (of the "
                               "class's first batch for a non-VBP product)"),
)


def _day(d: date | str) -> date:
    return d if isinstance(d, date) else date.fromisoformat(str(d))


def _month_index(d: ir.DateValue | ir.TimestampValue) -> ir.IntegerValue:
    return d.year().cast("int64") * 12 + d.month().cast("int64")


def _pp(x: float) -> str:
    return f"{x * 100:g}"


LINE_COLUMNS = ("institution_code", "product_code", "ordered_at", "quantity", "pack_price", "scope", "variety_id",
                "variety_name", "atc4", "atc4_name", "product_name", "enterprise_code", "upp", "weight", "start_idx",
                "candidate")


def _variety_lines(t: dict[str, ir.Table], d: date) -> ir.Table:
    """Order lines of the VBP varieties of started batches; candidates: the non-selected products (shares in
    units of the variety, from the month the variety's batch started)."""
    p, v, b = t["products"], t["varieties"], t["batches"]
    sel = t["selected_products"].select(s_product="product_code").distinct()
    prod = p.select("product_code", "variety_id", upp=p.units_per_pack.fill_null(1.0),
                    enterprise_code=p.manufacturer_code, product_name=p.name)
    prod = prod.left_join(sel, prod.product_code == sel.s_product)
    prod = prod.mutate(candidate=prod.s_product.isnull()).drop("s_product")
    vb = v.select("variety_id", "batch_id", variety_name=v.name).join(
        b.select("batch_id", start=b.start_date), "batch_id")
    vb = vb.filter(vb.start <= ibis.literal(d, "date"))
    prod = prod.join(vb.select("variety_id", "variety_name", start_idx=_month_index(vb.start)), "variety_id")
    o = t["orders"].select("institution_code", "product_code", "ordered_at", "quantity", "pack_price")
    o = o.join(prod, "product_code")
    return o.mutate(scope=ibis.literal("variety"), atc4=ibis.null("string"), atc4_name=ibis.null("string"),
                    weight=ibis.literal(1.0)).select(*LINE_COLUMNS)


def _class_lines(wh: Warehouse, t: dict[str, ir.Table], d: date) -> ir.Table:
    """Order lines of every product with DDDs of an ATC-4 class holding a VBP variety of a started batch;
    candidates: the non-VBP products (in no variety). Shares in DDDs of the class, from the month the first
    batch with a variety of the class started (the molecule the batch made cheap is the one left behind)."""
    pd = product_ddd(wh)
    pd = pd.select(d_product="product_code", d_class="atc4", weight="ddd_per_unit")
    p, v, b = t["products"], t["varieties"], t["batches"]
    vb = v.select("variety_id", "batch_id").join(b.select("batch_id", start=b.start_date), "batch_id")
    vb = vb.filter(vb.start <= ibis.literal(d, "date"))
    vp = p.select("product_code", "variety_id").join(vb, "variety_id")
    vp = vp.join(pd, vp.product_code == pd.d_product)
    starts = vp.filter(vp.d_class.notnull()).group_by(atc4="d_class").agg(start=vp.start.min())
    starts = with_class_name(starts.mutate(start_idx=_month_index(starts.start)).drop("start"))
    prod = p.select("product_code", upp=p.units_per_pack.fill_null(1.0), enterprise_code=p.manufacturer_code,
                    product_name=p.name, candidate=p.variety_id.isnull())
    prod = prod.join(pd.filter(pd.weight.notnull()), prod.product_code == pd.d_product).drop("d_product")
    prod = prod.join(starts, prod.d_class == starts.atc4).drop("d_class")
    o = t["orders"].select("institution_code", "product_code", "ordered_at", "quantity", "pack_price")
    o = o.join(prod, "product_code")
    # the class stands where the variety does: the peers and the shares are per class
    return o.mutate(scope=ibis.literal("class"), variety_id=o.atc4, variety_name=ibis.null("string")) \
        .select(*LINE_COLUMNS)


def kickback_clues(wh: Warehouse, as_of: date | str, policy: Policy | None = None) -> ir.Table:
    """The clue rows as of ``as_of``; see the module docstring. Parameters in force on ``as_of``."""
    d = _day(as_of)
    policy = policy or load_policy()

    def pv(name: str):
        return policy.value(name, on=d)

    n = int(pv("clue_window_months"))
    min_lines = int(pv("clue_min_lines"))
    end = datetime.combine(d + timedelta(days=1), time())
    recent_lo = shift_month(parse_month(month_label(d)), -(n - 1))
    a_idx = d.year * 12 + d.month

    t = {name: wh.table(name) for name in INPUT_TABLES}
    o = _variety_lines(t, d).union(_class_lines(wh, t, d))
    o = o.filter(o.ordered_at < ibis.literal(end))
    ms = _month_index(o.ordered_at) - o.start_idx
    o = o.mutate(is_early=(ms >= 0) & (ms < n), is_recent=o.ordered_at >= ibis.literal(recent_lo).cast("timestamp"))
    o = o.filter(o.is_early | o.is_recent)
    qty = o.quantity.fill_null(0.0)
    # units: minimum units of the product; weighed: what the shares count — units within a variety, DDDs
    # within a class (products of different molecules and strengths are comparable only in DDDs)
    o = o.mutate(units=qty * o.upp, weighed=qty * o.upp * o.weight, amount=qty * o.pack_price.fill_null(0.0),
                 old_enough=ibis.literal(a_idx) - o.start_idx >= 2 * n - 1)

    def part(flag: ir.BooleanValue, col: ir.Value) -> ir.Value:
        return ibis.ifelse(flag, col, 0)

    var = o.group_by(["institution_code", "scope", "variety_id"]).agg(
        v_recent=part(o.is_recent, o.weighed).sum(), v_early=part(o.is_early, o.weighed).sum())
    var = wh.reuse(var)  # read by the candidates and by the peers
    non = o.filter(o.candidate)
    per = non.group_by(["institution_code", "product_code", "scope", "variety_id", "variety_name", "atc4",
                        "atc4_name", "product_name", "enterprise_code", "old_enough"]).agg(
        recent_lines=part(non.is_recent, 1).sum().cast("int64"), recent_units=part(non.is_recent, non.units).sum(),
        recent_weighed=part(non.is_recent, non.weighed).sum(), early_weighed=part(non.is_early, non.weighed).sum(),
        recent_amount=part(non.is_recent, non.amount).sum())
    per = wh.reuse(per)  # read by the candidates, the peers and the province totals
    cand = per.filter(per.recent_lines >= min_lines)
    cand = cand.join(var, ["institution_code", "scope", "variety_id"])
    inst = t["institutions"]
    levels = inst.select("institution_code", institution_name=inst.name, region_code=inst.region_code,
                         level=inst.level)
    cand = cand.join(levels, "institution_code")
    cand = cand.mutate(recent_share=ratio(cand.recent_weighed, cand.v_recent),
                       early_share=ratio(cand.early_weighed, cand.v_early))

    # peers: every same-level institution with use of the variety (class) recently, its share of the product (0 if
    # none)
    pv_ = var.filter(var.v_recent > 0).join(levels.select("institution_code", p_level="level"), "institution_code")
    wanted = cand.select(w_product="product_code", w_scope="scope", w_variety="variety_id", w_level="level").distinct()
    peers = pv_.join(wanted, [pv_.scope == wanted.w_scope, pv_.variety_id == wanted.w_variety,
                              pv_.p_level == wanted.w_level])
    mine = per.select(m_inst="institution_code", m_product="product_code", m_units="recent_weighed")
    peers = peers.left_join(mine, [peers.institution_code == mine.m_inst, peers.w_product == mine.m_product])
    peers = peers.select(level="w_level", product_code="w_product", order_line_id=peers.institution_code,
                         share=peers.m_units.fill_null(0.0) / peers.v_recent)
    med = quantiles(peers, ["level", "product_code"], "share", {"peer_median_share": 50})
    cand = cand.left_join(med, ["level", "product_code"]).drop("level_right", "product_code_right")

    tot = per.group_by(t_product="product_code").agg(t_units=per.recent_units.sum())
    # a non-VBP product of a class is in no variety: no listing governance finding, no winning price of its own
    cand = cand.left_join(tot, cand.product_code == tot.t_product).drop("t_product")
    lg = listing_governance(wh, d, policy)
    lg = lg.filter(lg.finding.isin(("above_winning_price", "suspend_or_delist")))
    lg = lg.select(l_product="product_code", listed_unit_price="listed_unit_price", winning_price="winning_price",
                   finding_zh="finding_zh")
    cand = cand.left_join(lg, cand.product_code == lg.l_product).drop("l_product")
    e = t["enterprises"]
    e = e.select(e_code="enterprise_code", enterprise_name=e.name)
    cand = cand.left_join(e, cand.enterprise_code == e.e_code).drop("e_code")
    cand = cand.mutate(
        share_vs_peers=cand.recent_share - cand.peer_median_share,
        share_rise=cand.recent_share - cand.early_share,
        province_share=ratio(cand.recent_units, cand.t_units),
        above_win_amount=ibis.ifelse(cand.winning_price.notnull(),
                                     cand.recent_amount - cand.winning_price * cand.recent_units,
                                     ibis.null("float64")),
    )
    out = _flagged(cand, pv, d, n)
    out = out.mutate(variety_id=ibis.ifelse(out.scope == "class", ibis.null("string"), out.variety_id))
    return out.select(*(c.name for c in COLUMNS))


def _flagged(c: ir.Table, pv, d: date, n: int) -> ir.Table:
    """Signals, reasons, the suggested action and the rank of the candidate rows."""
    excess, rise, conc = float(pv("clue_peer_excess")), float(pv("clue_share_rise")), float(pv("clue_concentration_share"))
    overuse = (c.old_enough & c.early_share.notnull()
               & (snap(c.share_vs_peers) >= to_micro(excess)) & (snap(c.share_rise) >= to_micro(rise))).fill_null(False)
    in_class = c.scope == "class"
    priced = (c.winning_price.notnull() & (snap(c.province_share) >= to_micro(conc))).fill_null(False)
    level_zh = ibis.literal("未定级")
    for k, z in LEVELS.items():
        level_zh = ibis.ifelse(c.level == k, z, level_zh)
    class_zh = c.atc4 + ibis.ifelse(c.atc4_name.isnull(), "", "(" + c.atc4_name.fill_null("") + ")")
    texts = {
        "class_overuse": f"近 {n} 个月该非集采产品占本机构ATC类别 " + class_zh + " 用量(按DDD计) " + percent(c.recent_share)
        + ",同级(" + level_zh + ")机构中位数 " + percent(c.peer_median_share) + ",高出 "
        + one_decimal(c.share_vs_peers * 100) + f" 个百分点(≥ {_pp(excess)} 个百分点,clue_peer_excess);该类别首个集采批次执行首 {n} 个月为 "
        + percent(c.early_share) + ",上升 " + one_decimal(c.share_rise * 100)
        + f" 个百分点(≥ {_pp(rise)} 个百分点,clue_share_rise)",
        "peer_overuse": f"近 {n} 个月该产品占本机构该品种用量 " + percent(c.recent_share) + ",同级(" + level_zh
        + ")机构中位数 " + percent(c.peer_median_share) + ",高出 " + one_decimal(c.share_vs_peers * 100)
        + f" 个百分点(≥ {_pp(excess)} 个百分点,clue_peer_excess);批次执行首 {n} 个月为 " + percent(c.early_share)
        + ",上升 " + one_decimal(c.share_rise * 100) + f" 个百分点(≥ {_pp(rise)} 个百分点,clue_share_rise)",
        "priced_concentrated": "挂网价格治理结论为“" + c.finding_zh.fill_null("") + f"”,近 {n} 个月高出中选价采购金额 "
        + one_decimal(c.above_win_amount.fill_null(0.0)) + " 元,占全省该产品采购量 " + percent(c.province_share)
        + f"(≥ {_pp(conc)}%,clue_concentration_share)",
    }
    fired = (("peer_overuse", overuse & ~in_class), ("class_overuse", overuse & in_class),
             ("priced_concentrated", priced))
    codes, reasons, count = ibis.literal(""), ibis.literal(""), ibis.literal(0)
    for name, cond in fired:
        codes = codes + ibis.ifelse(cond, ";" + name, "")
        reasons = reasons + ibis.ifelse(cond, ";" + texts[name], "")
        count = count + ibis.ifelse(cond, 1, 0)
    c = c.mutate(clue_factors=codes.substr(1), signals=count, reasons=reasons.substr(1))
    c = c.filter(c.signals > 0)
    action = suggested(c.signals)
    c = c.mutate(suggested_action=action, clue_reasons=c.reasons + action_text(action, "医疗机构"),
                 as_of=ibis.literal(d, "date"))
    order = [ibis.desc(c.signals), ibis.desc(c.above_win_amount.fill_null(-1.0)),
             ibis.desc(c.share_vs_peers.fill_null(-1.0)), c.institution_code, c.product_code]
    return c.mutate(rank=(ibis.row_number().over(order_by=order) + 1).cast("int64"))


MEASURES = (
    Measure(
        warm=False,  # computed when first asked for (web/warmup.py)
        name="kickback-clues", title_zh="带金销售线索", title_en="Kickback clues",
        compute=lambda wh, a: kickback_clues(wh, a.as_of, a.policy),
        params=("as_of",), inputs=INPUT_TABLES, columns=COLUMNS,
        dims=Dims(institution="institution_code", region="region_code", product="product_code",
                  enterprise=("enterprise_code",)),
        roles=("admin", "bureau", "auditor"), sort=("rank",), policy=POLICY,
        labels={"clue_factors": FACTORS, "suggested_action": ACTIONS}, group="fund",
        note_zh="线索仅供核查,不作认定(医保发〔2024〕31号 分析研判“带金销售”线索):非中选产品用量远超同级且上升、"
                "高于中选价挂网产品集中采购;建议措施(提醒教育/约谈)在“监管措施”页 /actions 登记。"
                "非集采同类产品(同一ATC类别,按DDD计)用量远超同级且上升亦列为线索。",
        note_en="Clues, never verdicts (医保发〔2024〕31号): a non-selected product's share far above same-level peers "
                "and rising; products listed above the winning price bought mostly at one institution. Record the "
                "action taken on /actions. A non-VBP product of the same ATC class (in DDDs) far above peers and rising "
                "is a clue too.",
        doc=__doc__,
    ),
)
