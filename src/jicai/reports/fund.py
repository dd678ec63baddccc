"""Fund-supervision reports (seed 004) as documents (:class:`jicai.reports.documents.Report`).

Every list of these reports is a registered measure of :mod:`jicai.fund` — its columns, Chinese headers, coded
values and summed columns come from the measure's declaration (:func:`~jicai.reports.documents.measure_table`).
A builder adds only what a reader needs around the lists: the cover's headline figures, the paragraphs that
state the rule, and a note under each list. The rows are the measures' rows as computed, in the measures'
order, so the workbook, the csv and the json of one run hold the same rows.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from typing import Any

from jicai.calendar import quarter_ending
from jicai.measures.registry import measure
from jicai.reports.documents import Report, Table, measure_table


class FundReport(Report):
    """A report without a batch: the cover names the scope instead of 批次."""

    scope: str = "全部机构"

    @property
    def cover(self) -> list[tuple[str, str]]:
        return [("范围", self.scope) if k == "批次" else (k, v) for k, v in super().cover]


def _money(x: float | None) -> str:
    return "—" if x is None else f"{x:,.2f}"


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.1f}%"


def _named(table: Table, column: str, names: dict[Any, str]) -> Table:
    """``table`` with ``column`` shown by ``names`` (code → Chinese) — for codes whose names depend on the
    policy in force (the capitation tiers), which a declaration cannot list."""
    table.columns = [replace(c, kind="enum", labels=names) if c.name == column else c for c in table.columns]
    return table


# -- capitation ----------------------------------------------------------------------------------------

def capitation_report(rows: list[dict], tiers: list[dict], totals: list[dict], *, period: str, on: date,
                      tier_labels: dict[int, str], policy_version: str, computed_at: datetime, policy_label: str = "") -> FundReport:
    """The lists of measures ``capitation`` (rows), ``capitation-tiers`` and ``capitation-totals``."""
    t = totals[0] if totals else {}
    report = FundReport(
        kind="capitation", title="门诊统筹按人头付费包干结余返还(中值最优法)", period=f"结算期 {period}",
        as_of=on, batch_id=None, policy_version=policy_version, policy_label=policy_label, computed_at=computed_at,
        params={"period": period, "policy_date": on},
        headline=[("机构数", f"{t.get('institutions', 0)} 家"), ("包干总额", f"{_money(t.get('package'))} 元"),
                  ("实际支出", f"{_money(t.get('actual_spending'))} 元"),
                  ("总体人均支出", f"{_money(t.get('overall_per_capita'))} 元"),
                  ("返还金额", f"{_money(t.get('returned_amount'))} 元(占正结余 {_pct(t.get('return_share'))})")],
        paragraphs=[
            "按“中值最优法”返还包干结余(盐城 医保基金风险防控):以门诊统筹总体人均支出测算各机构的合理余量,"
            "实际余量与合理余量的偏差越小,返还比例越高。",
            "包干总额 = 签约人数 × 人均付费标准;实际余量 = 包干总额 − 实际支出;总体人均支出 = 全部机构实际支出之和 / "
            "签约人数之和;合理余量 = 包干总额 − 签约人数 × 总体人均支出;偏差 = |实际余量 − 合理余量| / |合理余量|"
            "(合理余量为0时除以包干总额);返还金额 = max(实际余量, 0) × 返还比例。金额先精确到分,档次按整数比较,"
            "偏差恰为5%、10%、20%时按较高返还比例。",
        ],
    )
    report.tables = [
        _named(measure_table(measure("capitation"), rows, "institutions", "返还明细",
                             note="按医疗机构编码;合计为各机构之和;档次为空:无偏差基数"), "tier", tier_labels),
        measure_table(measure("capitation-tiers"), tiers, "tiers", "分档汇总",
                      note="偏差上限含本数(偏差恰为5%按70%返还)"),
        measure_table(measure("capitation-totals"), totals, "totals", "合计"),
    ]
    return report


# -- pharmacy ------------------------------------------------------------------------------------------

# the lists of `jicai pharmacy`: (key, measure, sheet title, note); the first is the csv file itself
PHARMACY_LISTS = (
    ("violations", "pharmacy-violations", "违规明细", "每项违规一行;同一笔结算可能属于多种违规"),
    ("risk", "pharmacy-risk", "药店风险汇总", "本月有违规或本年有查处记录的药店"),
    ("video", "pharmacy-video", "视频联动违规", ""),
    ("stock", "pharmacy-stock", "进销存不一致", ""),
    ("large", "pharmacy-large", "大额购药", ""),
    ("proxy", "pharmacy-proxy", "代购未登记", ""),
    ("checked", "pharmacy-checked", "检查范围", "本月全部药店结算"),
)


def pharmacy_report(lists: dict[str, list[dict]], *, month: str, policy_version: str, computed_at: datetime, policy_label: str = "",
                    as_of: date) -> FundReport:
    """The lists of :data:`PHARMACY_LISTS`, by key."""
    from jicai.fund.pharmacy import KINDS

    violations, risk = lists["violations"], lists["risk"]
    checked = (lists["checked"] or [{"pharmacies": 0, "settlements": 0, "amount": 0.0}])[0]
    counts = {k: sum(1 for v in violations if v["kind"] == k) for k in KINDS}
    amounts = {k: sum(v["amount"] or 0.0 for v in violations if v["kind"] == k) for k in KINDS}
    recovered = sum(r["recovered_ytd"] for r in risk)
    suspended = sum(1 for r in risk if r["suspensions_ytd"] > 0)
    risky = [r for r in risk if r["violations"] > 0]
    report = FundReport(
        kind="pharmacy", title="定点零售药店医保结算监管", period=f"{month[:4]}年{int(month[5:])}月",
        as_of=as_of, batch_id=None, policy_version=policy_version, policy_label=policy_label, computed_at=computed_at, params={"month": month},
        headline=[
            ("检查范围", f"{checked['pharmacies']} 家药店,结算 {checked['settlements']:,} 笔,"
                        f"金额 {_money(checked['amount'] or 0.0)} 元"),
            ("违规药店", f"{len(risky)} 家,违规 {len(violations)} 项"),
            *[(KINDS[k][0], f"{counts[k]} 项,涉及 {_money(amounts[k])} 元") for k in KINDS],
            ("本年查处", f"{sum(r['cases_ytd'] for r in risk)} 件,追回 {_money(recovered)} 元,"
                        f"暂停结算 {suspended} 家"),
        ],
        paragraphs=[
            "视频监控设备与结算设备同步运转,视频进入非有效状态即暂停结算;代购登记、大额购药标准、进销存一致"
            "(盐城 疏堵并举)。本表列出本月应被拦截而发生的结算、进销存不一致、大额购药和未登记代购。",
            "视频区间含开始时刻、不含结束时刻;在线与离线区间重叠时按离线处理;没有任何在线区间覆盖的结算同样违规。"
            "进销存差异 = 期初 + 购进 − 本月结算数量 − 期末(最小制剂单位),估算金额按该品种本月全部药店结算均价计。",
        ],
    )
    report.tables = [measure_table(measure(name), lists[key], key, title, note=note)
                     for key, name, title, note in PHARMACY_LISTS]
    return report


# -- budget --------------------------------------------------------------------------------------------

def budget_report(rows: list[dict], consult: list[dict], totals: list[dict], *, as_of: date, margin: float,
                  policy_version: str, computed_at: datetime, policy_label: str = "", params: dict[str, Any] | None = None) -> FundReport:
    """The lists of measures ``budget`` (rows), ``budget-consult`` and ``budget-totals``."""
    t = totals[0] if totals else {}
    q = quarter_ending(as_of)
    title = (f"{as_of.year}年第{q}季度医保基金总额预算执行会商报告" if q else "医保基金总额预算执行进度")
    report = FundReport(
        kind="budget", title=title, period=f"{as_of.year}年1月1日至{as_of.month}月{as_of.day}日",
        as_of=as_of, batch_id=None, policy_version=policy_version, policy_label=policy_label, computed_at=computed_at,
        params=params if params is not None else {"as_of": as_of},
        headline=[
            ("机构数", f"{t.get('institutions', 0)} 家"),
            ("年度总额预算", f"{_money(t.get('total_budget'))} 元"),
            ("累计医保支出", f"{_money(t.get('spending'))} 元"),
            ("预算执行进度", f"{_pct(t.get('spending_progress'))}(序时进度 {_pct(t.get('time_progress'))})"),
            ("超序时进度", f"{t.get('ahead', 0)} 家(超过 {margin * 100:g} 个百分点)"),
            ("已超年度预算", f"{t.get('over_budget', 0)} 家"),
            ("无预算", f"{t.get('no_budget', 0)} 家"),
        ],
        paragraphs=[
            "医保经办机构与定点医疗机构按季通报会商:通报医保基金运行情况,反馈医疗费用总量使用进度(盐城 会商制度)。",
            f"预算执行进度 = 1月至截至月的医保支出 / 年度总额预算(截至月按整月计);序时进度 = 当年已过天数(含当日)/ "
            f"全年天数;执行进度超过序时进度 {margin * 100:g} 个百分点以上(不含)的机构列为会商重点。",
        ],
    )
    report.tables = [
        measure_table(measure("budget"), rows, "institutions", "执行进度", note="全部机构,按医疗机构编码"),
        measure_table(measure("budget-consult"), consult, "consult", "会商重点机构",
                      note="超序时进度的机构,按超出百分点从高到低"),
        measure_table(measure("budget-totals"), totals, "totals", "合计"),
    ]
    return report
