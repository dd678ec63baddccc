"""Any measure's volumes also in DDDs, with cost per DDD (计量单位：最小单位 / DDD): one conversion for every measure.

The measures count in minimum units (片/粒/支), as the notices do. A reader comparing two varieties, or a
hospital's use with its peers', wants defined daily doses (docs/classes.md). This module adds them to the rows
of any registered measure that has a variety or a product dimension, from what the registry declares — its
columns, their kinds and its dims — so no measure is written twice and the measures stay in minimum units:

* the **key**: the measure's product column when it has one (each product's own DDDs per unit), else its
  variety column (the variety's DDDs per unit, below);
* for each **volume** column in minimum units (kind ``volume``; not packs, not already DDDs), ``<column>_ddd``
  = volume × DDDs per unit;
* where an **amount** sits beside a volume (``<stem>_amount`` beside ``<stem>_volume`` or ``<stem>_units``,
  kind ``money``), ``<stem>_cost_per_ddd`` = amount / ``<column>_ddd`` (none when no DDDs were bought);
* ``ddd_per_unit`` and ``ddd_note``: the factor and, when there is none, why ("DDD表无…的该给药途径",
  "含量不明…", "品种内各产品每单位DDD数不同…") — a row without DDDs shows "—" and its reason, never a blank.

DDDs per unit come from :mod:`jicai.analytics.ddd` (strength per minimum unit / WHO DDD, a bureau's ``ddd`` rows
overriding). A **variety**'s DDDs per unit are those its products agree on: the one value shared by every
product of the variety that has one (tablets of 20 mg of a substance whose DDD is 20 mg: 1). When its products
differ (10 mg and 20 mg tablets in one variety) the minimum units of the variety are a mix and no single factor
converts them: the row says so and the product view (``ddd-volume``) has the figures.

A roll-up of the monitoring across varieties (``monitor-by-*``, the overview's cards) is converted row by row
*before* its sums, with the rows without DDDs kept apart: :mod:`jicai.analytics.ddd_rollups` (``in_ddd`` of a
roll-up is its view there); the supply roll-ups by enterprise, distributor and month convert each product of the
scorecard before theirs: :mod:`jicai.analytics.ddd_supply`.

The conversion is one Ibis expression over the measure's rows and a small factor table (one row per product and
per variety, computed in Python from the products table), so it runs wherever the rows are: on the warehouse's
engine for the command line and the scenario tests, on the web server's result cache for the pages.

>>> from jicai.measures.registry import measure
>>> [c.name for c in ddd_columns(measure("volume-audit"))][:2]
['last_year_actual_ddd', 'reported_volume_ddd']
>>> plan(measure("monitor")).key, plan(measure("monitor")).pairs[1]
('variety_id', ('selected_volume', 'selected_amount'))
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from jicai.analytics.ddd import product_ddd_rows
from jicai.contract.columns import Col, col
from jicai.errors import BilingualError
from jicai.measures.registry import Args, Measure, measure
from jicai.store import Warehouse

# the units a reader may choose: code → (中文, English)
UNITS = {"min": ("最小单位", "minimum units"), "ddd": ("DDD(限定日剂量)", "DDDs (defined daily doses)")}
FACTOR_SCHEMA = pa.schema([("dim", pa.string()), ("code", pa.string()), ("ddd_per_unit", pa.float64()),
                           ("ddd_note", pa.string())])
SAME = 9  # decimals to which two products' DDDs per unit are the same factor
NO_KEY = {"product": "该行无产品", "variety": "该行无品种"}
NOT_FOUND = {"product": "产品不在产品表中", "variety": "品种无产品"}


class DddUnitError(BilingualError, ValueError):
    """A unit that does not exist, or a measure whose rows cannot be shown in DDDs."""


@dataclass(frozen=True)
class Plan:
    """How one measure's rows are converted: the key column, which factor it takes, the volume columns in
    minimum units and the amount beside each (None when there is none)."""

    key: str
    by: str  # "product" or "variety"
    pairs: tuple[tuple[str, str | None], ...]


def _in_min_units(c: Col) -> bool:
    return c.kind == "volume" and "packs" not in c.name and "ddd" not in c.name


def _amount_of(volume: str, money: set[str]) -> str | None:
    for suffix in ("_volume", "_units"):
        if volume.endswith(suffix) and f"{volume.removesuffix(suffix)}_amount" in money:
            return f"{volume.removesuffix(suffix)}_amount"
    return None


def _rollup(m: Measure) -> Measure | None:
    """The DDD view of a roll-up across varieties or products (:mod:`jicai.analytics.ddd_rollups` for the
    monitoring's, :mod:`jicai.analytics.ddd_supply` for the supply scorecard's), None for another measure."""
    from jicai.analytics import ddd_rollups, ddd_supply

    return ddd_rollups.view(m) or ddd_supply.view(m)


def why_not(m: Measure) -> tuple[str, str] | None:
    """Why ``m``'s rows cannot be shown in DDDs (zh, en), or None when they can (a roll-up of the monitoring
    across varieties can: each variety is converted before the sums, :mod:`jicai.analytics.ddd_rollups`; so can
    a supply roll-up across products, :mod:`jicai.analytics.ddd_supply`)."""
    if _rollup(m) is not None:
        return None
    if any("ddd" in c.name for c in m.columns):
        return (f"{m.title_zh}已按DDD计量", f"{m.name} is already counted in DDDs")
    if m.dims.product is None and m.dims.variety is None:
        return (f"{m.title_zh}的行不属于某一品种或产品,无法换算为DDD",
                f"the rows of {m.name} name no variety or product: no DDDs per unit to convert with")
    if not any(_in_min_units(c) for c in m.columns):
        return (f"{m.title_zh}没有以最小单位计的数量列", f"{m.name} has no volume in minimum units")
    return None


def convertible(m: Measure) -> bool:
    return why_not(m) is None


def plan(m: Measure) -> Plan:
    """The conversion of ``m``'s rows one by one (:class:`DddUnitError` when it has none, saying why; a roll-up
    is converted before it is summed, not row by row: :func:`in_ddd`)."""
    if _rollup(m) is not None:
        raise DddUnitError(f"{m.title_zh}为跨品种或跨产品汇总,须先换算再汇总", f"{m.name} sums across varieties "
                           "or products: each is converted before the sums (jicai.analytics.ddd_rollups, ddd_supply)")
    reason = why_not(m)
    if reason is not None:
        raise DddUnitError(*reason)
    key, by = (m.dims.product, "product") if m.dims.product else (m.dims.variety, "variety")
    money = {c.name for c in m.columns if c.kind == "money"}
    pairs = tuple((c.name, _amount_of(c.name, money)) for c in m.columns if _in_min_units(c))
    return Plan(key, by, pairs)


def _stem(zh: str) -> str:
    return zh.replace("(最小单位)", "").replace("(最小制剂单位)", "")


def ddd_columns(m: Measure) -> tuple[Col, ...]:
    """The columns the conversion adds to ``m``'s rows, in order: per volume its DDDs (and the cost per DDD of
    the amount beside it), then the factor and the note."""
    p = plan(m)
    out: list[Col] = []
    for volume, amount in p.pairs:
        v = m.column(volume)
        out.append(Col(f"{volume}_ddd", f"{_stem(v.zh)}(DDD)",
                       f"{volume} in defined daily doses: {volume} × ddd_per_unit (null without DDDs; ddd_note says why)",
                       "volume", "DDD"))
        if amount is not None:
            stem = amount.removesuffix("_amount")
            out.append(Col(f"{stem}_cost_per_ddd", f"{_stem(v.zh)}每DDD费用",
                           f"{amount} / {volume}_ddd: yuan per DDD (null without DDDs or when none were bought)",
                           "price", "元"))
    by = "the product's" if p.by == "product" else "the variety's (the value its products agree on)"
    out.append(col("ddd_per_unit", en=f"{by} DDDs per minimum unit: strength / WHO DDD (null when unknown)"))
    out.append(col("ddd_note", en="why the row has no DDDs (blank when it has)"))
    return tuple(out)


def factor_rows(wh: Warehouse) -> pa.Table:
    """DDDs per unit of every product (``dim`` = product) and every variety (``dim`` = variety), each with the
    reason when there is none. Python over the products table (thousands of rows at most, never order lines)."""
    products = {r["product_code"]: r for r in product_ddd_rows(wh)}
    p = wh.table("products")
    link = p.select("product_code", "variety_id").to_pyarrow().to_pylist()
    rows = [("product", code, r["ddd_per_unit"], r["ddd_note"]) for code, r in products.items()]
    by_variety: dict[str, list[dict]] = {}
    for r in link:
        if r["variety_id"]:
            by_variety.setdefault(r["variety_id"], []).append(products[r["product_code"]])
    varieties = wh.table("varieties").select("variety_id").to_pyarrow().column(0).to_pylist()
    for v in sorted(set(varieties) | set(by_variety)):
        rows.append(("variety", v, *_variety_factor(by_variety.get(v, []))))
    cols = list(zip(*rows, strict=True)) if rows else [[], [], [], []]
    return pa.table([pa.array(list(c), t.type) for c, t in zip(cols, FACTOR_SCHEMA, strict=True)],
                    schema=FACTOR_SCHEMA)


def _variety_factor(products: list[dict]) -> tuple[float | None, str | None]:
    if not products:
        return None, NOT_FOUND["variety"]
    known = sorted({round(r["ddd_per_unit"], SAME) for r in products if r["ddd_per_unit"] is not None})
    if len(known) == 1:
        exact = next(r["ddd_per_unit"] for r in products if r["ddd_per_unit"] is not None)
        return exact, None
    if known:
        shown = "、".join(f"{k:g}" for k in known)
        return None, f"品种内各产品每单位DDD数不同({shown}),无法统一换算,请按产品查看(DDD用量)"
    notes = sorted({r["ddd_note"] for r in products if r["ddd_note"]})
    return None, "；".join(notes) or "无DDD"


def with_ddd(m: Measure, rows: ir.Table, factors: ir.Table) -> ir.Table:
    """``rows`` (the rows of ``m``) with the columns of :func:`ddd_columns`; ``factors`` as :func:`factor_rows`."""
    p = plan(m)
    f = factors.filter(factors.dim == p.by)
    f = f.select(_ddd_code=f.code, _ddd_factor=f.ddd_per_unit, _ddd_note=f.ddd_note)
    t = rows.left_join(f, rows[p.key] == f._ddd_code)
    factor = t._ddd_factor
    note = ibis.cases((t[p.key].isnull(), NO_KEY[p.by]), (t._ddd_code.isnull(), NOT_FOUND[p.by]),
                      else_=t._ddd_note)
    added: dict[str, ir.Value] = {}
    for volume, amount in p.pairs:
        ddd = (t[volume] * factor).cast("float64")
        added[f"{volume}_ddd"] = ddd
        if amount is not None:
            added[f"{amount.removesuffix('_amount')}_cost_per_ddd"] = ibis.ifelse(
                ddd > 0, t[amount] / ddd, ibis.null("float64"))
    added["ddd_per_unit"] = factor
    added["ddd_note"] = ibis.ifelse(factor.isnull(), note, ibis.null("string"))
    return t.select(*rows.columns, **added)


def in_ddd(m: Measure) -> Measure:
    """``m`` shown in DDDs: the same measure (name, params, scope) with the DDD columns added to its rows — what
    the command line's ``--unit ddd`` and the exports compute. A roll-up across varieties (products) converts each
    variety (product) before it adds them (:mod:`jicai.analytics.ddd_rollups`, :mod:`jicai.analytics.ddd_supply`)."""
    if (rolled := _rollup(m)) is not None:
        return rolled
    extra = ddd_columns(m)

    def compute(wh: Warehouse, a: Args) -> ir.Table:
        return with_ddd(m, m.rows(wh, a), ibis.memtable(factor_rows(wh)))

    return replace(m, columns=(*m.columns, *extra), compute=compute, title_zh=f"{m.title_zh}(DDD)",
                   title_en=f"{m.title_en} (DDDs)")


def unit(value: str | None) -> str:
    """A unit code from a request or an option ("min" when not given); :class:`DddUnitError` for another."""
    v = (value or "min").strip().lower()
    if v not in UNITS:
        raise DddUnitError(f"计量单位应为 {' 或 '.join(UNITS)}(最小单位 / DDD):{str(value)[:20]}",
                           f"unit must be one of {', '.join(UNITS)}: {str(value)[:20]}")
    return v


def measure_in_ddd(wh: Warehouse, name: str, policy=None, **params) -> ir.Table:
    """The rows of measure ``name`` in DDDs for ``params`` (as_of, batch …): the scenario tests' entry."""
    return in_ddd(measure(name)).rows(wh, Args(policy, **params))
