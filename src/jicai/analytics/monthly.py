"""Monthly series per institution, as Ibis expressions: the inputs of change detection and slow adopters.

Per institution × batch × calendar month, from the batch start through the as-of date D:

* ``selected_volume`` and ``nonselected_counted_volume`` — the monitoring's classes and exclusions
  (:mod:`jicai.measures.progress`: selected = primary products of the institution's region + backups inside
  a verified supply-problem period; counted non-selected = the other products of the variety, without
  supply-problem days and exempt special periods), summed per month instead of per cycle year, over the
  varieties the institution has an agreement for in the batch (any cycle year) — the monitoring's rows;
* ``expected_volume`` — the agreed volume of the cycle year spread over its days: Σ_v agreed_volume ×
  (days of the month inside cycle year k, up to D) / days in cycle year k. A month straddling two cycle
  years takes its days from each.

Purchases are summed in one pass over the order lines (or the compact facts) per (institution, product,
month) by :func:`jicai.measures.purchases.summarize` and :func:`jicai.measures.progress.class_volumes` with
a month key — the monitoring's code with the batch start as the start of the counted period, as the
prepayment ledger does for one cycle year.
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

from jicai.measures.classes import product_classes, supply_problem_periods
from jicai.measures.cycles import add_years, day_after, first_of_month
from jicai.measures.facts import accepted_lines as facts_accepted
from jicai.measures.facts import open_facts
from jicai.measures.facts import ordered_lines as facts_ordered
from jicai.measures.progress import class_volumes
from jicai.measures.purchases import accepted_lines, ordered_lines, scope_products, summarize
from jicai.policy import Policy
from jicai.store import Warehouse

INPUT_TABLES = ("batches", "varieties", "products", "selected_products", "agreements", "institutions",
                "orders", "deliveries", "payments", "supply_problems")
POLICY = ("volume_basis", "payment_due", "backup_substitution", "supply_problem_exclusion", "special_treatment")
KEYS = ["institution_code", "batch_id", "month_first"]
# a cycle year spans at most 13 calendar months (it may start mid-month)
_OFFSETS = 13


def started_batches(wh: Warehouse, as_of: date) -> ir.Table:
    b = wh.table("batches")
    return b.filter(b.start_date <= ibis.literal(as_of))


def monthly_classes(wh: Warehouse, as_of: date, policy: Policy) -> ir.Table:
    """Selected and counted non-selected volume per (institution_code, batch_id, month_first)."""

    def pv(name: str):
        return policy.value(name, on=as_of)

    t = {name: wh.table(name) for name in INPUT_TABLES}
    b = started_batches(wh, as_of)
    # the counted period is the whole execution: the cycle start is the batch start
    cal = b.select("batch_id", batch_start=b.start_date, cycle_start=b.start_date)
    scope = wh.reuse(scope_products(t["varieties"], t["products"], cal, None))
    periods = wh.reuse(supply_problem_periods(t["supply_problems"], t["products"], t["selected_products"],
                                              t["institutions"], as_of))
    due = pv("payment_due")
    if (f := open_facts(wh)) is not None:
        if pv("volume_basis") == "accepted":
            lines = facts_accepted(f, scope, periods, as_of, due, with_payments=False)
        else:
            lines = facts_ordered(f, scope, periods, as_of).drop("offline_amount")
    elif pv("volume_basis") == "accepted":
        # volumes only: no payment rows need joining to the lines
        lines = accepted_lines(t["orders"], t["deliveries"], t["payments"].limit(0), scope, as_of, due)
    else:
        lines = ordered_lines(t["orders"], scope, as_of)
    lines = lines.select("variety_id", "batch_id", "batch_start", "cycle_start", "special", "special_start",
                         "special_end", "institution_code", "product_code", "at", "volume", "amount",
                         # lines before the batch start count for nothing: no month, fewer groups
                         month_first=ibis.ifelse(lines.at.date() >= lines.batch_start,
                                                 first_of_month(lines.at.year(), lines.at.month() - 1),
                                                 ibis.null("date")))
    ag = t["agreements"].join(b.select("batch_id"), "batch_id")
    agreed = ag.select("institution_code", "variety_id", "batch_id").distinct()
    sp_pairs = periods.select("institution_code", "variety_id").distinct()
    summary = summarize(lines, sp_pairs, as_of, due, extra_keys=["month_first"])
    classes = product_classes(agreed, t["institutions"], t["selected_products"])
    vols = class_volumes(summary, classes, periods, backup_substitution=pv("backup_substitution"),
                         supply_problem_exclusion=pv("supply_problem_exclusion"),
                         special_treatment=pv("special_treatment"), extra_keys=["month_first"])
    vols = vols.join(agreed, ["institution_code", "variety_id", "batch_id"])
    vols = vols.filter(vols.month_first.notnull())
    return vols.group_by(KEYS).agg(selected_volume=vols.selected_volume.sum(),
                                   nonselected_counted_volume=vols.nonselected_counted_volume.sum())


def monthly_expected(wh: Warehouse, as_of: date) -> ir.Table:
    """The agreed volume due per (institution_code, batch_id, month_first): ``expected_volume`` (see above)."""
    b = started_batches(wh, as_of).select("batch_id", batch_start=ibis._.start_date)
    ag = wh.table("agreements")
    a = ag.group_by(["batch_id", "cycle_year", "institution_code"]).agg(agreed=ag.agreed_volume.sum())
    a = a.join(b, "batch_id")
    a = a.mutate(cycle_start=add_years(a.batch_start, a.cycle_year - 1), cycle_next=add_years(a.batch_start, a.cycle_year))
    offsets = ibis.memtable({"offset": list(range(_OFFSETS))}, schema={"offset": "int64"})
    m = a.cross_join(offsets)
    m0 = m.cycle_start.month() - 1 + m.offset
    m = m.mutate(month_first=first_of_month(m.cycle_start.year(), m0),
                 month_next=first_of_month(m.cycle_start.year(), m0 + 1))
    end = day_after(as_of).cast("date")
    lo = ibis.greatest(m.month_first, m.cycle_start)
    hi = ibis.least(m.month_next, m.cycle_next, end)
    m = m.mutate(days=hi.delta(lo, unit="day"), year_days=m.cycle_next.delta(m.cycle_start, unit="day"))
    m = m.filter(m.days > 0)
    m = m.mutate(expected=m.agreed.cast("float64") * m.days.cast("float64") / m.year_days.cast("float64"))
    return m.group_by(KEYS).agg(expected_volume=m.expected.sum())
