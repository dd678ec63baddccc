"""Integer money and ratios, the same on every engine.

Floating point makes ``abs(S − R) / abs(R)`` come out as 0.05000000000000001 for a deviation of exactly
5%, and ``0.4 − 0.3`` as 0.10000000000000003, so a figure exactly on a policy edge could land on either
side. The fund measures therefore

* round every amount to **fen** (0.01 yuan, halves up) as a 64-bit integer (:func:`fen`) before comparing,
* read ratios of the policy (tier edges, margins, return rates) in **basis points** (1/10000,
  :func:`basis_points`), and
* compare ``a / b ≤ t`` as ``a × 10000 ≤ t_bp × b`` in integers (:func:`ratio_at_most`,
  :func:`ratio_above`): no division, no rounding, the same answer on DuckDB, PostgreSQL and Spark.

Integer products stay exact while they stay below 2^63 ≈ 9.2 × 10^18: amounts up to 10^12 fen
(10 billion yuan) per row times 10^4 times a day count of 366 are far inside it.

>>> basis_points(0.05), basis_points(0.7), basis_points(0.10)
(500, 7000, 1000)
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

SCALE = 10_000  # basis points: ratios of the policy are read to 4 decimals (0.01%)


def basis_points(x: float) -> int:
    """A policy ratio in basis points; ratios with more than 4 decimals are rounded half up (documented)."""
    return int(float(x) * SCALE + 0.5) if x >= 0 else -int(-float(x) * SCALE + 0.5)


def fen(yuan: ir.NumericValue) -> ir.IntegerValue:
    """An amount in yuan as integer fen, halves rounded up (``floor(x × 100 + 0.5)``, same on every engine).

    Amounts in the input tables carry at most 2 decimals, so ``x × 100`` is within 10^-6 of an integer and
    this recovers it exactly.
    """
    return (yuan.cast("float64") * 100.0 + 0.5).floor().cast("int64")


def yuan(f: ir.IntegerValue) -> ir.FloatingValue:
    """Integer fen back to yuan (the nearest double: 12345 fen → 123.45)."""
    return f.cast("float64") / 100.0


def ratio_at_most(num: ir.IntegerValue, den: ir.IntegerValue, t_bp: int) -> ir.BooleanValue:
    """``num / den ≤ t`` for integers ``num ≥ 0``, ``den > 0`` and ``t`` in basis points, without division."""
    return num * SCALE <= ibis.literal(t_bp, "int64") * den


def scaled_share(amount_fen: ir.IntegerValue, rate_bp: ir.IntegerValue) -> ir.IntegerValue:
    """``amount × rate`` in fen, halves up: ``floor((amount × rate_bp + 5000) / 10000)``.

    The product is an exact integer; dividing it by 10^4 in double precision and flooring is exact while
    the result is below 10^11 fen (one billion yuan).
    """
    return ((amount_fen * rate_bp + SCALE // 2).cast("float64") / float(SCALE)).floor().cast("int64")
