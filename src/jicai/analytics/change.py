"""Change detection (变化监测): CUSUM per institution on its monthly series → 恶化 / 改善 events.

Each institution's monthly series (:data:`SERIES`) is watched with OpenPrescribing's CUSUM
(:mod:`jicai.analytics.cusum`; window ``change_window_months``, threshold ``change_threshold_sd``, allowance
``change_allowance_sd``, at least ``change_min_months`` months of data in a reference window). A run of alarm
months is an **event**: 恶化 (deteriorating) when the series moved the bad way — a falling completion
percentile, a rising non-selected share — 改善 (improving) otherwise, with the month the change started (the
first month of the run of positive sums that led to the alarm), the month it crossed the threshold, the value
then, the reference mean, standard deviation and threshold, and whether it is still going on at the as-of date.

The series, per institution i and calendar month m from the batch starts through the as-of date D
(:mod:`jicai.analytics.monthly`; the monitoring's classes and exclusions, agreed varieties only):

* ``completion_percentile`` — 月度完成率同级百分位: i's monthly completion = Σ selected volume bought in m /
  Σ agreed volume due in m (each cycle year's agreed volume spread over its days), over the batches with an
  agreement in force in m; its percentile among the institutions of the same level with a completion that
  month, 100 × (rank − 1) / (peers − 1), ties at their lowest rank (SQL ``percent_rank``). No value with
  fewer than 2 peers. Higher is better. σ floor 1 percentile point.
* ``nonselected_share`` — 非中选占比 of the month, in percent: 100 × Σ counted non-selected / Σ (selected +
  counted non-selected), none when nothing counted was bought. Lower is better. σ floor 1 percentage point.

* ``cost_per_ddd`` — 每DDD费用(日均费用) of the month, in yuan: Σ accepted amount / Σ DDDs of i's purchases
  in m of every product with DDDs in an ATC class holding a VBP variety (selected, non-selected and non-VBP
  alike: :mod:`jicai.analytics.class_use`), none when no such DDDs were bought. Lower is better: a rise is
  dearer products or a move to non-VBP alternatives. σ floor ¥0.01.

A month without a value (no purchase of agreed varieties; no agreement in force) is skipped, not zero.

**Bound.** The aggregation runs on the warehouse's engine (Ibis); only the result — one row per institution ×
month with a value, e.g. 10^4 institutions × 60 months = 6 × 10^5 rows of a few numbers — comes to Python,
where the CUSUM walks each institution's series once per series (time ∝ rows × window).

>>> from jicai.store import connect
>>> from jicai.contract.arrow import empty
>>> from jicai.contract.tables import TABLES
>>> from datetime import date
>>> wh = connect("duckdb://")
>>> for name in TABLES: _ = wh.write_table(name, empty(name))
>>> change_events(wh, date(2024, 6, 30)).to_pyarrow().num_rows
0
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import ibis
import ibis.expr.types as ir

from jicai.analytics import cusum as cs
from jicai.analytics.class_use import class_use
from jicai.analytics.ddd import product_ddd
from jicai.analytics.monthly import INPUT_TABLES, KEYS, monthly_classes, monthly_expected, started_batches
from jicai.analytics.substitution import vbp_classes
from jicai.calendar import month_label, shift_month
from jicai.contract.columns import cols
from jicai.errors import BilingualError
from jicai.measures.progress import ratio
from jicai.measures.registry import Dims, Measure
from jicai.policy import Policy, load_policy
from jicai.store import Warehouse

PARAMETERS = ("change_window_months", "change_threshold_sd", "change_allowance_sd", "change_min_months")
POLICY = (*PARAMETERS, "volume_basis", "payment_due", "backup_substitution", "supply_problem_exclusion",
          "special_treatment")
INST = ("institution_code", "institution_name", "region_code", "level")


class ChangeError(BilingualError, ValueError):
    """The change-detection parameters cannot work together."""


@dataclass(frozen=True)
class Series:
    """One monthly series watched per institution: declared once, here; :data:`SERIES` lists them.

    ``value(t)`` is its value on the monthly table (one row per institution × month, with the institution's
    level and the monthly sums of :func:`monthly_table`), null when the month has none; ``extend`` may first
    join further monthly columns (the DDD costs of the cost-per-DDD series).
    """

    name: str
    zh: str
    en: str
    low_is_good: bool
    sd_floor: float  # the smallest σ believed: below it the series is flat, and a tiny move is no change
    value: Callable[[ir.Table], ir.NumericValue]
    unit: str = ""  # after a value: "%"
    points: str = ""  # after a difference or σ: "个百分点"
    prefix: str = ""  # before a value: "第"
    suffix: str = ""  # after a value when unit is empty: " 百分位"
    extend: Callable[[Warehouse, date, Policy, ir.Table], ir.Table] | None = None
    digits: int = 1  # decimals shown in the event's sentence (yuan per DDD need 2)

    def show(self, v: float) -> str:
        return f"{self.prefix}{v:.{self.digits}f}{self.unit}{self.suffix}"


def _completion_percentile(t: ir.Table) -> ir.NumericValue:
    c = ratio(t.selected_in_force, t.expected_volume)
    peers = ibis.window(group_by=[t.level, t.month_first, c.isnull()], order_by=c)
    rank = ibis.percent_rank().over(peers)
    n = c.count().over(ibis.window(group_by=[t.level, t.month_first]))
    return ibis.ifelse(c.isnull() | (n < 2), ibis.null("float64"), 100.0 * rank.cast("float64"))


def _nonselected_share(t: ir.Table) -> ir.NumericValue:
    den = t.selected_volume + t.nonselected_counted_volume
    return ibis.ifelse(den > 0, 100.0 * t.nonselected_counted_volume / den, ibis.null("float64"))


def _with_ddd_costs(wh: Warehouse, as_of: date, policy: Policy, t: ir.Table) -> ir.Table:
    """``t`` with ``ddd_amount`` and ``ddd_total`` of the month: accepted amount and DDDs of the products with
    DDDs in a class holding a VBP variety (null when none), from the first batch start through the as-of date."""
    b = started_batches(wh, as_of)
    first = b.start_date.min().to_pyarrow().as_py()
    if first is None:  # no batch has started: the monthly table is empty too
        return t.mutate(ddd_amount=ibis.null("float64"), ddd_total=ibis.null("float64"))
    pd = product_ddd(wh)
    u = class_use(wh, first.replace(day=1), as_of, pd)
    u = u.filter(u.ddd.notnull()).semi_join(vbp_classes(wh, pd), "atc4")
    g = u.group_by(["institution_code", "month"]).agg(ddd_amount=u.amount.sum(), ddd_total=u.ddd.sum())
    g = g.rename(d_code="institution_code", d_month="month")
    return t.left_join(g, [t.institution_code == g.d_code, t.month_first == g.d_month]).drop("d_code", "d_month")


def _cost_per_ddd(t: ir.Table) -> ir.NumericValue:
    return ibis.ifelse(t.ddd_total > 0, t.ddd_amount / t.ddd_total, ibis.null("float64"))


SERIES: tuple[Series, ...] = (
    Series("completion_percentile", "月度完成率同级百分位", "monthly completion percentile among same-level peers",
           low_is_good=False, sd_floor=1.0, value=_completion_percentile, prefix="第 ", suffix=" 百分位",
           points=" 个百分位"),
    Series("nonselected_share", "非中选占比", "non-selected share of the month (%)", low_is_good=True,
           sd_floor=1.0, value=_nonselected_share, unit="%", points=" 个百分点"),
    Series("cost_per_ddd", "每DDD费用", "cost per DDD of the month (yuan), classes holding a VBP variety",
           low_is_good=True, sd_floor=0.01, value=_cost_per_ddd, unit=" 元", points=" 元", extend=_with_ddd_costs,
           digits=2),
)
BY_NAME = {s.name: s for s in SERIES}
SERIES_LABELS = {s.name: (s.zh, s.en) for s in SERIES}
DIRECTIONS = {"deteriorating": ("恶化", "deteriorating"), "improving": ("改善", "improving")}


def monthly_table(wh: Warehouse, as_of: date, policy: Policy) -> ir.Table:
    """One row per institution × month with a purchase or an agreed volume due: the monthly sums
    (``selected_volume``, ``nonselected_counted_volume``, ``expected_volume``, ``selected_in_force`` =
    selected volume of the batches with an agreed volume due that month) and the institution's name,
    region and level."""
    e = monthly_expected(wh, as_of)
    c = monthly_classes(wh, as_of, policy)
    zero = ibis.literal(0.0)
    u = e.select(*KEYS, expected_volume=e.expected_volume, selected_volume=zero, nonselected_counted_volume=zero)
    u = u.union(c.select(*KEYS, expected_volume=zero, selected_volume=c.selected_volume,
                         nonselected_counted_volume=c.nonselected_counted_volume))
    per_batch = u.group_by(KEYS).agg(expected_volume=u.expected_volume.sum(), selected_volume=u.selected_volume.sum(),
                                     nonselected_counted_volume=u.nonselected_counted_volume.sum())
    p = per_batch
    m = p.group_by(["institution_code", "month_first"]).agg(
        expected_volume=p.expected_volume.sum(),
        selected_in_force=ibis.ifelse(p.expected_volume > 0, p.selected_volume, 0.0).sum(),
        selected_volume=p.selected_volume.sum(),
        nonselected_counted_volume=p.nonselected_counted_volume.sum(),
    )
    i = wh.table("institutions")
    i = i.select("institution_code", institution_name=i.name, region_code=i.region_code,
                 level=i.level.cast("int64"))
    return m.left_join(i, "institution_code").drop("institution_code_right")


def series_values(wh: Warehouse, as_of: date, policy: Policy, series: tuple[Series, ...] = SERIES) -> ir.Table:
    """The value of every series per institution × month (one column per series): the Ibis part."""
    t = monthly_table(wh, as_of, policy)
    for s in series:
        if s.extend is not None:
            t = s.extend(wh, as_of, policy, t)
    return t.select(*INST, "month_first", **{s.name: s.value(t) for s in series})


def _parameters(policy: Policy, as_of: date) -> dict:
    p = {n: policy.value(n, on=as_of) for n in PARAMETERS}
    if p["change_min_months"] > p["change_window_months"]:
        raise ChangeError(
            f"变化监测参数有误:参考期最少有数据月数 {p['change_min_months']} 大于参考期月数 {p['change_window_months']}",
            f"change_min_months ({p['change_min_months']}) exceeds change_window_months ({p['change_window_months']})")
    return p


def _months(first: date, last: date) -> list[date]:
    out = []
    while first <= last:
        out.append(first)
        first = shift_month(first, 1)
    return out


# what detect() gives: (steps, events), rows of STEPS and of EVENTS as dicts
Detected = tuple[list[dict], list[dict]]


def detect(wh: Warehouse, as_of: date, policy: Policy | None = None,
           series: tuple[Series, ...] = SERIES) -> Detected:
    """(steps, events): every institution × series × month with its CUSUM state, and the events. A caller
    that shows the events and the alerts (the one-page summary) runs it once and passes the result on."""
    policy = policy or load_policy()
    p = _parameters(policy, as_of)
    rows = series_values(wh, as_of, policy, series).to_pyarrow().to_pylist()
    last = as_of.replace(day=1)
    by_inst: dict[str, list[dict]] = {}
    for r in rows:
        by_inst.setdefault(r["institution_code"], []).append(r)
    steps_out: list[dict] = []
    events_out: list[dict] = []
    for code in sorted(by_inst):
        inst_rows = by_inst[code]
        who = {k: inst_rows[0][k] for k in INST}
        for s in series:
            values = {r["month_first"]: float(r[s.name]) for r in inst_rows if r[s.name] is not None}
            if not values:
                continue
            months = _months(min(values), last)
            steps = cs.cusum([values.get(m) for m in months], window=p["change_window_months"],
                             threshold_sd=p["change_threshold_sd"], allowance_sd=p["change_allowance_sd"],
                             min_months=p["change_min_months"], sd_floor=s.sd_floor)
            for st in steps:
                steps_out.append({**who, "series": s.name, "month": month_label(months[st.index]),
                                  "series_value": st.value, "reference_mean": st.mean, "threshold": st.threshold,
                                  "cusum_up": st.up if st.mean is not None else None,
                                  "cusum_down": st.down if st.mean is not None else None,
                                  "direction": _direction(s, st.alarm) if st.alarm else None})
            for e in cs.events(steps):
                events_out.append({**who, **_event_row(s, e, months, p, ongoing=e.end == _last_valued(steps))})
    return steps_out, events_out


def _direction(s: Series, side: int) -> str:
    return "deteriorating" if (side > 0) == s.low_is_good else "improving"


def _last_valued(steps: list[cs.Step]) -> int:
    return max(st.index for st in steps if st.value is not None)


def _event_row(s: Series, e: cs.Event, months: list[date], p: dict, ongoing: bool) -> dict:
    start, alarm, end = (month_label(months[i]) for i in (e.start, e.alarm, e.end))
    moved = "上升" if e.side > 0 else "下降"
    d = s.digits
    tail = "仍在持续" if ongoing else f"持续至 {end}"
    rule = (f"{s.zh}自 {start} 起{moved},{alarm} 超过报警阈值:当月 {s.show(e.value)},参考均值 {s.show(e.mean)}"
            f"(前 {p['change_window_months']} 个月,标准差 {e.sd:.{d}f}{s.points}),累积和 {e.cusum:.{d}f}{s.points} > "
            f"阈值 {e.threshold:.{d}f}{s.points}({p['change_threshold_sd']:g} 倍标准差);{tail}")
    return {"series": s.name, "direction": _direction(s, e.side), "change_start": start, "alarm_month": alarm,
            "last_alarm_month": end, "alarm_months": e.months, "ongoing": ongoing, "series_value": e.value,
            "reference_mean": e.mean, "reference_sd": e.sd, "threshold": e.threshold, "cusum": e.cusum,
            "rule": rule}


EVENTS = cols(
    "institution_code", "institution_name", "region_code", "level", "series", "direction", "change_start",
    "alarm_month", "last_alarm_month", "alarm_months", "ongoing", "series_value", "reference_mean", "reference_sd",
    "threshold", "cusum", "rule",
    rule=("变化说明", "the event in one Chinese sentence: series, months, value, reference, threshold"),
)
STEPS = cols(
    "institution_code", "institution_name", "region_code", "level", "series", "month", "series_value",
    "reference_mean", "threshold", "cusum_up", "cusum_down", "direction",
    month=("月份", "calendar month of the series (YYYY-MM)"),
    direction=("报警方向", "deteriorating / improving when the month is in alarm; empty otherwise"),
)

_SCHEMA_TYPES = {"text": "string", "code": "string", "enum": "string", "month": "string", "level": "int64",
                 "int": "int64", "bool": "boolean", "score": "float64"}


def _table(rows: list[dict], columns) -> ir.Table:
    schema = {c.name: _SCHEMA_TYPES[c.kind] for c in columns}
    return ibis.memtable({c.name: [r[c.name] for r in rows] for c in columns}, schema=schema)


def change_events(wh: Warehouse, as_of: date, policy: Policy | None = None) -> ir.Table:
    """The events up to ``as_of`` (inclusive), one row per institution × series × event; see EVENTS."""
    return _table(detect(wh, as_of, policy)[1], EVENTS)


def change_series(wh: Warehouse, as_of: date, policy: Policy | None = None) -> ir.Table:
    """Every institution × series × month with its value and CUSUM state (the events' drill-down); see STEPS."""
    return _table(detect(wh, as_of, policy)[0], STEPS)


_DIMS = Dims(institution="institution_code", region="region_code")
_ROLES = ("admin", "bureau", "auditor", "institution")

MEASURES = (
    Measure(
        warm=False,  # computed when first asked for (web/warmup.py)
        name="change-events", title_zh="变化监测(CUSUM)", title_en="Change detection (CUSUM)",
        compute=lambda wh, a: change_events(wh, a.as_of, a.policy), params=("as_of",), inputs=INPUT_TABLES,
        columns=EVENTS, dims=_DIMS, roles=_ROLES, sort=("institution_code", "series", "alarm_month"),
        policy=POLICY, labels={"series": SERIES_LABELS, "direction": DIRECTIONS},
        note_zh="各机构月度完成率同级百分位、非中选占比、每DDD费用的持续变化(OpenPrescribing 的 CUSUM 方法):恶化或改善、起始月与报警月",
        note_en="Lasting changes of each institution's monthly completion percentile, non-selected share and cost per DDD "
                "(OpenPrescribing's CUSUM): deteriorating or improving, when it started and when it was detected",
        doc=__doc__,
    ),
    Measure(
        warm=False,  # computed when first asked for (web/warmup.py)
        name="change-series", title_zh="变化监测月度序列", title_en="Change detection series",
        compute=lambda wh, a: change_series(wh, a.as_of, a.policy), params=("as_of",), inputs=INPUT_TABLES,
        columns=STEPS, dims=_DIMS, roles=_ROLES, sort=("institution_code", "series", "month"), policy=POLICY,
        labels={"series": SERIES_LABELS, "direction": DIRECTIONS},
        note_zh="每家机构每个监测指标每月一行:当月值、参考均值、阈值与累积和",
        note_en="Per institution × series × month: value, reference mean, threshold and cumulative sums",
        doc=__doc__, command=False,
    ),
)
