"""The statistics of the 报量 assistant: one institution × variety's monthly use → its use in the months ahead.

Pure Python on one short series (never a warehouse table): the series is at most :data:`MAX_MONTHS` monthly
totals, already aggregated by the engine (:mod:`jicai.analytics.forecast`). Which rule depends on how long the
history is (``n`` months, counted from the first month with any use):

* ``seasonal`` — n ≥ :data:`SEASONAL_MIN` (two whole years, what a seasonal model needs to tell a season from
  a one-off month): Holt–Winters exponential smoothing with a level and an additive 12-month season, no trend
  (statsmodels ``ExponentialSmoothing(trend=None, seasonal="add", seasonal_periods=12)``, initial states
  estimated with the smoothing weights). No trend on purpose: two or three years of a hospital's use rarely
  show a trend that holds for another year, and a trend fitted to them is what makes a forecast run away.
* ``last_year`` — :data:`SEASON` ≤ n < :data:`SEASONAL_MIN`: one season is too little to fit a seasonal model;
  each month ahead is the same calendar month of the last 12 — the year ahead is the last year's use (the
  seasonal naive rule).
* ``run_rate`` — 1 ≤ n < :data:`SEASON`: less than a year; every month ahead is the mean of the months there
  are (the run rate).

Why no fitted model below two years: the back-test (docs/rules.md) first used simple exponential smoothing for
6–23 months. It was worse than these rules for every variety, and badly for the seasonal one: a level fitted in
a flu winter forecast a winter all year (oseltamivir 145 % off with 12 months of history), one fitted in a
waning spring forecast 66 % too little (6 months) — an under-report in the flu season.

A month ahead is never negative (an additive season can dip below 0 for a small user: it is cut at 0). When
statsmodels cannot fit a series (it raises, or returns a non-finite forecast) the ``last_year`` rule is used
and named in the result — never a method that did not run.

>>> path = forecast_path([100.0] * 30, 3)
>>> path.method, [round(x, 6) for x in path.months]
('seasonal', [100.0, 100.0, 100.0])
>>> forecast_path([5.0, 7.0], 2).months
[6.0, 6.0]
>>> p = forecast_path([float(m) for m in range(1, 16)], 13)  # 15 months: next year = the last 12, repeated
>>> p.method, p.months[:3], p.months[-1]
('last_year', [4.0, 5.0, 6.0], 4.0)
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SEASON = 12  # months in a season: use repeats by calendar month
SEASONAL_MIN = 2 * SEASON  # months of history from which the seasonal model is fitted
MAX_MONTHS = 60  # the bound: at most the last five years of a series are read and fitted

METHODS: dict[str, tuple[str, str]] = {
    "seasonal": ("季节性指数平滑", "Holt–Winters: level + additive 12-month season (history ≥ 24 months)"),
    "last_year": ("按上年同月", "seasonal naive: each month ahead = the same month of the last 12 (history 12–23 months)"),
    "run_rate": ("历史月均外推", "less than a year of history (1–11 months): the mean of the months there are"),
    "no_history": ("无历史用量", "no use in the history: no forecast"),
}


@dataclass(frozen=True)
class Path:
    """The rule that ran and its forecast for each of the months ahead (1, 2, …)."""

    method: str
    months: list[float]


def _fitted(y: np.ndarray, h: int) -> list[float] | None:
    """statsmodels' Holt–Winters forecast of the ``h`` months ahead, cut at 0; None when it cannot fit."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    try:
        model = ExponentialSmoothing(y, trend=None, seasonal="add", seasonal_periods=SEASON,
                                     initialization_method="estimated")
        with warnings.catch_warnings():
            # a flat or very regular series makes the optimizer report that it stopped early: the fit is still
            # the best it found, and the forecast is checked for being finite below
            warnings.simplefilter("ignore")
            path = np.asarray(model.fit().forecast(h), dtype=float)
    except (ValueError, np.linalg.LinAlgError):
        return None
    return [max(0.0, float(x)) for x in path] if np.all(np.isfinite(path)) else None


def forecast_path(history: Sequence[float], h: int) -> Path:
    """The forecast of the ``h`` months after ``history`` (monthly totals, oldest first, from the first month
    with use; only the last :data:`MAX_MONTHS` are used)."""
    y = np.asarray(list(history)[-MAX_MONTHS:], dtype=float)
    n = len(y)
    if n == 0 or h < 1:
        return Path("no_history", [])
    if n >= SEASONAL_MIN and (path := _fitted(y, h)) is not None:
        return Path("seasonal", path)
    if n >= SEASON:
        return Path("last_year", [float(y[n - SEASON + j % SEASON]) for j in range(h)])
    return Path("run_rate", [float(y.mean())] * h)


def round_volume(x: float) -> float:
    """A forecast volume to whole minimum units, half up (a report is in whole 片/支)."""
    return float(math.floor(x + 0.5))


def floor_volume(ratio: float, prior_annual_use: float) -> float:
    """The smallest whole volume that is at least ``ratio`` × ``prior_annual_use`` (the 80 % floor): rounded to
    1e-6 first, so a product that is a whole number in decimal (0.8 × 1,250 = 1,000) is not pushed up by the
    binary representation of 0.8."""
    return float(math.ceil(round(ratio * prior_annual_use, 6)))
