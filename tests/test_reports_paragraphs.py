"""The Chinese paragraphs of the reports: exact sentences for hand-made figures, edge cases included."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from jicai.reports import paragraphs as p
from jicai.reports.paragraphs import AssessmentFigures, BatchFigures, Named

F = BatchFigures(batch_id="B1", batch_name="第一批", cycle_year=1, time_progress=0.75, institutions=12, rows=40,
                 completion=0.625, zero=2, behind=5, not_onboarded_rows=1, nonselected_share=0.231,
                 nonselected_excess_rows=0, amount_due=123_456.78, payment_rate=0.9, overdue_amount=0.0)
D = date(2024, 9, 30)
HEAD = "截至2024年9月30日，第一批（B1）第1采购年度序时进度为75.0%；全省12家医疗机构共40个约定品种，总体完成率62.5%。"
TAIL = "按约定品种统计，零采购2个，低于序时进度5个，未进院1个。"


def test_number_words():
    assert p.pct(0.625) == "62.5%" and p.pct(1.0) == "100.0%" and p.pct(None) == "—"
    assert p.points(0.35) == "35.0个百分点"
    assert p.yuan(9_999.994) == "9,999.99元" and p.yuan(10_000) == "1.00万元" and p.yuan(1_234_567) == "123.46万元"
    assert p.date_zh(date(2024, 1, 5)) == "2024年1月5日"


@pytest.mark.parametrize(("quarter", "end"), [(1, date(2024, 3, 31)), (2, date(2024, 6, 30)),
                                              (3, date(2024, 9, 30)), (4, date(2024, 12, 31))])
def test_quarter_ends(quarter, end):
    assert p.quarter_end(2024, quarter) == end


def test_quarter_5_is_refused():
    with pytest.raises(ValueError):
        p.quarter_end(2024, 5)


def test_quarter_4_opening():
    assert p.opening("quarterly", p.quarter_end(2024, 4), "全省", 2024, 4) == (
        "现将2024年第四季度全省药品和医用耗材集中带量采购执行情况通报如下（数据截至2024年12月31日）。")


def test_monthly_opening_names_the_scope():
    assert p.opening("monthly", date(2024, 6, 30), "西安市") == (
        "现将截至2024年6月30日西安市药品和医用耗材集中带量采购执行监测情况报告如下。")


def test_no_lagging_institution():
    assert p.progress_paragraph(F, D, [], 0) == HEAD + "各医疗机构总体完成率均已达到序时进度。" + TAIL


def test_one_lagging_institution():
    one = [Named("医院一", 0.4, 0.35)]
    assert p.progress_paragraph(F, D, one, 1) == (
        HEAD + "总体完成率低于序时进度的医疗机构有1家：医院一（完成率40.0%，低于序时进度35.0个百分点）。" + TAIL)


def test_more_lagging_than_named():
    top = [Named("医院一", 0.4, 0.35), Named("医院三", 0.7, 0.05)]
    assert p.progress_paragraph(F, D, top, 7) == (
        HEAD + "总体完成率低于序时进度的医疗机构有7家，其中差距最大的2家是医院一（完成率40.0%，低于序时进度35.0个百分点）、"
        "医院三（完成率70.0%，低于序时进度5.0个百分点）。" + TAIL)


def test_quarter_4_full_time_progress_and_unnamed_batch():
    f = replace(F, batch_name=None, time_progress=1.0, completion=1.02)
    d = p.quarter_end(2024, 4)
    assert p.progress_paragraph(f, d, [], 0, scope="全市") == (
        "截至2024年12月31日，批次B1第1采购年度序时进度为100.0%；全市12家医疗机构共40个约定品种，总体完成率102.0%。"
        "各医疗机构总体完成率均已达到序时进度。" + TAIL)


def test_nonselected_paragraph():
    assert p.nonselected_paragraph(F, [], 0.5) == "第一批（B1）非中选产品占比23.1%；各约定品种的非中选产品占比均未超过50.0%。"
    f = replace(F, nonselected_excess_rows=1)
    assert p.nonselected_paragraph(f, [Named("医院二·品种一", 0.6)], 0.5) == (
        "第一批（B1）非中选产品占比23.1%；非中选产品占比超过50.0%的约定品种有1个：医院二·品种一（60.0%）。")
    f = replace(F, nonselected_excess_rows=4)
    assert p.nonselected_paragraph(f, [Named("甲·品种一", 0.9), Named("乙·品种二", 0.7)], 0.5) == (
        "第一批（B1）非中选产品占比23.1%；非中选产品占比超过50.0%的约定品种有4个，"
        "其中占比最高的2个是甲·品种一（90.0%）、乙·品种二（70.0%）。")
    assert p.nonselected_paragraph(replace(F, nonselected_share=None), [], 0.5) == "第一批（B1）尚无计入非中选占比的采购。"


def test_payment_paragraph():
    assert p.payment_paragraph(F, D, [], 0) == "回款方面，第一批（B1）到期应回款12.35万元，按期回款率90.0%；无逾期未回款。"
    f = replace(F, overdue_amount=4_400.0)
    assert p.payment_paragraph(f, D, [Named("医院二", 4_400.0)], 1) == (
        "回款方面，第一批（B1）到期应回款12.35万元，按期回款率90.0%；逾期未回款4,400.00元，涉及医疗机构1家：医院二（4,400.00元）。")
    f = replace(F, overdue_amount=35_000.0)
    assert p.payment_paragraph(f, D, [Named("医院二", 30_000.0)], 3) == (
        "回款方面，第一批（B1）到期应回款12.35万元，按期回款率90.0%；逾期未回款3.50万元，涉及医疗机构3家，"
        "其中逾期金额最大的1家是医院二（3.00万元）。")
    assert p.payment_paragraph(replace(F, amount_due=0.0, payment_rate=None), D, [], 0) == (
        "回款方面，截至2024年9月30日第一批（B1）尚无到期应回款的采购。")


A = AssessmentFigures(batch_id="B1", batch_name="第一批", cycle_year=1, cycle_start=date(2024, 1, 1),
                      cycle_end=date(2024, 12, 31), as_of=date(2024, 12, 31), institutions=10, passed=8, failed=2,
                      pass_rate=0.8, completion_failed=2, share_failed=1, mean_score=81.25, reward=52_000.0,
                      rewarded=6, overspend_shared=0.0)
A_HEAD = ("第一批（B1）第1采购年度（2024年1月1日至2024年12月31日）考核结果：全省参与考核的医疗机构10家，"
          "考核合格8家，不合格2家，合格率80.0%。")


def test_assessment_paragraph():
    failing = [Named("医院一", 40.0, note="完成率:品种一 20.0% < 100%"),
               Named("医院二", 55.0, note="完成率:品种一 60.0% < 100%;非中选占比:品种一 55.6% > 50%")]
    assert p.assessment_paragraph(A, failing) == (
        A_HEAD + "不合格原因：未完成约定采购量2家，非中选占比超标1家。不合格的医疗机构：医院一（完成率:品种一 20.0% < 100%）、"
        "医院二（完成率:品种一 60.0% < 100%;非中选占比:品种一 55.6% > 50%）。考核平均得分81.3分。")
    assert p.assessment_paragraph(A, failing[:1]).endswith("其中得分最低的1家是医院一（完成率:品种一 20.0% < 100%）。考核平均得分81.3分。")


def test_everyone_passed_and_provisional():
    f = replace(A, passed=10, failed=0, pass_rate=1.0, completion_failed=0, share_failed=0,
                as_of=date(2024, 9, 30))
    assert p.assessment_paragraph(f, []) == (
        "第一批（B1）第1采购年度（2024年1月1日至2024年12月31日）截至2024年9月30日的预考核结果：全省参与考核的医疗机构10家，"
        "考核合格10家，不合格0家，合格率100.0%。所有医疗机构均考核合格。考核平均得分81.3分。")


def test_nobody_assessed():
    f = replace(A, institutions=0, passed=0, failed=0, pass_rate=None, mean_score=None)
    assert p.assessment_paragraph(f, []) == (
        "第一批（B1）第1采购年度（2024年1月1日至2024年12月31日）考核结果：没有参与考核的医疗机构。")


def test_retention_paragraph():
    assert p.retention_paragraph(A) == "结余留用方面，按考核得分核定结余留用奖励5.20万元，涉及医疗机构6家。"
    assert p.retention_paragraph(replace(A, reward=0.0, rewarded=0)) == "结余留用方面，本年度无结余留用奖励。"
    assert p.retention_paragraph(replace(A, overspend_shared=1_500.0)) == (
        "结余留用方面，按考核得分核定结余留用奖励5.20万元，涉及医疗机构6家；合理超支分担1,500.00元。")


def test_reasons_are_spelled_out_or_counted():
    assert p.reason_summary("完成率:品种一 85.0% < 100%;非中选占比:品种二 62.0% > 50%") == (
        "完成率:品种一 85.0% < 100%；非中选占比:品种二 62.0% > 50%")
    assert p.reason_summary(";".join(f"完成率:品种{i} 50.0% < 100%" for i in range(10))) == "未完成约定采购量10个品种"
    assert p.reason_summary("") == "" and p.reason_summary(None) == ""
