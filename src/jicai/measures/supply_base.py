"""The building blocks of the supply measures (seed 002): months, the selected catalogue, timed order
lines, exact quantiles and the complaints, all as Ibis expressions.

* **Months** are calendar months ``YYYY-MM`` of ``orders.ordered_at`` (a line belongs to the month it
  was ordered in, whenever it was shipped or accepted). Every measure reads a window of whole months
  given by its first and last month; the bounds are constants, so the order table is filtered once.
* **Selected catalogue**: the products of ``selected_products`` (primary and backup), one row per
  (product, enterprise) with ``role`` = primary when any of its rows is primary.
* **Timed lines**: an order line with its delivery (left join: a line not yet responded to has none).
  ``response_seconds`` = responded_at − ordered_at, ``ship_seconds`` = shipped_at − ordered_at, both in
  whole seconds from the epoch difference, which every engine computes the same way; ``on_time_packs``
  = shipped_quantity when shipped_at − ordered_at ≤ ``deliver_within_hours`` × 3600 s (inclusive:
  exactly 72 h is on time), else 0. ``due_packs`` = the ordered quantity of the lines whose window has
  closed by the data's end — the latest ``ordered_at`` of all orders, what the pages take as the data's
  last day — or that shipped: a line ordered less than ``deliver_within_hours`` before the end and not
  shipped yet is not late, only not due, and stays out of the delivery rate (on the last month of the
  data every unshipped line would otherwise count as a failure).
* **Quantiles** (:func:`quantiles`) are exact and the same on every engine: the linear interpolation
  between order statistics (DuckDB's ``quantile_cont``, numpy's default): with the n values of a group
  sorted, position h = p × (n − 1) counted from 0, q = v[⌊h⌋] + (h − ⌊h⌋) × (v[⌊h⌋+1] − v[⌊h⌋]). The
  median (p = 0.5) of an even count is the mean of the two middle values. Computed with ``row_number``
  and ``count`` windows and integer arithmetic on the percent (no approximate percentile, which Spark
  would use).
* **Complaints**: every ``supply_problems`` report (verified or not) about a selected product, in the
  month of ``reported_at``. A report names an institution and a product, not a distributor: it is
  attributed to the distributor of the institution's latest order line of that product ordered on or
  before the report (null when it never ordered the product).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import ibis
import ibis.expr.types as ir

from jicai.calendar import CalendarError, month_label, parse_month, shift_month
from jicai.ingest.facts import complete as facts_complete
from jicai.measures.registry import Args
from jicai.store import Warehouse

HOUR = 3600
CITY_DIGITS = 4  # a region for supply alerts is the city (地市): the first 4 digits of region_code + "00"

# who sees the supply measures: the bureau and its auditors, and each enterprise its own products
SUPPLY_ROLES = ("admin", "bureau", "auditor", "enterprise")
# role of a selected supplier: code → (中文, English)
SUPPLIER_ROLES: dict[str, tuple[str, str]] = {"primary": ("主供", "primary supplier"),
                                              "backup": ("备供", "backup supplier")}


# A month that is not YYYY-MM, or a window that ends before it starts: the calendar's error, under the name the
# supply commands catch.
MonthError = CalendarError


@dataclass(frozen=True)
class MonthsArgs(Args):
    """The arguments of a supply measure over a window of whole months: ``month`` is the last month of the
    window and ``first_month`` its first. A plain :class:`Args` (a page, an API call) means ``month`` alone."""

    first_month: str | None = None


def first_month_of(args: Args) -> str | None:
    """The first month of the window ``args`` ask for (``month`` itself unless they are :class:`MonthsArgs`)."""
    if isinstance(args, MonthsArgs) and args.first_month is not None:
        return args.first_month
    return args.month




def month_window(month: str, months: int) -> tuple[str, str, date]:
    """The ``months`` whole months up to ``month`` (this one included): the label of ``month``, the label of
    the first month, and the first day after the window. Raises :class:`MonthError`.

    >>> month_window("2024-09", 6)
    ('2024-09', '2024-04', datetime.date(2024, 10, 1))
    """
    last = parse_month(month)
    if months < 1:
        raise MonthError("--months 应不少于 1", "--months must be at least 1")
    return month_label(last), month_label(shift_month(last, -(months - 1))), shift_month(last, 1)


def window(month: str | date, first_month: str | date | None = None) -> tuple[date, date]:
    """[first day of ``first_month``, first day after ``month``): the window of whole months."""
    last = parse_month(month)
    first = parse_month(first_month) if first_month is not None else last
    if first > last:
        raise MonthError(f"起始月份 {month_label(first)} 晚于月份 {month_label(last)}",
                         f"first month {month_label(first)} is after month {month_label(last)}")
    return first, shift_month(last, 1)


def month_of(ts: ir.TimestampValue) -> ir.StringValue:
    """``YYYY-MM`` of a timestamp."""
    return ts.strftime("%Y-%m")


def city_of(region_code: ir.StringValue) -> ir.StringValue:
    """The city (地市) of a region code: its first 4 digits followed by 00."""
    return region_code.substr(0, CITY_DIGITS) + "00"


def selected_catalogue(selected_products: ir.Table, products: ir.Table, batch_id: str | None = None) -> ir.Table:
    """product_code, enterprise_code, role (primary/backup), variety_id, units_per_pack of the selected products."""
    sp = selected_products if batch_id is None else selected_products.filter(selected_products.batch_id == batch_id)
    g = sp.group_by(["product_code", "enterprise_code"]).agg(
        primary=ibis.ifelse(sp.role == "primary", 1, 0).max())
    g = g.select("product_code", "enterprise_code",
                 role=ibis.ifelse(g.primary == 1, "primary", "backup"))
    p = products.select("product_code", "variety_id", units_per_pack=products.units_per_pack.fill_null(1.0))
    return g.join(p, "product_code")


def stored_delivery_lines(wh: Warehouse) -> ir.Table | None:
    """The order lines joined to their deliveries as the importer keeps them, when the warehouse's compact facts
    are complete (:mod:`jicai.ingest.facts`); None: join the raw tables."""
    return wh.table("_facts_delivery_lines") if facts_complete(wh) else None


DELIVERY_LINES = "_facts_delivery_lines"


def supply_tables(wh: Warehouse, names: Sequence[str]) -> dict[str, ir.Table | None]:
    """The input tables of a supply measure, and under ``DELIVERY_LINES`` the stored delivery lines (or None)."""
    return {**{name: wh.table(name) for name in names}, DELIVERY_LINES: stored_delivery_lines(wh)}


def seconds_between(later: ir.TimestampValue, earlier: ir.TimestampValue) -> ir.NumericValue:
    return (later.epoch_seconds() - earlier.epoch_seconds()).cast("float64")


def timed_lines(orders: ir.Table, deliveries: ir.Table, lo: date, hi: date, within_hours: float,
                stored: ir.Table | None = None) -> ir.Table:
    """Order lines ordered in [lo, hi) (whole months) with their delivery times and quantities (see the module
    docstring). ``stored``: the warehouse's ``_facts_delivery_lines`` (:func:`stored_delivery_lines`), read
    instead of joining ``orders`` with ``deliveries`` — the same rows.

    Columns: order_line_id, institution_code, product_code, distributor_code, ordered_at, month, quantity,
    pack_price, response_seconds, ship_seconds, shipped_packs, accepted_packs, on_time_packs, due_packs.
    """
    # the data's end, read from the window's first month on: when the data reaches the window it is the latest
    # order of all, and only the window's and later months are read (a partition or two for a recent month)
    if stored is not None:
        data_end = stored.filter(stored.part_month >= ibis.literal(lo)).ordered_at.max()
    else:
        data_end = orders.filter(orders.ordered_at >= ibis.literal(lo).cast("timestamp")).ordered_at.max()
    if stored is not None:  # the order lines already joined to their deliveries, by order month
        j = stored.filter((stored.part_month >= ibis.literal(lo)) & (stored.part_month < ibis.literal(hi)))
    else:
        o = orders.filter((orders.ordered_at >= ibis.literal(lo).cast("timestamp"))
                          & (orders.ordered_at < ibis.literal(hi).cast("timestamp")))
        o = o.select("order_line_id", "institution_code", "product_code", "distributor_code", "quantity",
                     "pack_price", "ordered_at")
        d = deliveries.select("order_line_id", "responded_at", "shipped_at", "shipped_quantity",
                              "accepted_quantity")
        j = o.left_join(d, "order_line_id").drop("order_line_id_right")
    ship = seconds_between(j.shipped_at, j.ordered_at)
    shipped = j.shipped_quantity.fill_null(0.0)
    on_time = ibis.ifelse(j.shipped_at.notnull() & (ship <= within_hours * HOUR), shipped, 0.0)
    not_due = j.shipped_at.isnull() & (seconds_between(data_end, j.ordered_at) < within_hours * HOUR)
    return j.select(
        "order_line_id", "institution_code", "product_code", "distributor_code", "ordered_at",
        month=month_of(j.ordered_at),
        quantity=j.quantity.fill_null(0.0), pack_price=j.pack_price.fill_null(0.0),
        response_seconds=seconds_between(j.responded_at, j.ordered_at),
        ship_seconds=ship,
        shipped_packs=shipped,
        accepted_packs=j.accepted_quantity.fill_null(0.0),
        on_time_packs=on_time.fill_null(0.0),
        due_packs=ibis.ifelse(not_due.fill_null(False), 0.0, j.quantity.fill_null(0.0)),
    )


def quantiles(lines: ir.Table, keys: Sequence[str], value: str, wanted: dict[str, int]) -> ir.Table:
    """Exact quantiles of ``value`` per ``keys`` (nulls left out): ``wanted`` maps a column name to a percent.

    Linear interpolation between order statistics (see the module docstring); ties are broken by
    order_line_id so every engine numbers the rows alike. Groups without a value have no row.
    """
    keys = list(keys)
    v = lines.filter(lines[value].notnull())
    v = v.select(*keys, "order_line_id", x=v[value])
    v = v.mutate(n=v.count().over(group_by=keys),
                 rn=ibis.row_number().over(group_by=keys, order_by=[v.x, v.order_line_id]))
    aggs = {}
    for name, pct in wanted.items():
        scaled = (v.n - 1) * pct  # the position h × 100, an integer
        lo = scaled // 100
        frac = (scaled % 100).cast("float64") / 100.0
        aggs[f"{name}__lo"] = ibis.ifelse(v.rn == lo, v.x, ibis.null("float64")).max()
        aggs[f"{name}__hi"] = ibis.ifelse(v.rn == lo + 1, v.x, ibis.null("float64")).max()
        aggs[f"{name}__f"] = frac.max()
    g = v.group_by(keys).agg(**aggs)
    out = {}
    for name in wanted:
        lo_v, hi_v, f = g[f"{name}__lo"], g[f"{name}__hi"], g[f"{name}__f"]
        out[name] = ibis.ifelse(f == 0, lo_v, lo_v + f * (hi_v - lo_v))
    return g.select(*keys, **out)


def complaints(supply_problems: ir.Table, orders: ir.Table, institutions: ir.Table, catalogue: ir.Table,
               lo: date, hi: date) -> ir.Table:
    """Reports about selected products filed in [lo, hi), each attributed to a distributor.

    Columns: report_id, institution_code, product_code, enterprise_code, distributor_code (null when
    the institution never ordered the product), month (of reported_at), problem, verified, sentinel
    (bool, the reporting institution is a 哨点), region_code of the institution.
    """
    s = supply_problems.filter((supply_problems.reported_at >= ibis.literal(lo).cast("timestamp"))
                               & (supply_problems.reported_at < ibis.literal(hi).cast("timestamp")))
    s = s.select("report_id", "institution_code", "product_code", "problem", "reported_at",
                 verified=s.verified.fill_null(False))
    cat = catalogue.select("product_code", "enterprise_code")
    s = s.join(cat, "product_code")
    o = orders.select(o_inst=orders.institution_code, o_prod=orders.product_code, o_at=orders.ordered_at,
                      o_line=orders.order_line_id, o_dist=orders.distributor_code)
    j = s.join(o, [s.institution_code == o.o_inst, s.product_code == o.o_prod, o.o_at <= s.reported_at])
    j = j.mutate(rn=ibis.row_number().over(group_by=[j.report_id, j.enterprise_code],
                                           order_by=[ibis.desc(j.o_at), ibis.desc(j.o_line)]))
    last = j.filter(j.rn == 0).select(l_report="report_id", l_ent="enterprise_code", distributor_code="o_dist")
    r = s.left_join(last, [s.report_id == last.l_report, s.enterprise_code == last.l_ent])
    inst = institutions.select("institution_code", sentinel=institutions.sentinel.fill_null(False),
                               region_code=institutions.region_code)
    r = r.left_join(inst, "institution_code").drop("institution_code_right")
    return r.select("report_id", "institution_code", "product_code", "enterprise_code", "distributor_code",
                    month=month_of(r.reported_at), problem=r.problem, verified=r.verified,
                    sentinel=r.sentinel.fill_null(False), region_code=r.region_code)
