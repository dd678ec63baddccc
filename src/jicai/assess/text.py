"""Numbers as Chinese report text, in Ibis, the same on every engine.

Casting a float to a string gives "85.0" on one engine and "85" on another, so figures are turned into
whole tenths first (integers print alike everywhere) and assembled as ``<int>.<digit>``. The rounding
direction is a parameter: a failing completion is rounded down and a failing share up, so the text
never reads "100.0% < 100%" for a completion of 99.96 %. Before rounding down or up the figure is
snapped to 10⁻⁶ of a tenth (:func:`jicai.measures.exact.snap`, the one float-noise allowance): 0.999 ×
1000 is 998.9999999999999 in binary and must read 99.9, not 99.8.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from jicai.measures.exact import MICRO, snap


def _tenths(x: ir.FloatingValue, how: str) -> ir.IntegerValue:
    """Whole tenths of ``x ≥ 0``: on the 10⁻⁶ grid first, then down, up or half up."""
    if how == "nearest":
        return (x * 10 + 0.5).floor().cast("int64")  # half up, engine-independent
    grid = snap(x * 10).cast("float64") / float(MICRO)
    return (grid.floor() if how == "down" else grid.ceil()).cast("int64")


def one_decimal(x: ir.FloatingValue, how: str = "nearest") -> ir.StringValue:
    """``x`` with one decimal ("85.0", "-5.0"); ``how`` = nearest (half up), down or up."""
    t = _tenths(x.abs(), how)
    sign = ibis.ifelse((x < 0) & (t > 0), "-", "")
    return sign + (t // 10).cast("string") + "." + (t % 10).cast("string")


def percent(x: ir.FloatingValue, how: str = "nearest") -> ir.StringValue:
    """A ratio as a percentage with one decimal: 0.85 → "85.0%"."""
    return one_decimal(x * 100, how) + "%"


def threshold(x: float) -> str:
    """A policy ratio as a short percentage: 1.0 → "100%", 0.955 → "95.5%"."""
    return f"{x * 100:.4g}%"
