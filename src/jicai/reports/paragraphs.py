"""The Chinese paragraphs of the reports (通报正文), generated from figures the measures computed.

Pure functions of plain numbers: the report builders fill :class:`BatchFigures` and :class:`Named`
from the Ibis results and pass them in; nothing here reads a warehouse or computes a figure. Tests pin
the exact sentences (tests/test_reports_paragraphs.py).

How figures are written: dates 2024年9月30日; ratios with one decimal, halves rounded up as in Excel (62.5%); differences of ratios in
个百分点; money in 元 with two decimals, in 万元 from ten thousand yuan on; counts as integers.

>>> pct(0.625), points(0.35), yuan(12345.6), yuan(856), date_zh(date(2024, 9, 30))
('62.5%', '35.0个百分点', '1.23万元', '856.00元', '2024年9月30日')
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from jicai.calendar import quarter_bounds
from jicai.reports.documents import fixed

QUARTERS = {1: "第一季度", 2: "第二季度", 3: "第三季度", 4: "第四季度"}


def date_zh(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def pct(x: float | None) -> str:
    return "—" if x is None else f"{fixed(x * 100, 1)}%"


def points(x: float) -> str:
    return f"{fixed(x * 100, 1)}个百分点"


def yuan(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{fixed(x / 10_000, 2, sep=True)}万元" if abs(x) >= 10_000 else f"{fixed(x, 2, sep=True)}元"


def score(x: float | None) -> str:
    return "—" if x is None else f"{fixed(x, 1)}分"


def quarter_end(year: int, quarter: int) -> date:
    """The last day of a calendar quarter (the as-of date of its 通报)."""
    return quarter_bounds(year, quarter)[1]


def quarter_zh(year: int, quarter: int) -> str:
    return f"{year}年{QUARTERS[quarter]}"


@dataclass(frozen=True)
class BatchFigures:
    """A batch's monitoring roll-up as of a date (measures.monitor.rollup(…, "batch") and its calendar)."""

    batch_id: str
    batch_name: str | None
    cycle_year: int
    time_progress: float
    institutions: int
    rows: int
    completion: float | None
    zero: int
    behind: int
    not_onboarded_rows: int
    nonselected_share: float | None
    nonselected_excess_rows: int
    amount_due: float
    payment_rate: float | None
    overdue_amount: float


@dataclass(frozen=True)
class Named:
    """One institution (or institution × variety) named in a sentence, with its figure(s)."""

    name: str
    value: float | None  # completion, non-selected share or overdue amount
    gap: float | None = None  # time_progress − completion, for the lagging
    note: str = ""  # a reason in words (the assessment's 不合格原因)


@dataclass(frozen=True)
class AssessmentFigures:
    """A batch's annual assessment totals (assess.assessment.assess_totals(…, "batch") and the period)."""

    batch_id: str
    batch_name: str | None
    cycle_year: int
    cycle_start: date
    cycle_end: date
    as_of: date
    institutions: int
    passed: int
    failed: int
    pass_rate: float | None
    completion_failed: int
    share_failed: int
    mean_score: float | None
    reward: float
    rewarded: int
    overspend_shared: float


def batch_label(f: BatchFigures) -> str:
    return f"{f.batch_name}（{f.batch_id}）" if f.batch_name else f"批次{f.batch_id}"


def _listed(items: list[str]) -> str:
    return "、".join(items)


def opening(kind: str, as_of: date, scope: str = "全省", year: int | None = None, quarter: int | None = None) -> str:
    """The first sentence of a report."""
    if kind == "annual":
        return f"现将{scope}药品和医用耗材集中带量采购年度考核结果通报如下。"
    if kind == "quarterly":
        return f"现将{quarter_zh(year, quarter)}{scope}药品和医用耗材集中带量采购执行情况通报如下（数据截至{date_zh(as_of)}）。"
    return f"现将截至{date_zh(as_of)}{scope}药品和医用耗材集中带量采购执行监测情况报告如下。"


def progress_paragraph(f: BatchFigures, as_of: date, lagging: list[Named], lagging_count: int,
                       scope: str = "全省") -> str:
    """Completion against 序时进度, the institutions most behind (``lagging``, most behind first) and
    the agreements by status. ``lagging_count`` is how many institutions are behind in all."""
    s = (f"截至{date_zh(as_of)}，{batch_label(f)}第{f.cycle_year}采购年度序时进度为{pct(f.time_progress)}；"
         f"{scope}{f.institutions}家医疗机构共{f.rows}个约定品种，总体完成率{pct(f.completion)}。")

    def one(n: Named) -> str:
        return f"{n.name}（完成率{pct(n.value)}，低于序时进度{points(n.gap or 0.0)}）"

    if lagging_count == 0:
        s += "各医疗机构总体完成率均已达到序时进度。"
    elif lagging_count <= len(lagging):
        s += f"总体完成率低于序时进度的医疗机构有{lagging_count}家：{_listed([one(n) for n in lagging])}。"
    else:
        s += (f"总体完成率低于序时进度的医疗机构有{lagging_count}家，其中差距最大的{len(lagging)}家是"
              f"{_listed([one(n) for n in lagging])}。")
    s += f"按约定品种统计，零采购{f.zero}个，低于序时进度{f.behind}个，未进院{f.not_onboarded_rows}个。"
    return s


def nonselected_paragraph(f: BatchFigures, excess: list[Named], limit: float) -> str:
    """Non-selected share overall and the agreements above ``limit`` (highest first, ``excess``)."""
    if f.nonselected_share is None:
        return f"{batch_label(f)}尚无计入非中选占比的采购。"
    s = f"{batch_label(f)}非中选产品占比{pct(f.nonselected_share)}；"
    if f.nonselected_excess_rows == 0:
        return s + f"各约定品种的非中选产品占比均未超过{pct(limit)}。"
    listed = _listed([f"{n.name}（{pct(n.value)}）" for n in excess])
    if f.nonselected_excess_rows <= len(excess):
        return s + f"非中选产品占比超过{pct(limit)}的约定品种有{f.nonselected_excess_rows}个：{listed}。"
    return (s + f"非中选产品占比超过{pct(limit)}的约定品种有{f.nonselected_excess_rows}个，"
            f"其中占比最高的{len(excess)}个是{listed}。")


def payment_paragraph(f: BatchFigures, as_of: date, late: list[Named], late_count: int) -> str:
    """按期回款 and the institutions with the largest overdue amounts (``late``, largest first)."""
    if not f.amount_due:
        return f"回款方面，截至{date_zh(as_of)}{batch_label(f)}尚无到期应回款的采购。"
    s = f"回款方面，{batch_label(f)}到期应回款{yuan(f.amount_due)}，按期回款率{pct(f.payment_rate)}；"
    if late_count == 0:
        return s + "无逾期未回款。"
    listed = _listed([f"{n.name}（{yuan(n.value)}）" for n in late])
    s += f"逾期未回款{yuan(f.overdue_amount)}，涉及医疗机构{late_count}家"
    if late_count <= len(late):
        return s + f"：{listed}。"
    return s + f"，其中逾期金额最大的{len(late)}家是{listed}。"


def reason_summary(failed_items_zh: str | None, spell_out: int = 2) -> str:
    """An assessment's 不合格原因 for a sentence: the measure's own words when there are at most
    ``spell_out`` failing varieties, else how many varieties fail each item.

    >>> reason_summary("完成率:品种一 85.0% < 100%")
    '完成率:品种一 85.0% < 100%'
    >>> reason_summary("完成率:甲 1.0% < 100%;完成率:乙 2.0% < 100%;非中选占比:甲 60.0% > 50%")
    '未完成约定采购量2个品种、非中选占比超标1个品种'
    """
    parts = [x for x in (failed_items_zh or "").split(";") if x]
    if len(parts) <= spell_out:
        return "；".join(parts)
    n_comp = sum(x.startswith("完成率") for x in parts)
    n_share = len(parts) - n_comp
    out = [f"未完成约定采购量{n_comp}个品种" if n_comp else "", f"非中选占比超标{n_share}个品种" if n_share else ""]
    return "、".join(x for x in out if x)


def assessment_paragraph(f: AssessmentFigures, failing: list[Named], scope: str = "全省") -> str:
    """Who passed the annual assessment, why the others failed (``failing``: lowest score first)."""
    label = f"{batch_label(f)}第{f.cycle_year}采购年度（{date_zh(f.cycle_start)}至{date_zh(f.cycle_end)}）"
    head = (f"{label}考核结果" if f.as_of == f.cycle_end else f"{label}截至{date_zh(f.as_of)}的预考核结果")
    if f.institutions == 0:
        return f"{head}：没有参与考核的医疗机构。"
    s = (f"{head}：{scope}参与考核的医疗机构{f.institutions}家，考核合格{f.passed}家，不合格{f.failed}家，"
         f"合格率{pct(f.pass_rate)}。")
    if f.failed == 0:
        s += "所有医疗机构均考核合格。"
    else:
        s += f"不合格原因：未完成约定采购量{f.completion_failed}家，非中选占比超标{f.share_failed}家。"
        listed = _listed([f"{n.name}（{n.note}）" for n in failing])
        if f.failed <= len(failing):
            s += f"不合格的医疗机构：{listed}。"
        else:
            s += f"其中得分最低的{len(failing)}家是{listed}。"
    if f.mean_score is not None:
        s += f"考核平均得分{score(f.mean_score)}。"
    return s


def retention_paragraph(f: AssessmentFigures) -> str:
    """结余留用 rewards and 合理超支分担 of the year."""
    shared = f"；合理超支分担{yuan(f.overspend_shared)}" if f.overspend_shared else ""
    if not f.reward:
        return f"结余留用方面，本年度无结余留用奖励{shared}。"
    return f"结余留用方面，按考核得分核定结余留用奖励{yuan(f.reward)}，涉及医疗机构{f.rewarded}家{shared}。"


def closing(kind: str) -> str:
    if kind == "annual":
        return "考核结果与下一年度医保费用额度挂钩，并纳入医保定点协议管理和公立医疗机构绩效考核。"
    if kind == "quarterly":
        return ("请各地医保部门督促进度落后、逾期未回款的医疗机构限期整改，整改情况纳入医保定点协议管理和年度考核。")
    return "请各地医保部门对零采购、低于序时进度、非中选产品超量和逾期未回款的医疗机构及时提醒、督促整改。"
