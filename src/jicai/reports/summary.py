"""一页摘要 (one-page summary) of an institution or a region: its best and worst measures, what improved, its
alerts and the ¥ at stake — what a director reads before a meeting, printed on one A4 page.

Built from figures other modules compute, never from figures of its own:

* **measures** (表 ``measures``) — from the monitoring (:func:`jicai.measures.monitor.monitor`) as of D, per unit
  (an institution, or a region: the institutions whose ``region_code`` starts with its prefix):
  完成率 Σ selected / Σ agreed with the 序时进度 Σ (agreed × time progress) / Σ agreed beside it, 非中选占比
  Σ counted non-selected / (Σ selected + Σ counted), 回款率 Σ paid by due / Σ due; and the provisional
  annual assessment (:func:`jicai.assess.assessment.assess` as of D, each batch whose cycle year contains D):
  an institution's score, a region's pass rate. Each with the same figure at the end of the previous month
  (环比, for the monitoring's three) and its rank among the **peers**: institutions of the same level, or
  regions of the same tier (counties with counties, cities with cities); rank 1 = best, ties share the
  best rank; decile = min(10, ⌊10 × (rank − 1) / (n − 1)⌋ + 1) as in :mod:`jicai.analytics.savings`, none
  when n < 2. The **best** measure is the one with the lowest (rank − 1) / (n − 1), the **worst** the
  highest (ties: the table's order); a unit without peers has neither.
* **changes** (表 ``changes``) — the CUSUM events (:func:`jicai.analytics.change.change_events`) of the unit's
  institutions, improving first, then the latest start.
* **alerts** (表 ``alerts``) — :func:`jicai.analytics.alerts.alerts` of D's month for the unit, high severity
  first, then by ¥ at stake.
* **deciles** (表 ``deciles``, an institution only) — its rows of ``institution-deciles``
  (:func:`jicai.analytics.institution_deciles.institution_deciles`, level basis): every measure that ranks
  institutions (overall completion, non-selected share, payment rate, overdue amount, offline share, the
  assessment score per batch, the cost per DDD per variety, the non-VBP alternatives' share per ATC class,
  the months to pass per batch) with its value, its decile among the same-level institutions with a value —
  1 = the best tenth in the measure's good direction (``low_is_good``), 10 = the worst — and their count;
  measures in that order, within one the worst decile first. The last paragraph counts the measures in the
  best and the worst three tenths and names the worst.
* **¥ at stake** — Σ of the alerts' ``stake_amount`` and, apart (the two overlap: a non-selected purchase can
  be in both), the cost-per-DDD saving at the peers' 10th percentile
  (:func:`jicai.analytics.savings.savings_by_institution`).

The aggregation is Ibis on the warehouse's engine; ranks are taken in Python on the per-unit rows (one row
per institution of the province, or per region: a few thousand at most). Every list is cut to what fits one
A4 page (``html_limit``); the workbook holds every row.

What several parts read is computed once per report: the monitoring as of D (frozen: the measures, the
assessments, the alerts and the deciles read its rows — compiling it into each of their queries took longer
than running it) and change detection (the changes and the alerts' lasting deteriorations).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir

from jicai import clock
from jicai.contract.regions import full_code, region_name
from jicai.measures.monitor import monitor
from jicai.measures.progress import ratio
from jicai.policy import Policy, load_policy
from jicai.reports.documents import LEVELS, Column, Report, ReportError, Table, fixed
from jicai.store import Warehouse

if TYPE_CHECKING:
    from jicai.analytics.change import Detected

TITLE = {"institution": "医疗机构集采执行一页摘要", "region": "地区集采执行一页摘要"}
SEVERITY_ORDER = {"high": 0, "medium": 1}


@dataclass(frozen=True)
class Unit:
    """What a summary is about: an institution (``code``) or a region (its code prefix)."""

    kind: str  # institution / region
    code: str  # the institution's code, or the region's 6-digit code
    name: str
    prefix: str  # region: the prefix of its institutions' region_code (350100 → 3501); institution: ""
    level: int | None = None  # institution: its level
    region_code: str = ""  # institution: its region

    @property
    def label(self) -> str:
        return f"{self.name}({self.code})"


def region_prefix(code: str) -> str:
    """The prefix of the institutions' region codes a region holds: 350102 → 350102, 350100 → 3501, 350000 → 35.

    >>> region_prefix("350100"), region_prefix("3505"), region_prefix("350102"), region_prefix("350000")
    ('3501', '3505', '350102', '35')
    """
    c = full_code(code)
    return c[:2] if c.endswith("0000") else c[:4] if c.endswith("00") else c


def find_unit(wh: Warehouse, institution: str | None = None, region: str | None = None) -> Unit:
    """The institution or region asked for, with its name; ReportError when there is none such (or both/neither)."""
    if bool(institution) == bool(region):
        raise ReportError("请指定一家机构(--institution)或一个地区(--region),二者选一",
                          "give either --institution or --region")
    inst = wh.table("institutions")
    if institution:
        rows = inst.filter(inst.institution_code == institution).select("name", "level", "region_code")
        found = rows.to_pyarrow().to_pylist()
        if not found:
            raise ReportError(f"未找到机构:{institution}", f"no such institution: {institution}")
        r = found[0]
        return Unit("institution", institution, r["name"] or institution, "",
                    None if r["level"] is None else int(r["level"]), r["region_code"] or "")
    code = str(region).strip()
    if not (code.isdigit() and len(code) in (2, 4, 6)):
        raise ReportError(f"地区代码应为 6 位行政区划代码:{region}", f"a region is a 6-digit division code: {region}")
    code = full_code(code)
    prefix = region_prefix(code)
    n = inst.filter(inst.region_code.startswith(prefix)).count().to_pyarrow().as_py()
    if not n:
        raise ReportError(f"该地区没有医疗机构:{code}", f"no institution in region {code}")
    names = {r["region_code"]: r["name"] for r in wh.table("regions").select("region_code", "name").to_pyarrow()
             .to_pylist()} if wh.has_table("regions") else {}
    return Unit("region", code, region_name(code, names) or code, prefix)


# -- formatting -------------------------------------------------------------------------------------------

def pct(x: float | None) -> str:
    return "—" if x is None else f"{fixed(x * 100, 1)}%"


def points(x: float | None) -> str:
    """A change of a ratio in 百分点: +2.0 个百分点."""
    if x is None:
        return "—"
    s = fixed(x * 100, 1)
    return f"{'+' if not s.startswith('-') and s != '0.0' else ''}{s} 个百分点"


def yuan(x: float | None) -> str:
    return "—" if x is None else f"¥{fixed(x, 2, sep=True)}"


# -- figures per unit -------------------------------------------------------------------------------------

def _prev_month_end(d: date) -> date:
    return d.replace(day=1) - timedelta(days=1)


def unit_figures(m: ir.Table, unit: Unit) -> ir.Table:
    """One row per unit of ``unit``'s kind (every institution, or every region of the same tier) from the
    monitoring ``m`` of every batch: ``key``, ``peer_group`` (institutions: the level), completion,
    time_progress, nonselected_share, payment_rate, overdue_amount."""
    if unit.kind == "institution":
        m = m.mutate(key=m.institution_code, peer_group=m.level.cast("string"))
    else:
        m = m.mutate(key=m.region_code.substr(0, len(unit.prefix)), peer_group=ibis.literal(""))
    g = m.group_by(["key", "peer_group"]).agg(
        agreed=m.agreed_volume.sum(), selected=m.selected_volume.sum(), paced=(m.agreed_volume * m.time_progress).sum(),
        counted=m.nonselected_counted_volume.sum(), due=m.amount_due.sum(), paid=m.paid_by_due.sum(),
        overdue_amount=m.overdue_amount.sum())
    return g.select("key", "peer_group", "overdue_amount", completion=ratio(g.selected, g.agreed),
                    time_progress=ratio(g.paced, g.agreed), nonselected_share=ratio(g.counted, g.selected + g.counted),
                    payment_rate=ratio(g.paid, g.due))


def _rows(t: ir.Table) -> list[dict[str, Any]]:
    return t.to_pyarrow().to_pylist()


def rank_among(rows: list[dict[str, Any]], key: str, figure: str, higher_is_better: bool) -> tuple[int, int] | None:
    """(rank, peers) of ``key`` by ``figure`` among ``rows`` (its peers, itself included; rows without the figure
    are not ranked): rank 1 = best, ties share the best rank.

    >>> rows = [{"key": "a", "x": 0.5}, {"key": "b", "x": 0.9}, {"key": "c", "x": 0.5}, {"key": "d", "x": None}]
    >>> rank_among(rows, "a", "x", True), rank_among(rows, "b", "x", True), rank_among(rows, "a", "x", False)
    ((2, 3), (1, 3), (1, 3))
    """
    valued = [r for r in rows if r.get(figure) is not None]
    mine = next((r for r in valued if r["key"] == key), None)
    if mine is None:
        return None
    v = mine[figure]
    better = sum(1 for r in valued if (r[figure] > v if higher_is_better else r[figure] < v))
    return better + 1, len(valued)


def decile(rank: int, n: int) -> int | None:
    """min(10, ⌊10 × (rank − 1) / (n − 1)⌋ + 1); none for fewer than two peers.

    >>> decile(1, 5), decile(3, 5), decile(5, 5), decile(1, 1)
    (1, 6, 10, None)
    """
    if n < 2:
        return None
    return min(10, (10 * (rank - 1)) // (n - 1) + 1)


@dataclass
class Measured:
    """One line of the measures table."""

    zh: str
    value: str
    previous: str = "—"
    change: str = "—"
    reference: str = ""
    rank: tuple[int, int] | None = None
    delta: float | None = None  # the change in the good direction (> 0 improved), for the paragraph

    @property
    def position(self) -> float | None:
        """(rank − 1) / (n − 1): 0 = the best of its peers, 1 = the worst."""
        if not self.rank or self.rank[1] < 2:
            return None
        return (self.rank[0] - 1) / (self.rank[1] - 1)

    def row(self) -> dict[str, Any]:
        r, n = self.rank or (None, None)
        d = decile(r, n) if r else None
        return {"measure": self.zh, "value": self.value, "previous": self.previous, "change": self.change,
                "reference": self.reference, "rank": f"{r}/{n}" if r else "—", "decile": f"第 {d} 十分位" if d else "—"}


MONITORED = (("completion", "完成率", True), ("nonselected_share", "非中选占比", False),
             ("payment_rate", "回款率", True))


def _peers(rows: list[dict[str, Any]], unit: Unit, key: str) -> list[dict[str, Any]]:
    mine = next((r for r in rows if r["key"] == key), None)
    return [r for r in rows if mine is not None and r["peer_group"] == mine["peer_group"]]


def monitored_measures(wh: Warehouse, as_of: date, policy: Policy, unit: Unit,
                       monitoring: ir.Table | None = None) -> list[Measured]:
    """``monitoring``: the monitoring of every batch as of ``as_of``, when the caller has it (frozen)."""
    key = unit.code if unit.kind == "institution" else unit.prefix
    m = monitoring if monitoring is not None else monitor(wh, as_of, None, policy)
    now = _peers(_rows(unit_figures(m, unit)), unit, key)
    before = _rows(unit_figures(monitor(wh, _prev_month_end(as_of), None, policy), unit))
    mine = next((r for r in now if r["key"] == key), {})
    prev = next((r for r in before if r["key"] == key), {})
    cap = float(policy.value("nonselected_share_max", on=as_of))
    refs = {"completion": f"序时进度 {pct(mine.get('time_progress'))}", "nonselected_share": f"上限 {pct(cap)}",
            "payment_rate": f"逾期未回款 {yuan(mine.get('overdue_amount') or 0.0)}"}
    out = []
    for name, zh, higher in MONITORED:
        v, p = mine.get(name), prev.get(name)
        delta = None if v is None or p is None else (v - p) * (1 if higher else -1)
        out.append(Measured(zh, pct(v), pct(p), points(None if delta is None else v - p), refs[name],
                            rank_among(now, key, name, higher), delta))
    return out


def assessment_measures(wh: Warehouse, as_of: date, policy: Policy, unit: Unit,
                        monitoring: ir.Table | None = None) -> list[Measured]:
    """The provisional assessment as of D of each batch whose cycle year contains D: an institution's score and
    verdict, a region's pass rate, ranked among the peers. ``monitoring``: as in :func:`monitored_measures`."""
    from jicai.assess.assessment import assess
    from jicai.measures.cycles import cycle_calendar

    out = []
    cal = cycle_calendar(wh.table("batches"), as_of).select("batch_id", "cycle_year")
    for b in sorted(_rows(cal), key=lambda r: r["batch_id"]):
        a = assess(wh, b["batch_id"], int(b["cycle_year"]), policy, as_of, monitoring)
        label = f"预考核 {b['batch_id']} 第{int(b['cycle_year'])}年度"
        if unit.kind == "institution":
            a = a.filter(a.level == unit.level) if unit.level is not None else a.filter(a.level.isnull())
            rows = [{"key": r["institution_code"], "score": r["score"], "passed": r["passed"],
                     "why": r["failed_items_zh"]} for r in _rows(a.select("institution_code", "score", "passed",
                                                                          "failed_items_zh"))]
            mine = next((r for r in rows if r["key"] == unit.code), None)
            if mine is None:
                continue
            verdict = "合格" if mine["passed"] else f"不合格:{mine['why']}"
            out.append(Measured(f"{label}得分", "—" if mine["score"] is None else fixed(mine["score"], 1),
                                reference=verdict, rank=rank_among(rows, unit.code, "score", True)))
        else:
            a = a.mutate(key=a.region_code.substr(0, len(unit.prefix)))
            g = a.group_by("key").agg(n=a.count(), passed=a.passed.cast("int64").sum())
            rows = [{"key": r["key"], "rate": r["passed"] / r["n"] if r["n"] else None, "n": r["n"],
                     "passed": r["passed"]} for r in _rows(g)]
            mine = next((r for r in rows if r["key"] == unit.prefix), None)
            if mine is None:
                continue
            out.append(Measured(f"{label}合格率", pct(mine["rate"]),
                                reference=f"{mine['passed']}/{mine['n']} 家合格",
                                rank=rank_among(rows, unit.prefix, "rate", True)))
    return out


def _in_unit(t: ir.Table, unit: Unit) -> ir.Table:
    if unit.kind == "institution":
        return t.filter(t.institution_code == unit.code)
    return t.filter(t.region_code.startswith(unit.prefix))


# -- the tables ---------------------------------------------------------------------------------------------

MEASURE_COLUMNS = [Column("measure", "指标", "measure"), Column("value", "本期", "as of the date"),
                   Column("previous", "上月末", "at the end of the previous month"),
                   Column("change", "环比变化", "change since the previous month end"),
                   Column("reference", "参照", "time progress, the policy's maximum, the overdue amount, the verdict"),
                   Column("rank", "同级排名", "rank among the peers (1 = best) / number of peers"),
                   Column("decile", "同级十分位", "decile among the peers, 1 = the best tenth")]
DECILE_COLUMNS = [Column("metric", "排名指标", "the measure ranked"),
                  Column("item", "比较对象", "batch, variety or ATC class; 全部 for the institution's overall figure"),
                  Column("value", "本期", "the institution's figure as of the date"),
                  Column("decile", "同级十分位", "decile among the institutions of the same level with a value "
                         "(1 = the best tenth) and their count"),
                  Column("peer_median", "同级中位", "median of those peers (blank below 6)"),
                  Column("direction", "好坏方向", "higher is better / lower is better")]
CHANGE_COLUMNS = [Column("institution_name", "机构", "institution"), Column("series", "指标", "series"),
                  Column("direction", "方向", "improving / deteriorating"),
                  Column("change_start", "起始月", "month the change started"),
                  Column("rule", "说明", "the event in one sentence")]
ALERT_COLUMNS = [Column("institution_name", "机构", "institution"), Column("severity", "级别", "severity"),
                 Column("alert_kind", "类型", "kind"), Column("message", "预警内容与建议", "what to do"),
                 Column("stake_amount", "涉及金额(元)", "yuan at stake", "money", total=True)]


def change_rows(events: list[dict[str, Any]], unit: Unit) -> list[dict[str, Any]]:
    """The unit's rows of the change events (:func:`jicai.analytics.change.detect`)."""
    from jicai.analytics.change import DIRECTIONS, SERIES_LABELS

    if unit.kind == "institution":
        ev = [r for r in events if r["institution_code"] == unit.code]
    else:
        ev = [r for r in events if (r["region_code"] or "").startswith(unit.prefix)]
    ev.sort(key=lambda r: (r["direction"] != "improving", _neg_month(r["change_start"]), r["institution_code"],
                           r["series"]))
    return [{"institution_name": r["institution_name"], "series": SERIES_LABELS[r["series"]][0],
             "direction": DIRECTIONS[r["direction"]][0], "change_start": r["change_start"], "rule": r["rule"]}
            for r in ev]


def _metric_value(unit: str, x: float | None) -> str:
    """A ranking measure's figure in its unit (:data:`jicai.analytics.peer_metrics.METRICS`); the one ranked
    without a value is the months to pass of an institution that never passed."""
    if x is None:
        return "未达标"
    if unit == "rate":
        return pct(x)
    if unit == "money":
        return yuan(x)
    if unit == "price":
        return f"¥{fixed(x, 2)}"
    if unit == "score":
        return f"{fixed(x, 1)}分"
    return f"{fixed(x, 0)}个月"


def decile_text(decile: int | None, peers: int) -> str:
    """第 3 十分位(同级 24 家); a measure with no other institution of the level has no decile.

    >>> decile_text(3, 24), decile_text(None, 1)
    ('第 3 十分位(同级 24 家)', '不排名(同级仅 1 家)')
    """
    return f"第 {decile} 十分位(同级 {peers} 家)" if decile is not None else f"不排名(同级仅 {peers} 家)"


def decile_rows(wh: Warehouse, as_of: date, policy: Policy, unit: Unit,
                monitoring: ir.Table | None = None) -> list[dict[str, Any]]:
    """The institution's rows of ``institution-deciles`` within its level (see the module docstring), each with
    ``_decile`` (the number, for the paragraph)."""
    from jicai.analytics.institution_deciles import institution_deciles
    from jicai.analytics.peer_metrics import METRICS

    d = institution_deciles(wh, as_of, policy, monitoring=monitoring)
    d = d.filter(d.institution_code == unit.code).select("metric", "item", "item_name", "value", "peers", "decile",
                                                         "peer_median")
    order = {name: i for i, name in enumerate(METRICS)}
    rows = sorted(_rows(d), key=lambda r: (order[r["metric"]], -(r["decile"] or 0), r["item_name"] or "",
                                           r["item"]))
    out = []
    for r in rows:
        m = METRICS[r["metric"]]
        out.append({"metric": m.zh, "item": (r["item_name"] or r["item"]) if r["item"] else "全部",
                    "value": _metric_value(m.unit, r["value"]), "decile": decile_text(r["decile"], r["peers"]),
                    "peer_median": "—" if r["peer_median"] is None else _metric_value(m.unit, r["peer_median"]),
                    "direction": "越低越好" if m.low_is_good else "越高越好", "_decile": r["decile"]})
    return out


def _deciles_said(rows: list[dict[str, Any]]) -> str:
    """The deciles in one paragraph, bounded to fit the page: each measure with one row (the overall figures, the
    score of the one batch) by its value and decile; one with several (a cost per DDD per variety) by how many of
    them are in the worst three tenths — the workbook's list names them, the worst first. The good direction of
    the measures is said once."""
    from jicai.analytics.peer_metrics import METRICS

    if all(r["_decile"] is None for r in rows):
        return "同级十分位:同级机构不足两家,各排名指标均不排名。"
    by_metric: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_metric.setdefault(r["metric"], []).append(r)
    said = []
    for metric, items in by_metric.items():  # in the measures' order
        if len(items) == 1:
            r = items[0]
            said.append(f"{metric}{'' if r['item'] == '全部' else '(' + r['item'] + ')'} {r['value']} {r['decile']}")
        else:
            low = sum(1 for r in items if (r["_decile"] or 0) >= 8)
            said.append(f"{metric} {len(items)} 项中第 8–10 十分位 {low} 项")
    higher = "、".join(m.zh for m in METRICS.values() if not m.low_is_good)
    return f"同级十分位(1 为最好、10 为最差;{higher}越高越好,其余越低越好):" + ";".join(said) + "。"


def _neg_month(m: str) -> int:
    """A YYYY-MM month sorted latest first."""
    y, mo = m.split("-")
    return -(int(y) * 12 + int(mo))


def alert_rows(wh: Warehouse, as_of: date, policy: Policy, unit: Unit, monitoring: ir.Table | None = None,
               detected: Detected | None = None) -> list[dict[str, Any]]:
    """The unit's alerts; ``monitoring`` and ``detected`` as the caller has them (see :func:`summary_report`)."""
    from jicai.analytics.alerts import KINDS, SEVERITY, alerts

    rows = _rows(_in_unit(alerts(wh, as_of, policy, monitoring=monitoring, detected=detected), unit))
    rows.sort(key=lambda r: (SEVERITY_ORDER.get(r["severity"], 9), -(r["stake_amount"] or 0.0), r["alert_key"]))
    return [{"institution_name": r["institution_name"], "severity": SEVERITY[r["severity"]][0],
             "alert_kind": KINDS[r["alert_kind"]][0], "message": r["message"], "stake_amount": r["stake_amount"],
             "high": r["severity"] == "high"} for r in rows]


def savings_of(wh: Warehouse, as_of: date, policy: Policy, unit: Unit) -> float:
    from jicai.analytics.savings import savings_by_institution

    s = _in_unit(savings_by_institution(wh, as_of, policy), unit)
    total = s.aggregate(saving=s.saving.sum()).to_pyarrow().to_pylist()[0]["saving"]
    return round(float(total or 0.0), 2)


# -- the report ---------------------------------------------------------------------------------------------

def _best_worst(ms: list[Measured]) -> str:
    ranked = [m for m in ms if m.position is not None]
    if all(m.value == "—" for m in ms):
        return "截至该日尚无执行数据(没有执行中的采购年度或约定采购量)。"
    if not ranked:
        return "同级可比对象不足两个,各项指标未排名。"
    best = min(ranked, key=lambda m: m.position)  # min/max keep the first of equals: the table's order
    worst = max(ranked, key=lambda m: m.position)

    def said(m: Measured) -> str:
        r, n = m.rank
        return f"{m.zh} {m.value}(同级第 {r}/{n} 名,第 {decile(r, n)} 十分位)"

    if best is worst or best.position == worst.position:
        return f"各项指标在同级中位置相同:{said(best)}。"
    return f"表现最好:{said(best)};最需改进:{said(worst)}。"


def _improved(ms: list[Measured], changes: list[dict[str, Any]]) -> str:
    better = [f"{m.zh} {m.change}" for m in ms if m.delta is not None and m.delta > 0]
    worse = [f"{m.zh} {m.change}" for m in ms if m.delta is not None and m.delta < 0]
    text = ("较上月末改善:" + "、".join(better)) if better else "较上月末没有改善的指标"
    if worse:
        text += ";变差:" + "、".join(worse)
    n_up = sum(1 for c in changes if c["direction"] == "改善")
    text += f"。持续变化监测(CUSUM):改善 {n_up} 项、恶化 {len(changes) - n_up} 项。"
    return text


def summary_report(wh: Warehouse, as_of: date, institution: str | None = None, region: str | None = None,
                   policy: Policy | None = None, computed_at: datetime | None = None) -> Report:
    """The one-page summary of ``institution`` or ``region`` as of ``as_of`` (see the module docstring)."""
    from jicai.analytics import change

    policy = policy or load_policy()
    unit = find_unit(wh, institution, region)
    # What several parts read is computed once: the monitoring as of D (the measures, the assessments, the
    # alerts, the deciles; compiling it into each of their queries cost more than running it) and change
    # detection (the changes and the alerts' lasting deteriorations).
    monitoring = wh.freeze(monitor(wh, as_of, None, policy))
    detected = change.detect(wh, as_of, policy)
    ms = (monitored_measures(wh, as_of, policy, unit, monitoring)
          + assessment_measures(wh, as_of, policy, unit, monitoring))
    deciles = decile_rows(wh, as_of, policy, unit, monitoring) if unit.kind == "institution" else None
    changes = change_rows(detected[1], unit)
    alerts = alert_rows(wh, as_of, policy, unit, monitoring, detected)
    stake = round(sum(a["stake_amount"] or 0.0 for a in alerts), 2)
    saving = savings_of(wh, as_of, policy, unit)
    high = sum(1 for a in alerts if a["high"])
    if unit.kind == "institution":
        who = f"{unit.label},{LEVELS.get(unit.level, '未定级') if unit.level is not None else '未定级'}医疗机构"
        peers = "同级(同等级)医疗机构"
    else:
        who = f"{unit.label}"
        peers = "同级行政区划"
    paragraphs = [
        f"{who}:截至 {as_of.isoformat()} 的集采执行情况,排名对象为全省{peers}。",
        _best_worst(ms),
        _improved(ms, changes),
        f"本月预警 {len(alerts)} 条(高 {high} 条),涉及金额 {yuan(stake)};按同级第10百分位每DDD费用采购可节省 "
        f"{yuan(saving)}(两者可能重叠,不相加)。",
    ]
    if deciles is not None:
        paragraphs.append(_deciles_said(deciles))
    headline = [(m.zh, m.value) for m in ms[:3]] + [("预警", f"{len(alerts)} 条"), ("预警涉及金额", yuan(stake)),
                                                     ("节省潜力", yuan(saving))]
    alert_cols = ALERT_COLUMNS if unit.kind == "region" else ALERT_COLUMNS[1:]
    change_cols = CHANGE_COLUMNS if unit.kind == "region" else CHANGE_COLUMNS[1:]
    tables = [
        Table("measures", "主要指标与同级排名", MEASURE_COLUMNS, [m.row() for m in ms],
              note="排名1为最好;十分位1为同级最好的十分之一;环比为与上月末之差"),
        # on the page as the last paragraph (a list would not leave room for the alerts): here for the workbook
        *([Table("deciles", "同级十分位排名", DECILE_COLUMNS,
                 [{k: v for k, v in r.items() if k != "_decile"} for r in deciles],
                 note="同级为同等级医疗机构中有该指标数值的机构;十分位1为按好坏方向最好的十分之一,10为最差"
                      "(越高越好的指标数值最高者为1);按指标排列,同一指标内先列最差的",
                 on_page=False)] if deciles is not None else []),
        Table("changes", "持续变化(CUSUM)", change_cols, changes, note="先列改善,再列恶化;各按起始月从近到远",
              html_limit=4),
        Table("alerts", "预警与行动建议", alert_cols, [{k: v for k, v in a.items() if k != "high"} for a in alerts],
              totals={"stake_amount": stake} if alerts else None, note="先列高级别,再按涉及金额从大到小",
              html_limit=6),
    ]
    return Report(
        kind="summary", title=TITLE[unit.kind], period=f"{unit.name} · {as_of.year}年{as_of.month}月", as_of=as_of,
        batch_id=None, policy_version=policy.version, policy_label=policy.label,
        computed_at=computed_at or clock.stamp(), paragraphs=paragraphs, headline=headline, tables=tables,
        notes=["完成率、非中选占比、回款率为该机构(地区)全部约定品种的合计量之比;预考核为截至报告日的年度考核预测算。"],
        params={"unit": unit.kind, "code": unit.code, "as_of": as_of},
    )
