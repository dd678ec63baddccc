"""Plausible dates: a date far outside the procurement cycles is a typo or a placeholder, not a fact.

One row dated ``9999-12-31`` (or ``0001-01-01``, or the typo year 2204) would otherwise become "the data's latest
day", the default as-of of every page, and move every figure there. So each date of a file must lie in a window:

* never before ``date_floor`` (setting, default 2000-01-01);
* in the supervised tables (orders, deliveries, payments, settlements…: :data:`CYCLE_TABLES`), within
  ``years_before_cycle`` years before the earliest batch's start and ``years_after_cycle`` years after the
  latest batch's cycle end (the ``batches`` in the warehouse; no window when there is none yet);
* an event that has happened (:func:`is_event`) never later than the import day + ``future_days``; a planned date
  (a batch's start, a special period, an effective date) never later than the import day + ``plan_years`` years.

A date outside its window quarantines its row, with the window and why in the reason. The settings are in
:data:`jicai.settings.SETTINGS` (documented in docs/data-contract.md).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

from jicai import calendar, clock
from jicai.contract.tables import Column, Table
from jicai.ingest.sql import lit, q
from jicai.settings import setting

# The tables a batch's cycle bounds: what is supervised happens within (or just around) a cycle.
CYCLE_TABLES = frozenset({"volume_reports", "orders", "deliveries", "payments", "supply_problems", "prepayments",
                          "pharmacy_settlements", "video_status", "pharmacy_stock", "violations", "fund_spending"})
# Dates that are planned, not happened: they may lie years ahead.
PLANNED = frozenset({("batches", "start_date"), ("varieties", "special_start"), ("varieties", "special_end"),
                     ("listings", "effective_date"), ("supply_problems", "start_date"),
                     ("supply_problems", "end_date"), ("video_status", "end_at")})
MAX_CYCLE_YEARS = 10  # a cycle_years beyond this (a typo) does not widen the window


def is_event(table: str, column: str) -> bool:
    return (table, column) not in PLANNED


@dataclass(frozen=True)
class Window:
    lo: dt.date
    hi: dt.date
    why_zh: str
    why_en: str

    def label(self, lang: str) -> str:
        return f"{self.lo.isoformat()} {'至' if lang == 'zh' else 'to'} {self.hi.isoformat()}"


@dataclass(frozen=True)
class Cycles:
    """The span of the batches' cycles in the warehouse (None: no batch yet)."""

    first_start: dt.date | None = None
    last_end: dt.date | None = None


def cycles_of(batches: list[tuple[object, object]]) -> Cycles:
    """From ``(start_date, cycle_years)`` rows; implausible rows are ignored."""
    spans = []
    for start, years in batches:
        if isinstance(start, dt.datetime):
            start = start.date()
        if not isinstance(start, dt.date) or years is None:
            continue
        try:
            end = calendar.add_years(start, min(max(int(years), 1), MAX_CYCLE_YEARS)) - dt.timedelta(days=1)
            spans.append((start, end))
        except (ValueError, OverflowError):
            continue
    if not spans:
        return Cycles()
    return Cycles(min(s for s, _ in spans), max(e for _, e in spans))


def _add_years(d: dt.date, n: int) -> dt.date:
    try:
        return calendar.add_years(d, n)
    except (ValueError, OverflowError):
        return dt.date.max if n > 0 else dt.date.min


def window(table: str, column: str, cycles: Cycles, today: dt.date | None = None) -> Window:
    """The plausible dates of ``table.column``, and why, in both languages."""
    today = today or clock.today()
    floor = setting("date_floor")
    lo, hi = floor, dt.date.max
    zh, en = [f"不早于 {floor.isoformat()}"], [f"not before {floor.isoformat()}"]
    if table in CYCLE_TABLES and cycles.first_start is not None:
        before, after = setting("years_before_cycle"), setting("years_after_cycle")
        if _add_years(cycles.first_start, -before) > floor:  # the cycles bind, not the floor: say only that
            lo, zh, en = _add_years(cycles.first_start, -before), [], []
        hi = min(hi, _add_years(cycles.last_end, after))
        zh.append(f"批次周期（{cycles.first_start.isoformat()} 至 {cycles.last_end.isoformat()}）前 {before} 年至后 {after} 年内")
        en.append(f"within {before} year(s) before and {after} after the batches' cycles "
                  f"({cycles.first_start.isoformat()} to {cycles.last_end.isoformat()})")
    if is_event(table, column):
        days = setting("future_days")
        hi = min(hi, today + dt.timedelta(days=days))
        zh.append(f"已发生的事件不晚于导入日 {today.isoformat()} 后 {days} 天")
        en.append(f"an event no later than {days} day(s) after the import day {today.isoformat()}")
    else:
        years = setting("plan_years")
        hi = min(hi, _add_years(today, years))
        zh.append(f"计划日期不晚于导入日 {today.isoformat()} 后 {years} 年")
        en.append(f"a planned date no later than {years} year(s) after the import day {today.isoformat()}")
    return Window(lo, hi, "；".join(zh), "; ".join(en))


def latest_plausible(today: dt.date | None = None) -> dt.date:
    """The last day an event in the warehouse can plausibly have: what a default as-of may be at most."""
    today = today or clock.today()
    return today + dt.timedelta(days=setting("future_days"))


def earliest_plausible() -> dt.date:
    return setting("date_floor")


def _bounds_sql(c: Column, w: Window) -> tuple[str, str]:
    """SQL literals of the window's ends in the column's own type (a month is its ``YYYY-MM`` text)."""
    if c.type == "month":
        return lit(w.lo.strftime("%Y-%m")), lit(w.hi.strftime("%Y-%m"))
    if c.type == "datetime":
        end = dt.datetime.combine(w.hi, dt.time(23, 59, 59, 999999)) if w.hi < dt.date.max else dt.datetime.max
        return f"TIMESTAMP {lit(w.lo.isoformat())}", f"TIMESTAMP {lit(end.isoformat(sep=' '))}"
    return f"DATE {lit(w.lo.isoformat())}", f"DATE {lit(w.hi.isoformat())}"


@dataclass
class DateCheck:
    column: str
    where: str  # SQL over the typed row: the date lies outside its window
    zh: str  # SQL text of the reason
    en: str


def checks(con: duckdb.DuckDBPyConnection, t: Table, cycles: Cycles, today: dt.date | None = None) -> list[DateCheck]:
    """One check per date column of ``typed`` that has a value outside its window (found in one aggregate pass;
    a file whose dates are all plausible adds nothing to the later passes)."""
    dated = [c for c in t.columns if c.type in ("date", "datetime", "month")]
    if not dated:
        return []
    windows = {c.name: window(t.name, c.name, cycles, today) for c in dated}
    bounds = {c.name: _bounds_sql(c, windows[c.name]) for c in dated}
    outside = {c.name: f"({q(c.name)} < {bounds[c.name][0]} OR {q(c.name)} > {bounds[c.name][1]})" for c in dated}
    found = con.execute("SELECT " + ", ".join(f"count(*) FILTER (WHERE {outside[c.name]})" for c in dated)
                        + " FROM typed").fetchone()
    result = []
    for c, n in zip(dated, found, strict=True):
        if not n:
            continue
        w = windows[c.name]
        result.append(DateCheck(c.name, outside[c.name],
                                lit(f"{c.zh}（{c.name}）日期不合理，应在 {w.label('zh')} 之间（{w.why_zh}）"),
                                lit(f"{c.name}: implausible date, must lie within {w.label('en')} ({w.why_en})")))
    return result
