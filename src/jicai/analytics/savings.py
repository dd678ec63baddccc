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
* **peers** — the institutions of i's level with DDDs of v in the period, i included (n of them); or, with
  ``--peers NAME`` (``?peers=NAME``), the members of a peer group the user saved (``jicai peers add``; the rules:
  :mod:`jicai.workflow.peer_groups`) with DDDs of v, whatever their level — only the members then have rows.
  ``peer_basis`` (``level`` / ``group``) and ``peer_group`` (the group's name) say which basis a row used;
* **rank** — 1 + the number of peers with a lower cost per DDD (ties share the lowest rank);
* **decile** — min(10, ⌊10 × (rank − 1) / (n − 1)⌋ + 1): 1 = the cheapest tenth, 10 = the dearest; none when
  n < 2 (one institution has no peers to be ranked against);
* **10th percentile** (p10) — nearest rank: the cost per DDD of the ⌈n / 10⌉-th cheapest peer (the cheapest
  for n ≤ 10, the 2nd for 11–20, …). A value some peer actually paid, exact and the same on every engine
  (computed with ``row_number`` over the peers, not an engine's approximate or interpolated quantile);
* **saving** = ddd × (cost per DDD − p10) when positive, else 0 (an institution at or below p10 saves nothing).
* **a small saved group** — on the group basis, with fewer than
  :data:`~jicai.analytics.deciles.MIN_PEERS_FOR_STATS` (6) members with DDDs of v, p10 and the saving are left
  blank (rank and decile are still given): the p10 of a few is one named member's cost, and a group is chosen by
  its user — a hospital would otherwise read another's price off its own row. The level basis shows them as
  before (its peers are not chosen).

``ddd-savings-by-institution`` sums the variety savings per institution, ``ddd-savings-by-region`` per region
(the institutions' ``region_code``), each ranked by ¥ (1 = most to save; ties share a rank). With a peer group
both cover the group's members only, and a variety whose saving is blank adds nothing to the sums.

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

from collections.abc import Sequence
from datetime import date

import ibis
import ibis.expr.types as ir

from jicai.analytics.class_use import INPUT_TABLES, class_use
from jicai.analytics.ddd import with_class_name
from jicai.analytics.ddd_volume import MONTHS
from jicai.analytics.deciles import BASIS, MIN_PEERS_FOR_STATS, PeerGroup, peer_group
from jicai.calendar import shift_month
from jicai.contract.columns import col, cols
from jicai.errors import BilingualError
from jicai.measures.registry import Dims, Measure
from jicai.policy import Policy
from jicai.store import Warehouse

UNITS = ("variety", "class")
_RANK = ("比较范围内排名", "rank of the cost per DDD among the peers (the level, or the saved peer group), 1 = cheapest "
         "(ties share the lowest rank)")
# which peers a row was computed among (the columns of institution-deciles too)
BASIS_COLUMNS = (
    col("peer_basis", "比较范围", "level: the institutions of the same level; group: the saved peer group", "enum"),
    col("peer_group", "对比组", "name of the saved peer group (blank for the level)", "text"),
)

ROW_COLUMNS = (*cols(
    "institution_code", "institution_name", "region_code", "level", "atc4", "atc4_name", "variety_id",
    "variety_name", "ddd", "amount", "cost_per_ddd", "peers", "rank_in_level", "decile", "peer_p10_cost_per_ddd",
    "saving",
    ddd=("DDD数", "Σ DDDs of the variety (or class) at the institution in the 12 months"),
    amount=("验收金额", "Σ accepted amount of those products in the 12 months (yuan)"),
    cost_per_ddd=("每DDD费用(日均费用)", "amount / ddd"),
    peers=("比较机构数", "institutions with DDDs of the variety (or class) in the period among the peers — the same "
                    "level, or the saved peer group's members — the institution included"),
    rank_in_level=_RANK,
    decile=("十分位", "decile of cost per DDD among the peers (level or group), 1 = cheapest … 10 = dearest: "
                    "min(10, ⌊10 × (rank − 1) / (peers − 1)⌋ + 1), ties at their lowest rank; null with fewer "
                    "than 2 peers"),
    peer_p10_cost_per_ddd=("比较范围P10每DDD费用", "peers' 10th-percentile cost per DDD (nearest rank): the cost of "
                                            "the ⌈peers / 10⌉-th cheapest peer, the institution included; on the "
                                            "group basis null with fewer than 6 peers"),
    saving=("可节省金额", "ddd × (cost_per_ddd − peer_p10_cost_per_ddd) when positive, else 0: the ¥ saved at the "
                     "peers' 10th-percentile cost; null when the p10 is"),
), *BASIS_COLUMNS)

INSTITUTION_COLUMNS = (*cols(
    "rank", "institution_code", "institution_name", "region_code", "level", "amount", "saving",
    "varieties_with_saving",
    rank=("节省金额排名", "rank by saving, 1 = most to save (ties share a rank)"),
    amount=("验收金额", "Σ accepted amount of the varieties with DDDs in the 12 months (yuan)"),
    saving=("可节省金额", "Σ of the institution's variety savings (ddd-savings; a blank one adds nothing)"),
), *BASIS_COLUMNS)

REGION_COLUMNS = (*cols(
    "rank", "region_code", "institutions", "amount", "saving",
    rank=("节省金额排名", "rank by saving, 1 = most to save (ties share a rank)"),
    institutions=("机构数", "institutions of the region with DDDs of a VBP variety in the 12 months (with a peer "
                         "group: its members only)"),
    amount=("验收金额", "Σ accepted amount of the varieties with DDDs in the 12 months (yuan)"),
    saving=("可节省金额", "Σ of the region's institutions' variety savings (a blank one adds nothing)"),
), *BASIS_COLUMNS)
LABELS = {"peer_basis": BASIS}


class SavingsError(BilingualError, ValueError):
    """A peer group without members."""


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


def with_peers(wh: Warehouse, t: ir.Table, unit_key: str, group: PeerGroup | None = None) -> ir.Table:
    """``t`` (one row per institution × unit with ``level`` and ``cost_per_ddd``) with peers, rank_in_level,
    decile, peer_p10_cost_per_ddd and saving (see the module doc): within the level, or within ``group``
    (only its members' rows are kept)."""
    if group is None:
        keys = ["level", unit_key]
    else:
        t = t.filter(t.institution_code.isin(list(group.members)))
        keys = [unit_key]
    part = [t[k] for k in keys]
    ordered = ibis.window(group_by=part, order_by=t.cost_per_ddd)
    t = t.mutate(peers=t.cost_per_ddd.count().over(ibis.window(group_by=part)),
                 rank0=ibis.rank().over(ordered),  # 0-based, ties at the lowest
                 row0=ibis.row_number().over(ordered))  # 0-based, ties in any order (same value)
    t = wh.reuse(t)  # read twice: the p10 row of each peer group, and the rows
    # nearest rank: the ⌈n / 10⌉-th cheapest; n / 10.0 of two exact integers is exact when it is an integer
    at = (t.peers.cast("float64") / 10.0).ceil().cast("int64")
    p = t.filter(t.row0 + 1 == at).select(p10=t.cost_per_ddd, **{"p_" + k: t[k] for k in keys})
    j = t.left_join(p, [t[k] == p["p_" + k] for k in keys]).drop(*["p_" + k for k in keys])
    if group is not None:  # a small chosen group: no p10 (it would be one named member's cost)
        j = j.mutate(p10=ibis.ifelse(j.peers >= MIN_PEERS_FOR_STATS, j.p10, ibis.null("float64")))
    # ⌊10 × (rank − 1) / (n − 1)⌋: an integer numerator over an integer, so floor is exact
    tenth = (10.0 * j.rank0.cast("float64") / (j.peers - 1).cast("float64")).floor().cast("int64")
    decile = ibis.ifelse(j.peers < 2, ibis.null("int64"), ibis.least(tenth + 1, 10))
    over = j.cost_per_ddd - j.p10
    saving = ibis.ifelse(j.p10.isnull(), ibis.null("float64"), ibis.ifelse(over > 0, j.ddd * over, 0.0))
    return j.mutate(rank_in_level=(j.rank0 + 1).cast("int64"), decile=decile, peer_p10_cost_per_ddd=j.p10,
                    saving=saving,
                    peer_basis=ibis.literal("level" if group is None else "group"),
                    peer_group=ibis.literal("" if group is None else group.name)).drop("rank0", "row0", "p10")


def _named(wh: Warehouse, t: ir.Table) -> ir.Table:
    i = wh.table("institutions").select(i_code="institution_code", institution_name="name",
                                        region_code="region_code")
    v = wh.table("varieties").select(v_id="variety_id", variety_name="name")
    t = t.left_join(i, t.institution_code == i.i_code).drop("i_code")
    t = t.left_join(v, t.variety_id == v.v_id).drop("v_id")
    return with_class_name(t)


Peers = PeerGroup | Sequence[str] | str | None


def _group(peers: Peers) -> PeerGroup | None:
    group = peer_group(peers)
    if group is not None and not group.members:
        raise SavingsError("对比组没有成员机构", "the peer group has no member institutions")
    return group


def ddd_savings(wh: Warehouse, as_of: date, policy: Policy | None = None, unit: str = "variety",
                peers: Peers = None) -> ir.Table:
    """The rows of ``ddd-savings`` (``unit="variety"``) or ``ddd-savings-by-class`` (``unit="class"``): within
    each institution's level, or within ``peers`` (a :class:`PeerGroup`, or institution codes)."""
    key = "variety_id" if unit == "variety" else "atc4"
    t = _named(wh, with_peers(wh, unit_costs(wh, as_of, unit), key, _group(peers)))
    return t.select(*[c.name for c in ROW_COLUMNS])


def _ranked(t: ir.Table) -> ir.Table:
    return t.mutate(rank=(ibis.rank().over(ibis.window(order_by=ibis.desc(t.saving))) + 1).cast("int64"))


def savings_by_institution(wh: Warehouse, as_of: date, policy: Policy | None = None,
                           peers: Peers = None) -> ir.Table:
    """The rows of ``ddd-savings-by-institution``: the variety savings summed per institution, ranked by ¥."""
    r = ddd_savings(wh, as_of, policy, peers=peers)
    saving = r.saving.fill_null(0.0)  # blank (a small group): adds nothing, and never ranks by a null
    g = r.group_by(["institution_code", "institution_name", "region_code", "level", "peer_basis", "peer_group"]).agg(
        amount=r.amount.sum(), saving=saving.sum(), varieties_with_saving=(saving > 0).sum().cast("int64"))
    return _ranked(g).select(*[c.name for c in INSTITUTION_COLUMNS])


def savings_by_region(wh: Warehouse, as_of: date, policy: Policy | None = None, peers: Peers = None) -> ir.Table:
    """The rows of ``ddd-savings-by-region``: the variety savings summed per region, ranked by ¥."""
    r = ddd_savings(wh, as_of, policy, peers=peers)
    g = r.group_by(["region_code", "peer_basis", "peer_group"]).agg(
        institutions=r.institution_code.nunique().cast("int64"), amount=r.amount.sum(),
        saving=r.saving.fill_null(0.0).sum())
    return _ranked(g).select(*[c.name for c in REGION_COLUMNS])


_ROLES = ("admin", "bureau", "auditor", "institution")
_NOTE = "按同级机构(或自选对比组)第10百分位每DDD费用采购可节省的金额(OpenPrescribing 方法)"

MEASURES = (
    Measure(
        warm=False,  # computed when first asked for (web/warmup.py)
        name="ddd-savings", title_zh="每DDD费用同级比较与节省潜力", title_en="Cost per DDD: peers, deciles, savings",
        compute=lambda wh, a: ddd_savings(wh, a.as_of, a.policy, peers=a.peers),
        params=("as_of", "peers"), optional=("peers",), labels=LABELS, inputs=INPUT_TABLES, columns=ROW_COLUMNS,
        dims=Dims(institution="institution_code", region="region_code", variety="variety_id"),
        roles=_ROLES, sort=("variety_id", "level", "rank_in_level", "institution_code"), totals=("amount", "saving"),
        note_zh="每机构每品种近12个月的每DDD费用、同级(或对比组内)十分位与" + _NOTE,
        note_en="per institution × variety (12 months): cost per DDD, decile within the level (or a saved peer "
                "group), and the ¥ saving at the peers' 10th-percentile cost (OpenPrescribing)",
        doc=__doc__,
    ),
    Measure(
        warm=False,  # computed when first asked for (web/warmup.py)
        name="ddd-savings-by-class", title_zh="每DDD费用同级比较(按ATC类别)", title_en="Cost per DDD by class: peers, savings",
        compute=lambda wh, a: ddd_savings(wh, a.as_of, a.policy, unit="class", peers=a.peers),
        params=("as_of", "peers"), optional=("peers",), labels=LABELS, inputs=INPUT_TABLES, columns=ROW_COLUMNS,
        dims=Dims(institution="institution_code", region="region_code"),
        roles=_ROLES, sort=("atc4", "level", "rank_in_level", "institution_code"), totals=("amount", "saving"),
        note_zh="每机构每ATC类别(含非集采同类)的每DDD费用、同级(或对比组内)十分位与" + _NOTE,
        note_en="per institution × ATC class (non-VBP alternatives included): cost per DDD, decile, ¥ saving",
        doc=__doc__,
    ),
    Measure(
        warm=False,  # computed when first asked for (web/warmup.py)
        name="ddd-savings-by-institution", title_zh="节省潜力(按机构)", title_en="Savings by institution",
        compute=lambda wh, a: savings_by_institution(wh, a.as_of, a.policy, a.peers),
        params=("as_of", "peers"), optional=("peers",), labels=LABELS, inputs=INPUT_TABLES, columns=INSTITUTION_COLUMNS,
        dims=Dims(institution="institution_code", region="region_code"),
        roles=_ROLES, sort=("rank", "institution_code"), totals=("amount", "saving"),
        note_zh="各机构品种节省金额之和(同级或自选对比组),按金额排名",
        note_en="the variety savings per institution (level or saved peer group), ranked by ¥",
        doc=__doc__,
    ),
    Measure(
        warm=False,  # computed when first asked for (web/warmup.py)
        name="ddd-savings-by-region", title_zh="节省潜力(按区划)", title_en="Savings by region",
        compute=lambda wh, a: savings_by_region(wh, a.as_of, a.policy, a.peers),
        params=("as_of", "peers"), optional=("peers",), labels=LABELS, inputs=INPUT_TABLES, columns=REGION_COLUMNS, dims=Dims(region="region_code"),
        roles=("admin", "bureau", "auditor"), sort=("rank", "region_code"), totals=("amount", "saving"),
        note_zh="各区划机构品种节省金额之和(同级或自选对比组),按金额排名",
        note_en="the variety savings per region (level or saved peer group), ranked by ¥",
        doc=__doc__,
    ),
)
