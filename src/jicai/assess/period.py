"""The period an assessment covers: cycle year k of one batch, up to an as-of date.

An assessment is made at the end of cycle year k (as_of = its last day); an earlier ``as_of`` inside
the year gives a provisional assessment on the purchases so far. The dates are plain Python dates,
worked out from the batch's ``start_date`` (one tiny query), because the monitoring the assessment
builds on takes its as-of date as a constant.

Cost growth compares the purchases of the assessed period with the same period a year earlier: at
year end the twelve months before the cycle year, [start_k − 1 year, start_k); provisionally
[start_k − 1 year, as_of − 1 year] (both ends inclusive days). 29 February + or − a year is
28 February, as everywhere in jicai.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from jicai.errors import BilingualError
from jicai.store import Warehouse


class AssessmentError(BilingualError, ValueError):
    """Bad arguments for an assessment; the message is Chinese, then English (the runner's bilingual exit)."""


def add_years(d: date, n: int) -> date:
    """``d`` plus ``n`` calendar years; 29 February becomes 28 February in a common year."""
    try:
        return d.replace(year=d.year + n)
    except ValueError:
        return d.replace(year=d.year + n, day=28)


@dataclass(frozen=True)
class AssessmentPeriod:
    batch_id: str
    cycle_year: int
    batch_start: date
    cycle_start: date
    cycle_end: date  # last day of cycle year k, inclusive
    as_of: date  # last day assessed, inclusive (cycle_end unless provisional)
    prior_start: date  # first day of the comparison period a year earlier, inclusive
    prior_end: date  # last day of the comparison period, inclusive

    @property
    def final(self) -> bool:
        """True when the whole cycle year is assessed (not a provisional assessment)."""
        return self.as_of == self.cycle_end


def _as_date(v) -> date:
    return v.date() if isinstance(v, datetime) else v


def assessment_period(wh: Warehouse, batch_id: str, year: int, as_of: date | None = None) -> AssessmentPeriod:
    """The period of cycle year ``year`` of ``batch_id``; raises :class:`AssessmentError` when there is none."""
    b = wh.table("batches")
    found = b.filter(b.batch_id == batch_id).select("start_date", "cycle_years").to_pyarrow().to_pylist()
    if not found:
        raise AssessmentError(f"批次不存在:{batch_id}", f"no such batch: {batch_id}")
    if len(found) > 1:
        raise AssessmentError(f"批次编号重复:{batch_id}", f"batch id appears more than once: {batch_id}")
    start, years = _as_date(found[0]["start_date"]), found[0]["cycle_years"]
    k = int(year)
    if start is None:
        raise AssessmentError(f"批次 {batch_id} 没有执行日", f"batch {batch_id} has no start_date")
    if k < 1 or (years is not None and k > int(years)):
        raise AssessmentError(f"批次 {batch_id} 没有第 {k} 采购年度(共 {years} 年)",
                              f"batch {batch_id} has no cycle year {k} (it has {years})")
    cycle_start = add_years(start, k - 1)
    cycle_end = add_years(start, k) - timedelta(days=1)
    day = cycle_end if as_of is None else _as_date(as_of)
    if not cycle_start <= day <= cycle_end:
        raise AssessmentError(
            f"考核日期 {day} 不在批次 {batch_id} 第 {k} 采购年度内({cycle_start} 至 {cycle_end})",
            f"as-of date {day} is outside cycle year {k} of batch {batch_id} ({cycle_start} to {cycle_end})")
    prior_start = add_years(cycle_start, -1)
    prior_end = cycle_start - timedelta(days=1) if day == cycle_end else min(
        add_years(day, -1), cycle_start - timedelta(days=1))
    return AssessmentPeriod(batch_id=batch_id, cycle_year=k, batch_start=start, cycle_start=cycle_start,
                            cycle_end=cycle_end, as_of=day, prior_start=prior_start, prior_end=prior_end)
