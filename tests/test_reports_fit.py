"""Documents fit for a 通报: each test opens the produced workbook (openpyxl), HTML or PDF and fails on one
defect a bureau found in the trial — a trailing dot, float residue, a 合计 across units, a cut name, a chart
title under its legend, a "见各批次" card, a report downloaded instead of opened, a time with a "T" or in the
machine's zone.

The world is tests/test_reports.py's (batch B1, varieties V1 and V2, 序时进度 50% on 2024-07-01) plus an
agreement of H1 for V3 of batch B3 (800, nothing bought; B3 runs from 2024-02-29, so on 2024-07-01 its
序时进度 is 124/365 = 34.0%). Hand-computed: 零采购 lists H1·V2 (500) and H1·V3 (800) — two varieties, so their
约定采购量 is not added up; 低于序时进度 lists H1·V1 alone (1,000), which is.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime
from html.parser import HTMLParser

import openpyxl
import pytest
from fastapi.testclient import TestClient
from tests.scenarios.runner import from_dict
from tests.test_reports import AT, WORLD, _require_pdf_tools
from tests.web_fixtures import login, make_app

from jicai.reports.charts import WIDTH, progress_chart, share_chart
from jicai.reports.monthly import monthly_report
from jicai.reports.output import write_report
from jicai.store import connect

TWO_BATCHES = {**WORLD, "agreements": [*WORLD["agreements"], {"inst": "H1", "batch": "B3", "variety": "V3",
                                                               "agreed": 800}]}
DAY = date(2024, 7, 1)


@pytest.fixture(scope="module")
def wh():
    w = connect("duckdb://")
    for name, t in from_dict(TWO_BATCHES).tables.items():
        w.write_table(name, t)
    yield w
    w.close()


@pytest.fixture(scope="module")
def report(wh):
    return monthly_report(wh, DAY, computed_at=AT)


@pytest.fixture(scope="module")
def workbook(report, tmp_path_factory):
    (path,) = write_report(report, tmp_path_factory.mktemp("fit"), "m", ["xlsx"])
    return openpyxl.load_workbook(path, data_only=True)


def _display(s: str) -> int:
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in s)


def _widths(ws) -> dict[str, float]:
    """Column letter → width (openpyxl keeps a run of equal columns under its first letter)."""
    from openpyxl.utils import get_column_letter

    return {get_column_letter(i): d.width for d in ws.column_dimensions.values() for i in range(d.min, d.max + 1)}


def _list_sheets(wb):
    return [wb[n] for n in wb.sheetnames if n != "封面"]


def _totals(ws) -> dict[str, object]:
    rows = list(ws.iter_rows(values_only=True))
    end = next(r for r in rows if r[0] == "合计")
    return dict(zip(rows[0], end, strict=False))


# -- the workbook ----------------------------------------------------------------------------------------

def test_number_formats_have_no_trailing_dot(workbook):
    for ws in _list_sheets(workbook):
        for row in ws.iter_rows():
            for c in row:
                fmt = c.number_format or ""
                assert not re.search(r"\.(#|$|%|;)", fmt), (ws.title, c.coordinate, fmt)


def test_cells_hold_no_float_residue_and_money_is_in_fen(workbook):
    for ws in _list_sheets(workbook):
        for row in ws.iter_rows():
            for c in row:
                if isinstance(c.value, float):
                    assert round(c.value, 6) == c.value, (ws.title, c.coordinate, c.value)
                    if "#,##0.00" == c.number_format:
                        assert round(c.value, 2) == c.value, (ws.title, c.coordinate, c.value)


def test_totals_only_over_like_units(workbook):
    # 片 of V2 and of V3 are not one unit: the list's only sums are volumes, so it has no 合计 row at all
    assert all(r[0] != "合计" for r in workbook["零采购"].iter_rows(values_only=True))
    behind = _totals(workbook["低于序时进度"])
    assert behind["约定采购量"] == 1000  # one variety: its total is a quantity
    by_batch = _totals(workbook["按批次汇总"])
    assert by_batch["约定采购量"] is None and by_batch["总体完成率"] is None and by_batch["序时进度"] is None
    assert by_batch["应回款金额"] == 7200  # money adds across batches
    notes = [r[0] for r in workbook["零采购"].iter_rows(values_only=True) if r[0] and "合计行不加总数量" in str(r[0])]
    assert notes


def test_columns_are_as_wide_as_what_they_show(workbook):
    for ws in _list_sheets(workbook):
        widths = _widths(ws)
        for row in ws.iter_rows(min_row=2):
            if row[0].value == "合计" or row[0].value is None:
                break  # the note under the list spans the row, as a note does
            for c in row:
                if isinstance(c.value, str):
                    assert widths.get(c.column_letter, 0) >= _display(c.value) + 1, (ws.title, c.coordinate, c.value)
                elif isinstance(c.value, float) and c.number_format == "#,##0.00":
                    assert widths.get(c.column_letter, 0) >= len(f"{c.value:,.2f}") + 1, (ws.title, c.coordinate)


def test_cover_names_the_policy_and_the_beijing_minute(workbook):
    cover = {r[0]: r[1] for r in workbook["封面"].iter_rows(values_only=True) if r[0]}
    assert cover["生成时间"] == "2024-11-01 09:00(北京时间)"
    assert cover["执行政策"] == "默认规则(国家通知及各地实践)(2024-12-10 版)"


def test_an_aware_time_is_shown_in_beijing(report):
    report_utc = type(report)(**{**report.__dict__, "computed_at": datetime(2024, 11, 1, 1, 0, tzinfo=UTC)})
    assert dict(report_utc.cover)["生成时间"] == "2024-11-01 09:00(北京时间)"


def test_cards_are_concrete_figures_per_batch(report):
    cards = dict(report.headline)
    assert cards["第一批 完成率 / 序时进度"] == "46.7% / 50.0%"
    assert cards["闰日批 完成率 / 序时进度"] == "0.0% / 34.0%"
    assert "总体完成率" not in cards  # tablets of one batch and those of another are not one completion
    assert cards["闰日批 非中选产品占比"] == "尚无采购"  # nothing bought yet: said, not a dash
    for label, value in report.headline:
        assert (re.search(r"\d", value) or value == "尚无采购") and "见" not in value, (label, value)


def test_a_figure_given_as_text_is_shown_as_it_is():
    from jicai.reports.documents import Column, Table
    from jicai.reports.html import cell
    from jicai.reports.xlsx import column_width

    assert cell("", "rank") == "" and cell("—", "money") == "—" and cell(3, "rank") == "3"
    t = Table("t", "排名", [Column("rank", "排名", "rank", "rank")], [{"rank": ""}, {"rank": 12}])
    assert column_width(t, Column("rank", "排名", "rank", "rank")) >= 7


def test_the_summary_says_what_is_still_to_buy_in_its_unit(wh):
    from jicai.measures.monitor import monitor
    from jicai.policy import load_policy
    from jicai.reports.summary_zh import monitoring_summary

    lines = monitoring_summary(monitor(wh, DAY, None, load_policy()), DAY, top=1, units={"V2": "片"},
                               batch_names={"B1": "第一批", "B3": "闰日批"})
    assert lines[1].startswith("· 第一批（B1）：") and lines[2].startswith("· 闰日批（B3）：")
    # the furthest behind: H1·V2, nothing bought of 500 at 50% → 250 片 to reach 序时进度
    assert lines[4].endswith("还需采购 250 片")
    # in DDDs beside it: the world's V2 has no ATC class, so it says so (its reason from the factor table); with
    # 0.5 DDD per tablet (a 10 mg tablet, DDD 20 mg) 250 片 are 125 DDD
    from jicai.reports.summary_zh import ddd_factors

    def behind(ddd):
        return monitoring_summary(monitor(wh, DAY, None, load_policy()), DAY, top=1, units={"V2": "片"},
                                  ddd=ddd)[4]

    assert behind(ddd_factors(wh)).endswith("还需采购 250 片(该品种无DDD:非西药编码，无ATC分类)")
    assert behind({"V2": (0.5, None)}).endswith("还需采购 250 片(125 DDD)")


# -- charts -----------------------------------------------------------------------------------------------

def _svg_parts(svg: str):
    titles = [(float(y), t) for y, t in re.findall(r'<text x="0" y="([\d.]+)" font-size="13" font-weight="bold"[^>]*>'
                                                   r"([^<]*)</text>", svg)]
    legends = [(float(x), float(y), t) for x, y, t in re.findall(
        r'<g transform="translate\(([\d.]+),([\d.]+)\)">.*?<text[^>]*>([^<]*)</text></g>', svg)]
    return titles, legends


@pytest.mark.parametrize("title", ["各级医疗机构非中选产品占比",
                                   "各地市完成率与序时进度（国家组织药品集中带量采购协议期满接续采购（4+7及扩围品种）（GJ-YP-JX））"])
def test_chart_titles_are_whole_and_clear_of_the_legend(title):
    for svg in (progress_chart(title, [("福州市", 0.9, 1.0)]), share_chart(title, [("三级", 0.1)], 0.5)):
        titles, legends = _svg_parts(svg)
        assert "".join(t for _, t in titles) == title  # never cut
        last_title = max(y for y, _ in titles)
        assert legends and all(y >= last_title + 4 for _, y, _ in legends)  # the legend sits below, not across
        ends = [x + 14 + 10 * len(t) for x, _, t in legends]  # a CJK legend character is 10 px at font size 10
        assert max(ends) <= WIDTH and all(a < b for a, b in zip(ends, [x for x, _, _ in legends][1:], strict=False))
        top = min(float(y) for y in re.findall(r'<rect x="130" y="([\d.]+)"', svg))
        assert top > max(y for _, y, _ in legends) + 10  # the bars start under the legend


# -- HTML and PDF -----------------------------------------------------------------------------------------

class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.text = []

    def handle_data(self, data):
        self.text.append(data)


def test_html_shows_times_to_the_minute_and_no_negative_zero(report, tmp_path):
    (path,) = write_report(report, tmp_path, "m", ["html"])
    p = _Text()
    p.feed(path.read_text(encoding="utf-8"))
    text = "".join(p.text)
    assert "生成于 2024-11-01 09:00(北京时间)" in text and "2024-11-01 09:00:00" not in text
    assert not re.search(r"\d{4}-\d{2}-\d{2}T\d", text) and "-0.00" not in text and "见各批次" not in text


def test_pdf_prints_the_same(report, tmp_path):
    _require_pdf_tools()
    from pypdf import PdfReader

    (path,) = write_report(report, tmp_path, "m", ["pdf"])
    text = re.sub(r"\s+", "", "".join(p.extract_text() for p in PdfReader(io.BytesIO(path.read_bytes())).pages))
    assert "生成时间2024-11-0109:00(北京时间)" in text
    assert "执行政策默认规则(国家通知及各地实践)(2024-12-10版)" in text and "default@" not in text
    assert "第一批完成率/序时进度" in text and "见各批次" not in text and "-0.00" not in text


# -- the web serves HTML and PDF to be read, the workbook to be saved -------------------------------------

def test_web_opens_html_reports_inline(tmp_path):
    with TestClient(make_app(tmp_path)) as client:
        login(client, "bureau")
        html = client.get("/reports/monthly.html", params={"as_of": "2024-06-30"})
        assert html.status_code == 200 and html.headers["content-disposition"].startswith("inline;")
        assert html.headers["content-type"].startswith("text/html")
        xlsx = client.get("/reports/monthly.xlsx", params={"as_of": "2024-06-30"})
        assert xlsx.headers["content-disposition"].startswith("attachment;")
