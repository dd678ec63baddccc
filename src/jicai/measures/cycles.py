"""Cycle years and time progress (序时进度), engine-neutral date arithmetic in Ibis (named cycles.py, not calendar.py, so it never shadows the standard library).

Cycle year k of a batch runs [start + (k−1) years, start + k years). Adding years to 29 February
lands on 28 February in a common year (the convention of PostgreSQL and dateutil), so a batch that
starts on 2024-02-29 has cycle year 2 from 2025-02-28. Adding months clamps the day to the month's
last day (31 December + 2 months = end of February).
"""

from __future__ import annotations

from datetime import date, timedelta

import ibis
import ibis.expr.types as ir


def _is_leap(y: ir.IntegerValue) -> ir.BooleanValue:
    return ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)


def add_years(d: ir.DateValue, n: ir.IntegerValue | int) -> ir.DateValue:
    """``d`` plus ``n`` calendar years; 29 February becomes 28 February in a common year."""
    y = d.year() + n
    m = d.month()
    day = ibis.ifelse((m == 2) & (d.day() == 29) & ~_is_leap(y), 28, d.day())
    return ibis.date(y, m, day)


def first_of_month(y: ir.IntegerValue, m0: ir.IntegerValue) -> ir.DateValue:
    """First day of month ``m0`` counted from 0 in year ``y`` (``m0`` ≥ 0 may exceed 11)."""
    return ibis.date(y + m0 // 12, m0 % 12 + 1, 1)


def add_months(d: ir.DateValue, n: int) -> ir.DateValue:
    """``d`` plus ``n`` ≥ 0 calendar months, the day clamped to the last day of the target month."""
    m0 = d.month() - 1 + n
    first = first_of_month(d.year(), m0)
    days_in_month = first_of_month(d.year(), m0 + 1).delta(first, unit="day")
    return ibis.date(d.year() + m0 // 12, m0 % 12 + 1, ibis.least(d.day(), days_in_month))


def day_after(as_of: date) -> ir.TimestampScalar:
    """Exclusive upper bound of an inclusive as-of date, as a timestamp: ``t < day_after(D)`` ⇔ date(t) ≤ D."""
    return ibis.literal(as_of + timedelta(days=1)).cast("timestamp")


def cycle_calendar(batches: ir.Table, as_of: date) -> ir.Table:
    """One row per batch whose cycle year containing ``as_of`` is one of its cycle years.

    Columns: batch_id, batch_start, cycle_year (k), cycle_start (start_k), cycle_next (start_{k+1},
    exclusive), cycle_end (last day, inclusive), days_in_year, days_elapsed (start_k..D inclusive),
    time_progress = min(1, days_elapsed / days_in_year).

    Batches not started yet on ``as_of`` (k < 1) or past their last cycle year (k > cycle_years) have
    no row: there is no cycle year to monitor.
    """
    D = ibis.literal(as_of)
    start = batches.start_date
    years = as_of.year - start.year()
    anniversary = add_years(start, years)
    k = years + ibis.ifelse(D >= anniversary, 1, 0)
    cal = batches.select(
        batch_id=batches.batch_id,
        batch_start=start,
        cycle_years=batches.cycle_years,
        cycle_year=k.cast("int64"),
    )
    cal = cal.filter((cal.cycle_year >= 1) & (cal.cycle_year <= cal.cycle_years))
    cal = cal.mutate(
        cycle_start=add_years(cal.batch_start, cal.cycle_year - 1),
        cycle_next=add_years(cal.batch_start, cal.cycle_year),
    )
    cal = cal.mutate(
        cycle_end=cal.cycle_next - ibis.interval(days=1),
        days_in_year=cal.cycle_next.delta(cal.cycle_start, unit="day").cast("int64"),
        days_elapsed=(D.delta(cal.cycle_start, unit="day") + 1).cast("int64"),
    )
    return cal.mutate(
        time_progress=ibis.least(1.0, cal.days_elapsed.cast("float64") / cal.days_in_year.cast("float64"))
    ).drop("cycle_years")
