"""The lists and roll-ups a monitoring report shows, as Ibis selections on the monitoring rows.

A report computes ``monitor(...)`` once on the warehouse's engine and freezes the rows
(:func:`frozen`); every list, ranking and total below is then an Ibis expression over those rows, using
the measure's own :func:`~jicai.measures.monitor.rollup` for ratios of sums. Nothing is recomputed in
pandas: the writers only format and lay out what these return.

The few columns a report adds to the measure's are in :data:`REPORT_COLUMNS` (documented in
docs/rules.md like the measures' columns).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import ibis
import ibis.expr.types as ir

from jicai.measures.monitor import rollup
from jicai.store import Warehouse

REPORT_COLUMNS: dict[str, tuple[str, str]] = {
    "batch_name": ("批次名称", "name of the batch (batches.name)"),
    "city_name": ("地市名称", "name of the city (regions.name of city_code; the code when absent)"),
    "gap": ("低于序时进度（百分点）", "time_progress − completion of the institution's agreements in the batch "
                           "(percentage points; positive = behind)"),
    "rank": ("排名", "position in the list, 1 = most behind / largest overdue amount (ties share a rank)"),
    "overdue_lines": ("逾期明细数", "Σ order lines past due and not fully paid"),
    "pass_rate": ("合格率", "annual assessment: institutions passed / institutions assessed"),
    "mean_score": ("平均得分", "annual assessment: mean score of the institutions assessed"),
    "rewarded": ("获奖励机构数", "annual assessment: institutions with a retention reward > 0"),
}

# Overdue amounts under half a fen are the float residue of line amount − payments (a line paid in full
# can leave 1e-13 yuan), not a debt: a report names no institution for them.
MIN_OVERDUE = 0.005

INSTITUTION_KEYS = ("batch_id", "institution_code", "institution_name", "region_code", "level")

# How a list rolls the monitoring rows up: the measure's :func:`~jicai.measures.monitor.rollup`, or its DDD
# roll-up (:func:`jicai.analytics.ddd_rollups.rollup_ddd`, rows carrying their DDD columns) — the same figures
# and the DDD ones beside them. Every roll-up below takes it as ``roll``.
Roll = Callable[[ir.Table, Any], ir.Table]


def frozen(expr: ir.Table) -> ir.Table:
    """Run ``expr`` once on its engine and return its rows as an in-memory Ibis table.

    Every list of a report is a selection on the same monitoring rows; freezing them first keeps the
    warehouse from computing the measure again for each list.
    """
    return ibis.memtable(expr.to_pyarrow())


def rows(expr: ir.Table) -> list[dict[str, Any]]:
    return expr.to_pyarrow().to_pylist()


def names(wh: Warehouse, table: str, key: str, label: str) -> ir.Table:
    """``key → label`` from a small warehouse table (empty when the table is absent), frozen."""
    if not wh.has_table(table):
        return ibis.memtable({key: [], label: []}, schema={key: "string", label: "string"})
    t = wh.table(table)
    return frozen(t.select(**{key: t[key].cast("string"), label: t.name.cast("string")}).distinct())


def calendar(m: ir.Table) -> ir.Table:
    """Per batch: the cycle year containing the as-of date and its 序时进度 (the same on every row)."""
    return m.group_by("batch_id").agg(cycle_year=m.cycle_year.max(), cycle_start=m.cycle_start.min(),
                                      cycle_end=m.cycle_end.max(), time_progress=m.time_progress.max())


def with_progress(expr: ir.Table, m: ir.Table) -> ir.Table:
    cal = calendar(m).select("batch_id", "time_progress")
    return expr.left_join(cal, "batch_id").drop("batch_id_right")


def grouped(m: ir.Table, keys: Sequence[str], roll: Roll = rollup) -> ir.Table:
    """The measure's roll-up by ``keys`` (batch_id among them) with the batch's 序时进度."""
    return with_progress(roll(m, list(keys)), m)


def scope_total(m: ir.Table, roll: Roll = rollup) -> dict[str, Any] | None:
    """The roll-up of every row of ``m`` at once (ratios of sums), or None when ``m`` is empty."""
    r = rows(roll(m.mutate(scope=ibis.literal("合计")), ["scope"]))
    return r[0] if r else None


def sums(expr: ir.Table, cols: Sequence[str]) -> dict[str, Any]:
    """Σ of ``cols`` over ``expr`` (the totals row of a list), computed by the engine."""
    if not cols:
        return {}
    (r,) = rows(expr.aggregate(**{c: expr[c].sum() for c in cols}))
    return {c: (0 if v is None else v) for c, v in r.items()}


def by_batch(m: ir.Table, batch_names: ir.Table, roll: Roll = rollup) -> ir.Table:
    cal = calendar(m)
    b = roll(m, "batch").join(cal, "batch_id").left_join(batch_names, "batch_id").drop("batch_id_right")
    return b.order_by("batch_id")


def by_city(m: ir.Table, city_names: ir.Table, roll: Roll = rollup) -> ir.Table:
    g = grouped(m, ["batch_id", "city_code"], roll)
    g = g.left_join(city_names, g.city_code == city_names.region_code).drop("region_code")
    g = g.mutate(city_name=g.city_name.fill_null(g.city_code))
    return g.order_by(["batch_id", "city_code"])


def by_level(m: ir.Table, roll: Roll = rollup) -> ir.Table:
    return grouped(m, ["batch_id", "level"], roll).order_by(["batch_id", ibis.desc("level")])


def status_rows(m: ir.Table, status: str) -> ir.Table:
    """Agreements (institution × variety) of one status, the most behind first."""
    sel = m.filter(m.status == status)
    return sel.order_by([(sel.completion.fill_null(0) - sel.time_progress), "batch_id", "region_code",
                         "institution_code", "variety_id"])


def nonselected_excess_rows(m: ir.Table) -> ir.Table:
    sel = m.filter(m.nonselected_excess)
    return sel.order_by([ibis.desc("nonselected_share"), "batch_id", "institution_code", "variety_id"])


def not_onboarded_rows(m: ir.Table) -> ir.Table:
    sel = m.filter(m.not_onboarded)
    return sel.order_by(["batch_id", "region_code", "institution_code", "variety_id"])


def institutions(m: ir.Table, roll: Roll = rollup) -> ir.Table:
    """Per batch × institution: the roll-up, the 序时进度, the gap to it and the overdue lines."""
    g = grouped(m, INSTITUTION_KEYS, roll)
    lines = m.group_by(list(INSTITUTION_KEYS[:2])).agg(overdue_lines=m.overdue_lines.sum().cast("int64"))
    g = g.join(lines, list(INSTITUTION_KEYS[:2]))
    return g.mutate(gap=g.time_progress - g.completion)


def lagging_institutions(m: ir.Table, roll: Roll = rollup) -> ir.Table:
    """Institutions whose overall completion in a batch is below its 序时进度, most behind first, ranked."""
    g = institutions(m, roll)
    g = g.filter(g.completion < g.time_progress)
    g = g.mutate(rank=(ibis.rank().over(group_by="batch_id", order_by=ibis.desc(g.gap)) + 1).cast("int64"))
    return g.order_by(["batch_id", "rank", "institution_code"])


def late_payers(m: ir.Table) -> ir.Table:
    """Institutions with an overdue amount (of at least :data:`MIN_OVERDUE`) in a batch, the largest first,
    ranked."""
    g = institutions(m)
    g = g.filter(g.overdue_amount >= MIN_OVERDUE)
    g = g.mutate(rank=(ibis.rank().over(group_by="batch_id", order_by=ibis.desc(g.overdue_amount)) + 1)
                 .cast("int64"))
    return g.order_by(["batch_id", "rank", "institution_code"])
