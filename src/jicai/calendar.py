"""Days, months, cycle years and quarters as plain Python dates — one parser and one validator for each.

* A **month** is written ``YYYY-MM`` (two-digit month, as the data contract's ``month`` columns) and stands
  for its first day; :func:`parse_month` is the only reader of a month a user typed.
* A **cycle year** k of a batch starting on S runs [S + (k − 1) years, S + k years) (DESIGN: Time). A year
  after 29 February is 28 February (:func:`add_years`), so a cycle year never skips a day.
* A **quarter** is written ``2024Q3`` (also ``2024-Q3``, ``2024q3``) and runs over three calendar months.

The engine-side counterparts (Ibis expressions over columns) are in :mod:`jicai.measures.cycles`. Import this
module as ``from jicai import calendar`` or by its names: it lives inside the ``jicai`` package, so it never
shadows the standard library's ``calendar`` (which jicai does not use).

>>> parse_month("2024-02"), month_label(date(2024, 2, 17)), month_end(date(2024, 2, 1))
(datetime.date(2024, 2, 1), '2024-02', datetime.date(2024, 2, 29))
>>> add_years(date(2024, 2, 29), 1), cycle_year(date(2024, 2, 29), 2)
(datetime.date(2025, 2, 28), (datetime.date(2025, 2, 28), datetime.date(2026, 2, 27)))
>>> parse_quarter("2024Q3"), quarter_bounds(2024, 3), quarter_label(2024, 3)
((2024, 3), (datetime.date(2024, 7, 1), datetime.date(2024, 9, 30)), '2024Q3')
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from jicai.errors import BilingualError

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-?[Qq]([1-4])$")


class CalendarError(BilingualError, ValueError):
    """A day, month or quarter that cannot be read, or a cycle year or quarter that does not exist."""


# -- days -------------------------------------------------------------------------------------------------

def parse_day(text: str | date) -> date:
    """A day given as ``YYYY-MM-DD`` (a date is returned as it is; a datetime gives its date).

    >>> parse_day("2024-02-29"), parse_day(datetime(2024, 3, 1, 8, 30))
    (datetime.date(2024, 2, 29), datetime.date(2024, 3, 1))
    """
    if isinstance(text, datetime):
        return text.date()
    if isinstance(text, date):
        return text
    try:
        return date.fromisoformat(str(text).strip())
    except ValueError:
        raise CalendarError(f"日期格式应为 YYYY-MM-DD:{text}", f"a date must be YYYY-MM-DD: {text}") from None


# -- months -----------------------------------------------------------------------------------------------

def parse_month(month: str | date) -> date:
    """The first day of a month given as ``YYYY-MM`` (or of the month of a date).

    >>> parse_month(" 2024-03 "), parse_month(date(2024, 3, 17))
    (datetime.date(2024, 3, 1), datetime.date(2024, 3, 1))
    >>> parse_month("2024-3")
    Traceback (most recent call last):
    ...
    jicai.calendar.CalendarError: 月份格式应为 YYYY-MM:2024-3 / month must be YYYY-MM: 2024-3
    """
    if isinstance(month, date):
        return date(month.year, month.month, 1)
    m = _MONTH.match(str(month).strip())
    if not m or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 1:
        raise CalendarError(f"月份格式应为 YYYY-MM:{month}", f"month must be YYYY-MM: {month}")
    return date(int(m.group(1)), int(m.group(2)), 1)


def month_label(d: date) -> str:
    """``YYYY-MM`` of the month of ``d``."""
    return f"{d.year:04d}-{d.month:02d}"


def shift_month(d: date, n: int) -> date:
    """The first day of the month ``n`` months after (before, when negative) the month of ``d``.

    >>> shift_month(date(2024, 1, 31), -3), shift_month(date(2024, 11, 1), 2)
    (datetime.date(2023, 10, 1), datetime.date(2025, 1, 1))
    """
    y, m = divmod(d.year * 12 + d.month - 1 + n, 12)
    return date(y, m + 1, 1)


def month_end(d: date) -> date:
    """The last day of the month of ``d``."""
    return shift_month(d, 1) - timedelta(days=1)


def add_months(d: date, n: int) -> date:
    """``d`` moved by ``n`` calendar months, the day clamped to the length of the month it lands in.

    >>> add_months(date(2024, 5, 31), -3), add_months(date(2024, 1, 31), 1), add_months(date(2024, 2, 26), -3)
    (datetime.date(2024, 2, 29), datetime.date(2024, 2, 29), datetime.date(2023, 11, 26))
    """
    first = shift_month(d, n)
    return first.replace(day=min(d.day, month_end(first).day))


# -- cycle years ------------------------------------------------------------------------------------------

def add_years(d: date, n: int) -> date:
    """``d`` plus ``n`` calendar years; 29 February becomes 28 February in a common year.

    >>> add_years(date(2024, 2, 29), -1), add_years(date(2024, 2, 29), 4), add_years(date(2023, 3, 1), 1)
    (datetime.date(2023, 2, 28), datetime.date(2028, 2, 29), datetime.date(2024, 3, 1))
    """
    try:
        return d.replace(year=d.year + n)
    except ValueError:  # 29 February in a common year
        return d.replace(year=d.year + n, day=28)


def cycle_year(start: date, k: int) -> tuple[date, date]:
    """(first day, last day) of cycle year ``k`` (from 1) of a batch starting on ``start``, both inclusive.

    >>> cycle_year(date(2024, 4, 15), 1)
    (datetime.date(2024, 4, 15), datetime.date(2025, 4, 14))
    """
    if k < 1:
        raise CalendarError(f"采购年度从 1 开始:{k}", f"cycle years start at 1: {k}")
    return add_years(start, k - 1), add_years(start, k) - timedelta(days=1)


def cycle_year_of(start: date, day: date) -> int:
    """The cycle year containing ``day`` of a batch starting on ``start`` (1 for a day before the start).

    >>> cycle_year_of(date(2024, 4, 15), date(2025, 4, 14)), cycle_year_of(date(2024, 4, 15), date(2025, 4, 15))
    (1, 2)
    """
    start, day = parse_day(start), parse_day(day)  # an engine may hand back a datetime for a date column
    k = max(1, day.year - start.year)
    while k > 1 and add_years(start, k - 1) > day:
        k -= 1
    while add_years(start, k) <= day:
        k += 1
    return k


# -- quarters ---------------------------------------------------------------------------------------------

def parse_quarter(text: str) -> tuple[int, int]:
    """(year, quarter) of ``2024Q3`` (also ``2024-Q3``, ``2024q3``)."""
    m = _QUARTER.match(str(text).strip())
    if not m or int(m.group(1)) < 1:
        raise CalendarError(f"季度格式应为 2024Q3:{text}", f"quarter must look like 2024Q3: {text}")
    return int(m.group(1)), int(m.group(2))


def quarter_label(year: int, quarter: int) -> str:
    return f"{year:04d}Q{quarter}"


def quarter_bounds(year: int, quarter: int) -> tuple[date, date]:
    """(first day, last day) of a calendar quarter, both inclusive.

    >>> quarter_bounds(2024, 1), quarter_bounds(2024, 4)
    ((datetime.date(2024, 1, 1), datetime.date(2024, 3, 31)), (datetime.date(2024, 10, 1), datetime.date(2024, 12, 31)))
    """
    if quarter not in (1, 2, 3, 4):
        raise CalendarError(f"季度应为 1–4：{quarter}", f"quarter must be 1–4: {quarter}")
    first = date(year, 3 * quarter - 2, 1)
    return first, month_end(shift_month(first, 2))


def quarter_of(d: date) -> int:
    """The quarter (1–4) containing ``d``."""
    return (d.month - 1) // 3 + 1


def quarter_ending(d: date) -> int | None:
    """The quarter whose last day ``d`` is, or None.

    >>> quarter_ending(date(2024, 9, 30)), quarter_ending(date(2024, 9, 29))
    (3, None)
    """
    q = quarter_of(d)
    return q if d == quarter_bounds(d.year, q)[1] else None
