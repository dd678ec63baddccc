"""CUSUM change detection on one monthly series — the method of OpenPrescribing's monthly alerts.

OpenPrescribing (EBM DataLab, Oxford; BMJ Open 2018;8:e019643) e-mails an organisation when a measure of it
drifts: a two-sided tabular CUSUM (Page 1954; Montgomery, *Introduction to Statistical Quality Control*,
Wiley 2009) on its monthly percentile, against a reference of the previous 12 months, with a decision
threshold of 5 standard deviations of that reference and an allowance (slack) of half a standard deviation.
This is our own implementation of that method, for any monthly series (a percentile, a share in percent, a
cost), written from its description:

* **reference**: the mean μ and the population standard deviation σ of the ``window`` calendar months before
  the month tested; valid only when at least ``min_months`` of them have a value. σ is raised to the series'
  ``sd_floor`` (a series that never moved — a non-selected share of exactly 0 for a year — would otherwise
  alarm on the first purchase of anything). Threshold h = ``threshold_sd`` × σ, allowance k =
  ``allowance_sd`` × σ.
* **monitoring** starts at the first month with a valid reference (so never before month ``window`` + 1 of
  the series); the reference stays fixed while the series is in control:
  ``up = max(0, up + x − μ − k)``, ``down = max(0, down + μ − k − x)``.
  A month is in alarm when ``up > h`` (the series rose) or ``down > h`` (it fell); exactly h is not.
* **after an alarm** the reference mean follows the last ``window`` months (OpenPrescribing's moving
  reference), h and k stay, and the alarm goes on while the alarmed side keeps growing. The first month it
  does not, the series is re-baselined: μ, σ, h and k from the ``window`` months before it, both sums
  restarted from that month's own deviation. A lasting shift thus ends as the new normal, and a later
  change is measured against it.
* a month without a value is skipped (sums and reference unchanged, no alarm); it does not end an alarm.

An **event** is a run of alarm months on one side. It *started* (``start``) in the first month of the run of
positive sums that led to its first alarm month (the classic CUSUM estimate of the change point), was
*detected* in its first alarm month (``alarm``), and lasted to its last alarm month (``end``).

Pure Python on one short series (a few dozen months): the caller bounds how many series it runs.

>>> steps = cusum([10.0, 20.0] * 6 + [40.0, 40.0], window=12, threshold_sd=5, allowance_sd=0.5, min_months=9)
>>> [(s.up, s.alarm) for s in steps[12:]]
[(22.5, 0), (45.0, 1)]
>>> e = events(steps)[0]
>>> (e.start, e.alarm, e.end, e.side, e.value, e.mean, e.threshold, e.cusum)
(12, 13, 13, 1, 40.0, 15.0, 25.0, 45.0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Reference:
    mean: float
    sd: float  # the population standard deviation, raised to the floor


@dataclass(frozen=True)
class Step:
    """The state after one month of the series."""

    index: int
    value: float | None
    mean: float | None  # the reference mean in force (None while there is no reference)
    sd: float | None
    threshold: float | None  # h
    up: float  # the upper sum (evidence the series rose)
    down: float  # the lower sum, as a magnitude (evidence it fell)
    alarm: int  # +1 rose beyond h, −1 fell beyond h, 0 none
    since: int | None  # first month of the current positive run of the alarmed side (None when no alarm)


@dataclass(frozen=True)
class Event:
    side: int  # +1 the series rose, −1 it fell
    start: int  # first month of the run that led to the alarm (the change point estimate)
    alarm: int  # first month beyond the threshold
    end: int  # last month in alarm
    months: int  # months in alarm
    value: float  # the series in the alarm month
    mean: float  # the reference mean then
    sd: float
    threshold: float
    cusum: float  # the alarmed sum then (> threshold)


def reference(values: Sequence[float | None], min_months: int, sd_floor: float) -> Reference | None:
    """Mean and population standard deviation (floored) of the values present, None with too few.

    >>> reference([10.0, None, 20.0], min_months=2, sd_floor=0.0)
    Reference(mean=15.0, sd=5.0)
    >>> reference([3.0, 3.0], min_months=2, sd_floor=1.0), reference([3.0, None], min_months=2, sd_floor=1.0)
    (Reference(mean=3.0, sd=1.0), None)
    """
    xs = [v for v in values if v is not None]
    if len(xs) < max(1, min_months):
        return None
    mean = math.fsum(xs) / len(xs)
    sd = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / len(xs))
    return Reference(mean, max(sd, sd_floor))


def cusum(values: Sequence[float | None], *, window: int, threshold_sd: float, allowance_sd: float,
          min_months: int, sd_floor: float = 0.0) -> list[Step]:
    """One :class:`Step` per month of ``values`` (consecutive calendar months; None = no value that month)."""
    if window < 1 or min_months > window:
        raise ValueError("window must be ≥ 1 and min_months ≤ window")
    steps: list[Step] = []
    ref: Reference | None = None
    mean = h = k = 0.0
    up = down = 0.0
    up_since: int | None = None
    down_since: int | None = None
    side = 0

    def baseline(r: Reference) -> tuple[float, float, float]:
        return r.mean, threshold_sd * r.sd, allowance_sd * r.sd

    for t, x in enumerate(values):
        before = values[max(0, t - window):t]
        if ref is None:
            ref = reference(before, min_months, sd_floor) if t >= window else None
            if ref is not None:
                mean, h, k = baseline(ref)
        if ref is None or x is None:
            steps.append(Step(t, x, mean if ref else None, ref.sd if ref else None, h if ref else None,
                              up, down, 0, None))
            continue
        if side != 0:
            moving = reference(before, min_months, sd_floor)
            m = moving.mean if moving is not None else mean
            cand_up, cand_down = max(0.0, up + x - m - k), max(0.0, down + m - k - x)
            if (cand_up > up) if side > 0 else (cand_down > down):
                mean, up, down = m, cand_up, cand_down  # still drifting away: the alarm goes on
            else:  # the drift has stopped: re-baseline on the months before this one, sums restart here
                if moving is not None:
                    ref = moving
                    mean, h, k = baseline(ref)
                up, down = max(0.0, x - mean - k), max(0.0, mean - k - x)
                up_since = down_since = None
        else:
            up, down = max(0.0, up + x - mean - k), max(0.0, down + mean - k - x)
        up_since = (up_since if up_since is not None else t) if up > 0 else None
        down_since = (down_since if down_since is not None else t) if down > 0 else None
        if side < 0 and down > h:
            side = -1
        elif up > h:
            side = 1
        elif down > h:
            side = -1
        else:
            side = 0
        since = up_since if side > 0 else down_since if side < 0 else None
        steps.append(Step(t, x, mean, ref.sd, h, up, down, side, since))
    return steps


def events(steps: Sequence[Step]) -> list[Event]:
    """The runs of alarm months of one side (months without a value do not break a run)."""
    out: list[Event] = []
    first: Step | None = None
    last: Step | None = None
    count = 0

    def close() -> None:
        if first is not None and last is not None:
            cus = first.up if first.alarm > 0 else first.down
            out.append(Event(first.alarm, first.since if first.since is not None else first.index, first.index,
                             last.index, count, first.value, first.mean, first.sd, first.threshold, cus))

    for s in steps:
        if s.value is None:
            continue
        if s.alarm != 0 and first is not None and s.alarm == first.alarm:
            last, count = s, count + 1
            continue
        close()
        first, last, count = (s, s, 1) if s.alarm != 0 else (None, None, 0)
    close()
    return out
