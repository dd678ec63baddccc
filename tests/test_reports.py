"""The official reports (jicai report monthly|quarterly|annual): figures, workbook, HTML, PDF, CLI.

A hand-made world on top of the scenario world ``vbp`` (batch B1 from 2024-01-01, 20 yuan = 10 units a
pack; 2024-07-01 is day 183 of 366, so 序时进度 is exactly 50%):

| agreement | agreed | purchases (accepted; payment) | as of 2024-07-01 |
|---|---|---|---|
| H1 (610102, 三级) V1 | 1000 | P1 30 packs 03-15, 600 yuan paid 04-20 | completion 30% → behind |
| H1 V2 | 500 | none | zero, not onboarded |
| H2 (620102, 二级) V1 | 2000 | P1R 120 packs 04-10 (2400 yuan, 1000 paid 05-20); P1N 150 packs 04-10 unpaid | completion 60%, share 1500/2700 → excess; overdue 1400 + 3000 |
| H3 (610103, 一级) V1 | 1000 | P1 60 packs 05-10 (1200 paid 06-15); 40 packs 10-15 (paid 11-10) | completion 60% |

Totals as of 2024-07-01: agreed 4500, selected 2100 → 46.7%; counted non-selected 1500 → share 1500/3600
= 41.7%; due 600 + 2400 + 3000 + 1200 = 7200, paid by due 2800 → 38.9%; overdue 4400 (H2, 2 lines).
"""

from __future__ import annotations

import io
import re
from datetime import date, datetime
from html.parser import HTMLParser

import openpyxl
import pytest
from tests.conftest import ENGINES, unavailable
from tests.scenarios.runner import from_dict
from typer.testing import CliRunner

from jicai.cli import app
from jicai.reports.annual import annual_report
from jicai.reports.documents import ReportError
from jicai.reports.fonts import cjk_families
from jicai.reports.monthly import monthly_report
from jicai.reports.output import write_report
from jicai.reports.quarterly import quarterly_report
from jicai.store import connect

AT = datetime(2024, 11, 1, 9, 0, 0)
WORLD = {
    "description": "report world", "measure": "jicai.measures.monitor:monitor", "expect": [], "world": "vbp",
    "agreements": [{"inst": "H1", "agreed": 1000}, {"inst": "H1", "variety": "V2", "agreed": 500},
                   {"inst": "H2", "agreed": 2000}, {"inst": "H3", "agreed": 1000}],
    "buys": [
        {"inst": "H1", "packs": 30, "accepted": "2024-03-15", "paid": [[600, "2024-04-20"]]},
        {"inst": "H2", "product": "P1R", "packs": 120, "accepted": "2024-04-10", "paid": [[1000, "2024-05-20"]]},
        {"inst": "H2", "product": "P1N", "packs": 150, "accepted": "2024-04-10"},
        {"inst": "H3", "packs": 60, "accepted": "2024-05-10", "paid": [[1200, "2024-06-15"]]},
        {"inst": "H3", "packs": 40, "accepted": "2024-10-15", "paid": [[800, "2024-11-10"]]},
    ],
    "tables": {"regions": [{"region_code": "610100", "name": "西安市", "parent_code": "610000"},
                           {"region_code": "620100", "name": "兰州市", "parent_code": "620000"}]},
}


@pytest.fixture(scope="module")
def tables():
    return from_dict(WORLD).tables


@pytest.fixture(scope="module")
def wh(tables):
    w = connect("duckdb://")
    for name, t in tables.items():
        w.write_table(name, t)
    yield w
    w.close()


@pytest.fixture(scope="module")
def monthly(wh):
    return monthly_report(wh, date(2024, 7, 1), computed_at=AT)


def _by(rows, *keys):
    return {tuple(r[k] for k in keys) if len(keys) > 1 else r[keys[0]]: r for r in rows}


# -- the figures ---------------------------------------------------------------------------------------

def test_monthly_paragraphs_carry_the_hand_computed_figures(monthly):
    assert monthly.paragraphs[1] == (
        "截至2024年7月1日，第一批（B1）第1采购年度序时进度为50.0%；全省3家医疗机构共4个约定品种，总体完成率46.7%。"
        "总体完成率低于序时进度的医疗机构有1家：医院一（完成率20.0%，低于序时进度30.0个百分点）。"
        "按约定品种统计，零采购1个，低于序时进度1个，未进院1个。")
    assert monthly.paragraphs[2] == (
        "第一批（B1）非中选产品占比41.7%；非中选产品占比超过50.0%的约定品种有1个：医院二·品种一（55.6%）。")
    assert monthly.paragraphs[3] == (
        "回款方面，第一批（B1）到期应回款7,200.00元，按期回款率38.9%；逾期未回款4,400.00元，涉及医疗机构1家：医院二（4,400.00元）。")
    assert dict(monthly.headline) == {"医疗机构": "3 家", "约定品种": "4 个", "总体完成率": "46.7%", "序时进度": "50.0%",
                                      "非中选产品占比": "41.7%", "按期回款率": "38.9%", "逾期未回款": "4,400.00元"}
    assert monthly.policy_version.startswith("default@") and monthly.as_of == date(2024, 7, 1)
    assert monthly.policy_label == "默认规则(国家通知及各地实践)(2024-12-10 版)"


def test_monthly_lists(monthly):
    keys = lambda t: [(r["institution_code"], r["variety_id"]) for r in monthly.table(t).rows]  # noqa: E731
    assert keys("zero") == [("H1", "V2")]
    assert keys("behind") == [("H1", "V1")]
    assert keys("nonselected_excess") == [("H2", "V1")]
    assert keys("not_onboarded") == [("H1", "V2")]
    (late,) = monthly.table("late_payers").rows
    assert (late["institution_code"], late["rank"], late["overdue_amount"], late["overdue_lines"]) == ("H2", 1, 4400.0, 2)
    assert late["amount_due"] == 5400.0 and late["paid_by_due"] == 1000.0
    behind = monthly.table("behind")
    assert behind.totals == {"agreed_volume": 1000.0, "selected_volume": 300.0, "shortfall_volume": 200.0}


def test_monthly_rollups(monthly):
    city = _by(monthly.table("by_city").rows, "city_code")
    assert city["610100"]["city_name"] == "西安市" and city["610100"]["completion"] == pytest.approx(900 / 2500)
    assert city["620100"]["completion"] == pytest.approx(0.6) and city["620100"]["overdue_amount"] == 4400.0
    level = _by(monthly.table("by_level").rows, "level")
    assert [r["level"] for r in monthly.table("by_level").rows] == [3, 2, 1]
    assert level[3]["completion"] == pytest.approx(0.2) and level[2]["nonselected_share"] == pytest.approx(1500 / 2700)
    total = monthly.table("by_city").totals
    assert total["agreed_volume"] == 4500.0 and total["selected_volume"] == 2100.0
    assert total["completion"] == pytest.approx(2100 / 4500) and total["payment_rate"] == pytest.approx(2800 / 7200)
    assert total["institutions"] == 3 and total["rows"] == 4


def test_quarterly_ranks_the_lagging_and_the_late(wh):
    q = quarterly_report(wh, 2024, 3, computed_at=AT)
    assert q.as_of == date(2024, 9, 30) and q.period == "2024年第三季度"
    tp = 274 / 366
    lag = q.table("lagging").rows
    assert [(r["institution_code"], r["rank"]) for r in lag] == [("H1", 1), ("H2", 2), ("H3", 2)]  # a tie
    assert [r["gap"] for r in lag] == pytest.approx([tp - 0.2, tp - 0.6, tp - 0.6])
    assert q.paragraphs[0] == "现将2024年第三季度全省药品和医用耗材集中带量采购执行情况通报如下（数据截至2024年9月30日）。"
    assert q.paragraphs[1] == (
        "截至2024年9月30日，第一批（B1）第1采购年度序时进度为74.9%；全省3家医疗机构共4个约定品种，总体完成率46.7%。"
        "总体完成率低于序时进度的医疗机构有3家：医院一（完成率20.0%，低于序时进度54.9个百分点）、"
        "医院二（完成率60.0%，低于序时进度14.9个百分点）、医院三（完成率60.0%，低于序时进度14.9个百分点）。"
        "按约定品种统计，零采购1个，低于序时进度3个，未进院1个。")
    assert [r["institution_code"] for r in q.table("late_payers").rows] == ["H2"]


def test_quarter_4_is_the_year_end(wh):
    q = quarterly_report(wh, 2024, 4, computed_at=AT)
    assert q.as_of == date(2024, 12, 31) and q.period == "2024年第四季度"
    assert "第1采购年度序时进度为100.0%" in q.paragraphs[1]
    assert [r["institution_code"] for r in q.table("lagging").rows] == ["H1", "H2"]  # H3 has completed
    assert "总体完成率低于序时进度的医疗机构有2家" in q.paragraphs[1]


def test_a_quarter_with_no_lagging_institution(tables):
    w = connect("duckdb://")
    for name, t in tables.items():
        w.write_table(name, t)
    ag = from_dict({**WORLD, "agreements": [{"inst": "H3", "agreed": 1000}]}).tables["agreements"]
    w.write_table("agreements", ag, overwrite=True)
    q = quarterly_report(w, 2024, 2, computed_at=AT)
    assert q.table("lagging").rows == []
    assert "各医疗机构总体完成率均已达到序时进度。" in q.paragraphs[1]


def test_unknown_batch_and_bad_quarter(wh):
    with pytest.raises(ReportError, match="no batch"):
        monthly_report(wh, date(2024, 7, 1), "NOPE")
    with pytest.raises(ReportError, match="quarter"):
        quarterly_report(wh, 2024, 5)
    with pytest.raises(ReportError):
        annual_report(wh, "B1", 9)


def test_annual_report_totals_are_the_assessments(wh):
    from jicai.assess.assessment import assess

    rows = assess(wh, "B1", 1).to_pyarrow().to_pylist()
    a = annual_report(wh, "B1", 1, computed_at=AT)
    passed = sorted(r["institution_code"] for r in rows if r["passed"])
    assert passed == ["H3"]
    assert a.paragraphs[1].startswith(
        "第一批（B1）第1采购年度（2024年1月1日至2024年12月31日）考核结果：全省参与考核的医疗机构3家，考核合格1家，不合格2家，"
        "合格率33.3%。不合格原因：未完成约定采购量2家，非中选占比超标1家。不合格的医疗机构：")
    results = a.table("results")
    assert len(results.rows) == 3
    for col in ("budget", "actual", "retention_base", "reward", "overspend_shared"):
        assert results.totals[col] == pytest.approx(sum(r[col] for r in rows)), col
    failed = sorted((r for r in rows if not r["passed"]), key=lambda r: (r["score"], r["institution_code"]))
    assert [r["institution_code"] for r in a.table("failed").rows] == [r["institution_code"] for r in failed]
    assert {r["institution_code"] for r in a.table("failed").rows} == {"H1", "H2"}
    assert [r["institution_code"] for r in a.table("rewards").rows] == [r["institution_code"] for r in rows
                                                                          if r["reward"] > 0]
    by_level = _by(a.table("by_level").rows, "level")
    assert by_level[1]["passed"] == 1 and by_level[1]["pass_rate"] == 1.0 and by_level[3]["pass_rate"] == 0.0


def test_annual_results_give_the_reason_of_every_fail(wh):
    """The results list of the PDF/HTML (its brief columns) shows 不合格原因 with 合格, last where a long list of
    failing items can wrap. By hand: H1 bought
    30 packs × 10 = 300 of its 1,000 of 品种一 (30.0%; 品种二 is a special variety, exempt); H2 bought 1,200 of
    its 2,000 through P1R (60.0%) and 1,500 non-selected: 1500 / 2700 = 55.56% > 50%, shown rounded up."""
    a = annual_report(wh, "B1", 1, computed_at=AT)
    results = a.table("results")
    names = [c.name for c in results.html_columns]
    assert "passed" in names and names[-1] == "failed_items_zh"
    reasons = {r["institution_code"]: r["failed_items_zh"] for r in results.rows}
    assert reasons == {"H1": "完成率:品种一 30.0% < 100%",
                       "H2": "完成率:品种一 60.0% < 100%;非中选占比:品种一 55.6% > 50%", "H3": ""}


def test_provisional_annual_report(wh):
    a = annual_report(wh, "B1", 1, as_of=date(2024, 9, 30), computed_at=AT)
    assert a.title.endswith("（预考核）") and a.as_of == date(2024, 9, 30)
    assert "截至2024年9月30日的预考核结果" in a.paragraphs[1]


# -- the workbook ----------------------------------------------------------------------------------------

def _sheet_rows(ws):
    """Header, data rows and the 合计 row of a list sheet."""
    rows = list(ws.iter_rows(values_only=True))
    end = next(i for i, r in enumerate(rows) if r[0] == "合计")
    return rows[0], rows[1:end], rows[end]


def test_monthly_workbook(monthly, tmp_path):
    (path,) = write_report(monthly, tmp_path, "m", ["xlsx"])
    wb = openpyxl.load_workbook(path, data_only=True)  # the cached values of the SUM formulas
    assert wb.sheetnames == ["封面", "按批次汇总", "按地市汇总", "按医院等级汇总", "零采购", "低于序时进度", "非中选超量",
                             "未进院", "逾期回款排名"]
    cover = [c for row in wb["封面"].iter_rows(values_only=True) for c in row if c]
    assert monthly.paragraphs[1] in cover and "2024-07-01" in cover
    # the policy by its name and version date; its content hash only in the file's metadata
    assert "默认规则(国家通知及各地实践)(2024-12-10 版)" in cover and not any("default@" in str(c) for c in cover)
    assert monthly.policy_version in wb.properties.description
    for name in wb.sheetnames[1:]:
        ws = wb[name]
        assert ws.freeze_panes == "A2", name
        header, data, total = _sheet_rows(ws)
        table = next(t for t in monthly.tables if t.title == name)
        assert list(header) == [c.zh for c in table.columns], name
        assert len(data) == len(table.rows), name
        for j, c in enumerate(table.columns):
            if c.total:  # the totals row is the sum of the rows, and the measure's own total
                assert total[j] == pytest.approx(sum(r[j] or 0 for r in data)), (name, c.name)
                assert total[j] == pytest.approx(table.totals[c.name]), (name, c.name)
    ws = wb["按地市汇总"]
    header, data, total = _sheet_rows(ws)
    j = header.index("总体完成率")
    assert ws.cell(2, j + 1).number_format == "0.0%" and data[0][j] == pytest.approx(900 / 2500)
    assert total[j] == pytest.approx(2100 / 4500)  # a ratio of sums, not a sum of ratios
    assert ws.cell(2, header.index("逾期未回款金额") + 1).number_format == "#,##0.00"
    assert [r[header.index("地市名称")] for r in data] == ["西安市", "兰州市"]
    raw = openpyxl.load_workbook(path)["逾期回款排名"]  # the formulas themselves
    header = [c.value for c in raw[1]]
    col = header.index("逾期未回款金额") + 1
    assert raw.cell(3, 1).value == "合计" and raw.cell(3, col).value == f"=SUM({raw.cell(3, col).column_letter}2:"\
        f"{raw.cell(3, col).column_letter}2)"


def test_annual_workbook(wh, tmp_path):
    a = annual_report(wh, "B1", 1, computed_at=AT)
    (path,) = write_report(a, tmp_path, "a", ["xlsx"])
    wb = openpyxl.load_workbook(path, data_only=True)
    assert wb.sheetnames == ["封面", "考核结果", "不合格机构", "结余留用奖励", "按地市汇总", "按医院等级汇总"]
    header, data, total = _sheet_rows(wb["考核结果"])
    assert "考核合格" in header and "不合格原因" in header and "结余留用奖励" in header
    j = header.index("结余留用奖励")
    assert total[j] == pytest.approx(sum(r[j] or 0 for r in data))
    assert {r[header.index("考核合格")] for r in data} == {"合格", "不合格"}  # the measure's names for true/false
    header, data, total = _sheet_rows(wb["按医院等级汇总"])
    assert [r[header.index("医院等级")] for r in data] == ["三级", "二级", "一级"]
    assert [r[header.index("合格数")] for r in data] == [0, 0, 1] and total[header.index("合格数")] == 1


def test_workbook_keeps_unit_prices_and_names_booleans(tmp_path):
    """A unit price keeps its four decimals (0.0512 yuan a tablet is not 0.05); a boolean shows the names its
    measure gives it, or 是/否; money is rounded to the fen in the cell."""
    from jicai.reports.documents import Column, Report, Table

    cols = [Column("p", "单价", "unit price", "price"), Column("m", "金额", "amount", "money"),
            Column("ok", "考核合格", "passed", "bool", labels={"true": "合格", "false": "不合格"}),
            Column("b", "是否", "flag", "bool")]
    rows = [{"p": 0.0512, "m": 1.005, "ok": True, "b": True}, {"p": 2.34567, "m": 2.0, "ok": False, "b": False}]
    report = Report(kind="t", title="单价", period="", as_of=date(2024, 1, 1), batch_id=None, policy_version="v",
                    computed_at=AT, tables=[Table("t", "单价", cols, rows)])
    (path,) = write_report(report, tmp_path, "p", ["xlsx"])
    ws = openpyxl.load_workbook(path)["单价"]
    assert [[c.value for c in row] for row in ws.iter_rows(min_row=2, max_row=3)] == [
        [0.0512, 1.01, "合格", "是"], [2.34567, 2.0, "不合格", "否"]]
    assert ws.cell(2, 1).number_format == "#,##0.0000"
    from jicai.reports.html import render_html

    html = render_html(report)
    assert "0.0512" in html and "2.3457" in html and "不合格" in html and ">否<" in html


# -- HTML and PDF ------------------------------------------------------------------------------------------

class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def test_html_is_self_contained_with_charts_and_paragraphs(monthly, tmp_path):
    (path,) = write_report(monthly, tmp_path, "m", ["html"])
    html = path.read_text(encoding="utf-8")
    p = _Collect()
    p.feed(html)
    tags = [t for t, _ in p.tags]
    assert tags.count("svg") == len(monthly.charts) >= 3
    text = "".join(p.text)
    for para in monthly.paragraphs:
        assert para in text
    assert "各地市完成率与序时进度" in text and "各级医疗机构非中选产品占比" in text and "西安市" in text
    # nothing is fetched: no scripts, links, images, frames or CSS url(); the only "http" is the SVG namespace
    assert not {"script", "link", "img", "iframe", "object", "embed"} & set(tags)
    assert all(k not in ("src", "href") or v.startswith("#") for _, a in p.tags for k, v in a.items())
    assert "url(" not in html and "@import" not in html
    assert set(re.findall(r"https?://[^\s\"'<>]+", html)) <= {"http://www.w3.org/2000/svg"}
    assert "执行政策 默认规则(国家通知及各地实践)(2024-12-10 版)" in text and "default@" not in text
    assert "4,400.00" in text


def _require_pdf_tools():
    if not cjk_families():
        unavailable("no CJK font installed (scripts/setup.sh installs fonts-noto-cjk)")


def test_pdf_has_extractable_chinese_and_embeds_a_cjk_font(wh, tmp_path):
    _require_pdf_tools()
    from pypdf import PdfReader

    q = quarterly_report(wh, 2024, 3, computed_at=AT)
    (path,) = write_report(q, tmp_path, "q", ["pdf"])
    data = path.read_bytes()
    assert data.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(data))
    text = re.sub(r"\s+", "", "".join(page.extract_text() for page in reader.pages))
    assert "集中带量采购执行情况季度通报" in text and "2024年第三季度" in text
    assert "总体完成率低于序时进度的医疗机构有3家" in text and "医院一" in text
    fonts = {}
    for page in reader.pages:
        for f in page["/Resources"]["/Font"].values():
            f = f.get_object()
            for d in f.get("/DescendantFonts", [f]):
                d = d.get_object()
                desc = d.get("/FontDescriptor")
                fonts[str(d["/BaseFont"])] = desc is not None and any(
                    k in desc.get_object() for k in ("/FontFile", "/FontFile2", "/FontFile3"))
    cjk = {name: embedded for name, embedded in fonts.items() if "CJK" in name or "Hei" in name or "Han" in name}
    assert cjk and all(cjk.values()), fonts


def test_pdf_without_a_cjk_font_is_refused(monkeypatch, monthly, tmp_path):
    from jicai.reports import fonts, pdf

    monkeypatch.setattr(fonts, "cjk_families", lambda: [])
    with pytest.raises(pdf.PdfUnavailable, match="no Chinese font"):
        write_report(monthly, tmp_path, "m", ["pdf"])
    assert not (tmp_path / "m.pdf").exists()


# -- the command ---------------------------------------------------------------------------------------

@pytest.fixture
def data_dir(tmp_path, tables):
    from jicai.store import default_url

    d = tmp_path / "data"
    d.mkdir()
    w = connect(default_url(d))
    for name, t in tables.items():
        w.write_table(name, t)
    w.close()
    return d


def test_cli_monthly_quarterly_annual(data_dir, tmp_path):
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["--data-dir", str(data_dir), "report", "monthly", "--as-of", "2024-07-01",
                                 "--batch", "B1", "--format", "xlsx,html", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "总体完成率：46.7%" in r.output
    assert sorted(p.name for p in out.iterdir()) == ["月度监测_2024-07-01_B1.html", "月度监测_2024-07-01_B1.xlsx"]
    r = CliRunner().invoke(app, ["--data-dir", str(data_dir), "report", "quarterly", "--year", "2024", "--quarter",
                                 "3", "--format", "xlsx", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert (out / "季度通报_2024Q3.xlsx").exists()
    r = CliRunner().invoke(app, ["--data-dir", str(data_dir), "report", "annual", "--batch", "B1", "--year", "1",
                                 "--format", "html"])
    assert r.exit_code == 0, r.output
    assert (data_dir / "reports" / "年度考核_B1_第1年度.html").exists()


def test_cli_errors_are_bilingual(data_dir):
    r = CliRunner().invoke(app, ["--data-dir", str(data_dir), "report", "monthly", "--as-of", "2024-07-01",
                                 "--format", "docx"])
    assert r.exit_code == 2 and "不支持的格式" in r.output and "unsupported format" in r.output
    r = CliRunner().invoke(app, ["--data-dir", str(data_dir), "report", "monthly", "--as-of", "2024-07-01",
                                 "--batch", "NOPE"])
    assert r.exit_code == 2 and "批次不存在" in r.output and "no such batch: NOPE" in r.output
    r = CliRunner().invoke(app, ["--data-dir", str(data_dir), "report", "annual", "--batch", "B1", "--year", "7"])
    assert r.exit_code == 2 and "cycle year 7" in r.output
    r = CliRunner().invoke(app, ["--data-dir", str(data_dir), "report", "quarterly", "--year", "2024",
                                 "--quarter", "0"])
    assert r.exit_code == 2 and "quarter must be 1–4" in r.output


# -- every engine --------------------------------------------------------------------------------------

@pytest.mark.parametrize("engine", ENGINES)
def test_the_same_report_on_every_engine(engine, engine_warehouse, tables):
    """The report runs the measure on the warehouse's engine; the document must not depend on which."""
    w = engine_warehouse(engine, tables)
    r = monthly_report(w, date(2024, 7, 1), computed_at=AT)
    assert r.paragraphs[1:4] == [
        "截至2024年7月1日，第一批（B1）第1采购年度序时进度为50.0%；全省3家医疗机构共4个约定品种，总体完成率46.7%。"
        "总体完成率低于序时进度的医疗机构有1家：医院一（完成率20.0%，低于序时进度30.0个百分点）。"
        "按约定品种统计，零采购1个，低于序时进度1个，未进院1个。",
        "第一批（B1）非中选产品占比41.7%；非中选产品占比超过50.0%的约定品种有1个：医院二·品种一（55.6%）。",
        "回款方面，第一批（B1）到期应回款7,200.00元，按期回款率38.9%；逾期未回款4,400.00元，涉及医疗机构1家：医院二（4,400.00元）。",
    ]
    assert [len(t.rows) for t in r.tables] == [1, 2, 3, 1, 1, 1, 1, 1]

