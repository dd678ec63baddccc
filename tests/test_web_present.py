"""How a dataset page shows its rows: formats by kind, names beside codes, the column order, the reasons."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from jicai.contract.display import severity, show
from jicai.contract.regions import REGIONS, region_name, region_path
from jicai.measures.registry import measure
from jicai.web.names import Names
from jicai.web.present import cell, layout
from jicai.web.reasons import _citations, reason


@pytest.mark.parametrize(("value", "kind", "lang", "shown"), [
    (0.8125, "rate", "zh", "81.3%"),  # halves up, as a reader rounds
    (1.0639, "rate", "zh", "106.4%"),
    (-0.0004, "rate", "zh", "0.0%"),  # no "-0.0%"
    (1234567.125, "money", "zh", "¥1,234,567.13"),
    (-40000.0, "money", "zh", "-¥40,000.00"),
    (0.05125, "price", "zh", "¥0.0513"),
    (596516.0, "volume", "zh", "596,516"),
    (0.125, "pp", "zh", "12.5 个百分点"),
    (3, "level", "zh", "三级"), (0, "level", "en", "unrated"),
    (True, "bool", "zh", "是"), (None, "rate", "zh", ""),
])
def test_values_read_as_a_report(value, kind, lang, shown):
    assert show(value, kind, lang) == shown


def test_coded_values_by_their_names():
    labels = measure("supply-scorecard").labels["flags"]
    assert show("slow_response;low_delivery_rate", "flags", "zh", labels) == "响应不及时、配送率偏低"
    assert show("slow_response;surge", "flags", "en", labels) == (
        "median response time above response_hours_max, the variety surged in a city the row delivers to")
    passed = measure("assessment").labels["passed"]
    assert show(False, "bool", "zh", passed) == "不合格"


def test_worst_status_first():
    assert sorted(["normal", "over", "behind", "zero"], key=severity) == ["zero", "behind", "over", "normal"]


def test_region_names_from_the_shipped_table():
    from jicai.simulate.geography import PREFECTURES, PROVINCE

    assert region_name("350000") == PROVINCE[1]
    for code, name, counties in PREFECTURES:  # every division the simulator uses, with the same name
        assert REGIONS[code] == name
        for c, n, _ in counties:
            assert REGIONS[c] == n, c
    assert region_name("3505") == "泉州市" and region_path("350582") == "福建省 泉州市 晋江市"
    assert region_name("350102", {"350102": "鼓楼区(仓库)"}) == "鼓楼区(仓库)"  # the warehouse's table wins
    assert region_name("990000") is None


def test_monitor_columns_subject_first_then_verdicts_then_figures():
    shown = layout(measure("monitor"), "zh", reasons=True)
    names = [c.name for c in shown]
    assert names[:4] == ["institution_code", "variety_id", "status", "nonselected_excess"]
    assert shown[0].frozen and shown[0].zh == "医疗机构" and not any(c.frozen for c in shown[1:])
    assert "institution_name" not in names and "variety_name" not in names  # folded into the code's cell
    assert names.index("reason_zh") < names.index("completion") < names.index("agreed_volume") < names.index("cycle_start")


def test_volume_audit_shows_the_chinese_flags_on_the_chinese_page_and_the_names_on_the_english():
    zh = [c.name for c in layout(measure("volume-audit"), "zh")]
    en = [c.name for c in layout(measure("volume-audit"), "en")]
    assert "flags_zh" in zh and "flags" not in zh
    assert "flags" in en and "flags_zh" not in en


def test_cells_name_their_codes():
    m = measure("monitor")
    names = Names(by_kind={"region": {}, "variety": {"YP01": "阿托伐他汀钙片"}}, units={"YP01": "片"})
    row = {"institution_code": "H35050200001", "institution_name": "泉州市第一医院", "region_code": "350582",
           "variety_id": "YP01", "variety_name": "阿托伐他汀钙片", "shortfall_volume": 13000.0, "status": "behind",
           "completion": 0.62, "time_progress": 0.75}
    by = {c.name: c for c in layout(m, "zh")}
    assert str(cell(by["institution_code"], row, m, names, "zh", True)) == (
        '<a href="/institutions/H35050200001">泉州市第一医院</a><small class="code">H35050200001</small>')
    assert str(cell(by["region_code"], row, m, names, "zh", True)) == '泉州市 晋江市<small class="code">350582</small>'
    assert str(cell(by["shortfall_volume"], row, m, names, "zh", True)) == "还差 13,000 片"
    assert str(cell(by["status"], row, m, names, "zh", True)) == '<span class="badge warn">低于序时进度</span>'
    bar = str(cell(by["completion"], row, m, names, "zh", True))
    assert bar.startswith('<span class="behind">62.0%</span>') and 'x1="50.0"' in bar  # 0.75 of a 150% bar


class _Policy:
    """Two parameters with made-up clauses: the sentence quotes whatever the policy file says."""

    values = {"min_completion": (1.0, "甲文件 第三条(未完成约定采购量的,视为考核不合格)"),
              "nonselected_share_max": (0.5, "乙文件 四(三)(非中选产品使用量不得超过中选产品使用量); 甲文件 第三条")}

    def entry(self, name):
        value, source = self.values[name]
        return SimpleNamespace(value=value, source=source)


def test_a_behind_row_says_its_rule_figures_and_clause():
    row = {"status": "behind", "completion": 0.62, "time_progress": 0.75, "shortfall_volume": 13000.0,
           "nonselected_excess": True, "nonselected_share": 0.5625}
    assert reason("monitor", row, _Policy(), "片") == (
        "完成率 62.0% < 序时进度 75.0%,还差 13,000 片(依据:甲文件 第三条);"
        "非中选占比 56.3% > 上限 50.0%(依据:乙文件 四(三);甲文件 第三条)")
    assert reason("monitor", {"status": "normal", "nonselected_excess": False}, _Policy()) == ""


def test_supply_flags_say_their_threshold():
    class P:
        def entry(self, name):
            return SimpleNamespace(value={"response_hours_max": 24.0, "delivery_rate_min": 0.95,
                                          "deliver_within_hours": 72.0}[name], source="丙文件 六")

    row = {"flags": "slow_response;low_delivery_rate", "response_hours_median": 44.9, "delivery_rate": 0.743}
    assert reason("supply-scorecard", row, P()) == (
        "响应时间中位数 44.9 小时 > 24 小时(依据:丙文件 六);72 小时内配送率 74.3% < 95.0%(依据:丙文件 六)")


def test_citations_keep_the_clause_and_drop_the_quoted_wording():
    assert _citations("003 陕西 四(三)(非中选产品使用量不得超过中选产品使用量); 001 监测考核") == ["003 陕西 四(三)", "001 监测考核"]
    assert _citations("医保发〔2024〕31号 第三条") == ["医保发〔2024〕31号 第三条"]
    assert _citations("002 泉州 六(订单响应时间); DESIGN 供应(72 小时)") == ["002 泉州 六"]


def test_a_calendar_year_has_no_thousands_separator():
    m = measure("budget")
    by = {c.name: c for c in layout(m, "zh")}
    assert str(cell(by["year"], {"year": 2024}, m, Names(), "zh", False)) == "2024"
    assert str(cell(by["months_counted"], {"months_counted": 12}, m, Names(), "zh", False)) == "12"


def test_the_header_names_the_users_scope():
    from jicai.web.names import scope_name

    names = Names(by_kind={"region": {}, "institution": {"H35050200001": "泉州市第一医院"}})
    assert scope_name(names, "bureau", True, "3505") == "泉州市"
    assert scope_name(names, "institution", False, "H35050200001") == "泉州市第一医院"
    assert scope_name(names, "enterprise", False, "91350000X") is None  # unknown: the header keeps the code
    assert scope_name(names, "bureau", True, "") is None
