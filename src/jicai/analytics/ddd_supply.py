"""The supply roll-ups in DDDs (供应评价按企业 / 按配送企业, the monthly trends): convert each product, then add.

A supply roll-up adds the order lines of several products (:func:`jicai.measures.supply.supply_rollup`): an
enterprise's 采购数量(最小单位) counts a 20 mg tablet and a sachet of powder alike. In DDDs the sum means
something, but only when each product is converted **before** the sums, by its own DDDs per unit (a product's
strength is known where its variety's may not be: 10 mg and 5 mg tablets of one variety each convert). The
product rows are the scorecard's (product × enterprise × distributor × month, :data:`SCORECARD`), converted as
the scorecard's own DDD view converts them (:func:`jicai.analytics.ddd_units.with_ddd`, keyed by product), then
added per roll-up key — one Ibis expression, the same on every engine; on the web the scorecard's cached rows
are converted (:mod:`jicai.web.units`), nothing is recomputed.

A product without DDDs (no DDD in the table, strength unknown, not a drug) is never dropped silently: its
minimum units go to ``ordered_units_unconverted``, ``products_without_ddd`` counts it and ``ddd_note`` says so.
The DDD figures are those of the converted products only:

* ``ordered_units_ddd`` = Σ ordered units × the product's DDDs per unit (null when no product converts);
* ``ordered_cost_per_ddd`` = Σ ordered amount **of the products with DDDs** ÷ ``ordered_units_ddd``.

Quantities shipped and accepted stay in packs, as in the scorecard (packs are not minimum units).

>>> [c.name for c in SUPPLY_DDD_COLUMNS]
['ordered_units_ddd', 'ordered_cost_per_ddd', 'products_without_ddd', 'ordered_units_unconverted', 'ddd_note']
>>> sorted(VIEWS)
['supply-distributor-trend', 'supply-distributors', 'supply-enterprises', 'supply-trend']
"""

from __future__ import annotations

from dataclasses import replace

import ibis
import ibis.expr.types as ir

from jicai.contract.columns import Col, col
from jicai.measures.progress import ratio
from jicai.measures.registry import Args, Measure, measure
from jicai.measures.supply import ROLLUPS, supply_rollup, supply_scorecard
from jicai.measures.supply_base import first_month_of

# the roll-up measures that have a DDD view, by the roll-up they are (jicai.measures.supply.ROLLUPS)
VIEWS = {"supply-enterprises": "enterprise", "supply-distributors": "distributor", "supply-trend": "month",
         "supply-distributor-trend": "distributor"}
SCORECARD = "supply-scorecard"

SUPPLY_DDD_COLUMNS = (
    Col("ordered_units_ddd", "采购数量(DDD)", "Σ ordered units × the product's DDDs per unit, over the products "
        "with DDDs (null when none has)", "volume", "DDD"),
    Col("ordered_cost_per_ddd", "采购数量每DDD费用", "Σ ordered amount of the products with DDDs / "
        "ordered_units_ddd: yuan per DDD (null without DDDs)", "price", "元"),
    Col("products_without_ddd", "无DDD的产品数", "products ordered in the row that have no DDDs per unit: their "
        "units are in ordered_units_unconverted, not in the DDD figures", "int"),
    Col("ordered_units_unconverted", "未换算采购数量(最小单位)",
        "Σ ordered units of the products without DDDs, in minimum units", "volume"),
    col("ddd_note", en="how many products of the row have no DDDs and where their volume is (blank when all have)"),
)
NOTE_ZH = "各产品先按其每单位DDD数换算再汇总;无DDD的产品不计入DDD合计,其采购量见“未换算”列(最小单位)"


def keys_of(by: str) -> list[str]:
    return ["month", *ROLLUPS[by]]


def note(without: ir.IntegerValue, products: ir.IntegerValue) -> ir.StringValue:
    """What a roll-up row says of its products without DDDs (null when every product has them)."""
    n = without.cast("string")
    text = ibis.ifelse(
        without == products,
        n + " 个产品均无DDD,无法按DDD汇总,采购量见“未换算”列(最小单位)",
        n + " 个产品无DDD,未计入DDD合计,采购量见“未换算”列(最小单位)")  # each product's reason: the scorecard's
    return ibis.ifelse(without > 0, text, ibis.null("string"))


def sums(card: ir.Table, factors: ir.Table, by: str) -> ir.Table:
    """The DDD figures of the roll-up ``by`` from scorecard rows ``card`` (as :func:`supply_scorecard` returns
    them, or their cached copy): each product converted, then added per :func:`keys_of` ``by``."""
    from jicai.analytics.ddd_units import with_ddd

    c = with_ddd(measure(SCORECARD), card, factors)
    has, bought = c.ddd_per_unit.notnull(), c.order_lines > 0
    g = c.group_by(keys_of(by)).agg(
        ordered_units_ddd=c.ordered_units_ddd.sum(),  # the sum of a group whose rows are all null is null
        _amount=ibis.ifelse(has, c.ordered_amount, 0.0).sum(),
        _products=ibis.ifelse(bought, c.product_code, ibis.null("string")).nunique().cast("int64"),
        products_without_ddd=ibis.ifelse(bought & ~has, c.product_code, ibis.null("string")).nunique()
        .cast("int64"),
        ordered_units_unconverted=ibis.ifelse(has, 0.0, c.ordered_units).sum().cast("float64"),
    )
    return g.mutate(ordered_cost_per_ddd=ratio(g._amount, g.ordered_units_ddd),
                    ddd_note=note(g.products_without_ddd, g._products))


def of_rollup(rows: ir.Table, card: ir.Table, factors: ir.Table, by: str) -> ir.Table:
    """Roll-up rows ``rows`` (:func:`supply_rollup` ``by``, or their cached copy) with :data:`SUPPLY_DDD_COLUMNS`
    from the scorecard rows ``card`` of the same window; ``factors`` as
    :func:`jicai.analytics.ddd_units.factor_rows`."""
    keys = keys_of(by)
    s = sums(card, factors, by)
    t = rows.left_join(s, keys)
    return t.select(*rows.columns, ordered_units_ddd=t.ordered_units_ddd, ordered_cost_per_ddd=t.ordered_cost_per_ddd,
                    products_without_ddd=t.products_without_ddd.fill_null(0),
                    ordered_units_unconverted=t.ordered_units_unconverted.fill_null(0.0), ddd_note=t.ddd_note)


def view(m: Measure) -> Measure | None:
    """The DDD view of supply roll-up ``m`` (its columns and then :data:`SUPPLY_DDD_COLUMNS`), None when ``m`` is
    none of :data:`VIEWS`."""
    by = VIEWS.get(m.name)
    if by is None:
        return None

    def compute(wh, a: Args) -> ir.Table:
        from jicai.analytics.ddd_units import factor_rows

        first = first_month_of(a)
        rows = supply_rollup(wh, a.month, by, first, a.batch, a.policy)
        card = supply_scorecard(wh, a.month, first, a.batch, a.policy)
        return of_rollup(rows, card, ibis.memtable(factor_rows(wh)), by)

    return replace(m, columns=(*m.columns, *SUPPLY_DDD_COLUMNS), compute=compute, title_zh=f"{m.title_zh}(DDD)",
                   title_en=f"{m.title_en} (DDDs)", note_zh=f"{m.note_zh};{NOTE_ZH}" if m.note_zh else NOTE_ZH,
                   note_en=(f"{m.note_en}; " if m.note_en else "")
                   + "each product converted before adding, products without DDDs apart")
