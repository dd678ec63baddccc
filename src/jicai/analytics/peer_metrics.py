"""The measures that rank institutions, each as one value per institution (× item) as of a date D.

Each :class:`Metric` says which way is good (OpenPrescribing's ``low_is_good``), what unit its value is in,
what an item is (the figure is per batch, per variety, per ATC class, or one for the institution) and where the
value comes from — always an existing measure's own Ibis expression, never a second computation:

| metric | 中文 | from | item | good |
|---|---|---|---|---|
| ``completion`` | 总体完成率 | ``monitor-by-institution`` (all batches' agreements as of D) | — | high |
| ``nonselected_share`` | 总体非中选占比 | ``monitor-by-institution`` | — | low |
| ``payment_rate`` | 回款率 | ``monitor-by-institution`` | — | high |
| ``overdue_amount`` | 逾期未回款金额 | ``monitor-by-institution`` | — | low |
| ``offline_share`` | 线下采购占比 | ``monitor-by-institution`` | — | low |
| ``assessment_score`` | 考核得分 | ``assessment`` of the cycle year holding D (provisional before its end) | batch | high |
| ``cost_per_ddd`` | 每DDD费用 | ``ddd-savings`` (12 months to D) | variety | low |
| ``alternative_share`` | 非集采同类占比 | ``substitution`` (12 months to D): Σ non-VBP DDDs / Σ DDDs of the class | ATC class | low |
| ``months_to_pass`` | 中选占比达标月数 | ``slow-adopters``: never passed ranks last, with no value | batch | low |

An institution without a value for a metric (no agreement, nothing due, no DDDs) has no row for it: it is
not ranked there. ``weight`` is what a saving multiplies (the DDDs, for cost per DDD; null otherwise).

The monitoring as of D (every batch) is computed once for every metric that reads it (``monitored``): the
five roll-up figures and the assessments of the batches (:func:`jicai.assess.assessment.assess` takes it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import ibis
import ibis.expr.types as ir

from jicai.policy import Policy
from jicai.store import Warehouse

# (wh, as_of, policy, monitoring) -> institution_code, level, item, item_name, value, weight; ``monitoring`` is
# the monitoring of every batch as of D when the metric is ``monitored``, else None
SourceFn = Callable[[Warehouse, date, Policy, ir.Table | None], ir.Table]


@dataclass(frozen=True)
class Metric:
    name: str
    zh: str
    en: str
    low_is_good: bool
    unit: str  # rate, money, price, score, months: how the value is written (jicai.analytics.institution_deciles)
    item: str  # "" (one figure per institution), batch, variety, class
    source: SourceFn
    monitored: bool = False  # the source reads the monitoring as of D


def _shape(t: ir.Table, value: ir.Value, item: ir.Value | None = None, item_name: ir.Value | None = None,
           weight: ir.Value | None = None) -> ir.Table:
    return t.select(
        institution_code=t.institution_code, level=t.level.cast("int64"),
        item=(item if item is not None else ibis.literal("")).cast("string"),
        item_name=(item_name if item_name is not None else ibis.literal("")).cast("string"),
        value=value.cast("float64"), weight=(weight if weight is not None else ibis.null("float64")).cast("float64"),
    )


def _rollup(column: str) -> SourceFn:
    """A figure of ``monitor-by-institution`` (the roll-up of the monitoring, the same for the five)."""
    def source(wh: Warehouse, as_of: date, policy: Policy, monitoring: ir.Table | None) -> ir.Table:
        from jicai.measures.monitor import rollup

        r = rollup(monitoring, "institution")
        r = r.filter(r[column].notnull())
        return _shape(r, r[column])

    return source


def _scores(wh: Warehouse, as_of: date, policy: Policy, monitoring: ir.Table | None) -> ir.Table:
    """The assessment score of each started batch's cycle year holding D (provisional before the year ends)."""
    from jicai.assess.assessment import assess, provisional_as_of
    from jicai.calendar import cycle_year_of
    from jicai.measures.registry import Args

    b = wh.table("batches")
    batches = b.filter(b.start_date <= ibis.literal(as_of)).select("batch_id", "name", "start_date", "cycle_years")
    parts = []
    # one row per batch: a list of a few batches comes to Python to choose each one's cycle year
    for row in batches.order_by("batch_id").to_pyarrow().to_pylist():
        k = cycle_year_of(row["start_date"], as_of)
        if row["cycle_years"] is not None and k > int(row["cycle_years"]):
            continue  # the batch's cycles are over: no year holds D
        # the year holds D, so its assessment is as of D (its last day assessed whole): the monitoring of D
        a = assess(wh, row["batch_id"], k, policy, provisional_as_of(wh, Args(policy, as_of, row["batch_id"], k)),
                   monitoring)
        a = a.filter(a.score.notnull())
        parts.append(_shape(a, a.score, a.batch_id, ibis.literal(row["name"] or row["batch_id"])))
    if not parts:
        return _empty()
    out = parts[0]
    for p in parts[1:]:
        out = out.union(p)
    return out


def _cost_per_ddd(wh: Warehouse, as_of: date, policy: Policy, monitoring: ir.Table | None) -> ir.Table:
    from jicai.analytics.savings import unit_costs

    u = unit_costs(wh, as_of, "variety")
    v = wh.table("varieties").select(v_id="variety_id", v_name="name")
    u = u.left_join(v, u.variety_id == v.v_id)
    return _shape(u, u.cost_per_ddd, u.variety_id, u.v_name.fill_null(u.variety_id), u.ddd)


def _alternative_share(wh: Warehouse, as_of: date, policy: Policy, monitoring: ir.Table | None) -> ir.Table:
    from jicai.analytics.substitution import substitution

    s = substitution(wh, as_of, policy)
    g = s.group_by(["institution_code", "level", "atc4", "atc4_name"]).agg(
        nonvbp=s.nonvbp_ddd.sum(), total=(s.selected_ddd + s.nonselected_ddd + s.nonvbp_ddd).sum())
    g = g.filter(g.total > 0)
    return _shape(g, g.nonvbp / g.total, g.atc4, g.atc4_name.fill_null(g.atc4))


def _months_to_pass(wh: Warehouse, as_of: date, policy: Policy, monitoring: ir.Table | None) -> ir.Table:
    from jicai.analytics.adoption import slow_adopters

    s = slow_adopters(wh, as_of, policy)
    return _shape(s, s.months_to_pass, s.batch_id, s.batch_name.fill_null(s.batch_id))


def _empty() -> ir.Table:
    return ibis.memtable({"institution_code": [], "level": [], "item": [], "item_name": [], "value": [],
                          "weight": []},
                         schema={"institution_code": "string", "level": "int64", "item": "string",
                                 "item_name": "string", "value": "float64", "weight": "float64"})


METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("completion", "总体完成率", "overall completion (Σ selected / Σ agreed volume)", False, "rate", "",
           _rollup("completion"), monitored=True),
    Metric("nonselected_share", "总体非中选占比", "overall non-selected share", True, "rate", "",
           _rollup("nonselected_share"), monitored=True),
    Metric("payment_rate", "回款率", "payment rate (paid by the due date / due)", False, "rate", "",
           _rollup("payment_rate"), monitored=True),
    Metric("overdue_amount", "逾期未回款金额", "amount overdue to suppliers", True, "money", "",
           _rollup("overdue_amount"), monitored=True),
    Metric("offline_share", "线下采购占比", "offline share of the order amount", True, "rate", "",
           _rollup("offline_share"), monitored=True),
    Metric("assessment_score", "考核得分", "assessment score of the cycle year holding the as-of date", False,
           "score", "batch", _scores, monitored=True),
    Metric("cost_per_ddd", "每DDD费用", "cost per DDD of a variety over 12 months", True, "price", "variety",
           _cost_per_ddd),
    Metric("alternative_share", "非集采同类占比", "non-VBP alternatives' share of an ATC class's DDDs over 12 months",
           True, "rate", "class", _alternative_share),
    Metric("months_to_pass", "中选占比达标月数", "months of execution until the selected share reached the level",
           True, "months", "batch", _months_to_pass),
)}
