"""Exact money, rates and scores — integer fen, basis points, one rounding step, one tolerance rule.

Floating point makes ``abs(S − R) / abs(R)`` come out as 0.05000000000000001 for a deviation of exactly
5%, ``0.4 − 0.3`` as 0.10000000000000003, 1.005 yuan as 1.00499999999999989… and 3 × 0.335 as
1.0050000000000001, so a figure exactly on a policy edge, or exactly half a fen, could land on either side
— and on different sides on DuckDB, PostgreSQL and Spark, which sum in different orders and whose
``round()`` differ (half-even on one, half away from zero on another, on the binary value). jicai
therefore follows **one rule** (docs/rules.md, "Exact money and edges", says the same):

1. **Snap once, to a fixed grid.** A float that becomes money or decides an edge is first turned into an
   integer on a grid of 10⁻⁶ of its unit, halves away from zero (:func:`snap`): amounts and prices to the
   **micro-yuan** (:func:`micro`), scores to the micro-point. This is the only allowance for float noise
   in jicai: half a grid step, 5 × 10⁻⁷ yuan. It absorbs the binary error of an amount below 10⁹ yuan
   after a product and a sum (about 10⁻⁷ yuan) and lies far below anything the data means (amounts carry
   2 decimals, prices 4 to 6), so a value within half a micro-yuan of a half fen *is* that half fen.
   Summing micro-yuan integers is exact, so sums no longer depend on an engine's order of addition.
2. **Round money once, half up, to the fen.** From the micro-yuan, integer arithmetic rounds to **fen**
   (0.01 yuan) with halves away from zero — 四舍五入, as Excel's ROUND and Python's ``ROUND_HALF_UP``
   (:func:`fen`), at the one step each measure documents. Sums and differences are exact sums of fen,
   so the rows of a report add up to its total. A share of an amount by a policy rate is the exact integer
   product ``amount_fen × rate_bp`` rounded half up (:func:`scaled_share`); a share by a measured ratio
   (prepayment × progress) is a double product, snapped and rounded like any amount (:func:`fen`).
3. **Compare rates in basis points.** A policy rate that gates a decision is read in basis points
   (1/10 000, :func:`basis_points`) and a measured ratio ``a / b`` is compared with it by
   cross-multiplying, ``a × 10 000 ≤ t_bp × b`` (:func:`ratio_at_most`, :func:`ratio_below`,
   :func:`ratio_above`): no division, no rounding. Exact for integers (fen, micro-yuan) and for volumes
   (float64 holding whole units) below 9 × 10¹¹ units.
4. **Money leaves the engine as float64 holding fen / 100** (:func:`yuan`): one IEEE division, the same
   double on every engine, the double nearest the two-decimal value, whose shortest text (csv, json) is
   those two decimals and which xlsx stores as that very double. A decimal(18,2) column would come back
   as ``Decimal`` objects that ``json`` cannot write and that each engine maps differently.

Limits: the snap is exact while ``|x| × 10⁶ < 2⁵³``, i.e. for amounts below 9 × 10⁹ yuan per row; sums
of fen stay exact in int64 up to 9 × 10¹⁶ yuan.

>>> basis_points(0.05), basis_points(0.7), basis_points(0.10)
(500, 7000, 1000)
>>> to_fen(0.125), to_fen(2.675), to_fen(1.005), to_fen(3 * 0.335), to_fen(-1.005)
(13, 268, 101, 101, -101)
>>> round_yuan(1234.57 * 0.5)
617.29
>>> to_fen(HALF_FEN), to_fen(0.0049994)
(1, 0)
"""

from __future__ import annotations

import math

import ibis
import ibis.expr.types as ir

from jicai.contract.money import HALF_FEN, MICRO, MICRO_PER_FEN  # noqa: F401 (re-exported)

SCALE = 10_000  # basis points: ratios of the policy are read to 4 decimals (0.01%)


# -- Python side (policy constants, writers, tests): the same IEEE operations as the engines -----------

def basis_points(x: float) -> int:
    """A policy ratio in basis points; ratios with more than 4 decimals are rounded half up (documented)."""
    return int(float(x) * SCALE + 0.5) if x >= 0 else -int(-float(x) * SCALE + 0.5)


def to_micro(x: float, per_unit: int = MICRO) -> int:
    """``x`` on the grid ``1 / per_unit``, halves away from zero: the engines' :func:`snap` in Python."""
    m = math.floor(abs(float(x)) * per_unit + 0.5)
    return -m if x < 0 else m


def to_fen(x: float) -> int:
    """An amount in yuan as integer fen, halves away from zero (via the micro-yuan): :func:`fen` in Python."""
    m = to_micro(x)
    f = (abs(m) + MICRO_PER_FEN // 2) // MICRO_PER_FEN
    return -f if m < 0 else f


def round_yuan(x: float) -> float:
    """``x`` rounded half up to the fen, as the float64 the engines return (fen / 100)."""
    return to_fen(x) / 100.0


# -- Ibis side ------------------------------------------------------------------------------------------

def _double(x: float) -> ir.FloatingScalar:
    """A float constant typed double on every engine (PostgreSQL and Spark type a bare 0.5 as numeric)."""
    return ibis.literal(repr(float(x))).cast("float64")


def _half_away(x: ir.FloatingValue) -> ir.IntegerValue:
    """``x`` to the nearest integer, halves away from zero: ``sign(x) × floor(|x| + 0.5)``."""
    # sign × floor: ``x`` appears twice in the SQL, not three times as with a CASE
    return ((x.abs() + _double(0.5)).floor() * x.sign()).cast("int64")


def _divide_half_away(n: ir.IntegerValue, d: int) -> ir.IntegerValue:
    """``n / d`` to the nearest integer, halves away from zero, for integer ``n`` and a constant ``d > 0``.

    ``floor((|n| + d/2) / d)`` in double precision: exact while ``|n| < 2⁵³`` (the quotient is correctly
    rounded, and a fraction of at least 1/d stays below the next integer there).
    """
    up = ((n.abs() + d // 2).cast("float64") / _double(d)).floor()
    return (up * n.sign().cast("float64")).cast("int64")


def snap(x: ir.NumericValue, per_unit: int = MICRO) -> ir.IntegerValue:
    """``x × per_unit`` as an integer, halves away from zero: the one float-noise allowance (see above)."""
    return _half_away(x.cast("float64") * _double(per_unit))


def micro(yuan_: ir.NumericValue) -> ir.IntegerValue:
    """An amount or price in yuan as integer micro-yuan (10⁻⁶ yuan), halves away from zero."""
    return snap(yuan_, MICRO)


def fen_of_micro(m: ir.IntegerValue) -> ir.IntegerValue:
    """Integer micro-yuan to integer fen, halves away from zero (exact integer rounding)."""
    return _divide_half_away(m, MICRO_PER_FEN)


def fen(yuan_: ir.NumericValue) -> ir.IntegerValue:
    """An amount in yuan as integer fen, rounded once, half up (四舍五入), the same on every engine.

    0.125 → 13, 2.675 → 268, 1.005 → 101 although the double of 1.005 is a little below it: the
    micro-yuan snap recovers the decimal value first.
    """
    return fen_of_micro(micro(yuan_))


def at_least_one_fen(x: ir.NumericValue) -> ir.BooleanValue:
    """``x`` rounds to one fen or more (``fen(x) ≥ 1``) — a cheap test for a column of order lines.

    Under the rule that is ``x ≥`` :data:`HALF_FEN` = half a fen less the half micro-yuan allowance.
    """
    return x >= _double(HALF_FEN)


def yuan(f: ir.IntegerValue) -> ir.FloatingValue:
    """Integer fen back to yuan (the nearest double: 12345 fen → 123.45)."""
    return f.cast("float64") / _double(100.0)


def ratio_at_most(num: ir.NumericValue, den: ir.NumericValue, t_bp: int) -> ir.BooleanValue:
    """``num / den ≤ t`` for ``num ≥ 0``, ``den > 0`` and ``t`` in basis points, without division."""
    return num * SCALE <= ibis.literal(t_bp, "int64") * den


def ratio_below(num: ir.NumericValue, den: ir.NumericValue, t_bp: int) -> ir.BooleanValue:
    """``num / den < t`` (``den > 0``; ``t`` in basis points), without division."""
    return num * SCALE < ibis.literal(t_bp, "int64") * den


def ratio_above(num: ir.NumericValue, den: ir.NumericValue, t_bp: int) -> ir.BooleanValue:
    """``num / den > t`` (``den > 0``; ``t`` in basis points), without division."""
    return num * SCALE > ibis.literal(t_bp, "int64") * den


def scaled_share(amount_fen: ir.IntegerValue, rate_bp: ir.IntegerValue | int) -> ir.IntegerValue:
    """``amount × rate`` in fen, halves away from zero, from the exact integer ``amount_fen × rate_bp``.

    Exact while the product is below 2⁵³ (an amount below 9 × 10¹¹ fen at a rate ≤ 1).
    """
    rate = ibis.literal(rate_bp, "int64") if isinstance(rate_bp, int) else rate_bp
    return _divide_half_away(amount_fen * rate, SCALE)


def share_of(amount_fen: ir.IntegerValue, num: ir.IntegerValue, den: ir.IntegerValue) -> ir.IntegerValue:
    """``amount × num / den`` in fen (``den > 0``): the double quotient snapped to the micro-yuan and
    rounded half up — a share by a measured ratio, such as prepayment × purchase progress."""
    x = amount_fen.cast("float64") * num.cast("float64") / den.cast("float64") / _double(100.0)
    return fen_of_micro(micro(x))
