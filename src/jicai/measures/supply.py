"""Supply scorecard (供应保障评分卡, seed 002 六): per selected product × enterprise × distributor × month.

"通过对订单响应时间、发货时间、配送金额、配送数量等指标监测,定期评估每个中选产品供应配送情况;对订单响应
不及时、配送率明显偏低、医疗机构反映供应问题集中的产品,进行重点监测". A row is the order lines of one
selected product (primary or backup, :func:`jicai.measures.supply_base.selected_catalogue`) from its
winning enterprise, delivered by one distributor (``orders.distributor_code``), ordered in one calendar
month. Quantities are in **packs as ordered** (the unit of orders and deliveries), ``ordered_units`` in
minimum units (packs × units_per_pack); amounts are packs × pack_price in yuan.

Flags (``flags``, ``;``-separated, in this order):

* ``slow_response`` — response_hours_median > ``response_hours_max`` (exactly 24 h is not flagged);
* ``low_delivery_rate`` — delivery_rate < ``delivery_rate_min`` (exactly 0.95 is not);
* ``multi_institution_complaints`` — reports about the product in the month from ≥
  ``complaint_institutions_min`` distinct institutions (counted over the product, all distributors);
* ``sentinel_warning`` — a line of the row comes from a city where a sentinel raised an early warning
  for the product in the month (:mod:`jicai.measures.supply_alerts`: a sentinel reported it, or saw
  slow response / low delivery on its own lines);
* ``surge`` — a line of the row comes from a city where the product's variety surged in the month.

A line without a response (or shipment) yet has no response (ship) time and is left out of the medians
(``responded_lines`` says how many had one); its ordered quantity still counts in the delivery rate's
denominator, so an unshipped line lowers the rate — once it is due: a line ordered less than
``deliver_within_hours`` before the data's end (the latest order) and not shipped yet is left out of the
rate (``due_packs`` of :func:`jicai.measures.supply_base.timed_lines`).

>>> from jicai.store import connect
>>> from jicai.contract.arrow import empty
>>> wh = connect("duckdb://")
>>> for name in INPUT_TABLES: _ = wh.write_table(name, empty(name))
>>> supply_scorecard(wh, "2024-06").to_pyarrow().num_rows
0
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import ibis
import ibis.expr.types as ir

from jicai.contract.columns import Col, cols
from jicai.measures.progress import ratio
from jicai.measures.registry import Args, Dims, Measure
from jicai.measures.supply_alerts import INPUT_TABLES, _sentinel_observations, variety_demand
from jicai.measures.supply_base import (
    DELIVERY_LINES,
    HOUR,
    SUPPLIER_ROLES,
    SUPPLY_ROLES,
    city_of,
    complaints,
    first_month_of,
    quantiles,
    selected_catalogue,
    supply_tables,
    timed_lines,
    window,
)
from jicai.policy import Policy, load_policy
from jicai.store import Warehouse

__all__ = ["INPUT_TABLES", "SCORECARD", "ROLLUP", "FLAGS", "MEASURES", "supply_scorecard", "supply_rollup"]

FLAGS: dict[str, tuple[str, str]] = {
    "slow_response": ("响应不及时", "median response time above response_hours_max"),
    "low_delivery_rate": ("配送率偏低", "delivery rate below delivery_rate_min"),
    "multi_institution_complaints": ("反映问题集中", "reports from at least complaint_institutions_min institutions"),
    "sentinel_warning": ("哨点预警", "a sentinel early warning for the product in the month"),
    "surge": ("需求激增", "the variety surged in a city the row delivers to"),
}

# the figures of a scorecard row and of a roll-up (see the vocabulary, jicai.contract.columns)
FIGURES = ("order_lines", "ordered_packs", "ordered_units", "ordered_amount", "shipped_packs", "shipped_amount",
           "accepted_packs", "accepted_amount", "on_time_packs", "delivery_rate", "responded_lines",
           "response_hours_median", "response_hours_p90", "ship_hours_median", "complaints")
_MONTH = ("月份", "month of ordering (YYYY-MM)")

SCORECARD = cols(
    "month", "product_code", "product_name", "variety_id", "role", "enterprise_code", "enterprise_name",
    "distributor_code", "distributor_name", *FIGURES, "complaint_institutions", "sentinel_reports", "flags",
    month=_MONTH, product_code=("医保编码", "selected product (primary or backup)"),
    variety_id=("品种编号", "variety of the product"),
)

ROLLUP = cols(
    "month", "enterprise_code", "enterprise_name", "distributor_code", "distributor_name", "products", *FIGURES,
    "flags",
    month=_MONTH, enterprise_code=("中选企业代码", "winning enterprise (enterprise roll-up)"),
    distributor_code=("配送企业代码", "distributor (distributor roll-up)"),
    flags=("预警标记", "slow_response / low_delivery_rate of the roll-up's own figures"),
)

ROLLUPS: dict[str, tuple[str, ...]] = {
    "enterprise": ("enterprise_code",),
    "distributor": ("distributor_code",),
    "month": (),
}


def rollup_columns(by: str) -> tuple[Col, ...]:
    """The columns of the roll-up ``by`` (each keeps only its own code and name columns)."""
    other = {"enterprise": ("distributor",), "distributor": ("enterprise",), "month": ("enterprise", "distributor")}
    return tuple(c for c in ROLLUP if not c.name.startswith(other[by]))


_FLOATS = ("ordered_packs", "ordered_units", "ordered_amount", "shipped_packs", "shipped_amount", "accepted_packs",
           "accepted_amount", "on_time_packs")
_INTS = ("order_lines", "responded_lines", "complaints", "sentinel_reports", "surge_lines", "warned_lines")


def _lines(t: dict[str, ir.Table], first: date, end: date, batch_id: str | None, pv) -> ir.Table:
    cat = selected_catalogue(t["selected_products"], t["products"], batch_id)
    lines = timed_lines(t["orders"], t["deliveries"], first, end, pv("deliver_within_hours"),
                        t[DELIVERY_LINES])
    return lines.join(cat, "product_code")


def _figures(lines: ir.Table, comp: ir.Table, keys: Sequence[str], extra: dict | None = None) -> ir.Table:
    """The figures of FIGURES per ``keys`` from the lines and the complaints (a union, then one sum)."""
    keys = list(keys)
    zero_f, zero_i = ibis.literal(0.0, "float64"), ibis.literal(0, "int64")
    line_part = lines.select(
        *keys,
        order_lines=ibis.literal(1, "int64"),
        ordered_packs=lines.quantity.cast("float64"),
        ordered_units=(lines.quantity * lines.units_per_pack).cast("float64"),
        ordered_amount=(lines.quantity * lines.pack_price).cast("float64"),
        shipped_packs=lines.shipped_packs.cast("float64"),
        shipped_amount=(lines.shipped_packs * lines.pack_price).cast("float64"),
        accepted_packs=lines.accepted_packs.cast("float64"),
        accepted_amount=(lines.accepted_packs * lines.pack_price).cast("float64"),
        on_time_packs=lines.on_time_packs.cast("float64"),
        due_packs=lines.due_packs.cast("float64"),
        responded_lines=ibis.ifelse(lines.response_seconds.notnull(), 1, 0).cast("int64"),
        complaints=zero_i, sentinel_reports=zero_i,
        **{k: v(lines) for k, v in (extra or {}).items()},
    )
    comp_part = comp.select(
        *keys, order_lines=zero_i, **dict.fromkeys(_FLOATS[:-1], zero_f), on_time_packs=zero_f, due_packs=zero_f,
        responded_lines=zero_i, complaints=ibis.literal(1, "int64"),
        sentinel_reports=ibis.ifelse(comp.sentinel, 1, 0).cast("int64"),
        **{k: zero_i for k in (extra or {})},
    )
    u = line_part.union(comp_part)
    sums = [c for c in u.columns if c not in keys]
    g = u.group_by(keys).agg(**{c: u[c].sum() for c in sums})
    resp = quantiles(lines, keys, "response_seconds", {"r50": 50, "r90": 90})
    ship = quantiles(lines, keys, "ship_seconds", {"s50": 50})
    for part in (resp, ship):
        g = g.left_join(part, keys).drop(*(f"{k}_right" for k in keys))
    return g.mutate(
        delivery_rate=ratio(g.on_time_packs, g.due_packs),  # lines not yet due at the data's end left out
        response_hours_median=g.r50 / HOUR, response_hours_p90=g.r90 / HOUR, ship_hours_median=g.s50 / HOUR,
        **{c: g[c].cast("int64") for c in _INTS if c in g.columns},
    )


def _flags(t: ir.Table, pv, more: Sequence[tuple[str, ir.BooleanValue]] = ()) -> ir.StringValue:
    parts = [("slow_response", t.response_hours_median > pv("response_hours_max")),
             ("low_delivery_rate", t.delivery_rate < pv("delivery_rate_min")), *more]
    s = ibis.literal("")
    for name, cond in parts:
        s = s + ibis.ifelse(cond.fill_null(False), ";" + name, "")
    return s.substr(1)


def _pv(policy: Policy | None, end: date):
    policy = policy or load_policy()
    return lambda name: policy.value(name, on=end)


def supply_scorecard(wh: Warehouse, month: str | date, first_month: str | date | None = None,
                     batch_id: str | None = None, policy: Policy | None = None) -> ir.Table:
    """The scorecard of the months from ``first_month`` (default ``month``) to ``month``; see SCORECARD.

    ``batch_id`` keeps the products selected in that batch. Parameters are those in force on the
    first day after the window.
    """
    first, end = window(month, first_month)
    pv = _pv(policy, end)
    t = supply_tables(wh, INPUT_TABLES)
    lines = _lines(t, first, end, batch_id, pv)
    # the surge flag: the line's city and variety surged in its month
    inst = t["institutions"].select("institution_code", inst_region=t["institutions"].region_code)
    back, factor = int(pv("surge_baseline_months")), float(pv("surge_factor"))
    d = variety_demand(t, first, end, back)
    d = d.filter(d.full_history & (d.baseline_units > 0) & (d.ordered_units > factor * d.baseline_units))
    d = d.select(su_variety="variety_id", su_city="region_code", su_month="month", su=ibis.literal(1, "int64"))
    lines = lines.left_join(inst, "institution_code").drop("institution_code_right")
    lines = lines.mutate(city=city_of(lines.inst_region))
    lines = lines.left_join(d, [lines.variety_id == d.su_variety, lines.city == d.su_city, lines.month == d.su_month])
    # the sentinel flag: a sentinel of the line's city warned about the product in its month
    w = _sentinel_observations(t, first, end, batch_id, pv)
    w = w.select(w_month="month", w_product="product_code", w_city="region_code", w=ibis.literal(1, "int64")).distinct()
    lines = lines.left_join(w, [lines.month == w.w_month, lines.product_code == w.w_product, lines.city == w.w_city])

    cat = selected_catalogue(t["selected_products"], t["products"], batch_id)
    comp = complaints(t["supply_problems"], t["orders"], t["institutions"], cat, first, end)
    keys = ["month", "product_code", "enterprise_code", "distributor_code"]
    card = _figures(lines, comp, keys, extra={"surge_lines": lambda x: x.su.fill_null(0).cast("int64"),
                                              "warned_lines": lambda x: x.w.fill_null(0).cast("int64")})

    by_product = comp.group_by(["month", "product_code"]).agg(
        complaint_institutions=comp.institution_code.nunique().cast("int64"))
    card = card.left_join(by_product, ["month", "product_code"]).drop("month_right", "product_code_right")
    card = card.mutate(complaint_institutions=card.complaint_institutions.fill_null(0))
    card = card.mutate(flags=_flags(card, pv, [
        ("multi_institution_complaints", card.complaint_institutions >= int(pv("complaint_institutions_min"))),
        ("sentinel_warning", card.warned_lines > 0),
        ("surge", card.surge_lines > 0),
    ]))
    card = _named(card, t)
    cat_info = cat.group_by(["product_code", "enterprise_code"]).agg(
        role=cat.role.min(), variety_id=cat.variety_id.min())
    card = card.left_join(cat_info, ["product_code", "enterprise_code"]).drop(
        "product_code_right", "enterprise_code_right")
    return card.select(*(c.name for c in SCORECARD))


def _named(t: ir.Table, tables: dict[str, ir.Table]) -> ir.Table:
    ent = tables["enterprises"]
    if "product_code" in t.columns:
        p = tables["products"].select("product_code", product_name=tables["products"].name)
        t = t.left_join(p, "product_code").drop("product_code_right")
    if "enterprise_code" in t.columns:
        e = ent.select("enterprise_code", enterprise_name=ent.name)
        t = t.left_join(e, "enterprise_code").drop("enterprise_code_right")
    if "distributor_code" in t.columns:
        d = ent.select(distributor_code=ent.enterprise_code, distributor_name=ent.name)
        t = t.left_join(d, "distributor_code").drop("distributor_code_right")
    return t


def supply_rollup(wh: Warehouse, month: str | date, by: str, first_month: str | date | None = None,
                  batch_id: str | None = None, policy: Policy | None = None) -> ir.Table:
    """The scorecard's figures per month and ``by`` = ``"enterprise"``, ``"distributor"`` or ``"month"``
    (the trend of the whole window), recomputed from the lines — a median of a roll-up is the median of
    all its lines, not of the rows' medians. Columns: :func:`rollup_columns` of ``by``."""
    if by not in ROLLUPS:
        raise ValueError(f"by must be one of {sorted(ROLLUPS)}: {by!r}")
    first, end = window(month, first_month)
    pv = _pv(policy, end)
    t = supply_tables(wh, INPUT_TABLES)
    lines = _lines(t, first, end, batch_id, pv)
    cat = selected_catalogue(t["selected_products"], t["products"], batch_id)
    comp = complaints(t["supply_problems"], t["orders"], t["institutions"], cat, first, end)
    keys = ["month", *ROLLUPS[by]]
    g = _figures(lines, comp, keys)
    n = lines.group_by(keys).agg(products=lines.product_code.nunique().cast("int64"))
    g = g.left_join(n, keys).drop(*(f"{k}_right" for k in keys))
    g = g.mutate(products=g.products.fill_null(0), flags=_flags(g, pv))
    g = _named(g, t)
    return g.select(*(c.name for c in rollup_columns(by)))


# -- the registered measures ---------------------------------------------------------------------------

# the policy parameters every figure reads, and the scorecard's flags besides
_RATES = ("deliver_within_hours", "response_hours_max", "delivery_rate_min")
_SUMS = ("order_lines", "ordered_amount", "shipped_amount", "accepted_amount", "complaints")


def _rollup(by: str):
    def compute(wh: Warehouse, a: Args) -> ir.Table:
        return supply_rollup(wh, a.month, by, first_month_of(a), a.batch, a.policy)

    return compute


# The pages show one month (their Args name it); `jicai supply` computes the same measures with the batch of
# --batch and the trends over its --months window (MonthsArgs). The two trends are parts of that command's
# report only.
MEASURES = (
    Measure(
        name="supply-scorecard", title_zh="供应评价", title_en="Supply scorecard",
        compute=lambda wh, a: supply_scorecard(wh, a.month, first_month_of(a), a.batch, a.policy),
        params=("month",), inputs=INPUT_TABLES, columns=SCORECARD,
        dims=Dims(product="product_code", enterprise=("enterprise_code", "distributor_code")),
        roles=SUPPLY_ROLES, sort=("product_code", "enterprise_code", "distributor_code"),
        policy=(*_RATES, "complaint_institutions_min", "sentinel_min_lines", "surge_baseline_months",
                "surge_factor"),
        labels={"role": SUPPLIER_ROLES, "flags": FLAGS}, totals=_SUMS, group="supply",
        note_zh="每个中选产品 × 企业 × 配送企业 × 月:响应、发货、配送率、供应问题反映与标记",
        note_en="Per selected product × enterprise × distributor × month: response, shipping, delivery rate, "
                "complaints and flags",
        doc=__doc__, command=False,  # its list is the first of `jicai supply`
    ),
    # the two roll-ups by who supplies: each enterprise user sees its own row
    *(Measure(
        name=f"supply-{by}s", title_zh=f"供应评价(按{zh})", title_en=f"Supply by {by}",
        compute=_rollup(by), params=("month",), inputs=INPUT_TABLES,
        columns=rollup_columns(by), dims=Dims(enterprise=(f"{by}_code",)), roles=SUPPLY_ROLES,
        sort=(f"{by}_code",), policy=_RATES, labels={"flags": FLAGS}, totals=_SUMS, group="supply",
        doc=__doc__, command=False,
    ) for by, zh in (("enterprise", "企业"), ("distributor", "配送企业"))),
    Measure(
        name="supply-trend", title_zh="供应评价月度趋势", title_en="Supply trend by month",
        compute=_rollup("month"), params=("month", "batch"), optional=("batch",), inputs=INPUT_TABLES,
        columns=rollup_columns("month"), dims=Dims(), roles=SUPPLY_ROLES, sort=("month",), policy=_RATES,
        labels={"flags": FLAGS}, group="supply", doc=__doc__, command=False, web=False,
    ),
    Measure(
        name="supply-distributor-trend", title_zh="配送企业月度趋势", title_en="Supply trend by distributor",
        compute=_rollup("distributor"), params=("month", "batch"), optional=("batch",), inputs=INPUT_TABLES,
        columns=rollup_columns("distributor"), dims=Dims(enterprise=("distributor_code",)), roles=SUPPLY_ROLES,
        sort=("distributor_code", "month"), policy=_RATES, labels={"flags": FLAGS}, group="supply",
        doc=__doc__, command=False, web=False,
    ),
)
