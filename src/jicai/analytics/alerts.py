"""Alerts that say what to do (预警): each names the action, what is at stake, and the policy behind it.

One row per alert as of a date D, for D's month (``month``). Every alert is computed from the figures of an
existing measure, never from a figure of its own; its sentence (``message``) is built in Ibis from those
figures (:mod:`jicai.analytics.alert_text`: thousands separators, ¥, 万), so every engine writes the same
words. The kinds:

* ``behind_schedule`` 低于序时进度 — a monitoring row (:mod:`jicai.measures.monitor`, institution ×
  variety in the cycle year containing D) with status zero or behind and an agreed volume. ``needed_volume``
  = ⌈agreed × p − selected⌉ where p = min(1, days from the cycle start to the month end (or the cycle end,
  if earlier), both inclusive, ÷ days in the cycle year): what must still be bought by the end of D's month
  to be on time progress then. ``monthly_volume`` = ⌈agreed ÷ 12⌉, the agreement's monthly average.
  "本月底前还需采购 12,400 片 才能达到序时进度（月均 1,000 片）". Severity high for zero purchase, else medium.
  Policy: ``min_completion`` (the year's gate the pace leads to).
* ``payment_overdue`` 回款逾期 — the receivables (:mod:`jicai.measures.receivables`) of a distributor ×
  institution with an overdue amount, summed over the manufacturers (the institution pays the distributor):
  "向 <distributor> 回款逾期 ¥48,210，已超期 17 天". The distributor is the row's enterprise, so it sees the
  alert too. Severity high. Policy: ``payment_due``.
* ``assessment_at_risk`` 考核不合格风险 — an institution that would fail the annual assessment of a cycle year
  containing D (not yet ended) if it kept its current pace: a non-exempt variety (the assessment's own rows,
  :mod:`jicai.assess.basis`) whose selected volume is below ``min_completion`` × agreed × time progress
  (on pace exactly passes), or whose non-selected share already exceeds ``nonselected_share_max``.
  ``stake_amount`` = the retention reward it would forgo: the year's budget (the retention's budget terms)
  minus its fund spending so far carried to the year end at the same pace (actual ÷ time progress), at
  least 0, times the highest ``retention_tiers`` ratio — the reward within reach; rounded half up to the fen.
  "若维持现状，年度考核不合格（品种一 按当前进度预计完成率 45.0% < 100%），结余留用奖励 ¥1.79 万（按最高档 50%）将为 0"
  (without the reward clause when nothing is at stake). Severity high. Policy: ``retention_tiers``.
* ``nonselected_high`` 非中选占比超标 — a monitoring row whose non-selected share exceeds
  ``nonselected_share_max`` (the monitoring's ``nonselected_excess``). ``peer_median_share`` = the median share
  of the same batch × variety among institutions of the same level with a share (the mean of the two middle
  values for an even count). ``stake_amount`` = max(0, non-selected amount − non-selected volume × the selected
  price), the selected price being what the institution paid per unit of selected products (selected amount ÷
  selected volume), or the lowest winning unit price of the variety when it bought none.
  "非中选占比 18.0%（同级中位 6.0%，上限 10%），替换为中选产品可节省 ¥3.20 万". Severity medium.

* ``supply_risk_high`` 供应风险高 — a row of the supply risk score (:mod:`jicai.analytics.supply_risk`, selected
  product × city) at or above ``risk_alert_score`` (the score's own ``risk_alert``): "中选产品 X（企业）在 福州市
  供应风险 70 分（<the score's reasons, each with its figures and points>；预警线 50 分），请 <enterprise> 核实库存与产能、
  保障配送；医保部门请核实医疗机构库存并准备备供". No institution: the row is the city's (``region_code`` the
  city code), so the city's bureau sees it, and the winning enterprise (``enterprise_code``) sees its own
  products' risks. ``risk_score`` carries the score. Severity high. Policy: ``risk_alert_score``.
* ``change_deteriorating`` 指标持续恶化 — a change-detection event (:mod:`jicai.analytics.change`) of an
  institution's series moving the bad way that is still going on: in alarm in the series' last month with a
  value, that month being D's or the one before (a month's purchases may still come in). "非中选占比自 2024-03
  起持续恶化：变化前参考均值 4.0%，2024-06 为 30.0%（2024-05 起累积和超过 5 倍标准差的报警阈值，已报警 2 个月）；
  请核查非中选产品的使用原因，优先使用中选产品" — the reference mean in force at the alarm (the level before the
  change) and the value of the last alarm month, with an action per series (:data:`CHANGE_ACTIONS`). The
  institution and its (district) bureau see it. Severity medium. Policy: ``change_threshold_sd`` (the method,
  OpenPrescribing's CUSUM).

``alert_key`` = kind:month:institution:(batch or distributor):variety — the same alert of the same month has
the same key on every rerun (what delivery de-duplicates on); a new month is a new alert. A supply risk's key is
kind:month:city:enterprise:product, a change's kind:month:institution:series:change start month.
The Python steps: the batches whose cycle year contains D (a few rows) to run their assessments, and the CUSUM
of change detection on the aggregated monthly series (bounded in :mod:`jicai.analytics.change`).
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

from jicai.analytics.alert_text import grouped, points, stake_text, up, yuan_text
from jicai.analytics.change import BY_NAME as CHANGE_SERIES
from jicai.analytics.change import INPUT_TABLES as CHANGE_INPUTS
from jicai.analytics.change import SERIES_LABELS, Detected, detect
from jicai.analytics.supply_risk import INPUT_TABLES as RISK_INPUTS
from jicai.analytics.supply_risk import supply_risk
from jicai.assess.basis import variety_rows
from jicai.assess.period import assessment_period
from jicai.assess.retention import trace_columns
from jicai.assess.text import percent, threshold
from jicai.calendar import month_end, month_label, shift_month
from jicai.contract.columns import cols
from jicai.errors import BilingualError
from jicai.measures.cycles import cycle_calendar
from jicai.measures.exact import basis_points, fen, scaled_share, snap, yuan
from jicai.measures.monitor import INPUT_TABLES as MONITOR_INPUTS
from jicai.measures.monitor import monitor
from jicai.measures.progress import ratio
from jicai.measures.receivables import receivables
from jicai.measures.registry import Dims, Measure
from jicai.policy import Policy, load_policy
from jicai.store import Warehouse

KINDS = {
    "behind_schedule": ("低于序时进度", "behind time progress"),
    "payment_overdue": ("回款逾期", "payment overdue"),
    "assessment_at_risk": ("考核不合格风险", "would fail the annual assessment"),
    "nonselected_high": ("非中选占比超标", "non-selected share above the maximum"),
    "supply_risk_high": ("供应风险高", "high supply risk of a selected product"),
    "change_deteriorating": ("指标持续恶化", "a lasting deterioration found by change detection"),
}
SEVERITY = {"high": ("高", "high"), "medium": ("中", "medium")}
RECIPIENTS = {"institution": ("医疗机构", "institution"), "enterprise": ("企业", "enterprise"),
              "bureau": ("医保部门", "bureau")}


class AlertError(BilingualError, ValueError):
    """Bad arguments for the alerts (an unknown kind)."""


RISK_POLICY = ("risk_alert_score",)
CHANGE_POLICY = ("change_threshold_sd",)
POLICY = ("min_completion", "payment_due", "retention_tiers", "nonselected_share_max", "fund_payment_ratio",
          "overspend_share", *RISK_POLICY, *CHANGE_POLICY)

COLUMNS = cols(
    "alert_key", "month", "alert_kind", "severity", "recipient", "institution_code", "institution_name",
    "region_code", "level", "enterprise_code", "enterprise_name", "batch_id", "variety_id", "variety_name",
    "product_code", "product_name", "message", "needed_volume", "monthly_volume", "overdue_amount",
    "max_overdue_days", "nonselected_share", "peer_median_share", "risk_score", "series", "change_start",
    "stake_amount", "policy_parameter", "clause",
    alert_key=("预警编号", "kind:month:institution:(batch or distributor):variety; supply_risk_high: "
                           "kind:month:city:enterprise:product; change_deteriorating: kind:month:institution:series:"
                           "change start — the same on every rerun of the month, what delivery de-duplicates on"),
    month=("预警月份", "the month of the as-of date (YYYY-MM): the digest the alert belongs to"),
    alert_kind=("预警类型", "behind_schedule / payment_overdue / assessment_at_risk / nonselected_high / "
                            "supply_risk_high / change_deteriorating"),
    institution_code=("医疗机构编码", "institution code; empty for a supply risk, which is a product's in a city"),
    region_code=("所属区划", "region code of the institution; for a supply risk the city (first 4 digits + 00)"),
    enterprise_code=("企业代码", "the enterprise concerned: the distributor to be paid, or the winning enterprise "
                                 "of a product at supply risk; empty for others"),
    enterprise_name=("企业名称", "enterprise name"),
    product_code=("医保编码", "the selected product at supply risk; empty for others"),
    risk_score=("供应风险分", "the supply risk score (0–100) of a supply_risk_high alert"),
    series=("监测指标", "the series of a change_deteriorating alert: completion_percentile, nonselected_share or "
                       "cost_per_ddd"),
)
NAMES = tuple(c.name for c in COLUMNS)
_STR = ("enterprise_code", "enterprise_name", "batch_id", "variety_id", "variety_name", "product_code",
        "product_name", "series", "change_start")
_NUM = {"needed_volume": "int64", "monthly_volume": "int64", "overdue_amount": "float64",
        "max_overdue_days": "int64", "nonselected_share": "float64", "peer_median_share": "float64",
        "risk_score": "float64", "stake_amount": "float64"}


def _finish(t: ir.Table, kind: str, month: str, policy: Policy, param: str, on: date, recipient: str = "institution",
            key: tuple[ir.StringValue, ir.StringValue, ir.StringValue] | None = None, **values) -> ir.Table:
    """Give an alert table every column: the given values, nulls for the figures it has none of.

    ``key``: the last three parts of the alert key (who, what, which), by default institution, batch or
    distributor, variety."""
    filled = {c: ibis.null("string") for c in _STR} | {c: ibis.null(k) for c, k in _NUM.items()}
    filled |= values
    filled = {c: v.cast(_NUM[c]) if c in _NUM else v for c, v in filled.items()}
    parts = {f"_k{i}": k for i, k in enumerate(key or ())}  # on the table given, before the columns change
    t = t.mutate(alert_kind=ibis.literal(kind), month=ibis.literal(month), recipient=ibis.literal(recipient),
                 policy_parameter=ibis.literal(param), clause=ibis.literal(policy.entry(param, on).source),
                 level=t.level.cast("int64"), **parts, **filled)
    if key is None:
        t = t.mutate(_k0=t.institution_code, _k1=t.batch_id.fill_null(t.enterprise_code.fill_null("-")),
                     _k2=t.variety_id.fill_null("-"))
    return t.mutate(alert_key=t.alert_kind + ":" + t.month + ":" + t._k0 + ":" + t._k1 + ":" + t._k2).select(*NAMES)


def _units(wh: Warehouse) -> ir.Table:
    v = wh.table("varieties")
    return v.select("variety_id", unit=v.unit.fill_null(""))


def behind_schedule(m: ir.Table, wh: Warehouse, as_of: date, policy: Policy) -> ir.Table:
    m = m.filter(m.status.isin(["zero", "behind"]) & (m.agreed_volume > 0))
    m = m.left_join(_units(wh), "variety_id").drop("variety_id_right")
    end = ibis.least(ibis.literal(month_end(as_of)), m.cycle_end)
    days = m.cycle_end.delta(m.cycle_start, unit="day") + 1
    p = ibis.least(1.0, (end.delta(m.cycle_start, unit="day") + 1).cast("float64") / days.cast("float64"))
    m = m.mutate(need=up(m.agreed_volume * p - m.selected_volume), monthly=up(m.agreed_volume / 12.0))
    m = m.filter(m.need > 0)
    msg = (m.variety_name.fill_null(m.variety_id) + "：本月底前还需采购 " + grouped(m.need) + " " + m.unit
           + " 才能达到序时进度（月均 " + grouped(m.monthly) + " " + m.unit + "）；截至 " + as_of.isoformat()
           + " 完成率 " + percent(m.completion.fill_null(0.0), "down") + "，序时进度 " + percent(m.time_progress))
    m = m.mutate(severity=ibis.ifelse(m.status == "zero", "high", "medium"), message=msg)
    return _finish(m, "behind_schedule", as_of.strftime("%Y-%m"), policy, "min_completion", as_of,
                   batch_id=m.batch_id, variety_id=m.variety_id, variety_name=m.variety_name,
                   needed_volume=m.need, monthly_volume=m.monthly)


def payment_overdue(wh: Warehouse, as_of: date, policy: Policy) -> ir.Table:
    r = receivables(wh, as_of, policy)
    r = r.filter(r.overdue_amount > 0)
    # the receivables are per distributor × manufacturer × institution; the institution pays the distributor
    keys = ["distributor_code", "distributor_name", "institution_code", "institution_name", "region_code"]
    r = r.group_by(keys).agg(overdue_amount=yuan(fen(r.overdue_amount).sum()),
                             overdue_lines=r.overdue_lines.sum(), oldest_overdue_due=r.oldest_overdue_due.min(),
                             max_overdue_days=r.max_overdue_days.max())
    i = wh.table("institutions")
    r = r.left_join(i.select("institution_code", level=i.level), "institution_code").drop("institution_code_right")
    dist = r.distributor_name.fill_null(r.distributor_code)
    msg = ("向 " + dist + " 回款逾期 " + yuan_text(r.overdue_amount) + "，已超期 " + r.max_overdue_days.cast("string")
           + " 天（最早应付日 " + r.oldest_overdue_due.strftime("%Y-%m-%d") + "，" + r.overdue_lines.cast("string")
           + " 笔），请尽快结清")
    r = r.mutate(severity=ibis.literal("high"), message=msg)
    return _finish(r, "payment_overdue", as_of.strftime("%Y-%m"), policy, "payment_due", as_of,
                   enterprise_code=r.distributor_code, enterprise_name=r.distributor_name,
                   overdue_amount=r.overdue_amount, max_overdue_days=r.max_overdue_days,
                   stake_amount=r.overdue_amount)


def assessment_at_risk(wh: Warehouse, as_of: date, policy: Policy,
                       monitoring: ir.Table | None = None) -> list[ir.Table]:
    """One table per batch whose cycle year containing ``as_of`` has not ended (a few rows in Python);
    ``monitoring``: the monitoring of every batch as of ``as_of``, when the caller has it."""
    cal = cycle_calendar(wh.table("batches"), as_of)
    open_years = cal.filter(cal.cycle_end > ibis.literal(as_of)).select("batch_id", "cycle_year")
    min_c = float(policy.value("min_completion", on=as_of))
    tiers = policy.value("retention_tiers", on=as_of)
    top = max((float(r) for _, r in tiers), default=0.0)
    out = []
    for row in sorted(open_years.to_pyarrow().to_pylist(), key=lambda r: (r["batch_id"], r["cycle_year"])):
        period = assessment_period(wh, row["batch_id"], int(row["cycle_year"]), as_of)
        t = trace_columns(variety_rows(wh, period, policy, monitoring),
                         policy.value("fund_payment_ratio", on=as_of))
        # on pace = selected ≥ min_completion × agreed × time progress, compared on the 10⁻⁶ grid
        comp_fail = (~t.exempt & (t.agreed_volume > 0)
                     & (snap(t.selected_volume) < snap(t.agreed_volume * t.time_progress * min_c)))
        share_fail = t.nonselected_excess.fill_null(False)
        pace = ratio(t.selected_volume, t.agreed_volume * t.time_progress)
        t = t.mutate(
            fail=comp_fail | share_fail,
            text=ibis.ifelse(comp_fail, t.variety_label + " 按当前进度预计完成率 " + percent(pace.fill_null(0.0), "down")
                             + " < " + threshold(min_c), "")
            + ibis.ifelse(comp_fail & share_fail, "，", "")
            + ibis.ifelse(share_fail, t.variety_label + " 非中选占比 " + percent(t.nonselected_share, "up") + " > "
                          + threshold(float(policy.value("nonselected_share_max", on=as_of))), ""),
        )
        keys = ["institution_code", "institution_name", "region_code", "level", "batch_id", "time_progress"]
        g = t.group_by(keys).agg(
            failures=ibis.ifelse(t.fail, 1, 0).sum(),
            failed_text=t.text.collect(where=t.fail).sort().join("；"),
            budget_fen=t.budget_fen.sum(), actual_fen=t.actual_fen.sum(),
        )
        g = g.filter(g.failures > 0)
        # the year's budget against this year's spending so far carried to the year end at its pace
        base = ibis.greatest(0.0, g.budget_fen.fill_null(0).cast("float64")
                             - g.actual_fen.fill_null(0).cast("float64") / g.time_progress)
        stake = yuan(scaled_share(snap(base, 1), basis_points(top)))
        g = g.mutate(stake=stake)
        msg = "若维持现状，年度考核不合格（" + g.failed_text + "）" + ibis.ifelse(
            g.stake > 0, "，结余留用奖励 " + stake_text(g.stake) + "（按最高档 " + threshold(top) + "）将为 0", "")
        g = g.mutate(severity=ibis.literal("high"), message=msg)
        out.append(_finish(g, "assessment_at_risk", as_of.strftime("%Y-%m"), policy, "retention_tiers", as_of,
                           batch_id=g.batch_id, stake_amount=g.stake))
    return out


def _median(t: ir.Table, value: str, by: list[str]) -> ir.Table:
    """The median of ``value`` per group ``by`` (mean of the two middle values for an even count): windows and
    a mean, so every engine gives the same number."""
    t = t.filter(t[value].notnull())
    w = ibis.window(group_by=by, order_by=t[value])
    t = t.mutate(_i=ibis.row_number().over(w), _n=t[value].count().over(ibis.window(group_by=by)))
    mid = t.filter((t._i == (t._n - 1) // 2) | (t._i == t._n // 2))
    return mid.group_by(by).agg(peer_median=mid[value].mean())


def nonselected_high(m: ir.Table, wh: Warehouse, as_of: date, policy: Policy) -> ir.Table:
    by = ["batch_id", "variety_id", "level"]
    med = _median(m, "nonselected_share", by)
    sel = wh.table("selected_products")
    low = sel.group_by(["batch_id", "variety_id"]).agg(lowest_price=sel.unit_price.min())
    h = m.filter(m.nonselected_excess.fill_null(False))
    h = h.left_join(med, by).drop(*(f"{k}_right" for k in by))
    h = h.left_join(low, ["batch_id", "variety_id"]).drop("batch_id_right", "variety_id_right")
    price = ibis.ifelse(h.selected_volume > 0, ratio(h.selected_amount, h.selected_volume), h.lowest_price)
    h = h.mutate(saving=ibis.greatest(0.0, h.nonselected_amount - h.nonselected_volume * price.fill_null(0.0)))
    cap = threshold(float(policy.value("nonselected_share_max", on=as_of)))
    msg = (h.variety_name.fill_null(h.variety_id) + "：非中选占比 " + percent(h.nonselected_share, "up") + "（同级中位 "
           + percent(h.peer_median) + "，上限 " + cap + "），"
           + ibis.ifelse(h.saving >= 0.5, "替换为中选产品可节省 " + stake_text(h.saving), "请改用中选产品"))
    h = h.mutate(severity=ibis.literal("medium"), message=msg)
    return _finish(h, "nonselected_high", as_of.strftime("%Y-%m"), policy, "nonselected_share_max", as_of,
                   batch_id=h.batch_id, variety_id=h.variety_id, variety_name=h.variety_name,
                   nonselected_share=h.nonselected_share, peer_median_share=h.peer_median, stake_amount=h.saving)


# what to do about a lasting deterioration of each change-detection series
CHANGE_ACTIONS = {
    "completion_percentile": "请核查中选产品采购进度，按约定采购量及时采购",
    "nonselected_share": "请核查非中选产品的使用原因，优先使用中选产品",
    "cost_per_ddd": "请核查高价产品与非集采同类药品的使用，优先使用中选产品",
}


def supply_risk_high(wh: Warehouse, as_of: date, policy: Policy) -> ir.Table:
    """Rows of the supply risk score (:mod:`jicai.analytics.supply_risk`) at or above ``risk_alert_score``."""
    r = supply_risk(wh, as_of, policy)
    r = r.filter(r.risk_alert)
    at = float(policy.value("risk_alert_score", on=as_of))
    what = ibis.ifelse(r.role == "backup", "备供产品 ", "中选产品 ")
    ent = r.enterprise_name.fill_null(r.enterprise_code)
    msg = (what + r.product_name.fill_null(r.product_code) + "（" + ent + "）在 " + r.city_name + " 供应风险 "
           + points(r.risk_score) + " 分（" + r.risk_reasons + f"；预警线 {at:g} 分），请 " + ent
           + " 核实库存与产能、保障配送；医保部门请核实医疗机构库存并准备备供")
    r = r.mutate(severity=ibis.literal("high"), message=msg, level=ibis.null("int64"),
                 institution_code=ibis.null("string"), institution_name=ibis.null("string"))
    return _finish(r, "supply_risk_high", as_of.strftime("%Y-%m"), policy, "risk_alert_score", as_of,
                   recipient="bureau", key=(r.region_code, r.enterprise_code, r.product_code),
                   enterprise_code=r.enterprise_code, enterprise_name=r.enterprise_name, variety_id=r.variety_id,
                   variety_name=r.variety_name, product_code=r.product_code, product_name=r.product_name,
                   risk_score=r.risk_score)


def _change_rows(wh: Warehouse, as_of: date, policy: Policy, detected: Detected | None = None) -> list[dict]:
    """The deteriorating change events still in alarm: ongoing, last in alarm in the as-of month or the month
    before (a month's purchases may still be coming in), each with the series' value in that last month."""
    steps, events = detected if detected is not None else detect(wh, as_of, policy)
    recent = {month_label(as_of), month_label(shift_month(as_of.replace(day=1), -1))}
    now = {(s["institution_code"], s["series"], s["month"]): s["series_value"] for s in steps}
    k = float(policy.value("change_threshold_sd", on=as_of))
    out = []
    for e in events:
        if e["direction"] != "deteriorating" or not e["ongoing"] or e["last_alarm_month"] not in recent:
            continue
        s = CHANGE_SERIES[e["series"]]
        value = now[(e["institution_code"], e["series"], e["last_alarm_month"])]
        msg = (f"{s.zh}自 {e['change_start']} 起持续恶化：变化前参考均值 {s.show(e['reference_mean'])}，"
               f"{e['last_alarm_month']} 为 {s.show(value)}（{e['alarm_month']} 起累积和超过 {k:g} 倍标准差的报警阈值，"
               f"已报警 {e['alarm_months']} 个月）；{CHANGE_ACTIONS[e['series']]}")
        out.append({"institution_code": e["institution_code"], "institution_name": e["institution_name"],
                    "region_code": e["region_code"], "level": e["level"], "series": e["series"],
                    "change_start": e["change_start"], "message": msg})
    return out


def change_deteriorating(wh: Warehouse, as_of: date, policy: Policy, detected: Detected | None = None) -> ir.Table:
    """Change-detection events (:mod:`jicai.analytics.change`) of an institution getting worse, still going on.

    The CUSUM runs in Python on the aggregated monthly series (its bound is in that module); the few alert rows
    come back as a table, their sentences written in Python from the events' figures — the same on every engine,
    since the figures are the same. ``detected``: :func:`jicai.analytics.change.detect` as of ``as_of``, when
    the caller has run it."""
    rows = _change_rows(wh, as_of, policy, detected)
    schema = {"institution_code": "string", "institution_name": "string", "region_code": "string",
              "level": "int64", "series": "string", "change_start": "string", "message": "string"}
    t = ibis.memtable({c: [r[c] for r in rows] for c in schema}, schema=schema)
    t = t.mutate(severity=ibis.literal("medium"))
    return _finish(t, "change_deteriorating", as_of.strftime("%Y-%m"), policy, "change_threshold_sd", as_of,
                   key=(t.institution_code, t.series, t.change_start), series=t.series, change_start=t.change_start)


def alerts(wh: Warehouse, as_of: date, policy: Policy | None = None,
           kinds: str | tuple[str, ...] | list[str] = tuple(KINDS), *, monitoring: ir.Table | None = None,
           detected: Detected | None = None) -> ir.Table:
    """Every alert of ``as_of``'s month, as of ``as_of``, of the ``kinds`` asked (all by default; a string is
    comma-separated); see COLUMNS.

    A document that also shows the monitoring or the change events (the one-page summary) computes them once
    and passes them: ``monitoring`` = ``monitor(wh, as_of, None, policy)`` (frozen), ``detected`` =
    ``detect(wh, as_of, policy)``; the alerts are the same."""
    policy = policy or load_policy()
    if isinstance(kinds, str):
        kinds = tuple(k.strip() for k in kinds.split(",") if k.strip())
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown or not kinds:
        raise AlertError(f"未知预警类型:{unknown}(可选 {'/'.join(KINDS)})",
                         f"unknown alert kinds: {unknown} (one of {', '.join(KINDS)})")
    if monitoring is None and {"behind_schedule", "nonselected_high"} & set(kinds):
        monitoring = wh.reuse(monitor(wh, as_of, None, policy))
    m = monitoring
    parts: list[ir.Table] = []
    if "behind_schedule" in kinds:
        parts.append(behind_schedule(m, wh, as_of, policy))
    if "payment_overdue" in kinds:
        parts.append(payment_overdue(wh, as_of, policy))
    if "assessment_at_risk" in kinds:
        parts.extend(assessment_at_risk(wh, as_of, policy, monitoring))
    if "nonselected_high" in kinds:
        parts.append(nonselected_high(m, wh, as_of, policy))
    if "supply_risk_high" in kinds:
        parts.append(supply_risk_high(wh, as_of, policy))
    if "change_deteriorating" in kinds:
        parts.append(change_deteriorating(wh, as_of, policy, detected))
    if not parts:  # only assessments were asked and no cycle year is open: an empty table of the columns
        return nonselected_high(wh.reuse(monitor(wh, as_of, None, policy)), wh, as_of, policy).limit(0)
    return ibis.union(*parts) if len(parts) > 1 else parts[0]


INPUT_TABLES = tuple(dict.fromkeys((*MONITOR_INPUTS, "enterprises", *RISK_INPUTS, *CHANGE_INPUTS)))

MEASURES = (
    Measure(
        warm=False,  # computed when first asked for (web/warmup.py)
        name="alerts", title_zh="预警与行动建议", title_en="Alerts that say what to do",
        compute=lambda wh, a: alerts(wh, a.as_of, a.policy), params=("as_of",), inputs=INPUT_TABLES, cli="alerts-list",
        columns=COLUMNS, dims=Dims(institution="institution_code", region="region_code",
                                   enterprise=("enterprise_code",), variety="variety_id"),
        sort=("severity", "alert_kind", "institution_code", "alert_key"), policy=POLICY,
        labels={"alert_kind": KINDS, "severity": SEVERITY, "recipient": RECIPIENTS, "series": SERIES_LABELS},
        note_zh="每条预警写明应采取的行动、涉及的数量或金额及所依据的政策条款(低于序时进度、回款逾期、考核不合格风险、非中选占比超标、供应风险高、指标持续恶化)",
        note_en="Each alert names the action, the volume or yuan at stake and the policy clause behind it",
        doc=__doc__,
    ),
)
