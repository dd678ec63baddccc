"""The one-page summary (jicai.reports.summary): its figures on a hand-built province (tests/summary_world.py),
one A4 page as PDF, the command, and the pages' scope.

Expected figures by hand (as of 2024-06-30, cycle year 1 = 2024, time progress 182 / 366 = 49.7%):

* HA (level 3): completion 700 / 1,000 = 70.0% (60.0% on 2024-05-31: +10.0 points), non-selected 0.0%, payment
  rate 0 / 1,200 = 0.0% with ¥1,200 overdue; HC (level 3): completion 20.0%, non-selected 300 / 500 = 60.0%,
  payment rate 100.0%. The two are each other's only peers: rank 1/2 is decile 1, rank 2/2 decile 10. So HA is
  best at completion (first of its three 1/2 in the table's order) and worst at payment; HC best at payment and
  worst at completion (the first of its two 2/2).
* HC's alerts: the non-selected saving 900 − 300 × 2.0 = ¥300; behind time progress ⌈1,000 × 182/366 − 200⌉
  = 298 tablets, monthly ⌈1,000 / 12⌉ = 84; the assessment at risk (its stake from jicai.analytics.alerts).
* 福州市 (3501: HA and HB) against 泉州市 (3505: HC): completion (700 + 0) / 2,000 = 35.0% (30.0% a month
  before), payment 0.0%.
"""

from __future__ import annotations

import copy
from datetime import date

import pytest
from fastapi.testclient import TestClient
from tests.summary_world import summary_tables
from tests.web_fixtures import HA, HB, HC, csrf, login, make_app
from typer.testing import CliRunner

from jicai.cli import app
from jicai.contract.arrow import empty
from jicai.contract.tables import TABLES
from jicai.reports.documents import ReportError
from jicai.reports.summary import summary_report
from jicai.store import connect

D = date(2024, 6, 30)


@pytest.fixture(scope="module")
def wh():
    w = connect("duckdb://")
    t = summary_tables()
    for name in TABLES:
        w.write_table(name, t.get(name, empty(name)))
    yield w
    w.close()


@pytest.fixture(scope="module")
def ha(wh):
    return summary_report(wh, D, institution=HA)


def _measures(r):
    return [(x["measure"], x["value"], x["previous"], x["change"], x["reference"], x["rank"], x["decile"])
            for x in r.table("measures").rows]


def test_institution_summary_figures(ha):
    assert ha.title == "医疗机构集采执行一页摘要" and ha.period == "鼓楼医院甲 · 2024年6月"
    assert _measures(ha)[:3] == [
        ("完成率", "70.0%", "60.0%", "+10.0 个百分点", "序时进度 49.7%", "1/2", "第 1 十分位"),
        ("非中选占比", "0.0%", "0.0%", "0.0 个百分点", "上限 50.0%", "1/2", "第 1 十分位"),
        ("回款率", "0.0%", "0.0%", "0.0 个百分点", "逾期未回款 ¥1,200.00", "2/2", "第 10 十分位"),
    ]
    # the provisional assessment: one row per batch whose cycle year contains D, ranked among the level
    (name, _, prev, change, verdict, rank, _d), = _measures(ha)[3:]
    assert (name, prev, change, rank) == ("预考核 B1 第1年度得分", "—", "—", "1/2")
    assert verdict == "不合格:完成率:阿托伐他汀钙片 70.0% < 100%"
    assert ha.paragraphs[0] == ("鼓楼医院甲(H35010200001),三级医疗机构:截至 2024-06-30 的集采执行情况,"
                                "排名对象为全省同级(同等级)医疗机构。")
    assert ha.paragraphs[1] == ("表现最好:完成率 70.0%(同级第 1/2 名,第 1 十分位);"
                                "最需改进:回款率 0.0%(同级第 2/2 名,第 10 十分位)。")
    assert ha.paragraphs[2] == "较上月末改善:完成率 +10.0 个百分点。持续变化监测(CUSUM):改善 0 项、恶化 0 项。"
    alerts = ha.table("alerts")
    assert [c.zh for c in alerts.columns] == ["级别", "类型", "预警内容与建议", "涉及金额(元)"]  # no name of itself
    assert [(a["severity"], a["alert_kind"], a["stake_amount"]) for a in alerts.rows] == [("高", "回款逾期", 1200.0)]
    assert alerts.rows[0]["message"].startswith("向 甲制药 回款逾期 ¥1,200，已超期")
    assert ha.headline == [("完成率", "70.0%"), ("非中选占比", "0.0%"), ("回款率", "0.0%"), ("预警", "1 条"),
                           ("预警涉及金额", "¥1,200.00"), ("节省潜力", "¥0.00")]
    assert "H35010200001" not in str(alerts.rows)  # codes with names in the text, no internal ids in the lists


def test_the_other_hospital_is_best_and_worst_elsewhere(wh):
    hc = summary_report(wh, D, institution=HC)
    assert _measures(hc)[:3] == [
        ("完成率", "20.0%", "20.0%", "0.0 个百分点", "序时进度 49.7%", "2/2", "第 10 十分位"),
        ("非中选占比", "60.0%", "60.0%", "0.0 个百分点", "上限 50.0%", "2/2", "第 10 十分位"),
        ("回款率", "100.0%", "100.0%", "0.0 个百分点", "逾期未回款 ¥0.00", "1/2", "第 1 十分位"),
    ]
    assert hc.paragraphs[1] == ("表现最好:回款率 100.0%(同级第 1/2 名,第 1 十分位);"
                                "最需改进:完成率 20.0%(同级第 2/2 名,第 10 十分位)。")
    assert hc.paragraphs[2] == "较上月末没有改善的指标。持续变化监测(CUSUM):改善 0 项、恶化 0 项。"
    rows = hc.table("alerts").rows
    assert [(a["severity"], a["alert_kind"]) for a in rows] == [("高", "考核不合格风险"), ("中", "非中选占比超标"),
                                                               ("中", "低于序时进度")]
    assert rows[1]["stake_amount"] == 300.0 and rows[1]["message"].endswith("替换为中选产品可节省 ¥300")
    assert "本月底前还需采购 298 片 才能达到序时进度（月均 84 片）" in rows[2]["message"]
    stake = rows[0]["stake_amount"] + 300.0
    assert hc.table("alerts").totals == {"stake_amount": round(stake, 2)}
    assert hc.paragraphs[3].startswith(f"本月预警 3 条(高 1 条),涉及金额 ¥{stake:,.2f};")


def test_alone_in_its_level_is_not_ranked(wh):
    hb = summary_report(wh, D, institution=HB)
    # ranked 1 of 1 where it has a figure (payment: nothing was due), but no decile and no best or worst
    assert [(x["measure"], x["value"], x["rank"]) for x in hb.table("measures").rows][:3] == [
        ("完成率", "0.0%", "1/1"), ("非中选占比", "—", "—"), ("回款率", "—", "—")]
    assert {x["decile"] for x in hb.table("measures").rows} == {"—"}
    assert hb.paragraphs[1] == "同级可比对象不足两个,各项指标未排名。"


def test_before_the_batch_starts(wh):
    r = summary_report(wh, date(2023, 1, 15), institution=HA)
    assert r.paragraphs[1] == "截至该日尚无执行数据(没有执行中的采购年度或约定采购量)。"
    assert [x["value"] for x in r.table("measures").rows] == ["—", "—", "—"] and not r.table("alerts").rows


def test_region_summary(wh):
    r = summary_report(wh, D, region="350100")
    assert r.title == "地区集采执行一页摘要" and r.period == "福州市 · 2024年6月"
    assert _measures(r)[0] == ("完成率", "35.0%", "30.0%", "+5.0 个百分点", "序时进度 49.7%", "1/2", "第 1 十分位")
    assert _measures(r)[2][:2] == ("回款率", "0.0%")
    assert _measures(r)[3][0] == "预考核 B1 第1年度合格率"
    # the region's alerts name their institution; none of Quanzhou's
    names = {a["institution_name"] for a in r.table("alerts").rows}
    assert names == {"鼓楼医院甲", "鼓楼医院乙"}
    assert r.table("alerts").columns[0].zh == "机构"


@pytest.mark.parametrize("kw", [{"institution": "H000"}, {"region": "990000"}, {"region": "abc"}, {},
                                {"institution": HA, "region": "350100"}])
def test_bad_arguments_are_bilingual(wh, kw):
    with pytest.raises(ReportError) as e:
        summary_report(wh, D, **kw)
    assert e.value.zh and e.value.en


def test_fits_one_a4_page(wh, ha):
    from io import BytesIO

    from pypdf import PdfReader

    from jicai.reports.pdf import render_pdf

    for r in (copy.deepcopy(ha), summary_report(wh, D, region="350000")):  # a copy: ``ha`` is shared
        # many alerts and changes would not print more than the lists' limits: fill them beyond
        r.table("alerts").rows = r.table("alerts").rows * 20
        r.table("changes").rows = [{"series": "非中选占比", "direction": "改善", "change_start": "2024-01",
                                    "institution_name": "鼓楼医院甲",
                                    "rule": "非中选占比自 2024-01 起下降,2024-04 超过报警阈值" * 3}] * 10
        pdf = PdfReader(BytesIO(render_pdf(r)))
        assert len(pdf.pages) == 1
        assert abs(float(pdf.pages[0].mediabox.width) - 595.3) < 1  # A4 portrait, in points


def test_cli(tmp_path):
    from jicai.store import default_url

    d = tmp_path / "data"
    d.mkdir()
    w = connect(default_url(d))
    t = summary_tables()
    for name in TABLES:
        w.write_table(name, t.get(name, empty(name)))
    w.close()
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["--data-dir", str(d), "report", "summary", "--institution", HA, "--as-of",
                                 "2024-06-30", "--format", "html,xlsx", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "完成率：70.0%" in r.output and "预警涉及金额：¥1,200.00" in r.output
    assert sorted(p.name for p in out.iterdir()) == [f"一页摘要_{HA}_2024-06-30.html", f"一页摘要_{HA}_2024-06-30.xlsx"]
    assert "表现最好:完成率 70.0%" in (out / f"一页摘要_{HA}_2024-06-30.html").read_text(encoding="utf-8")
    r = CliRunner().invoke(app, ["--data-dir", str(d), "report", "summary", "--region", "350500", "--as-of",
                                 "2024-06-30", "--format", "html", "--out", str(out)])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["--data-dir", str(d), "report", "summary", "--as-of", "2024-06-30"])
    assert r.exit_code == 2 and "二者选一" in r.output and "either --institution or --region" in r.output
    r = CliRunner().invoke(app, ["--data-dir", str(d), "report", "summary", "--institution", "NOPE", "--as-of",
                                 "2024-06-30"])
    assert r.exit_code == 2 and "no such institution: NOPE" in r.output


def test_pages_scope_and_odd_input(tmp_path):
    with TestClient(make_app(tmp_path, summary_tables())) as client:
        login(client, "institution")  # HA
        page = client.get(f"/institutions/{HA}?as_of=2024-06-30")
        assert f'href="/institutions/{HA}/summary.pdf?as_of=2024-06-30"' in page.text
        r = client.get(f"/institutions/{HA}/summary.pdf?as_of=2024-06-30")
        assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
        assert r.content.startswith(b"%PDF")
        assert client.get(f"/institutions/{HC}/summary.pdf?as_of=2024-06-30").status_code == 404  # another's
        assert client.get("/regions/350100/summary.pdf").status_code == 403  # regions are for bureaus
        assert client.get(f"/institutions/{HA}/summary.docx").status_code == 404
        assert client.get(f"/institutions/{HA}/summary.html?as_of=not-a-day").status_code == 422
        client.post("/logout", data={"csrf_token": csrf(client)})
        login(client, "district")  # Quanzhou (3505)
        assert 'href="/regions/350500/summary.pdf?as_of=' in client.get("/").text
        r = client.get("/regions/350500/summary.html?as_of=2024-06-30")
        assert r.status_code == 200 and "泉州市" in r.text and "鲤城医院丙" in r.text
        assert client.get(f"/institutions/{HC}/summary.html?as_of=2024-06-30").status_code == 200
        assert client.get(f"/institutions/{HA}/summary.pdf?as_of=2024-06-30").status_code == 404  # not its region
        assert client.get("/regions/350100/summary.pdf?as_of=2024-06-30").status_code == 404
        assert client.get("/regions/350000/summary.pdf?as_of=2024-06-30").status_code == 404  # above its scope
        assert client.get("/regions/35x/summary.pdf").status_code == 404
        client.post("/logout", data={"csrf_token": csrf(client)})
        login(client, "bureau")
        assert client.get("/regions/990000/summary.html?as_of=2024-06-30").status_code == 422  # no institution
        assert client.get("/regions/350100/summary.xlsx?as_of=2024-06-30").status_code == 200


def test_changes_improving_first_and_counted(wh, monkeypatch):
    """The summary's list of CUSUM events (change detection is tested in its own scenarios): the unit's events
    only, improving first, then the latest start; the paragraph counts them."""
    import jicai.analytics.change as change

    def detect(wh, as_of, policy=None):
        base = {"region_code": "350102", "level": 3, "change_start": "2024-02", "alarm_month": "2024-05",
                "last_alarm_month": "2024-06", "alarm_months": 2, "ongoing": True, "series_value": 1.0,
                "reference_mean": 1.0, "reference_sd": 1.0, "threshold": 5.0, "cusum": 6.0}
        rows = [
            {**base, "institution_code": HA, "institution_name": "鼓楼医院甲", "series": "nonselected_share",
             "direction": "deteriorating", "change_start": "2024-04", "rule": "非中选占比上升"},
            {**base, "institution_code": HA, "institution_name": "鼓楼医院甲", "series": "completion_percentile",
             "direction": "improving", "rule": "完成率百分位上升"},
            {**base, "institution_code": HA, "institution_name": "鼓楼医院甲", "series": "cost_per_ddd",
             "direction": "improving", "change_start": "2024-03", "rule": "每DDD费用下降"},
            {**base, "institution_code": HC, "institution_name": "鲤城医院丙", "region_code": "350502",
             "series": "nonselected_share", "direction": "improving", "rule": "另一家"},
        ]
        # the alerts read each still-deteriorating event's value in its last alarm month from the steps
        steps = [{"institution_code": r["institution_code"], "series": r["series"], "month": r["last_alarm_month"],
                  "series_value": r["series_value"]} for r in rows]
        return steps, rows

    monkeypatch.setattr(change, "detect", detect)  # the summary runs change detection once, for both lists
    r = summary_report(wh, D, institution=HA)
    assert [(c["series"], c["direction"], c["change_start"], c["rule"]) for c in r.table("changes").rows] == [
        (change.SERIES_LABELS["cost_per_ddd"][0], "改善", "2024-03", "每DDD费用下降"),
        (change.SERIES_LABELS["completion_percentile"][0], "改善", "2024-02", "完成率百分位上升"),
        (change.SERIES_LABELS["nonselected_share"][0], "恶化", "2024-04", "非中选占比上升"),
    ]
    assert r.paragraphs[2].endswith("持续变化监测(CUSUM):改善 2 项、恶化 1 项。")


@pytest.mark.parametrize("engine", ["postgres"])  # Spark: run once by hand (docs/reports.md), too slow for CI
def test_the_same_summary_on_another_engine(engine, engine_warehouse, ha):
    t = summary_tables()
    w = engine_warehouse(engine, {name: t.get(name, empty(name)) for name in TABLES})
    other = summary_report(w, D, institution=HA, computed_at=ha.computed_at)
    assert other.paragraphs == ha.paragraphs and other.headline == ha.headline
    assert [t.rows for t in other.tables] == [t.rows for t in ha.tables]
