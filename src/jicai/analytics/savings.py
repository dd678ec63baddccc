"""Peers, deciles and savings on cost per DDD (同级比较与节省潜力): what each institution would have saved buying
at the price its cheapest peers paid.

The method is OpenPrescribing's price-per-unit savings (EBM DataLab; Curtis & Goldacre, BMJ Open
2018;8:e019643): for each organisation and presentation, the saving is the quantity it bought times the amount
by which its unit cost exceeds the 10th percentile of all organisations' unit costs. jicai applies it to cost
per DDD (:mod:`jicai.analytics.ddd_volume`), over the twelve calendar months ending with the as-of month
(through the as-of date), accepted volumes:

* **unit of comparison** — a VBP variety (``ddd-savings``: every product of the variety, selected or not) or an
  ATC level-4 class (``ddd-savings-by-class``: every product of the class with DDDs, VBP or not — the saving of
  choosing a cheaper substance too). Products without DDDs are left out (``product-ddd`` says why);
* per institution i and unit v: ``ddd`` = Σ DDDs, ``amount`` = Σ accepted amount, cost per DDD = amount / ddd
  (rows with ddd > 0 only);
* **peers** — the institutions of i's level with DDDs of v in the period, i included (n of them);
* **rank** — 1 + the number of peers with a lower cost per DDD (ties share the lowest rank);
* **decile** — min(10, ⌊10 × (rank − 1) / (n − 1)⌋ + 1): 1 = the cheapest tenth, 10 = the dearest; none when
  n < 2 (one institution has no peers to be ranked against);
* **10th percentile** (p10) — nearest rank: the cost per DDD of the ⌈n / 10⌉-th cheapest peer (the cheapest
  for n ≤ 10, the 2nd for 11–20, …). A value some peer actually paid, exact and the same on every engine
  (computed with ``row_number`` over the peers, not an engine's approximate or interpolated quantile);
* **saving** = ddd × (cost per DDD − p10) when positive, else 0 (an institution at or below p10 saves nothing).

``ddd-savings-by-institution`` sums the variety savings per institution, ``ddd-savings-by-region`` per region
(the institutions' ``region_code``), each ranked by ¥ (1 = most to save; ties share a rank).

A saving is what the same DDDs would have cost at a price the peers obtained, not a loss: a different
strength, a shortage or a patient group can explain a higher cost. Aggregation is Ibis on every engine.

>>> from jicai.store import connect
>>> from jicai.contract.arrow import empty
>>> wh = connect("duckdb://")
>>> for name in INPUT_TABLES: _ = wh.write_table(name, empty(name))
>>> ddd_savings(wh, date(2024, 6, 30)).to_pyarrow().num_rows
0
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

from jicai.analytics.class_use import INPUT_TABLES, class_use
from jicai.analytics.ddd import with_class_name
from jicai.analytics.ddd_volume import MONTHS
from jicai.calendar import shift_month
from jicai.contract.columns import cols
from jicai.measures.registry import Dims, Measure
from jicai.policy import Policy
from jicai.store import Warehouse

UNITS = ("variety", "class")
_RANK = ("同级排名", "rank of the cost per DDD among the peers, 1 = cheapest (ties share the lowest rank)")

ROW_COLUMNS = cols(
    "institution_code", "institution_name", "region_code", "level", "atc4", "atc4_name", "variety_id",
    "variety_name", "ddd", "amount", "cost_per_ddd", "peers", "rank_in_level", "decile", "peer_p10_cost_per_ddd",
    "saving",
    ddd=("DDD数", "Σ DDDs of the variety (or class) at the institution in the 12 months"),
    amount=("验收金额", "Σ accepted amount of those products in the 12 months (yuan)"),
    cost_per_ddd=("每DDD费用(日均费用)", "amount / ddd"),
    rank_in_level=_RANK,
)

INSTITUTION_COLUMNS = cols(
    "rank", "institution_code", "institution_name", "region_code", "level", "amount", "saving",
    "varieties_with_saving",
    rank=("节省金额排名", "rank by saving, 1 = most to save (ties share a rank)"),
    amount=("验收金额", "Σ accepted amount of the varieties with DDDs in the 12 months (yuan)"),
    saving=("可节省金额", "Σ of the institution's variety savings (ddd-savings)"),
)

REGION_COLUMNS = cols(
    "rank", "region_code", "institutions", "amount", "saving",
    rank=("节省金额排名", "rank by saving, 1 = most to save (ties share a rank)"),
    institutions=("机构数", "institutions of the region with DDDs of a VBP variety in the 12 months"),
    amount=("验收金额", "Σ accepted amount of the varieties with DDDs in the 12 months (yuan)"),
    saving=("可节省金额", "Σ of the region's institutions' variety savings"),
)


def unit_costs(wh: Warehouse, as_of: date, unit: str = "variety") -> ir.Table:
    """institution_code, level, atc4, variety_id, ddd, amount, cost_per_ddd per institution × unit of comparison
    (``variety``: VBP varieties; ``class``: ATC level-4 classes, variety_id null) over the 12 months."""
    if unit not in UNITS:
        raise ValueError(unit)
    first = shift_month(as_of.replace(day=1), -(MONTHS - 1))
    u = class_use(wh, first, as_of)
    u = u.filter(u.ddd.notnull())
    if unit == "variety":
        u = u.filter(u.variety_id.notnull())
        keys = ["institution_code", "level", "variety_id"]
        g = u.group_by(keys).agg(atc4=u.atc4.max(), ddd=u.ddd.sum(), amount=u.amount.sum())
    else:
        keys = ["institution_code", "level", "atc4"]
        g = u.group_by(keys).agg(variety_id=ibis.null("string"), ddd=u.ddd.sum(), amount=u.amount.sum())
    g = g.filter(g.ddd > 0)
    return g.mutate(cost_per_ddd=g.amount / g.ddd)


def with_peers(wh: Warehouse, t: ir.Table, unit_key: str) -> ir.Table:
    """``t`` (one row per institution × unit with ``level`` and ``cost_per_ddd``) with peers, rank_in_level,
    decile, peer_p10_cost_per_ddd and saving (see the module doc)."""
    part = [t.level, t[unit_key]]
    ordered = ibis.window(group_by=part, order_by=t.cost_per_ddd)
    t = t.mutate(peers=t.cost_per_ddd.count().over(ibis.window(group_by=part)),
                 rank0=ibis.rank().over(ordered),  # 0-based, ties at the lowest
                 row0=ibis.row_number().over(ordered))  # 0-based, ties in any order (same value)
    t = wh.reuse(t)  # read twice: the p10 row of each peer group, and the rows
    # nearest rank: the ⌈n / 10⌉-th cheapest; n / 10.0 of two exact integers is exact when it is an integer
    at = (t.peers.cast("float64") / 10.0).ceil().cast("int64")
    p = t.filter(t.row0 + 1 == at).select(p_level=t.level, p_key=t[unit_key], p10=t.cost_per_ddd)
    j = t.left_join(p, [t.level == p.p_level, t[unit_key] == p.p_key]).drop("p_level", "p_key")
    # ⌊10 × (rank − 1) / (n − 1)⌋: an integer numerator over an integer, so floor is exact
    tenth = (10.0 * j.rank0.cast("float64") / (j.peers - 1).cast("float64")).floor().cast("int64")
    decile = ibis.ifelse(j.peers < 2, ibis.null("int64"), ibis.least(tenth + 1, 10))
    over = j.cost_per_ddd - j.p10
    return j.mutate(rank_in_level=(j.rank0 + 1).cast("int64"), decile=decile, peer_p10_cost_per_ddd=j.p10,
                    saving=ibis.ifelse(over > 0, j.ddd * over, 0.0)).drop("rank0", "row0", "p10")


def _named(wh: Warehouse, t: ir.Table) -> ir.Table:
    i = wh.table("institutions").select(i_code="institution_code", institution_name="name",
                                        region_code="region_code")
    v = wh.table("varieties").select(v_id="variety_id", variety_name="name")
    t = t.left_join(i, t.institution_code == i.i_code).drop("i_code")
    t = t.left_join(v, t.variety_id == v.v_id).drop("v_id")
    return with_class_name(t)


def ddd_savings(wh: Warehouse, as_of: date, policy: Policy | None = None, unit: str = "variety") -> ir.Table:
    """The rows of ``ddd-savings`` (``unit="variety"``) or ``ddd-savings-by-class`` (``unit="class"``)."""
    key = "variety_id" if unit == "variety" else "atc4"
    t = _named(wh, with_peers(wh, unit_costs(wh, as_of, unit), key))
    return t.select(*[c.name for c in ROW_COLUMNS])


def _ranked(t: ir.Table) -> ir.Table:
    return t.mutate(rank=(ibis.rank().over(ibis.window(order_by=ibis.desc(t.saving))) + 1).cast("int64"))


def savings_by_institution(wh: Warehouse, as_of: date, policy: Policy | None = None) -> ir.Table:
    """The rows of ``ddd-savings-by-institution``: the variety savings summed per institution, ranked by ¥."""
    r = ddd_savings(wh, as_of, policy)
    g = r.group_by(["institution_code", "institution_name", "region_code", "level"]).agg(
        amount=r.amount.sum(), saving=r.saving.sum(), varieties_with_saving=(r.saving > 0).sum().cast("int64"))
    return _ranked(g)


def savings_by_region(wh: Warehouse, as_of: date, policy: Policy | None = None) -> ir.Table:
    """The rows of ``ddd-savings-by-region``: the variety savings summed per region, ranked by ¥."""
    r = ddd_savings(wh, as_of, policy)
    g = r.group_by("region_code").agg(institutions=r.institution_code.nunique().cast("int64"),
                                      amount=r.amount.sum(), saving=r.saving.sum())
    return _ranked(g)


_ROLES = ("admin", "bureau", "auditor", "institution")
_NOTE = "按同级机构第10百分位每DDD费用采购可节省的金额(OpenPrescribing 方法)"

MEASURES = (
    Measure(
        warm=False,  # computed when first asked for (web/warmup.py)
        name="ddd-savings", title_zh="每DDD费用同级比较与节省潜力", title_en="Cost per DDD: peers, deciles, savings",
        compute=lambda wh, a: ddd_savings(wh, a.as_of, a.policy),
        params=("as_of",), inputs=INPUT_TABLES, columns=ROW_COLUMNS,
        dims=Dims(institution="institution_code", region="region_code", variety="variety_id"),
        roles=_ROLES, sort=("variety_id", "level", "rank_in_level", "institution_code"), totals=("amount", "saving"),
        note_zh="每机构每品种近12个月的每DDD费用、同级十分位与" + _NOTE,
        note_en="per institution × variety (12 months): cost per DDD, same-level decile, and the ¥ saving at the "
                "peers' 10th-percentile cost (OpenPrescribing)",
        doc=__doc__,
    ),
    Measure(
        warm=False,  # computed when first asked for (web/warmup.py)
        name="ddd-savings-by-class", title_zh="每DDD费用同级比较(按ATC类别)", title_en="Cost per DDD by class: peers, savings",
        compute=lambda wh, a: ddd_savings(wh, a.as_of, a.policy, unit="class"),
        params=("as_of",), inputs=INPUT_TABLES, columns=ROW_COLUMNS,
        dims=Dims(institution="institution_code", region="region_code"),
        roles=_ROLES, sort=("atc4", "level", "rank_in_level", "institution_code"), totals=("amount", "saving"),
        note_zh="每机构每ATC类别(含非集采同类)的每DDD费用、同级十分位与" + _NOTE,
        note_en="per institution × ATC class (non-VBP alternatives included): cost per DDD, decile, ¥ saving",
        doc=__doc__,
    ),
    Measure(
        warm=False,  # computed when first asked for (web/warmup.py)
        name="ddd-savings-by-institution", title_zh="节省潜力(按机构)", title_en="Savings by institution",
        compute=lambda wh, a: savings_by_institution(wh, a.as_of, a.policy),
        params=("as_of",), inputs=INPUT_TABLES, columns=INSTITUTION_COLUMNS,
        dims=Dims(institution="institution_code", region="region_code"),
        roles=_ROLES, sort=("rank", "institution_code"), totals=("amount", "saving"),
        note_zh="各机构品种节省金额之和,按金额排名", note_en="the variety savings per institution, ranked by ¥",
        doc=__doc__,
    ),
    Measure(
        warm=False,  # computed when first asked for (web/warmup.py)
        name="ddd-savings-by-region", title_zh="节省潜力(按区划)", title_en="Savings by region",
        compute=lambda wh, a: savings_by_region(wh, a.as_of, a.policy),
        params=("as_of",), inputs=INPUT_TABLES, columns=REGION_COLUMNS, dims=Dims(region="region_code"),
        roles=("admin", "bureau", "auditor"), sort=("rank", "region_code"), totals=("amount", "saving"),
        note_zh="各区划机构品种节省金额之和,按金额排名", note_en="the variety savings per region, ranked by ¥",
        doc=__doc__,
    ),
)
