"""Which changed parameter causes what (分项归因): a what-if's change apportioned between the parameters changed.

An alternative policy that changes several parameters at once moves the rewards and flips verdicts through all of
them together; a reader who must choose which change to publish needs each one's part. A part is only honest when
the parts add up to the change and no parameter is given what another one did, so jicai uses **Shapley values**
(Shapley 1953; the decomposition of a change between factors that interact, as in the Shorrocks–Shapley
decomposition of income changes): with N the n changed parameters and v(S) a figure's change when only the
parameters of S take their alternative values (the others keep the current ones),

    part(i) = Σ over S ⊆ N∖{i} of  |S|! (n − |S| − 1)! / n!  ×  (v(S ∪ {i}) − v(S))

— the change i brings, averaged over every order in which the parameters could be changed one after another.
The parts add up to v(N), the what-if's change; a parameter that changes nothing gets 0; two parameters that only
together flip an institution get half of the flip each. v(∅) = 0 (the current policy against itself).

**The figures apportioned** (:data:`FIGURES`): the institutions that flip to fail and to pass, and the change of
the retention rewards, the overspend shared, the prepayment offsets and the balances — each per city (the first
four digits of ``region_code`` + 00) and in total, over the rows the user may see.

**Cost and the limit.** v(S) of every subset is one more what-if (:func:`jicai.analytics.whatif.what_if`, the
same computation on the same engine): 2ⁿ − 2 more (v(∅) and v(N) are known). Up to :data:`MAX_EXACT` (4)
parameters — 14 more what-ifs at most — the parts are exact (method ``shapley``). Beyond that the count doubles
with each parameter, so jicai says so and computes **one at a time** instead (method ``one_at_a_time``): each
parameter alone changed from the current policy, the others kept (n more what-ifs); those parts need not add up
to the change, and what is left is shown as its own line, 交互作用(未分摊) — the part of the change that comes
from parameters acting together, not given to any of them.

**Exactness.** The subsets' changes are summed in integer fen (money) and whole institutions (flips); the Shapley
weights are exact fractions. Each line is then rounded — money to the fen, flips to a tenth of an institution —
by the largest remainder, so the rounded parts of a line still add up to its change exactly (each city's
lines and the total's are rounded on their own).

A subset policy that cannot be computed (a score band of zero width made by changing one end of it without the
other) leaves the apportionment unavailable, with the reason; the what-if itself is unaffected.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from jicai.errors import BilingualError
from jicai.measures.exact import fen
from jicai.policy import Policy
from jicai.store import Warehouse

MAX_EXACT = 4  # changed parameters up to which every subset is computed (2⁴ − 2 = 14 more what-ifs)
COUNTS = ("to_fail", "to_pass")
MONEY = ("reward_change", "overspend_shared_change", "offset_change", "balance_change")
FIGURES = (*COUNTS, *MONEY)
FLIP_SCALE = 10  # flips are apportioned in tenths of an institution
TOTAL = ""  # the city_code of the lines over every city

METHODS = {
    "shapley": ("Shapley 值分摊(精确)", "Shapley values (exact)"),
    "one_at_a_time": ("逐项测算(未精确分摊)", "one at a time (not an exact apportionment)"),
    "none": ("未改动参数", "no parameter changed"),
    "unavailable": ("无法分摊", "cannot be apportioned"),
}
REST_ZH, REST_EN = "交互作用(未分摊)", "interaction (not apportioned)"

_SUBSET_SCHEMA = pa.schema([("subset", pa.int64()), ("institution_code", pa.string()), ("region_code", pa.string()),
                            ("flip", pa.string()), *[(c, pa.float64()) for c in MONEY]])

# the lines as rows (Apportionment.rows), with the batch, the year and the method
ROW_SCHEMA = pa.schema([("batch_id", pa.string()), ("cycle_year", pa.int64()), ("method", pa.string()),
                        ("city_code", pa.string()), ("parameter", pa.string()), ("parameter_zh", pa.string()),
                        ("current", pa.string()), ("alt", pa.string()),
                        *[(c, pa.float64()) for c in FIGURES]])


class ApportionError(BilingualError, ValueError):
    """A combination of the changed parameters that cannot be computed."""


@dataclass(frozen=True)
class Share:
    """One changed parameter's part of each figure's change (or, one at a time, the part left to interactions:
    ``parameter`` empty). Flips in institutions (tenths), money in yuan (to the fen)."""

    parameter: str
    zh: str
    current: str  # the value under the current policy, as the policy page shows it
    alt: str
    values: dict[str, float]

    def as_row(self, city_code: str = TOTAL) -> dict[str, Any]:
        return {"city_code": city_code, "parameter": self.parameter, "parameter_zh": self.zh,
                "current": self.current, "alt": self.alt, **self.values}


@dataclass(frozen=True)
class Apportionment:
    """The parts of a what-if's change: per changed parameter, in total and per city."""

    method: str  # a key of METHODS
    total: list[Share] = field(default_factory=list)
    regions: dict[str, list[Share]] = field(default_factory=dict)  # city_code → its lines
    reason_zh: str = ""
    reason_en: str = ""

    @property
    def method_zh(self) -> str:
        return METHODS[self.method][0]

    @property
    def method_en(self) -> str:
        return METHODS[self.method][1]

    @property
    def note_en(self) -> str:
        n = len([s for s in self.total if s.parameter])
        if self.method == "shapley":
            if n == 1:
                return "One parameter changed: the whole change is its part."
            return (f"Shapley values: each of the {2 ** n - 2} other combinations of the {n} changed parameters "
                    "recomputed; each parameter's part is the change it brings averaged over every order of making "
                    "the changes; the parts add up to the total. A flip caused by several parameters together is "
                    "split between them, so counts may have decimals. Money to the fen, counts to a tenth (largest "
                    "remainder: the parts still add up to the total).")
        if self.method == "one_at_a_time":
            return (f"{n} parameters changed, more than {MAX_EXACT}: an exact apportionment would recompute "
                    f"{2 ** n} combinations, so each parameter is changed alone instead, the others kept current. "
                    f"The parts need not add up to the total; the difference is shown as '{REST_EN}'.")
        if self.method == "unavailable":
            return f"The parameters' parts cannot be apportioned: {self.reason_en}"
        return ""

    @property
    def note_zh(self) -> str:
        """What the parts are, in one paragraph (the report, the page and the CLI say it alike)."""
        n = len([s for s in self.total if s.parameter])
        if self.method == "shapley":
            if n == 1:
                return "只改动了一项参数,全部变化都归于该参数。"
            return (f"按 Shapley 值分摊:对改动的 {n} 项参数的每一种组合分别重算(另算 {2 ** n - 2} 次),每项参数取"
                    "其在各种改动先后顺序下带来的平均变化;各项之和等于合计。几项参数共同造成的一家机构的变化由它们"
                    "平分,所以家数可能有小数。金额精确到分、家数到 0.1(最大余数法舍入,各项之和仍等于合计)。")
        if self.method == "one_at_a_time":
            return (f"改动了 {n} 项参数,超过 {MAX_EXACT} 项:精确分摊需对 {2 ** n} 种组合逐一重算,故改为逐项测算——"
                    "每次只改一项、其余保持现行政策。各项之和一般不等于合计,差额列为“" + REST_ZH + "”,不归于任何一项。")
        if self.method == "unavailable":
            return f"无法分摊各项参数的影响:{self.reason_zh}"
        return ""

    def rows(self) -> list[dict[str, Any]]:
        """Every line as a row: the total's first (``city_code`` blank), then each city's."""
        out = [s.as_row() for s in self.total]
        for code in sorted(self.regions):
            out += [s.as_row(code) for s in self.regions[code]]
        return out


# -- the subsets and their what-ifs ------------------------------------------------------------------------

def masks(n: int) -> list[int]:
    """The subsets (bit masks over the changed parameters) to compute beyond ∅ and all n: every one up to
    :data:`MAX_EXACT` parameters, else each parameter alone."""
    if n <= MAX_EXACT:
        return list(range(1, 2 ** n - 1))
    return [1 << i for i in range(n)]


def policy_of(current: Policy, alt: Policy, names: Sequence[str], mask: int, on: date) -> Policy:
    """The current policy with the parameters of ``mask`` (bits over ``names``) at their alternative values."""
    return current.with_values(**{n: alt.value(n, on=on) for i, n in enumerate(names) if mask >> i & 1})


def subset_rows(wh: Warehouse, batch_id: str, year: int, current: Policy, alt: Policy, names: Sequence[str],
                on: date, as_of: date | None = None) -> pa.Table:
    """Per subset of :func:`masks` and institution: the flip and the money's change when only that subset's
    parameters change (one what-if each, on the warehouse's engine). Every what-if is built before any runs, so a
    combination that cannot be computed is an :class:`ApportionError` before any work."""
    from jicai.analytics.whatif import what_if

    exprs = []
    for mask in masks(len(names)):
        try:
            t = what_if(wh, batch_id, year, current, policy_of(current, alt, names, mask, on), as_of)
        except BilingualError as exc:
            changed = "、".join(n for i, n in enumerate(names) if mask >> i & 1)
            raise ApportionError(f"只改动 {changed} 时无法计算({exc.zh})",
                                 f"the policy with only {changed} changed cannot be computed ({exc.en})") from exc
        exprs.append(t.select(subset=ibis.literal(mask, "int64"), institution_code=t.institution_code,
                              region_code=t.region_code, flip=t.flip, **{c: t[c] for c in MONEY}))
    parts = [e.to_pyarrow().cast(_SUBSET_SCHEMA) for e in exprs]
    return pa.concat_tables(parts) if parts else no_subsets()


def no_subsets() -> pa.Table:
    """The rows of :func:`subset_rows` when no combination is needed (one changed parameter, or none)."""
    return _SUBSET_SCHEMA.empty_table()


def subset_totals(rows: ir.Table, subsets: ir.Table, n: int) -> ir.Table:
    """Per subset and city: the flips each way and the money's change in integer fen. ``rows`` are the what-if's
    own (all n changed), ``subsets`` :func:`subset_rows`' — both already restricted to what the user may see."""
    full = rows.select(subset=ibis.literal(2 ** n - 1, "int64"), institution_code=rows.institution_code,
                       region_code=rows.region_code, flip=rows.flip, **{c: rows[c].cast("float64") for c in MONEY})
    t = full.union(subsets.select(*full.columns))
    t = t.mutate(city_code=t.region_code.substr(0, 4) + "00")
    return t.group_by(["subset", "city_code"]).agg(
        to_fail=ibis.ifelse(t.flip == "to_fail", 1, 0).sum().cast("int64"),
        to_pass=ibis.ifelse(t.flip == "to_pass", 1, 0).sum().cast("int64"),
        **{c: fen(t[c].fill_null(0.0)).sum().cast("int64") for c in MONEY},
    )


# -- the parts -----------------------------------------------------------------------------------------------

Value = Callable[[int], int]  # subset mask → a figure's change in its units (institutions, fen)


def shapley(v: Value, n: int) -> list[Fraction]:
    """The Shapley value of each of the n players of the game ``v`` (v(0) = 0), exact.

    >>> shapley(lambda s: {0: 0, 1: 10, 2: 20, 3: 60}[s], 2)  # 30 of interaction, split evenly
    [Fraction(25, 1), Fraction(35, 1)]
    """
    out = []
    for i in range(n):
        part = Fraction(0)
        for s in range(2 ** n):
            if s >> i & 1:
                continue
            k = s.bit_count()
            part += Fraction(math.factorial(k) * math.factorial(n - k - 1), math.factorial(n)) * (v(s | 1 << i) - v(s))
        out.append(part)
    return out


def largest_remainder(parts: Sequence[Fraction], total: int) -> list[int]:
    """``parts`` (exact, adding up to the integer ``total``) rounded to integers that add up to ``total``: each
    rounded down, and the units left given to the largest remainders (the first of equal ones).

    >>> largest_remainder([Fraction(1, 3)] * 3, 1)
    [1, 0, 0]
    """
    floors = [math.floor(p) for p in parts]
    order = sorted(range(len(parts)), key=lambda i: (-(parts[i] - floors[i]), i))
    for i in order[:total - sum(floors)]:
        floors[i] += 1
    return floors


def _scale(figure: str) -> int:
    return FLIP_SCALE if figure in COUNTS else 1  # flips in tenths; money already in fen


def _unit(figure: str, x: int) -> float:
    return x / FLIP_SCALE if figure in COUNTS else x / 100


def _lines(v: dict[int, dict[str, int]], names: Sequence[str], shown: Sequence[tuple[str, str, str]],
           method: str) -> list[Share]:
    n = len(names)
    full = 2 ** n - 1
    values: list[dict[str, float]] = [{} for _ in range(n + (method == "one_at_a_time"))]
    for figure in FIGURES:
        scale = _scale(figure)

        def value(mask: int, figure: str = figure, scale: int = scale) -> int:
            return v.get(mask, {}).get(figure, 0) * scale

        if method == "shapley":
            parts = largest_remainder(shapley(value, n), value(full))
        else:  # one at a time, and what they leave
            alone = [value(1 << i) for i in range(n)]
            parts = [*alone, value(full) - sum(alone)]
        for line, x in zip(values, parts, strict=True):
            line[figure] = _unit(figure, x)
    out = [Share(name, *shown[i], values[i]) for i, name in enumerate(names)]
    if method == "one_at_a_time":
        out.append(Share("", REST_ZH, "", "", values[-1]))
    return out


def apportion(totals: Iterable[dict[str, Any]], names: Sequence[str],
              shown: Sequence[tuple[str, str, str]]) -> Apportionment:
    """The :class:`Apportionment` of :func:`subset_totals`' rows; ``shown`` the Chinese name and the two values of
    each parameter of ``names``, as the policy page shows them."""
    n = len(names)
    if n == 0:
        return Apportionment("none")
    method = "shapley" if n <= MAX_EXACT else "one_at_a_time"
    by_city: dict[str, dict[int, dict[str, int]]] = {}
    whole: dict[int, dict[str, int]] = {}
    for r in totals:
        city = by_city.setdefault(r["city_code"], {}).setdefault(r["subset"], dict.fromkeys(FIGURES, 0))
        both = whole.setdefault(r["subset"], dict.fromkeys(FIGURES, 0))
        for figure in FIGURES:
            city[figure] += int(r[figure] or 0)
            both[figure] += int(r[figure] or 0)
    return Apportionment(method, _lines(whole, names, shown, method),
                         {code: _lines(v, names, shown, method) for code, v in by_city.items()})


def unavailable(exc: BilingualError) -> Apportionment:
    return Apportionment("unavailable", reason_zh=exc.zh, reason_en=exc.en)
