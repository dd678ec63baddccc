"""Deciles of every measure that ranks institutions (机构十分位排名), within the level or a saved peer group.

OpenPrescribing ranks each organisation on each measure by its decile among all organisations (EBM DataLab;
BMJ Open 2018;8:e019643), with ``low_is_good`` saying which way is better. jicai does the same for the figures
that rank institutions (:data:`jicai.analytics.peer_metrics.METRICS`: completion, non-selected share, payment
rate, overdue amount, offline share, assessment score, cost per DDD, non-VBP alternative share, months until
the selected share passed), as of a date D, one row per institution × metric × item:

* **peers** — the institutions of the same level (``institutions.level``) with a value for the metric and
  item; or, with ``--peers NAME``, the members of a peer group the user saved (``jicai peers add``), whatever
  their level — the institution of an institution user is always one of them;
* **rank, decile, peer median, best tenth** — :mod:`jicai.analytics.deciles` (1 = best; ties share the best
  rank of their run; a group smaller than 10 still gets deciles 1..10 by rank position; median and best tenth
  blank below :data:`~jicai.analytics.deciles.MIN_PEERS_FOR_STATS` peers with a value);
* **saving** (cost per DDD only) — DDDs × (cost per DDD − the peers' best tenth) when positive, else 0: the ¥
  saved buying at the peers' 10th-percentile cost (OpenPrescribing's price-per-unit savings); blank when the
  best tenth is;
* **summary** — the row in one Chinese sentence.

An institution user sees only its own rows, computed among all its peers: the peers' count, the median and
the best tenth, never another institution's name or value. Aggregation is Ibis on every engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import ibis
import ibis.expr.types as ir

from jicai.analytics.alert_text import yuan_text
from jicai.analytics.deciles import PeerGroup, peer_group, ranked
from jicai.analytics.peer_metrics import METRICS
from jicai.contract.columns import col
from jicai.errors import BilingualError
from jicai.measures.monitor import monitor
from jicai.measures.registry import Dims, Measure
from jicai.policy import Policy, load_policy
from jicai.store import Warehouse

BASIS = {"level": ("同级机构", "institutions of the same level"),
         "group": ("自选对比组", "a peer group saved by the user")}
LEVEL_ZH = {3: "三级", 2: "二级", 1: "一级", 0: "未定级"}

COLUMNS = (
    col("institution_code"), col("institution_name"), col("region_code"), col("level"),
    col("metric", "排名指标", "the figure ranked (the measure lists them with low_is_good)", "enum"),
    col("item", "比较对象", "batch, variety or ATC class the figure is of; blank for the institution's overall figure",
        "code"),
    col("item_name", "比较对象名称", "name of the batch, variety or class", "text"),
    col("low_is_good", "越低越好", "true when a lower value is better (the rank puts the lowest first)", "bool"),
    col("value", "指标值", "the institution's figure, in the metric's unit (a share as a fraction; summary writes it)",
        "score"),
    col("peer_basis", "比较范围", "level: the institutions of the same level; group: the saved peer group", "enum"),
    col("peer_group", "对比组", "name of the saved peer group (blank for the level)", "text"),
    col("peers", "比较机构数", "institutions ranked on the figure and item (level or group), the institution included",
        "int"),
    col("rank", "排名", "1 + peers with a better value: 1 = best (ties share the best rank of their run)", "rank"),
    col("decile", "十分位", "min(10, ⌊10 × (rank − 1) / (peers − 1)⌋ + 1): 1 = best tenth … 10 = worst; null with "
        "fewer than 2 peers", "int"),
    col("peer_median", "比较范围中位值", "median value of the peers with a value (mean of the two middle ones for an "
        "even count); null with fewer than 6", "score"),
    col("peer_best_tenth", "前10%水平", "value of the ⌈m / 10⌉-th best of the m peers with a value (nearest rank, "
        "the good direction); null with fewer than 6", "score"),
    col("saving", "可节省金额", "cost_per_ddd only: DDDs × (value − peer_best_tenth) when positive, else 0", "money"),
    col("summary", "说明", "the row in one Chinese sentence, values in their units", "text"),
)
LABELS = {"metric": {m.name: (m.zh, f"{m.en} ({'low' if m.low_is_good else 'high'} is good)")
                     for m in METRICS.values()},
          "peer_basis": BASIS}
ROLES = ("admin", "bureau", "auditor", "institution")


class DecilesError(BilingualError, ValueError):
    """An unknown metric or an empty peer group."""


def _tenths(x: ir.NumericValue) -> ir.StringValue:
    t = (x.abs() * 10.0 + 0.5).floor().cast("int64")
    return ibis.ifelse(x < 0, "-", "") + (t // 10).cast("string") + "." + (t % 10).cast("string")


def value_text(unit: ir.StringValue, x: ir.NumericValue) -> ir.StringValue:
    """``x`` in its unit: 85.0%, ¥48,210, ¥0.20, 92.5分, 3个月 (the same on every engine: integers first)."""
    cents = (x * 100.0 + 0.5).floor().cast("int64")
    text = ibis.cases(
        (unit == "rate", _tenths(x * 100.0) + "%"),
        (unit == "money", yuan_text(x)),
        (unit == "price", "¥" + (cents // 100).cast("string") + "." + (cents % 100).cast("string").lpad(2, "0")),
        (unit == "score", _tenths(x) + "分"),
        else_=(x + 0.5).floor().cast("int64").cast("string") + "个月",
    )
    return ibis.ifelse(x.isnull(), ibis.null("string"), text)


def _values(wh: Warehouse, as_of: date, policy: Policy, metrics: Sequence[str],
            monitoring: ir.Table | None) -> ir.Table:
    """The metrics' values, one table, computed once: every query after it reads rows, not nine measures."""
    if monitoring is None and any(METRICS[n].monitored for n in metrics):
        monitoring = wh.freeze(monitor(wh, as_of, None, policy))  # six metrics read it: computed once
    parts = []
    for name in metrics:
        m = METRICS[name]
        t = m.source(wh, as_of, policy, monitoring if m.monitored else None)
        # the key orders best first: the value, or minus it where high is good; no value sorts last
        key = t.value if m.low_is_good else -t.value
        parts.append(t.mutate(metric=ibis.literal(name), low_is_good=ibis.literal(m.low_is_good),
                              unit=ibis.literal(m.unit), key=key.fill_null(1e300)))
    return wh.freeze(ibis.union(*parts) if len(parts) > 1 else parts[0])


def _summary(t: ir.Table) -> ir.StringValue:
    name = t.metric.substitute({k: m.zh for k, m in METRICS.items()})
    item = ibis.ifelse(t.item == "", "", "(" + t.item_name + ")")
    level = t.level.substitute(LEVEL_ZH, else_="未定级")
    group = ibis.ifelse(t.peer_group == "", "对比组", "对比组「" + t.peer_group + "」")  # a list of codes has no name
    basis = ibis.ifelse(t.peer_basis == "group", group, "同级(" + level + ")")
    value = value_text(t.unit, t.value).fill_null("未达标")
    way = ibis.ifelse(t.low_is_good, "越低越好", "越高越好")
    decile = ibis.ifelse(t.decile.isnull(), "", ",第" + t.decile.cast("string") + "十分位")
    stats = ibis.ifelse(t.peer_median.isnull(), ";比较机构不足6家,不显示中位值",
                        ";中位 " + value_text(t.unit, t.peer_median) + ",前10%水平 "
                        + value_text(t.unit, t.peer_best_tenth))
    saving = ibis.ifelse(t.saving.notnull() & (t.saving > 0), ";按前10%水平采购可节省 " + yuan_text(t.saving), "")
    return (name + item + " " + value + ":" + basis + " " + t.peers.cast("string") + " 家中排第 "
            + t.rank.cast("string") + decile + "(" + way + ")" + stats + saving)


def institution_deciles(wh: Warehouse, as_of: date, policy: Policy | None = None,
                        peers: PeerGroup | Sequence[str] | str | None = None, metric: str | None = None, *,
                        monitoring: ir.Table | None = None) -> ir.Table:
    """The rows of ``institution-deciles`` as of ``as_of``: every metric (or ``metric``), within each
    institution's level, or within ``peers`` (a :class:`PeerGroup`, or institution codes). ``monitoring``: the
    monitoring of every batch as of ``as_of`` (frozen), when the caller has it (the one-page summary)."""
    policy = policy or load_policy()
    if metric is not None and metric not in METRICS:
        raise DecilesError(f"没有这一排名指标:{metric}(可选 {'、'.join(METRICS)})",
                           f"no such metric: {metric} (one of {', '.join(METRICS)})")
    group = peer_group(peers)
    if group is not None and not group.members:
        raise DecilesError("对比组没有成员机构", "the peer group has no member institutions")
    t = _values(wh, as_of, policy, [metric] if metric else list(METRICS), monitoring)
    if group is None:
        t = t.mutate(peer_basis=ibis.literal("level"), peer_group=ibis.literal(""))
        partition = ["metric", "item", "level"]
    else:
        t = t.filter(t.institution_code.isin(list(group.members)))
        t = t.mutate(peer_basis=ibis.literal("group"), peer_group=ibis.literal(group.name))
        partition = ["metric", "item"]
    t = ranked(t, partition)
    over = t.value - t.peer_best_tenth
    t = t.mutate(saving=ibis.ifelse(t.weight.isnull() | t.peer_best_tenth.isnull(), ibis.null("float64"),
                                    ibis.ifelse(over > 0, t.weight * over, 0.0)))
    i = wh.table("institutions").select(i_code="institution_code", institution_name="name", region_code="region_code")
    t = t.left_join(i, t.institution_code == i.i_code).drop("i_code")
    t = t.mutate(summary=_summary(t))
    return t.select(*[c.name for c in COLUMNS])


def _union(*names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(n for ns in names for n in ns))


def _inputs_and_policy() -> tuple[tuple[str, ...], tuple[str, ...]]:
    from jicai.analytics import class_use, monthly
    from jicai.assess import assessment
    from jicai.measures import monitor

    inputs = _union(monitor.INPUT_TABLES, assessment.INPUT_TABLES, class_use.INPUT_TABLES, monthly.INPUT_TABLES)
    return inputs, _union(monitor.POLICY, assessment.POLICY, monthly.POLICY)


INPUT_TABLES, POLICY = _inputs_and_policy()

MEASURES = (
    Measure(
        warm=False,  # nine measures in one: computed when first asked for (web/warmup.py)
        name="institution-deciles", title_zh="机构十分位排名", title_en="Institution deciles on every ranking measure",
        compute=lambda wh, a: institution_deciles(wh, a.as_of, a.policy, a.peers),
        params=("as_of", "peers"), optional=("peers",), inputs=INPUT_TABLES, columns=COLUMNS,
        dims=Dims(institution="institution_code", region="region_code"), roles=ROLES, labels=LABELS,
        sort=("metric", "item", "level", "rank", "institution_code"), totals=("saving",),
        policy=POLICY,
        note_zh="每机构每项排名指标在同级(或自选对比组)中的排名、十分位、中位值与前10%水平;每DDD费用另给按前10%水平采购可节省的金额",
        note_en="per institution × ranking measure: rank, decile, peer median and best tenth within the level (or a "
                "saved peer group); for cost per DDD the ¥ saving at the peers' 10th percentile",
        doc=__doc__,
    ),
)
