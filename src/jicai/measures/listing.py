"""Listing governance (挂网价格管理): listed prices against winning prices on a day (001 国家 监测考核).

The listing *in force* on ``as_of`` for a product is its ``listings`` row with the latest
``effective_date`` ≤ ``as_of``; only status ``listed`` counts as listed. Batches count from their
``start_date`` (≤ ``as_of``). The *highest winning price* of a variety is the highest ``unit_price`` of
its primary selected products. One row per finding:

* ``not_listed_at_winning_price`` 未按中选价挂网: a selected product (primary or backup) whose in-force
  listing is missing, not ``listed``, or |listed − winning| > ``price_tolerance``;
* ``above_winning_price`` 高于中选价: a non-selected product of a variety with a primary selected
  product, listed above the highest winning price + ``price_tolerance`` and not above
  ``nonselected_price_multiple`` × it (+ ``price_tolerance``);
* ``suspend_or_delist`` 建议暂停采购/撤网: listed above ``nonselected_price_multiple`` × the highest
  winning price (+ ``price_tolerance``).

Prices are compared exactly, by the one rule of :mod:`jicai.measures.exact`: each price and the
tolerance become integer micro-yuan (10⁻⁶ yuan, the only float-noise allowance), the multiple becomes
basis points and is cross-multiplied, so a price exactly at a bound is never flagged, on every engine.
A non-selected product without an in-force ``listed`` listing has no finding. Everything is an Ibis
expression over the warehouse tables; the parameters are the entries of the policy in force on ``as_of``.

>>> from jicai.store import connect
>>> from jicai.contract.arrow import empty
>>> wh = connect("duckdb://")
>>> for name in INPUT_TABLES: _ = wh.write_table(name, empty(name))
>>> listing_governance(wh, "2025-01-01").to_pyarrow().num_rows
0
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import ibis
import ibis.expr.types as ir

from jicai.contract.columns import cols
from jicai.contract.enums import LISTING_STATUSES
from jicai.measures.exact import SCALE, basis_points, micro, to_micro
from jicai.measures.registry import Dims, Measure
from jicai.policy import Policy, load_policy
from jicai.store import Warehouse

INPUT_TABLES = ("batches", "varieties", "products", "selected_products", "listings")

# code → (中文, English)
FINDINGS: dict[str, tuple[str, str]] = {
    "not_listed_at_winning_price": ("未按中选价挂网", "selected product with no in-force listed listing, or |listed − winning| > price_tolerance"),
    "above_winning_price": ("高于中选价", "non-selected product listed above the highest winning price (+ price_tolerance), up to nonselected_price_multiple × it"),
    "suspend_or_delist": ("建议暂停采购/撤网", "non-selected product listed above nonselected_price_multiple × the highest winning price (+ price_tolerance)"),
}

def _day(d: date | str) -> date:
    return d if isinstance(d, date) else date.fromisoformat(str(d))


def listing_governance(wh: Warehouse, as_of: date | str, policy: Policy | None = None, *,
                       tables: Mapping[str, str] | None = None) -> ir.Table:
    """The listing findings in force on ``as_of``; see the columns of MEASURES.

    ``tables`` optionally maps input table names to the names they have in the warehouse.
    """
    day = _day(as_of)
    policy = policy or load_policy()
    tol = to_micro(policy.value("price_tolerance", day))  # micro-yuan
    multiple_bp = basis_points(policy.value("nonselected_price_multiple", day))
    names = dict(tables or {})
    t = {name: wh.table(names.get(name, name)) for name in INPUT_TABLES}
    on = ibis.literal(day, "date")

    # the listing in force: latest effective_date ≤ as_of
    lst = t["listings"]
    lst = lst.filter(lst.effective_date <= on)
    latest = lst.group_by("product_code").agg(latest=lst.effective_date.max())
    cur = lst.join(latest, [lst.product_code == latest.product_code, lst.effective_date == latest.latest])
    cur = cur.select(cur.product_code, listed=cur.listed_unit_price.cast("float64"),
                     status=cur.status.cast("string"))

    b = t["batches"]
    started = b.filter(b.start_date <= on).select("batch_id")
    sp = t["selected_products"].join(started, "batch_id")
    sp = sp.select("batch_id", "variety_id", "product_code", "role", winning=sp.unit_price.cast("float64"))
    prim = sp.filter(sp.role == "primary")
    hw = prim.group_by("variety_id").agg(highest=prim.winning.max())
    names_t = t["products"].select("product_code", product_name=t["products"].name.cast("string"))

    def multiple_of(listed: ir.FloatingValue, highest: ir.FloatingValue) -> ir.FloatingValue:
        return ibis.ifelse(highest > 0, listed / highest, ibis.null("float64"))

    # selected products
    s = sp.left_join(cur, "product_code").drop("product_code_right")
    s = s.left_join(hw, "variety_id").drop("variety_id_right")
    s = s.left_join(names_t, "product_code").drop("product_code_right")
    off = (s.status.isnull() | (s.status != "listed") | s.listed.isnull()
           | ((micro(s.listed) - micro(s.winning)).abs() > tol)).fill_null(True)
    zh = FINDINGS["not_listed_at_winning_price"][0]
    sel = s.filter(off).select(
        "product_code", "product_name", "variety_id", "batch_id",
        finding=ibis.literal("not_listed_at_winning_price", "string"),
        finding_zh=ibis.literal(zh, "string"),
        listed_unit_price=s.listed,
        winning_price=s.winning,
        multiple=multiple_of(s.listed, s.highest),
        status=s.status,
    )

    # non-selected products of a VBP variety (one with a primary selected product)
    v = t["varieties"].select("variety_id", batch_id=t["varieties"].batch_id.cast("string"))
    vbp = hw.join(v, "variety_id")
    p = t["products"].filter(t["products"].variety_id.notnull())
    p = p.select("product_code", "variety_id", product_name=p.name.cast("string"))
    p = p.anti_join(sp.select("product_code", "variety_id"), ["product_code", "variety_id"])
    n = p.join(vbp, "variety_id").join(cur.filter(cur.status == "listed"), "product_code")
    listed_micro, highest_micro = micro(n.listed), micro(n.highest)
    above = listed_micro > highest_micro + tol
    n = n.filter(above.fill_null(False))
    # listed > multiple × highest + tol, cross-multiplied by 10⁴ with the multiple in basis points
    suspend = (micro(n.listed) * SCALE > micro(n.highest) * multiple_bp + tol * SCALE).fill_null(False)
    non = n.select(
        "product_code", "product_name", "variety_id", "batch_id",
        finding=ibis.ifelse(suspend, "suspend_or_delist", "above_winning_price").cast("string"),
        finding_zh=ibis.ifelse(suspend, FINDINGS["suspend_or_delist"][0],
                               FINDINGS["above_winning_price"][0]).cast("string"),
        listed_unit_price=n.listed,
        winning_price=n.highest,
        multiple=multiple_of(n.listed, n.highest),
        status=n.status,
    )
    names = [c.name for c in COLUMNS]
    return sel.select(*names).union(non.select(*names))


COLUMNS = cols(
    "product_code", "product_name", "variety_id", "batch_id", "finding", "finding_zh", "listed_unit_price",
    "winning_price", "multiple", "status",
    batch_id=("批次编号", "batch of the selection (selected) or of the variety (non-selected)"),
    status=("挂网状态", "status of the in-force listing: listed, suspended, delisted; null when none"),
)

MEASURES = (
    Measure(
        name="listing", title_zh="挂网价格治理", title_en="Listing governance",
        compute=lambda wh, a: listing_governance(wh, a.as_of, a.policy),
        params=("as_of",), inputs=INPUT_TABLES, columns=COLUMNS, dims=Dims(product="product_code"),
        roles=("admin", "bureau", "auditor", "enterprise"), sort=("finding", "variety_id", "product_code", "batch_id"),
        policy=("price_tolerance", "nonselected_price_multiple"),
        labels={"finding": FINDINGS, "status": LISTING_STATUSES},
        note_zh="未按中选价挂网、高于中选价、建议暂停采购/撤网", note_en="listings off the winning price",
        doc=__doc__,
    ),
)
