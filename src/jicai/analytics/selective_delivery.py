"""选择性配送线索 (selective-delivery clues): a distributor that serves its small customers far worse than its
large ones, for the same product in the same month — what 医保发〔2024〕31号 asks bureaus to consult on
(会商选择性配送). **Clues, never verdicts**: a remote clinic may be harder to reach; a row says where a
bureau should ask, and the action it names (:mod:`jicai.analytics.clue_actions`) is a suggestion.

A row is one distributor × product × month (``YYYY-MM`` of ``ordered_at``) where a signal fires. The order
lines, their on-time packs, due packs and response times are the supply scorecard's
(:func:`jicai.measures.supply_base.timed_lines`: on time = shipped within ``deliver_within_hours``; a line not
yet due at the data's end is left out of the rate), the median the exact one of
:func:`~jicai.measures.supply_base.quantiles` (a line never answered has no response time and is not in the
median; it still counts as not on time in the rate).

**Small and large customers.** An institution is *small* when its ``institutions.level`` is at most
``selective_small_level_max`` (default 1: 一级 hospitals, 基层 health centres, village clinics and unrated
institutions); every other (二级 and 三级) is *large*. jicai's data hold no remoteness (a region code says
where, not how far) and the level is what decides volume in practice (a 三级 hospital orders ten times a
township centre's), so level stands for small, remote and low-volume at once; a bureau that wants another
cut sets the level.

Signals (``clue_factors``), each requiring at least ``selective_min_lines`` lines on each side:

* ``rate_gap`` 小客户配送率明显偏低 — large delivery rate − small delivery rate ≥ ``selective_rate_gap``;
* ``response_gap`` 小客户响应明显偏慢 — small median response hours − large median ≥
  ``selective_response_gap_hours``.

Exactly at the threshold fires (compared on the 10⁻⁶ grid). ``suggested_action``: 提醒教育 for one signal,
约谈 for both, addressed to the distributor (an enterprise in the workflow).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from jicai.analytics.clue_actions import ACTIONS, action_text, suggested
from jicai.assess.text import one_decimal, percent
from jicai.calendar import month_label, parse_month
from jicai.contract.columns import cols
from jicai.measures.exact import snap, to_micro
from jicai.measures.progress import ratio
from jicai.measures.registry import Dims, Measure
from jicai.measures.supply_base import (
    DELIVERY_LINES,
    HOUR,
    SUPPLY_ROLES,
    quantiles,
    supply_tables,
    timed_lines,
    window,
)
from jicai.policy import Policy, load_policy
from jicai.store import Warehouse

INPUT_TABLES = ("orders", "deliveries", "products", "institutions", "enterprises")
POLICY = ("deliver_within_hours", "selective_small_level_max", "selective_min_lines", "selective_rate_gap",
          "selective_response_gap_hours")
FACTORS: dict[str, tuple[str, str]] = {
    "rate_gap": ("小客户配送率明显偏低", "small customers' delivery rate at least selective_rate_gap below large ones'"),
    "response_gap": ("小客户响应明显偏慢", "small customers' median response at least selective_response_gap_hours slower"),
}

COLUMNS = cols(
    "month", "distributor_code", "distributor_name", "product_code", "product_name", "small_institutions",
    "small_lines", "small_delivery_rate", "small_response_hours", "large_lines", "large_delivery_rate",
    "large_response_hours", "delivery_rate_gap", "response_hours_gap", "clue_factors", "suggested_action",
    "clue_reasons",
    distributor_code=("配送企业代码", "the distributor serving both groups"),
    product_code=("医保编码", "the product delivered"),
)


def selective_delivery(wh: Warehouse, month: str, policy: Policy | None = None) -> ir.Table:
    """The clue rows of ``month`` (YYYY-MM); see the module docstring. Parameters in force on its first day."""
    first = parse_month(month)
    policy = policy or load_policy()

    def pv(name: str):
        return policy.value(name, on=first)

    lo, hi = window(month)
    t = supply_tables(wh, INPUT_TABLES)
    lines = timed_lines(t["orders"], t["deliveries"], lo, hi, float(pv("deliver_within_hours")), t[DELIVERY_LINES])
    inst = t["institutions"]
    small_max = int(pv("selective_small_level_max"))
    lines = lines.join(inst.select("institution_code", i_level=inst.level), "institution_code")
    lines = lines.mutate(side=ibis.ifelse(lines.i_level.fill_null(0) <= small_max, "small", "large"))
    lines = lines.filter(lines.distributor_code.notnull())
    lines = wh.reuse(lines.select("order_line_id", "institution_code", "distributor_code", "product_code", "side",
                                  "on_time_packs", "due_packs", "response_seconds"))
    keys = ["distributor_code", "product_code"]

    def part(s: str, col: ir.Value) -> ir.Value:
        return ibis.ifelse(lines.side == s, col, 0)

    g = lines.group_by(keys).agg(
        small_lines=part("small", 1).sum().cast("int64"), large_lines=part("large", 1).sum().cast("int64"),
        s_on=part("small", lines.on_time_packs).sum(), s_due=part("small", lines.due_packs).sum(),
        l_on=part("large", lines.on_time_packs).sum(), l_due=part("large", lines.due_packs).sum(),
        small_institutions=ibis.ifelse(lines.side == "small", lines.institution_code, ibis.null("string"))
        .nunique().cast("int64"),
    )
    med = quantiles(lines, [*keys, "side"], "response_seconds", {"m": 50})
    for s in ("small", "large"):
        m = med.filter(med.side == s)
        m = m.select(*keys, **{f"{s}_response_hours": m.m / HOUR})
        g = g.left_join(m, keys).drop(*(f"{k}_right" for k in keys))
    g = g.mutate(small_delivery_rate=ratio(g.s_on, g.s_due), large_delivery_rate=ratio(g.l_on, g.l_due))
    g = g.mutate(delivery_rate_gap=g.large_delivery_rate - g.small_delivery_rate,
                 response_hours_gap=g.small_response_hours - g.large_response_hours)
    p, e = t["products"], t["enterprises"]
    g = g.left_join(p.select("product_code", product_name=p.name), "product_code").drop("product_code_right")
    e = e.select(d_code="enterprise_code", distributor_name=e.name)
    g = g.left_join(e, g.distributor_code == e.d_code).drop("d_code")
    return _flagged(g, pv, month_label(first)).select(*(c.name for c in COLUMNS))


def _flagged(g: ir.Table, pv, month: str) -> ir.Table:
    min_lines = int(pv("selective_min_lines"))
    rate_t, resp_t = float(pv("selective_rate_gap")), float(pv("selective_response_gap_hours"))
    enough = (g.small_lines >= min_lines) & (g.large_lines >= min_lines)
    rate = (enough & (snap(g.delivery_rate_gap) >= to_micro(rate_t))).fill_null(False)
    resp = (enough & (snap(g.response_hours_gap) >= to_micro(resp_t))).fill_null(False)
    texts = {
        "rate_gap": "小客户配送率 " + percent(g.small_delivery_rate) + "(" + g.small_lines.cast("string")
        + " 条订单行),大客户 " + percent(g.large_delivery_rate) + "(" + g.large_lines.cast("string")
        + " 条),低 " + one_decimal(g.delivery_rate_gap * 100)
        + f" 个百分点(≥ {rate_t * 100:g} 个百分点,selective_rate_gap)",
        "response_gap": "小客户响应时间中位数 " + one_decimal(g.small_response_hours) + " 小时,大客户 "
        + one_decimal(g.large_response_hours) + " 小时,慢 " + one_decimal(g.response_hours_gap)
        + f" 小时(≥ {resp_t:g} 小时,selective_response_gap_hours)",
    }
    codes, reasons, count = ibis.literal(""), ibis.literal(""), ibis.literal(0)
    for name, cond in (("rate_gap", rate), ("response_gap", resp)):
        codes = codes + ibis.ifelse(cond, ";" + name, "")
        reasons = reasons + ibis.ifelse(cond, ";" + texts[name], "")
        count = count + ibis.ifelse(cond, 1, 0)
    g = g.mutate(clue_factors=codes.substr(1), signals=count, reasons=reasons.substr(1))
    g = g.filter(g.signals > 0)
    action = suggested(g.signals)
    return g.mutate(month=ibis.literal(month), suggested_action=action,
                    clue_reasons=g.reasons + action_text(action, "配送企业"))


MEASURES = (
    Measure(
        warm=False,  # computed when first asked for (web/warmup.py)
        name="selective-delivery", title_zh="选择性配送线索", title_en="Selective-delivery clues",
        compute=lambda wh, a: selective_delivery(wh, a.month, a.policy),
        params=("month",), inputs=INPUT_TABLES, columns=COLUMNS,
        dims=Dims(product="product_code", enterprise=("distributor_code",)),
        roles=SUPPLY_ROLES, sort=("distributor_code", "product_code"), policy=POLICY,
        labels={"clue_factors": FACTORS, "suggested_action": ACTIONS}, group="supply",
        note_zh="线索仅供核查,不作认定(医保发〔2024〕31号 会商选择性配送):同一配送企业、同一产品、同一月份,"
                "小客户(一级及以下)配送率或响应时间明显差于大客户;建议措施(提醒教育/约谈)在“监管措施”页 /actions 登记。",
        note_en="Clues, never verdicts (医保发〔2024〕31号): a distributor serving small customers (level ≤ 1) far worse "
                "than large ones, same product and month. Record the action taken on /actions.",
        doc=__doc__,
    ),
)
