"""Substitution (替代使用): use leaking from VBP products to non-VBP alternatives of the same ATC class.

When a batch starts, the winners' prices fall and so does a maker's interest in promoting the molecule; use
can move to a non-VBP drug of the same class (a non-VBP statin instead of the selected atorvastatin), which no
completion or non-selected-share rule sees. Published evidence: after VBP, spending on VBP drugs fell 42.19%
while alternatives of the same classes rose 11.52% (PLOS One 2025, 10.1371/journal.pone.0330296); use rose in
68.18% of drug-region pairs, associated with the size of the assessment target (Health Res Policy Syst 2024,
10.1186/s12961-024-01250-3).

**substitution** — per institution × ATC level-4 class × month (the twelve months ending with the as-of month),
for every class holding a product of a VBP variety: DDDs of the selected products (中选, backups included), of
non-selected products of VBP varieties (同品种非中选) and of non-VBP alternatives of the class (非集采同类), and
the alternatives' share of the class's DDDs. Products without DDDs are left out (``product-ddd`` says why).

**substitution-flags** — per institution × class of the batch's varieties, a difference-in-differences:

* baseline window: the ``substitution_baseline_months`` calendar months ending with the batch's first month
  of execution (the months before the start, and the start month, whose prescribing still follows the pre-VBP
  habits: institutions bring the winners in over the first months); follow-up window: the
  ``substitution_followup_months`` months ending with the as-of month (through the as-of date), starting no
  earlier than the month after the baseline (no rows while the follow-up is empty);
* share = non-VBP DDDs / all DDDs of the class at the institution in a window; peers = the other institutions
  of the same level with use of the class, pooled (Σ non-VBP DDDs / Σ DDDs);
* DiD = (own follow-up share − own baseline share) − (peers' follow-up share − peers' baseline share);
* flag ``nonvbp_rise`` when DiD > ``substitution_did_min`` and the institution used at least
  ``substitution_min_ddd`` DDDs of the class in each window; below that, ``low_volume`` (not judged). A class
  without peers in a window is not judged either (blank DiD);
* what is at stake: excess non-VBP DDDs = DiD × the follow-up DDDs (the rise beyond the peers'), and the ¥
  effect = excess DDDs × (the institution's non-VBP cost per DDD − its selected cost per DDD) in the follow-up:
  what the excess cost beyond buying the same DDDs at the selected price (blank when it bought no selected
  product or no alternative in the follow-up).

A flag is a clue for a bureau to look at (a new indication, a shortage, a formulary change can explain it),
never a verdict. Aggregation is Ibis over the accepted facts on every engine.

>>> from jicai.store import connect
>>> from jicai.contract.arrow import empty
>>> wh = connect("duckdb://")
>>> for name in (*INPUT_TABLES, "batches"): _ = wh.write_table(name, empty(name))
>>> substitution(wh, date(2024, 6, 30)).to_pyarrow().num_rows
0
>>> substitution_flags(wh, "B1", date(2024, 6, 30)).to_pyarrow().num_rows
0
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

from jicai.analytics.class_use import INPUT_TABLES, class_use
from jicai.analytics.ddd import product_ddd, with_class_name
from jicai.analytics.ddd_volume import MONTHS
from jicai.calendar import shift_month
from jicai.contract.columns import cols
from jicai.measures.registry import Dims, Measure
from jicai.policy import Policy, load_policy
from jicai.store import Warehouse

FLAGS: dict[str, tuple[str, str]] = {
    "nonvbp_rise": ("非集采同类替代上升", "DiD of the non-VBP share against same-level peers > substitution_did_min"),
    "low_volume": ("用量不足未判断", "fewer than substitution_min_ddd DDDs of the class in a window: not judged"),
}

MONTH_COLUMNS = cols(
    "month", "institution_code", "level", "atc4", "atc4_name", "selected_ddd", "nonselected_ddd", "nonvbp_ddd", "nonvbp_share",
    "selected_amount", "nonvbp_amount",
    month=("月份", "month of acceptance (YYYY-MM)"),
)

FLAG_COLUMNS = cols(
    "institution_code", "level", "atc4", "atc4_name", "batch_id", "base_months", "follow_months", "base_ddd", "follow_ddd",
    "base_share", "follow_share", "peer_base_share", "peer_follow_share", "did", "excess_ddd",
    "nonvbp_cost_per_ddd", "selected_cost_per_ddd", "yuan_effect", "flags", "flags_zh",
    flags=("替代使用标记", "`;`-separated: nonvbp_rise, low_volume"),
    flags_zh=("替代使用说明", "the flags in Chinese"),
)


def vbp_classes(wh: Warehouse, pd: ir.Table, batch_id: str | None = None) -> ir.Table:
    """ATC classes (atc4) holding a product of a VBP variety (of ``batch_id`` when given); ``pd``: the products'
    DDD facts (:func:`jicai.analytics.ddd.product_ddd`)."""
    p = wh.table("products").select("product_code", "variety_id")
    v = wh.table("varieties")
    if batch_id is not None:
        v = v.filter(v.batch_id == batch_id)
    j = pd.join(p, "product_code").join(v.select("variety_id"), "variety_id")
    return j.filter(j.atc4.notnull()).select("atc4").distinct()


def _ratio(num: ir.FloatingValue, den: ir.FloatingValue) -> ir.FloatingValue:
    return ibis.ifelse(den > 0, num / den, ibis.null("float64"))


def substitution(wh: Warehouse, as_of: date, policy: Policy | None = None) -> ir.Table:
    """The rows of ``substitution`` (see the module doc)."""
    first = shift_month(as_of.replace(day=1), -(MONTHS - 1))
    pd = product_ddd(wh)
    u = class_use(wh, first, as_of, pd)
    u = u.filter(u.ddd.notnull()).semi_join(vbp_classes(wh, pd), "atc4")

    def part(cls: str, x: ir.Value) -> ir.Value:
        return ibis.ifelse(u.use_class == cls, x, 0.0)

    g = u.group_by(["month", "institution_code", "level", "atc4"]).agg(
        selected_ddd=part("selected", u.ddd).sum(), nonselected_ddd=part("nonselected", u.ddd).sum(),
        nonvbp_ddd=part("nonvbp", u.ddd).sum(), selected_amount=part("selected", u.amount).sum(),
        nonvbp_amount=part("nonvbp", u.amount).sum(),
    )
    g = with_class_name(g)
    total = g.selected_ddd + g.nonselected_ddd + g.nonvbp_ddd
    return g.select(
        month=g.month.strftime("%Y-%m"), institution_code=g.institution_code, level=g.level, atc4=g.atc4,
        atc4_name=g.atc4_name,
        selected_ddd=g.selected_ddd, nonselected_ddd=g.nonselected_ddd, nonvbp_ddd=g.nonvbp_ddd,
        nonvbp_share=_ratio(g.nonvbp_ddd, total), selected_amount=g.selected_amount, nonvbp_amount=g.nonvbp_amount,
    )


def windows(start: date, as_of: date, base_months: int, follow_months: int) -> tuple[date, date, date] | None:
    """(baseline's first month, follow-up's first month, baseline's last month) as first days, or None when the
    follow-up is empty (see the module doc).

    >>> windows(date(2024, 1, 1), date(2024, 6, 30), 3, 3)
    (datetime.date(2023, 11, 1), datetime.date(2024, 4, 1), datetime.date(2024, 1, 1))
    >>> windows(date(2024, 1, 15), date(2024, 2, 10), 3, 3)  # the follow-up starts after the start month
    (datetime.date(2023, 11, 1), datetime.date(2024, 2, 1), datetime.date(2024, 1, 1))
    >>> windows(date(2024, 1, 15), date(2024, 1, 31), 3, 3) is None
    True
    """
    start_month = start.replace(day=1)
    base_first = shift_month(start_month, -(base_months - 1))
    follow_first = max(shift_month(as_of.replace(day=1), -(follow_months - 1)), shift_month(start_month, 1))
    if follow_first > as_of:
        return None
    return base_first, follow_first, start_month


def _batch_start(wh: Warehouse, batch_id: str) -> date | None:
    b = wh.table("batches")
    rows = b.filter(b.batch_id == batch_id).select("start_date").to_pyarrow().column("start_date").to_pylist()
    return rows[0] if rows else None


def _label(first: date, last: date) -> str:
    return f"{first:%Y-%m}~{last:%Y-%m}"


def substitution_flags(wh: Warehouse, batch_id: str, as_of: date, policy: Policy | None = None) -> ir.Table:
    """The rows of ``substitution-flags`` for ``batch_id`` as of ``as_of`` (see the module doc)."""
    policy = policy or load_policy()
    nb = int(policy.value("substitution_baseline_months"))
    nf = int(policy.value("substitution_followup_months"))
    did_min = float(policy.value("substitution_did_min"))
    min_ddd = float(policy.value("substitution_min_ddd"))
    start = _batch_start(wh, batch_id)
    w = windows(start, as_of, nb, nf) if start is not None else None
    base_first, follow_first, base_last = w or (as_of, as_of, as_of)
    pd = product_ddd(wh)
    u = class_use(wh, base_first, as_of, pd)
    u = u.filter(u.ddd.notnull()).semi_join(vbp_classes(wh, pd, batch_id), "atc4")
    if w is None:
        u = u.filter(ibis.literal(False))
    in_base = u.month <= ibis.literal(base_last)
    in_follow = u.month >= ibis.literal(follow_first)
    alt = u.use_class == "nonvbp"
    sel = u.use_class == "selected"

    def s(cond: ir.BooleanValue, x: ir.Value) -> ir.Value:
        return ibis.ifelse(cond, x, 0.0).sum()

    own = u.group_by(["institution_code", "level", "atc4"]).agg(
        b_tot=s(in_base, u.ddd), b_alt=s(in_base & alt, u.ddd), f_tot=s(in_follow, u.ddd),
        f_alt=s(in_follow & alt, u.ddd), f_alt_amt=s(in_follow & alt, u.amount), f_sel=s(in_follow & sel, u.ddd),
        f_sel_amt=s(in_follow & sel, u.amount),
    )
    own = wh.reuse(own)  # read twice: the rows and their level's sums
    lv = own.group_by(["level", "atc4"]).agg(l_b_tot=own.b_tot.sum(), l_b_alt=own.b_alt.sum(),
                                              l_f_tot=own.f_tot.sum(), l_f_alt=own.f_alt.sum())
    lv = lv.rename(l_level="level", l_atc4="atc4")
    j = with_class_name(own.left_join(lv, [own.level == lv.l_level, own.atc4 == lv.l_atc4]))
    base_share, follow_share = _ratio(j.b_alt, j.b_tot), _ratio(j.f_alt, j.f_tot)
    peer_base = _ratio(j.l_b_alt - j.b_alt, j.l_b_tot - j.b_tot)
    peer_follow = _ratio(j.l_f_alt - j.f_alt, j.l_f_tot - j.f_tot)
    did = (follow_share - base_share) - (peer_follow - peer_base)
    enough = (j.b_tot >= min_ddd) & (j.f_tot >= min_ddd)
    rise = (enough & (did > did_min)).fill_null(False)
    low = ~enough
    excess = ibis.ifelse(rise, did * j.f_tot, ibis.null("float64"))
    alt_cost, sel_cost = _ratio(j.f_alt_amt, j.f_alt), _ratio(j.f_sel_amt, j.f_sel)

    def joined(labels: dict[str, str]) -> ir.StringValue:
        text = ibis.ifelse(rise, ";" + labels["nonvbp_rise"], "") + ibis.ifelse(low, ";" + labels["low_volume"], "")
        return text.substr(1)

    label = (lambda a, b: _label(a, b)) if w else (lambda a, b: "")
    return j.select(
        institution_code=j.institution_code, level=j.level, atc4=j.atc4, atc4_name=j.atc4_name,
        batch_id=ibis.literal(batch_id, "string"),
        base_months=ibis.literal(label(base_first, base_last), "string"),
        follow_months=ibis.literal(label(follow_first, as_of), "string"),
        base_ddd=j.b_tot, follow_ddd=j.f_tot, base_share=base_share, follow_share=follow_share,
        peer_base_share=peer_base, peer_follow_share=peer_follow, did=did, excess_ddd=excess,
        nonvbp_cost_per_ddd=alt_cost, selected_cost_per_ddd=sel_cost,
        yuan_effect=excess * (alt_cost - sel_cost),
        flags=joined({c: c for c in FLAGS}), flags_zh=joined({c: zh for c, (zh, _) in FLAGS.items()}),
    )


_ROLES = ("admin", "bureau", "auditor", "institution")
_POLICY = ("substitution_baseline_months", "substitution_followup_months", "substitution_did_min",
           "substitution_min_ddd")

MEASURES = (
    Measure(
        warm=False,  # computed when first asked for (web/warmup.py)
        name="substitution", title_zh="替代使用监测", title_en="Substitution by class",
        compute=lambda wh, a: substitution(wh, a.as_of, a.policy),
        params=("as_of",), inputs=INPUT_TABLES, columns=MONTH_COLUMNS, dims=Dims(institution="institution_code"),
        roles=_ROLES, sort=("month", "institution_code", "atc4"),
        totals=("selected_ddd", "nonselected_ddd", "nonvbp_ddd", "selected_amount", "nonvbp_amount"),
        note_zh="按机构、ATC类别、月份的中选、同品种非中选与非集采同类DDD数",
        note_en="DDDs of selected, non-selected and non-VBP products per institution, class and month",
        doc=__doc__,
    ),
    Measure(
        warm=False,  # computed when first asked for (web/warmup.py)
        name="substitution-flags", title_zh="替代使用预警", title_en="Substitution flags",
        compute=lambda wh, a: substitution_flags(wh, a.batch, a.as_of, a.policy),
        params=("batch", "as_of"), inputs=(*INPUT_TABLES, "batches"), columns=FLAG_COLUMNS,
        dims=Dims(institution="institution_code"), roles=_ROLES, sort=("flags", "institution_code", "atc4"),
        policy=_POLICY, labels={"flags": FLAGS}, group="assessment",
        note_zh="集采执行后非集采同类药品占比较同级机构上升(双重差分),及按中选价计算的金额影响",
        note_en="non-VBP share of a class rising after the batch start beyond same-level peers (DiD), with the ¥ effect",
        doc=__doc__,
    ),
)
