"""Supply alerts (seed 002 四、六): the sentinel early warning (哨点预警) and the demand surge (需求激增).

**Sentinel early warning.** The 哨点 institutions (``institutions.sentinel``) are where a bureau wants to
see supply trouble first. For a month M, a sentinel s and a selected product P, an alert fires when

* ``report`` — s filed a supply-problem report about P in M (any problem, verified or not), or
* ``slow_response`` — the median response time of s's own order lines of P ordered in M is above
  ``response_hours_max`` hours, or
* ``low_delivery_rate`` — the delivery rate of those lines is below ``delivery_rate_min``.

The alert is for P in s's city (地市: first 4 digits of region_code + 00). The institutions likely to be
hit next (:func:`sentinel_exposure`) are the other institutions of that city that ordered P in M or in
the ``EXPOSURE_MONTHS`` − 1 months before it, with their ordered volume and monthly mean.

**Surge.** For a variety v, a city c and a month M: ordered units (quantity × units_per_pack, every
product of v, every channel) in M against the baseline = the mean over the ``surge_baseline_months``
calendar months before M (a month without orders counts as 0). A surge is ordered > ``surge_factor`` ×
baseline (exactly the factor is not). No alert without a baseline: when the baseline is 0, or when a
baseline month lies before the first month of any order in the warehouse (the data's start; the demo
province starts at the batch start, so its first three months cannot surge). For each surge,
:func:`surge_suppliers` lists every selected supplier of v — backups (备供) first, then the other primary
winners — whether its ``regions`` cover c, and its recent capacity: units shipped of its product in M
and in the baseline months (province-wide, lines by order month) and in c in M.
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

from jicai.contract.columns import cols
from jicai.measures.classes import region_match
from jicai.measures.progress import ratio
from jicai.measures.registry import Dims, Measure
from jicai.measures.supply_base import (
    DELIVERY_LINES,
    HOUR,
    SUPPLIER_ROLES,
    SUPPLY_ROLES,
    city_of,
    complaints,
    first_month_of,
    month_label,
    month_of,
    quantiles,
    selected_catalogue,
    shift_month,
    supply_tables,
    timed_lines,
    window,
)
from jicai.policy import Policy, load_policy
from jicai.store import Warehouse

INPUT_TABLES = ("products", "varieties", "selected_products", "enterprises", "institutions", "orders",
                "deliveries", "supply_problems")
EXPOSURE_MONTHS = 3  # the alert month and the two before it: who has been buying the product lately
TRIGGERS = {"report": ("哨点反映供应问题", "the sentinel reported a supply problem"),
            "slow_response": ("哨点订单响应慢", "median response at the sentinel above response_hours_max"),
            "low_delivery_rate": ("哨点配送率低", "delivery rate at the sentinel below delivery_rate_min")}

_CITY = "地市"

SENTINEL = cols(
    "month", "region_code", "product_code", "product_name", "variety_id", "enterprise_code", "enterprise_name",
    "sentinel_code", "sentinel_name", "triggers", "reports", "order_lines", "delivery_rate",
    "response_hours_median", "at_risk_institutions", "at_risk_monthly_units",
    month=("月份", "month of ordering / reporting (YYYY-MM)"),
    region_code=(_CITY, "city of the sentinel (first 4 digits of its region code + 00)"),
    product_code=("医保编码", "selected product"), variety_id=("品种编号", "variety of the product"),
    order_lines=("哨点订单行数", "the sentinel's order lines of the product ordered in the month"),
    delivery_rate=("哨点配送率", "the sentinel's quantity shipped within deliver_within_hours / quantity ordered "
                   "(lines not yet due at the data's end left out)"),
    response_hours_median=("哨点响应时间中位数(小时)", "median response time of the sentinel's lines"),
)

EXPOSURE = cols(
    "month", "region_code", "product_code", "sentinel_code", "institution_code", "institution_name",
    "ordered_units", "monthly_units", "last_ordered",
    month=("月份", "month of the alert"), region_code=(_CITY, "city of the alert"),
    product_code=("医保编码", "product of the alert"),
    sentinel_code=("哨点机构编码", "the sentinel that raised the alert"),
    institution_code=("医疗机构编码", "an institution of the city that ordered the product lately"),
    ordered_units=("近期采购量", "units of the product it ordered in the alert month and the months before "
                               "(EXPOSURE_MONTHS)"),
)

SURGE = cols(
    "month", "region_code", "variety_id", "variety_name", "batch_id", "ordered_units", "baseline_units",
    "surge_ratio", "surge_factor", "institutions",
    month=("月份", "month of the surge"), region_code=(_CITY, "city (first 4 digits of region_code + 00)"),
    batch_id=("批次编号", "batch of the variety"),
    ordered_units=("当月采购量", "ordered units of every product of the variety in the city in the month"),
    institutions=("下单机构数", "institutions of the city that ordered the variety in the month"),
)

SUPPLIERS = cols(
    "month", "region_code", "variety_id", "role", "product_code", "enterprise_code", "enterprise_name",
    "covers_region", "month_shipped_units", "baseline_shipped_units", "region_shipped_units",
    month=("月份", "month of the surge"), region_code=(_CITY, "city of the surge"),
    variety_id=("品种编号", "variety of the surge"),
    role=("供应角色", "backup (备供) or primary (other selected suppliers)"),
    product_code=("医保编码", "the supplier's product"), enterprise_code=("中选企业代码", "selected enterprise"),
)


def _pv(policy: Policy | None, last_day: date):
    policy = policy or load_policy()
    return lambda name: policy.value(name, on=last_day)


def _month_pairs(first: date, end: date, back: int, include_target: bool) -> ir.Table:
    """(target, base) month labels: each target month of [first, end) with its ``back`` previous months
    (and itself when ``include_target``)."""
    rows, m = [], first
    while m < end:
        lags = range(0 if include_target else 1, back + (0 if include_target else 1))
        rows += [{"target": month_label(m), "base": month_label(shift_month(m, -k))} for k in lags]
        m = shift_month(m, 1)
    return ibis.memtable(rows, schema={"target": "string", "base": "string"})


def _names(t: dict[str, ir.Table]) -> tuple[ir.Table, ir.Table, ir.Table]:
    p = t["products"].select("product_code", product_name=t["products"].name)
    e = t["enterprises"].select("enterprise_code", enterprise_name=t["enterprises"].name)
    i = t["institutions"].select("institution_code", institution_name=t["institutions"].name)
    return p, e, i


# -- sentinel ------------------------------------------------------------------------------------------

def _sentinel_observations(t: dict[str, ir.Table], first: date, end: date, batch_id: str | None, pv) -> ir.Table:
    cat = selected_catalogue(t["selected_products"], t["products"], batch_id)
    inst = t["institutions"]
    sentinels = inst.filter(inst.sentinel.fill_null(False)).select(
        "institution_code", sentinel_region=inst.region_code)
    lines = timed_lines(t["orders"], t["deliveries"], first, end, pv("deliver_within_hours"),
                        t[DELIVERY_LINES])
    lines = lines.join(sentinels, "institution_code")
    lines = lines.join(cat.select("product_code", "enterprise_code"), "product_code")
    keys = ["month", "institution_code", "product_code", "enterprise_code"]
    g = lines.group_by(keys).agg(order_lines=lines.count().cast("int64"), ordered=lines.due_packs.sum(),
                                 on_time=lines.on_time_packs.sum())
    med = quantiles(lines, keys, "response_seconds", {"response_median": 50})
    reps = complaints(t["supply_problems"], t["orders"], t["institutions"], cat, first, end)
    reps = reps.filter(reps.sentinel)
    reps = reps.group_by(keys).agg(reports=reps.count().cast("int64"))
    k = g.select(*keys).union(reps.select(*keys)).distinct()
    for part in (g, med, reps):
        k = k.left_join(part, keys).drop(*(f"{c}_right" for c in keys))
    k = k.mutate(reports=k.reports.fill_null(0), order_lines=k.order_lines.fill_null(0),
                 delivery_rate=ratio(k.on_time, k.ordered),
                 response_hours_median=k.response_median / HOUR)
    is_report = k.reports > 0
    # degradation needs enough lines to be a sign, not one short shipment; a report always counts
    enough = k.order_lines >= int(pv("sentinel_min_lines"))
    is_slow = (enough & (k.response_hours_median > pv("response_hours_max"))).fill_null(False)
    is_low = (enough & (k.delivery_rate < pv("delivery_rate_min"))).fill_null(False)
    triggers = (ibis.ifelse(is_report, ";report", "") + ibis.ifelse(is_slow, ";slow_response", "")
                + ibis.ifelse(is_low, ";low_delivery_rate", ""))
    k = k.filter(is_report | is_slow | is_low).mutate(triggers=triggers.substr(1))
    k = k.join(sentinels, "institution_code")
    return k.mutate(region_code=city_of(k.sentinel_region))


def sentinel_exposure(wh: Warehouse, month: str | date, first_month: str | date | None = None,
                      batch_id: str | None = None, policy: Policy | None = None) -> ir.Table:
    """The institutions likely to be hit next by each sentinel alert; see EXPOSURE."""
    first, end = window(month, first_month)
    pv = _pv(policy, end)
    t = supply_tables(wh, INPUT_TABLES)
    alerts = _sentinel_observations(t, first, end, batch_id, pv).select(
        "month", "region_code", "product_code", "institution_code")
    return _exposure(t, alerts, first, end)


def _exposure(t: dict[str, ir.Table], alerts: ir.Table, first: date, end: date) -> ir.Table:
    back = EXPOSURE_MONTHS - 1
    o = t["orders"]
    o = o.filter((o.ordered_at >= ibis.literal(shift_month(first, -back)).cast("timestamp"))
                 & (o.ordered_at < ibis.literal(end).cast("timestamp")))
    p = t["products"].select("product_code", upp=t["products"].units_per_pack.fill_null(1.0))
    inst = t["institutions"].select("institution_code", inst_region=t["institutions"].region_code)
    o = o.join(p, "product_code").join(inst, "institution_code")
    a = alerts.select(a_month="month", a_region="region_code", a_product="product_code",
                      sentinel_code="institution_code")
    products = a.select(x_product="a_product").distinct()
    o = o.join(products, o.product_code == products.x_product)  # only the alerted products
    o = o.select("institution_code", "product_code", city=city_of(o.inst_region), month=month_of(o.ordered_at),
                 units=o.quantity * o.upp, day=o.ordered_at.date())
    by_month = o.group_by(["institution_code", "product_code", "city", "month"]).agg(
        units=o.units.sum(), last_day=o.day.max())
    pairs = _month_pairs(first, end, EXPOSURE_MONTHS, include_target=True)
    j = a.join(pairs, a.a_month == pairs.target)
    j = j.join(by_month, [j.base == by_month.month, j.a_region == by_month.city, j.a_product == by_month.product_code])
    j = j.filter(j.institution_code != j.sentinel_code)
    g = j.group_by(["a_month", "a_region", "a_product", "sentinel_code", "institution_code"]).agg(
        ordered_units=j.units.sum(), last_ordered=j.last_day.max())
    _, _, names = _names(t)
    g = g.left_join(names, "institution_code").drop("institution_code_right")
    return g.select(month=g.a_month, region_code=g.a_region, product_code=g.a_product,
                    sentinel_code=g.sentinel_code, institution_code=g.institution_code,
                    institution_name=g.institution_name, ordered_units=g.ordered_units,
                    monthly_units=g.ordered_units / float(EXPOSURE_MONTHS), last_ordered=g.last_ordered)


def sentinel_alerts(wh: Warehouse, month: str | date, first_month: str | date | None = None,
                    batch_id: str | None = None, policy: Policy | None = None) -> ir.Table:
    """Sentinel early warnings of the months from ``first_month`` (default ``month``) to ``month``;
    see SENTINEL and the module docstring."""
    first, end = window(month, first_month)
    pv = _pv(policy, end)
    t = supply_tables(wh, INPUT_TABLES)
    obs = _sentinel_observations(t, first, end, batch_id, pv)
    exp = _exposure(t, obs.select("month", "region_code", "product_code", "institution_code"), first, end)
    ek = ["month", "region_code", "product_code", "sentinel_code"]
    ex = exp.group_by(ek).agg(at_risk_institutions=exp.count().cast("int64"),
                              at_risk_monthly_units=exp.monthly_units.sum())
    r = obs.rename(sentinel_code="institution_code")
    r = r.left_join(ex, ek).drop(*(f"{c}_right" for c in ek))
    prod, ent, names = _names(t)
    r = r.left_join(prod, "product_code").drop("product_code_right")
    r = r.left_join(ent, "enterprise_code").drop("enterprise_code_right")
    r = r.left_join(names.rename(sentinel_code="institution_code", sentinel_name="institution_name"),
                    "sentinel_code").drop("sentinel_code_right")
    v = t["products"].select("product_code", variety_id=t["products"].variety_id)
    r = r.left_join(v, "product_code").drop("product_code_right")
    r = r.mutate(at_risk_institutions=r.at_risk_institutions.fill_null(0),
                 at_risk_monthly_units=r.at_risk_monthly_units.fill_null(0.0))
    return r.select(*(c.name for c in SENTINEL))


# -- surge ---------------------------------------------------------------------------------------------

def variety_demand(t: dict[str, ir.Table], first: date, end: date, back: int) -> ir.Table:
    """Every (variety, city, target month of the window) with baseline demand: ordered_units, baseline_units
    (mean of the ``back`` months before), institutions, and full_history (no baseline month before the data)."""
    o = t["orders"]
    o = o.filter((o.ordered_at >= ibis.literal(shift_month(first, -back)).cast("timestamp"))
                 & (o.ordered_at < ibis.literal(end).cast("timestamp")))
    p = t["products"].filter(t["products"].variety_id.notnull())
    p = p.select("product_code", "variety_id", upp=p.units_per_pack.fill_null(1.0))
    inst = t["institutions"].select("institution_code", inst_region=t["institutions"].region_code)
    o = o.join(p, "product_code").join(inst, "institution_code")
    o = o.select("variety_id", "institution_code", city=city_of(o.inst_region), month=month_of(o.ordered_at),
                 units=o.quantity * o.upp)
    keys = ["variety_id", "city", "month"]
    dem = o.group_by(keys).agg(units=o.units.sum(), institutions=o.institution_code.nunique().cast("int64"))
    pairs = _month_pairs(first, end, back, include_target=False)
    b = dem.join(pairs, dem.month == pairs.base)
    b = b.group_by(["variety_id", "city", "target"]).agg(base_units=b.units.sum())
    cur = dem.rename(c_variety="variety_id", c_city="city", c_month="month")
    r = b.left_join(cur, [b.variety_id == cur.c_variety, b.city == cur.c_city, b.target == cur.c_month])
    start = t["orders"].aggregate(data_start=month_of(t["orders"].ordered_at.min()))
    r = r.cross_join(start)
    # the earliest baseline month of a target: ``back`` months before it
    earliest = _month_pairs(first, end, back, include_target=False)
    earliest = earliest.group_by("target").agg(earliest=earliest.base.min())
    r = r.join(earliest, "target")
    return r.select(
        "variety_id", region_code=r.city, month=r.target,
        ordered_units=r.units.fill_null(0.0), baseline_units=r.base_units / float(back),
        institutions=r.institutions.fill_null(0).cast("int64"),
        full_history=r.earliest >= r.data_start,
    )


def surge_alerts(wh: Warehouse, month: str | date, first_month: str | date | None = None,
                 policy: Policy | None = None) -> ir.Table:
    """Demand surges of the months from ``first_month`` (default ``month``) to ``month``; see SURGE."""
    first, end = window(month, first_month)
    pv = _pv(policy, end)
    t = supply_tables(wh, INPUT_TABLES)
    back, factor = int(pv("surge_baseline_months")), float(pv("surge_factor"))
    d = variety_demand(t, first, end, back)
    d = d.filter(d.full_history & (d.baseline_units > 0) & (d.ordered_units > factor * d.baseline_units))
    v = t["varieties"].select("variety_id", variety_name=t["varieties"].name, batch_id=t["varieties"].batch_id)
    d = d.left_join(v, "variety_id").drop("variety_id_right")
    d = d.mutate(surge_ratio=d.ordered_units / d.baseline_units, surge_factor=(d.ordered_units * 0.0 + factor).cast("float64"))
    return d.select(*(c.name for c in SURGE))


def surge_suppliers(wh: Warehouse, month: str | date, first_month: str | date | None = None,
                    policy: Policy | None = None) -> ir.Table:
    """The selected suppliers of each surging variety with their recent shipped volume; see SUPPLIERS."""
    first, end = window(month, first_month)
    pv = _pv(policy, end)
    back = int(pv("surge_baseline_months"))
    t = supply_tables(wh, INPUT_TABLES)
    alerts = surge_alerts(wh, month, first_month, policy).select("month", "region_code", "variety_id")
    sp = t["selected_products"]
    sp = sp.select("variety_id", "product_code", "enterprise_code", s_role=sp.role, s_regions=sp.regions)
    j = alerts.join(sp, "variety_id")
    j = j.mutate(cover=region_match(j.s_regions, j.region_code))
    keys = ["month", "region_code", "variety_id", "product_code", "enterprise_code"]
    g = j.group_by(keys).agg(primary=ibis.ifelse(j.s_role == "primary", 1, 0).max(),
                             cover=ibis.ifelse(j.cover, 1, 0).max())
    # shipped units per (product, city, month) of the window and its baseline months
    lines = timed_lines(t["orders"], t["deliveries"], shift_month(first, -back), end, pv("deliver_within_hours"),
                        t[DELIVERY_LINES])
    p = t["products"].select("product_code", upp=t["products"].units_per_pack.fill_null(1.0))
    inst = t["institutions"].select("institution_code", inst_region=t["institutions"].region_code)
    wanted = g.select(x_product="product_code").distinct()
    lines = lines.join(wanted, lines.product_code == wanted.x_product)
    lines = lines.join(p, "product_code").join(inst, "institution_code")
    lines = lines.select("product_code", "month", city=city_of(lines.inst_region),
                         units=lines.shipped_packs * lines.upp)
    ship = lines.group_by(["product_code", "city", "month"]).agg(units=lines.units.sum())
    prov = ship.group_by(["product_code", "month"]).agg(units=ship.units.sum())
    pairs = _month_pairs(first, end, back, include_target=False)
    base = prov.join(pairs, prov.month == pairs.base)
    base = base.group_by(["product_code", "target"]).agg(b_units=base.units.sum())
    m = prov.rename(m_product="product_code", m_month="month", m_units="units")
    g = g.left_join(m, [g.product_code == m.m_product, g.month == m.m_month])
    b = base.rename(b_product="product_code")
    g = g.left_join(b, [g.product_code == b.b_product, g.month == b.target])
    r = ship.rename(r_product="product_code", r_city="city", r_month="month", r_units="units")
    g = g.left_join(r, [g.product_code == r.r_product, g.region_code == r.r_city, g.month == r.r_month])
    _, ent, _ = _names(t)
    g = g.left_join(ent, "enterprise_code").drop("enterprise_code_right")
    return g.select(
        "month", "region_code", "variety_id",
        role=ibis.ifelse(g.primary == 1, "primary", "backup"),
        product_code=g.product_code, enterprise_code=g.enterprise_code, enterprise_name=g.enterprise_name,
        covers_region=g.cover == 1,
        month_shipped_units=g.m_units.fill_null(0.0),
        baseline_shipped_units=g.b_units.fill_null(0.0) / float(back),
        region_shipped_units=g.r_units.fill_null(0.0),
    )


# -- the registered measures ---------------------------------------------------------------------------

_SENTINEL_POLICY = ("deliver_within_hours", "sentinel_min_lines", "response_hours_max", "delivery_rate_min")
_SURGE_POLICY = ("surge_baseline_months", "surge_factor")

# The pages show one month; `jicai supply-alerts` computes the same measures over its --months window
# (MonthsArgs), with the exposure and the suppliers, which are parts of its report only.
MEASURES = (
    Measure(
        name="supply-sentinel", title_zh="哨点预警", title_en="Sentinel warnings",
        compute=lambda wh, a: sentinel_alerts(wh, a.month, first_month_of(a), a.batch, a.policy),
        params=("month",), inputs=INPUT_TABLES, columns=SENTINEL,
        dims=Dims(region="region_code", product="product_code", enterprise=("enterprise_code",)),
        roles=SUPPLY_ROLES, sort=("month", "region_code", "product_code", "sentinel_code"),
        policy=_SENTINEL_POLICY, labels={"triggers": TRIGGERS}, group="supply", doc=__doc__,
        command=False,  # a list of `jicai supply-alerts`
    ),
    Measure(
        name="supply-exposure", title_zh="可能受影响机构", title_en="Institutions exposed to a sentinel warning",
        compute=lambda wh, a: sentinel_exposure(wh, a.month, first_month_of(a), a.batch, a.policy),
        params=("month", "batch"), optional=("batch",), inputs=INPUT_TABLES, columns=EXPOSURE,
        dims=Dims(institution="institution_code", product="product_code"), roles=SUPPLY_ROLES,
        sort=("month", "region_code", "product_code", "sentinel_code", "institution_code"),
        policy=_SENTINEL_POLICY, totals=("ordered_units",), group="supply", doc=__doc__,
        command=False, web=False,
    ),
    Measure(
        name="supply-surge", title_zh="需求激增", title_en="Demand surges",
        compute=lambda wh, a: surge_alerts(wh, a.month, first_month_of(a), a.policy),
        params=("month",), inputs=INPUT_TABLES, columns=SURGE, dims=Dims(region="region_code", variety="variety_id"),
        roles=SUPPLY_ROLES, sort=("month", "region_code", "variety_id"), policy=_SURGE_POLICY, group="supply",
        doc=__doc__, command=False,  # a list of `jicai supply-alerts`
    ),
    Measure(
        name="supply-surge-suppliers", title_zh="可调配供应企业", title_en="Suppliers to call on in a surge",
        compute=lambda wh, a: surge_suppliers(wh, a.month, first_month_of(a), a.policy),
        params=("month",), inputs=INPUT_TABLES, columns=SUPPLIERS,
        dims=Dims(region="region_code", product="product_code", enterprise=("enterprise_code",)),
        roles=SUPPLY_ROLES,
        # "backup" sorts before "primary": the backups of each surge come first
        sort=("month", "region_code", "variety_id", "role", "product_code"),
        policy=(*_SURGE_POLICY, "deliver_within_hours"), labels={"role": SUPPLIER_ROLES}, group="supply",
        doc=__doc__, command=False, web=False,
    ),
)
