"""Volumes in DDDs and cost per DDD (用药频度 DDDs, 日均费用): per institution × ATC class × variety × product × month.

A defined daily dose (DDD, WHO) is the assumed average maintenance dose per day of a substance for its main
indication in adults; DDDs = minimum units × the product's DDDs per unit (strength / DDD). Counting in DDDs
makes products of different strengths and substances of one class comparable: 7 tablets of atorvastatin 20 mg
and 14 of simvastatin 15 mg are both 7 DDDs. Cost per DDD (日均费用) = amount / DDDs.

``ddd-volume`` has one row per institution, product and month of accepted use in the twelve calendar months
ending with the as-of month (that month through the as-of date), for every western drug with an ATC class:
its class, variety (blank for a product of no VBP variety), what the product is for the institution
(``use_class``: 中选产品 / 同品种非中选 / 非集采同类, see :mod:`jicai.analytics.class_use`), volume in minimum
units, amount, DDDs and cost per DDD. A product whose DDDs cannot be told (no INN in its name, a combination,
a spec without strength…) keeps its volume and amount with blank DDDs; ``product-ddd`` lists every product's
DDD facts with the reason when one is missing. Volumes are accepted volumes, as everywhere in jicai.

>>> from jicai.store import connect
>>> from jicai.contract.arrow import empty
>>> wh = connect("duckdb://")
>>> for name in INPUT_TABLES: _ = wh.write_table(name, empty(name))
>>> ddd_volume(wh, date(2024, 6, 30)).to_pyarrow().num_rows
0
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

from jicai.analytics.class_use import INPUT_TABLES, USE_CLASSES, class_use
from jicai.analytics.ddd import __doc__ as ddd_doc
from jicai.analytics.ddd import product_ddd, with_class_name
from jicai.calendar import shift_month
from jicai.contract.columns import cols
from jicai.measures.registry import Dims, Measure
from jicai.policy import Policy
from jicai.store import Warehouse

MONTHS = 12  # the months ddd-volume covers, ending with the as-of month


DDD_COLUMNS = cols(
    "month", "institution_code", "level", "atc4", "atc4_name", "variety_id", "product_code", "use_class", "accepted_units", "amount",
    "ddd", "cost_per_ddd", "ddd_per_unit",
    month=("月份", "month of acceptance (YYYY-MM)"),
    accepted_units=("验收数量(最小单位)", "accepted_quantity × units_per_pack of the month"),
    amount=("验收金额", "accepted_quantity × pack_price of the month (yuan)"),
)

PRODUCT_COLUMNS = cols(
    "product_code", "atc4", "atc4_name", "atc_code", "route", "ddd_value", "ddd_unit", "strength", "ddd_per_unit", "ddd_source",
    "ddd_note",
)


def ddd_volume(wh: Warehouse, as_of: date, policy: Policy | None = None) -> ir.Table:
    """The rows of ``ddd-volume`` (see the module doc); ``policy`` is not read (accepted volumes always)."""
    first = shift_month(as_of.replace(day=1), -(MONTHS - 1))
    u = with_class_name(class_use(wh, first, as_of))
    return u.select(
        month=u.month.strftime("%Y-%m"), institution_code=u.institution_code, level=u.level, atc4=u.atc4,
        atc4_name=u.atc4_name,
        variety_id=u.variety_id, product_code=u.product_code, use_class=u.use_class, accepted_units=u.volume,
        amount=u.amount, ddd=u.ddd,
        cost_per_ddd=ibis.ifelse(u.ddd > 0, u.amount / u.ddd, ibis.null("float64")),
        ddd_per_unit=u.ddd_per_unit,
    )


def product_ddd_list(wh: Warehouse, policy: Policy | None = None) -> ir.Table:
    """The rows of ``product-ddd``: every product with its class and DDD facts (or why it has none)."""
    p = with_class_name(product_ddd(wh))
    return p.select("product_code", "atc4", "atc4_name", "atc_code", "route", ddd_value=p.ddd, ddd_unit=p.ddd_unit,
                    strength=p.strength, ddd_per_unit=p.ddd_per_unit, ddd_source=p.ddd_source, ddd_note=p.ddd_note)


_ROLES = ("admin", "bureau", "auditor", "institution")

MEASURES = (
    Measure(
        warm=False,  # computed when first asked for (web/warmup.py)
        name="ddd-volume", title_zh="DDD用量与日均费用", title_en="Use in DDDs and cost per DDD",
        compute=lambda wh, a: ddd_volume(wh, a.as_of, a.policy),
        params=("as_of",), inputs=INPUT_TABLES, columns=DDD_COLUMNS,
        dims=Dims(institution="institution_code", product="product_code", variety="variety_id"),
        roles=_ROLES, sort=("month", "institution_code", "atc4", "product_code"),
        labels={"use_class": USE_CLASSES}, totals=("accepted_units", "amount", "ddd"),
        note_zh="按ATC类别、品种、产品、月份的DDD数与每DDD费用(近12个月)",
        note_en="DDDs and cost per DDD by class, variety, product and month (12 months)", doc=__doc__,
    ),
    Measure(
        warm=False,  # computed when first asked for (web/warmup.py)
        name="product-ddd", title_zh="产品ATC类别与DDD", title_en="Products' ATC classes and DDDs",
        compute=lambda wh, a: product_ddd_list(wh, a.policy),
        params=(), inputs=("products", "varieties"), columns=PRODUCT_COLUMNS, dims=Dims(product="product_code"),
        sort=("product_code",),
        note_zh="每个产品的ATC类别、DDD值、每单位含量与DDD数;无法换算时说明原因",
        note_en="each product's class, DDD, strength and DDDs per unit, or why it has none",
        doc=ddd_doc,
    ),
)
