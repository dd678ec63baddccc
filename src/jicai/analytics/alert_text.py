"""Figures of an alert sentence as Chinese text, in Ibis, the same on every engine.

Integers print alike on every engine, floats do not (see :mod:`jicai.assess.text`), so every figure is
rounded to an integer first and the text assembled from it: volumes and yuan with thousands separators
(``12,400``, ``¥48,210``; below ¥1 to the fen, ``¥0.01``), amounts at stake from ten thousand yuan on in 万 with two decimals (``¥1.79 万``).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from jicai.measures.exact import MICRO, snap


def _pad3(g: ir.IntegerValue) -> ir.StringValue:
    return g.cast("string").lpad(3, "0")


def grouped(n: ir.IntegerValue) -> ir.StringValue:
    """A whole number ≥ 0 with thousands separators: 12400 → "12,400" (up to 10¹² − 1)."""
    n = n.cast("int64")
    g0, k = n % 1000, n // 1000
    g1, m = k % 1000, k // 1000
    g2, b = m % 1000, m // 1000
    return ibis.cases(
        (n >= 1_000_000_000, b.cast("string") + "," + _pad3(g2) + "," + _pad3(g1) + "," + _pad3(g0)),
        (n >= 1_000_000, g2.cast("string") + "," + _pad3(g1) + "," + _pad3(g0)),
        (n >= 1000, g1.cast("string") + "," + _pad3(g0)),
        else_=n.cast("string"),
    )


def up(x: ir.NumericValue) -> ir.IntegerValue:
    """``x`` rounded up to a whole number, after the 10⁻⁶ snap (12,400.0000001 of float noise is 12,400)."""
    return (snap(x).cast("float64") / float(MICRO)).ceil().cast("int64")


def whole_yuan(x: ir.NumericValue) -> ir.IntegerValue:
    """Yuan rounded half up to a whole yuan (the amounts are ≥ 0)."""
    return (x.cast("float64") + 0.5).floor().cast("int64")


def yuan_text(x: ir.NumericValue) -> ir.StringValue:
    """An amount owed, to the yuan: 48210.4 → "¥48,210"; below ¥1 (after rounding) to the fen, so that a fen
    left unpaid reads "¥0.01", not "¥0"."""
    fen = (x.cast("float64") * 100.0 + 0.5).floor().cast("int64")
    return ibis.ifelse(fen < 100, "¥0." + fen.cast("string").lpad(2, "0"), "¥" + grouped(whole_yuan(x)))


def stake_text(x: ir.NumericValue) -> ir.StringValue:
    """An amount at stake: below ¥10,000 to the yuan ("¥8,950"), from there in 万 with two decimals,
    half up ("¥1.79 万" for 17,890)."""
    hundredths = (x.cast("float64") / 100.0 + 0.5).floor().cast("int64")  # of 万
    wan = "¥" + grouped(hundredths // 100) + "." + (hundredths % 100).cast("string").lpad(2, "0") + " 万"
    return ibis.ifelse(whole_yuan(x) >= 10_000, wan, yuan_text(x))


def points(x: ir.NumericValue) -> ir.StringValue:
    """A score in points, half up to one decimal, the decimal left out when it is 0: 78.0 → "78", 77.5 → "77.5"."""
    tenths = (x.cast("float64") * 10.0 + 0.5).floor().cast("int64")
    whole = (tenths // 10).cast("string")
    return ibis.ifelse(tenths % 10 == 0, whole, whole + "." + (tenths % 10).cast("string"))
