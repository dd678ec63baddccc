"""The reason beside each verdict: rule, threshold, the row's value and the policy clause, in the page's language,
for every dataset that flags rows (hand-computed rows; the policies are small stand-ins with known sources)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from jicai.measures.registry import measures
from jicai.web.datasets import DATASETS
from jicai.web.reasons import RULES, reason


class _Policy:
    """Values and sources of the parameters the rules read (a source's quoted wording is dropped in the cite)."""

    def __init__(self, **values):
        self.values = values

    def entry(self, name):
        value, source = self.values[name]
        return SimpleNamespace(value=value, source=source)


MONITOR = _Policy(min_completion=(1.0, "甲文件 第三条"),
                  nonselected_share_max=(0.5, "乙文件 四(三)(非中选产品使用量不得超过中选产品使用量); 甲文件 第三条"))


def test_the_english_page_reads_the_reason_in_english():
    row = {"status": "behind", "completion": 0.62, "time_progress": 0.75, "shortfall_volume": 13000.0,
           "nonselected_excess": True, "nonselected_share": 0.5625}
    assert reason("monitor", row, MONITOR, "片", "en") == (
        "completion 62.0% < time progress 75.0%, 13,000 units short (basis: 甲文件 第三条); "
        "non-selected share 56.3% > maximum 50.0% (basis: 乙文件 四(三); 甲文件 第三条)")
    assert reason("monitor", {"status": "normal"}, MONITOR, "片", "en") == ""


def test_budget_ahead_of_time_and_over_budget():
    p = _Policy(budget_ahead_margin=(0.1, "盐城文件 会商制(医疗费用总量使用进度)"))
    row = {"status": "ahead", "spending_progress": 1.05, "time_progress": 0.9, "gap": 0.15,
           "ahead_amount": 1_500_000.0, "over_budget": True, "spending": 10_500_000.0, "total_budget": 10_000_000.0}
    assert reason("budget", row, p) == (
        "预算执行进度 105.0% 超序时进度 90.0% 15 个百分点 > 10 个百分点,超序时金额 ¥1,500,000.00(依据:盐城文件 会商制);"
        "累计医保支出 ¥10,500,000.00 > 年度总额预算 ¥10,000,000.00(依据:盐城文件 会商制)")
    assert reason("budget", {"status": "normal", "over_budget": False}, p) == ""
    assert reason("budget", {**row, "over_budget": False}, p, lang="en") == (
        "spending progress 105.0% is 15 pp ahead of time progress 90.0% (> 10 pp), ¥1,500,000.00 ahead "
        "(basis: 盐城文件 会商制)")


def test_listing_findings_name_both_prices():
    p = _Policy(nonselected_price_multiple=(2.0, "甲文件 监测考核(对价格高于…的非中选产品采取暂停采购、撤网等措施)"),
                price_tolerance=(0.001, "甲文件 监测考核(中选产品应及时按中选价挂网)"))
    delist = {"finding": "suspend_or_delist", "listed_unit_price": 0.8, "winning_price": 0.25, "multiple": 3.2}
    assert reason("listing", delist, p) == (
        "非中选产品挂网价 ¥0.8000 为同品种最高中选价 ¥0.2500 的 3.2 倍 > 2 倍(依据:甲文件 监测考核)")
    unlisted = {"finding": "not_listed_at_winning_price", "listed_unit_price": None, "winning_price": 0.25}
    assert reason("listing", unlisted, p) == "中选产品未按中选价 ¥0.2500 挂网(无有效挂网)(依据:甲文件 监测考核)"


def test_sentinel_triggers_each_with_its_threshold():
    p = _Policy(sentinel_min_lines=(3, "丙文件 六(设立哨点)"), deliver_within_hours=(72.0, "丙文件 六"),
                delivery_rate_min=(0.95, "丙文件 六"), response_hours_max=(24.0, "丙文件 六"))
    row = {"triggers": "report;low_delivery_rate", "reports": 2, "order_lines": 4, "delivery_rate": 0.5}
    assert reason("supply-sentinel", row, p) == (
        "哨点机构本月反映供应问题 2 次(依据:丙文件 六);"
        "哨点 72 小时内配送率 50.0% < 95.0%(4 条订单行 ≥ 3 条)(依据:丙文件 六)")


def test_a_surge_says_the_months_ratio_and_factor():
    p = _Policy(surge_factor=(1.5, "丙文件 四(短时间需求激增)"), surge_baseline_months=(3, "丙文件 四"))
    row = {"ordered_units": 3000.0, "baseline_units": 1000.0, "surge_ratio": 3.0}
    assert reason("supply-surge", row, p, "片") == (
        "当月采购量 3,000 片 为前 3 个月月均 1,000 片 的 3 倍 > 1.5 倍(依据:丙文件 四)")


def test_pharmacy_and_prepayment():
    p = _Policy(pharmacy_large_amount=(2000.0, "盐城文件 疏堵并举(大额购药费用的具体标准)"),
                prepay_ratio=(0.3, "陕西文件 四(四)(不低于年度约定采购金额的30%)"))
    assert reason("pharmacy-violations", {"kind": "large_amount", "amount": 2500.0}, p) == (
        "单笔购药金额 ¥2,500.00 > 大额标准 ¥2,000.00(依据:盐城文件 疏堵并举)")
    risk = {"large_settlements": 2, "large_amount": 5200.0, "video_violations": 0, "stock_mismatches": 0}
    assert reason("pharmacy-risk", risk, p, lang="en") == (
        "2 settlements above ¥2,000.00 (¥5,200.00 in all) (basis: 盐城文件 疏堵并举)")
    row = {"source": "computed", "prepayment": 300_000.0, "agreed_amount": 1_000_000.0, "progress": 0.5,
           "cumulative_offset": 150_000.0}
    assert reason("prepayment", row, p) == (
        "预付 ¥300,000.00 = 年度约定采购金额 ¥1,000,000.00 × 30.0%;累计冲抵 ¥150,000.00 = 预付 × 采购进度 50.0%"
        "(依据:陕西文件 四(四))")


_SAMPLE = {"rate": 0.5, "pp": 0.2, "money": 100.0, "price": 1.25, "volume": 10.0, "int": 2, "score": 1.5,
           "rank": 1, "level": 3, "bool": True}


@pytest.mark.parametrize("dataset", sorted(RULES))
def test_every_rule_reads_real_columns_and_cites_the_default_policy(dataset):
    """Each rule, fired on a row holding every column of its measure, names figures (no blank, no None) and
    cites a clause of the shipped default policy — a renamed column or parameter fails here."""
    from jicai.policy.registry import DEFAULT_ID, PolicyRegistry

    policy = PolicyRegistry("/nonexistent").get(DEFAULT_ID)
    m = DATASETS[dataset].measure if dataset in DATASETS else measures()[dataset]
    base = {c.name: _SAMPLE.get(c.kind, "x") for c in m.columns}
    assert dataset in DATASETS
    for code, _params, _zh, _en in RULES[dataset]:
        column, _, value = code.partition(":")
        assert column in base, (dataset, column)
        for lang in ("zh", "en"):
            text = reason(dataset, {**base, column: value or True}, policy, "片", lang)
            assert text and "None" not in text and "  " not in text, (dataset, code, lang, text)
            assert ("依据:" if lang == "zh" else "(basis: ") in text, (dataset, code, text)


def test_a_cited_clause_keeps_its_date_and_article():
    from jicai.web.reasons import _citations

    assert _citations("陕西省医保局通知(2024-03-18) 三") == ["陕西省医保局通知(2024-03-18) 三"]
    assert _citations("陕西省医保局通知(2024-03-18) 四(四)(交货验收合格)") == ["陕西省医保局通知(2024-03-18) 四(四)"]
    assert _citations("泉州市医保局通知(2024-05-30) 四(三)") == ["泉州市医保局通知(2024-05-30) 四(三)"]
    assert _citations("淮北市结余留用测算办法(引 医保发〔2020〕26号); 观山湖区三机制(2022-12-22) 二") == [
        "淮北市结余留用测算办法", "观山湖区三机制(2022-12-22) 二"]


def test_supply_periods_say_what_the_verified_period_changed():
    p = _Policy(backup_substitution=(True, "甲文件 供应保障(替代)"), supply_problem_exclusion=(True, "甲文件 供应保障"))
    row = {"changed": "completion;status", "substituted_volume": 300.0, "excluded_volume": 0.0,
           "completion_without": 0.2, "completion": 0.5, "share_without": 0.1, "nonselected_share": 0.1}
    assert reason("supply-periods", row, p, "片") == (
        "核实的供应问题期间内:备供替代 300 片 计入中选量,非中选 0 片 不计入占比;完成率 20.0% → 50.0%,"
        "非中选占比 10.0% → 10.0%(依据:甲文件 供应保障)")
    assert reason("supply-periods", {**row, "changed": ""}, p, "片") == ""
