"""Volumes in DDDs wherever volumes are shown (jicai.analytics.ddd_units, jicai.web.units): which measures convert
and how, the unit switch of the pages, the API and the exports, and the command line's ``--unit ddd``.

The rows themselves are checked by hand-computed scenarios on every engine (tests/scenarios/ddd_units/). Here
the web province of tests/web_fixtures.py, its V1 products given a strength of 20 mg (atorvastatin, WHO DDD
20 mg: 1 DDD per tablet) and HA an agreement for V2 氨氯地平片, whose product code is of class C10AA (so the name
and the code disagree: no DDDs, and the row says why). As of 2024-06-30 HA bought 200 selected tablets for ¥400
(200 DDD, ¥2.00 per DDD) and 300 of the backup, counted non-selected, for ¥600 (300 DDD, ¥2.00 per DDD).
"""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient
from tests.web_fixtures import EA, EB, HA, HB, bearer, login, make_app, world_rows

from jicai.analytics.ddd_units import DddUnitError, convertible, ddd_columns, plan, unit, why_not
from jicai.contract.arrow import from_pylist
from jicai.measures.registry import measure

AS_OF = "2024-06-30"
NOTE_V2 = "名称中的氨氯地平不属于编码的ATC类别C10AA"


def test_the_plan_is_read_from_the_registry():
    monitor = plan(measure("monitor"))
    assert monitor.key == "variety_id" and monitor.by == "variety"
    assert dict(monitor.pairs) == {
        "agreed_volume": None, "selected_volume": "selected_amount", "backup_volume": "backup_amount",
        "nonselected_volume": "nonselected_amount", "nonselected_counted_volume": None, "shortfall_volume": None}
    scorecard = plan(measure("supply-scorecard"))  # a product dimension wins; packs are not minimum units
    assert scorecard.key == "product_code" and dict(scorecard.pairs) == {"ordered_units": "ordered_amount"}
    names = {c.name: c for c in ddd_columns(measure("monitor"))}
    assert names["selected_volume_ddd"].zh == "中选产品采购量(DDD)" and names["selected_volume_ddd"].unit == "DDD"
    assert names["selected_cost_per_ddd"].zh == "中选产品采购量每DDD费用" and names["selected_cost_per_ddd"].kind == "price"
    assert names["ddd_note"].zh == "DDD说明"


@pytest.mark.parametrize(("name", "why"), [
    ("ddd-volume", "已按DDD计量"), ("substitution", "已按DDD计量"), ("slow-adopters", "不属于某一品种或产品"),
    ("selective-delivery", "没有以最小单位计的数量列"),
])
def test_measures_without_a_ddd_view_say_why(name, why):
    assert not convertible(measure(name))
    assert why in why_not(measure(name))[0]
    with pytest.raises(DddUnitError):
        plan(measure(name))


def test_a_bad_unit_is_refused_in_both_languages():
    assert unit(None) == "min" and unit("DDD") == "ddd"
    with pytest.raises(DddUnitError) as exc:
        unit("boxes")
    assert "计量单位" in exc.value.zh and "unit must be" in exc.value.en


def _tables():
    rows = world_rows()
    for p in rows["products"]:
        if p["variety_id"] == "V1":
            p["spec"] = "20mg*10片/盒"
    rows["agreements"].append({"batch_id": "B1", "cycle_year": 1, "institution_code": HA, "variety_id": "V2",
                               "agreed_volume": 500.0})
    return {name: from_pylist(name, r) for name, r in rows.items()}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return make_app(tmp_path_factory.mktemp("dddunits"), _tables())


@pytest.fixture
def client(app):
    with TestClient(app) as c:
        yield c


def _api(client, user, path, **params):
    return client.get(path, params=params, headers=bearer(client, user))


def test_the_api_adds_the_ddd_columns_with_their_labels(client):
    body = _api(client, "bureau", "/api/monitor", as_of=AS_OF, unit="ddd").json()
    assert body["params"]["unit"] == "ddd"
    cols = {c["name"]: c for c in body["columns"]}
    assert cols["selected_volume_ddd"]["zh"] == "中选产品采购量(DDD)" and cols["selected_volume_ddd"]["unit"] == "DDD"
    assert cols["selected_cost_per_ddd"]["kind"] == "price"
    rows = {(r["institution_code"], r["variety_id"]): r for r in body["rows"]}
    ha = rows[(HA, "V1")]
    assert (ha["selected_volume"], ha["selected_volume_ddd"], ha["selected_cost_per_ddd"]) == (200, 200, 2.0)
    assert (ha["nonselected_volume_ddd"], ha["nonselected_cost_per_ddd"], ha["agreed_volume_ddd"]) == (300, 2.0, 1000)
    assert ha["ddd_per_unit"] == 1.0 and ha["ddd_note"] is None
    v2 = rows[(HA, "V2")]
    assert v2["agreed_volume_ddd"] is None and v2["ddd_note"] == NOTE_V2
    # the default unit is unchanged: no DDD column
    plain = _api(client, "bureau", "/api/monitor", as_of=AS_OF).json()
    assert "selected_volume_ddd" not in {c["name"] for c in plain["columns"]} and "unit" not in plain["params"]


def test_the_ddd_view_is_scoped_like_the_rows(client):
    body = _api(client, "institution_b", "/api/monitor", as_of=AS_OF, unit="ddd").json()
    assert {r["institution_code"] for r in body["rows"]} == {HB} and body["total"] == 1
    assert body["rows"][0]["agreed_volume_ddd"] == 1000 and body["rows"][0]["selected_volume_ddd"] == 0


def test_bad_units_are_422_never_500(client):
    r = _api(client, "bureau", "/api/monitor", as_of=AS_OF, unit="boxes")
    assert r.status_code == 422
    r = _api(client, "bureau", "/api/slow-adopters", as_of=AS_OF, unit="ddd")  # no unit parameter: ignored
    assert r.status_code == 200 and "unit" not in r.json()["params"]
    login(client, "bureau")
    page = client.get("/data/slow-adopters", params={"unit": "ddd"})
    assert page.status_code == 422 and "不能按DDD显示" in page.text
    assert client.get("/data/monitor", params={"unit": "x"}).status_code == 422


def test_the_page_has_the_switch_and_shows_dashes_with_the_reason(client):
    login(client, "bureau")
    plain = client.get("/data/monitor", params={"as_of": AS_OF})
    assert plain.status_code == 200 and 'data-testid="unit-switch"' in plain.text
    assert "计量单位" in plain.text and "中选产品采购量(DDD)" not in plain.text
    page = client.get("/data/monitor", params={"as_of": AS_OF, "unit": "ddd"})
    assert page.status_code == 200
    for header in ("中选产品采购量(DDD)", "中选产品采购量每DDD费用", "每单位DDD数", "DDD说明"):
        assert header in page.text, header
    assert "1,000 DDD" in page.text and "¥2.0000" in page.text
    assert f'title="{NOTE_V2}">—</span>' in page.text  # a dash that says why, and the reason in its column
    assert "unit=ddd" in page.text  # the export links and sort links keep the unit
    # a dataset without DDDs has no switch
    assert 'data-testid="unit-switch"' not in client.get("/data/slow-adopters").text


def test_the_export_carries_the_ddd_columns(client):
    r = client.get("/api/monitor/export", params={"as_of": AS_OF, "unit": "ddd", "format": "csv"},
                   headers=bearer(client, "institution"))
    assert r.status_code == 200 and "ddd" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert {x["institution_code"] for x in rows} == {HA}
    v1 = next(x for x in rows if x["variety_id"] == "V1")
    assert float(v1["selected_volume_ddd"]) == 200 and float(v1["selected_cost_per_ddd"]) == 2.0


def test_the_command_line_writes_the_ddd_columns(tmp_path):
    from typer.testing import CliRunner

    from jicai.cli import app as cli
    from jicai.contract.arrow import empty
    from jicai.contract.tables import TABLES
    from jicai.store import connect

    wh = connect(f"duckdb:///{tmp_path / 'jicai.duckdb'}")
    tables = _tables()
    for name in TABLES:
        wh.write_table(name, tables.get(name, empty(name)), overwrite=True)
    wh.close()
    out = tmp_path / "audit.csv"
    env = {"JICAI_DATA_DIR": str(tmp_path)}
    r = CliRunner().invoke(cli, ["monitor", "--as-of", AS_OF, "--unit", "ddd", "--format", "csv", "--out", str(out)],
                           env=env)
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    ha = next(x for x in rows if x["institution_code"] == HA and x["variety_id"] == "V1")
    assert float(ha["selected_volume_ddd"]) == 200 and float(ha["nonselected_cost_per_ddd"]) == 2.0
    bad = CliRunner().invoke(cli, ["monitor", "--as-of", AS_OF, "--unit", "box"], env=env)
    assert bad.exit_code != 0 and "计量单位" in bad.output


# -- the supply roll-ups: each product converted, then added (analytics.ddd_supply) ------------------------------
# April: HA ordered 20 packs × 10 of P1 (EA, 20 mg: 1 DDD per tablet) for ¥400 through EA → 200 DDD, ¥2.00 per DDD;
# March: 30 packs of the backup P1B (EB) through EB → 300 DDD, ¥2.00 per DDD. Every product converts: nothing apart.


def test_the_supply_rollups_switch_to_ddds_on_the_api_page_and_export(client):
    body = _api(client, "bureau", "/api/supply-enterprises", month="2024-04", unit="ddd").json()
    assert body["params"]["unit"] == "ddd"
    cols = {c["name"]: c for c in body["columns"]}
    assert cols["ordered_units_ddd"]["zh"] == "采购数量(DDD)" and cols["ordered_units_unconverted"]["kind"] == "volume"
    (ea,) = body["rows"]
    assert (ea["ordered_units"], ea["ordered_units_ddd"], ea["ordered_cost_per_ddd"]) == (200, 200, 2.0)
    assert (ea["products_without_ddd"], ea["ordered_units_unconverted"], ea["ddd_note"]) == (0, 0, None)
    # scoped like the rows: EB's user sees its own distributor row of March only
    dist = _api(client, "enterprise_b", "/api/supply-distributors", month="2024-03", unit="ddd").json()["rows"]
    assert [(r["distributor_code"], r["ordered_units_ddd"]) for r in dist] == [(EB, 300)]
    assert _api(client, "enterprise_b", "/api/supply-distributors", month="2024-04", unit="ddd").json()["rows"] == []
    login(client, "bureau")
    page = client.get("/data/supply-distributors", params={"month": "2024-03", "unit": "ddd"})
    assert page.status_code == 200 and 'data-testid="unit-switch"' in page.text
    for header in ("采购数量(DDD)", "采购数量每DDD费用", "无DDD的产品数", "未换算采购数量(最小单位)"):
        assert header in page.text, header
    assert "300 DDD" in page.text and "¥2.0000" in page.text and "每个产品先按其每单位DDD数" in page.text
    r = client.get("/api/supply-enterprises/export", params={"month": "2024-03", "unit": "ddd", "format": "csv"})
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert [(x["enterprise_code"], float(x["ordered_units_ddd"])) for x in rows] == [(EB, 300.0)]


# -- the roll-ups: the overview's cards and tables, and `jicai monitor --unit ddd`'s summary sheets --------------
# The rows (as of 2024-06-30): HA V1 agreed 1,000 = 1,000 DDD, selected 200 = 200 DDD for ¥400, non-selected 300 =
# 300 DDD for ¥600; HA V2 agreed 500 片 with no DDDs (apart); HB and HC V1 agreed 1,000 = 1,000 DDD each, nothing
# bought. Σ agreed 3,000 DDD (3,500 片 in minimum units), Σ selected 200 DDD → completion in DDDs 200 ÷ 3,000 =
# 6.7% (in minimum units 200 ÷ 3,500 = 5.7%); ¥400 ÷ 200 = ¥2.0000 per selected DDD, ¥600 ÷ 300 per non-selected.
# 福州市 (HA, HB): 2,000 agreed DDD, 200 selected; 泉州市 (HC): 1,000 agreed DDD, nothing bought, no cost per DDD.


def _main(html: str) -> str:
    """The page's main content as text, without scripts (the embedded JSON keeps codes for the charts)."""
    import re

    main = html[html.find("<main"):html.find("</main>")]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", re.sub(r"<script.*?</script>", "", main, flags=re.S)))


def test_the_overview_api_sums_ddds_of_each_variety_and_keeps_the_rest_apart(client):
    body = _api(client, "bureau", "/api/overview", as_of=AS_OF, unit="ddd").json()
    assert body["unit"] == "ddd"
    s = body["totals"]
    assert (s["agreed_volume_ddd"], s["selected_volume_ddd"], s["nonselected_volume_ddd"]) == (3000, 200, 300)
    assert s["completion_ddd"] == pytest.approx(200 / 3000) and s["completion"] == pytest.approx(200 / 3500)
    assert s["selected_cost_per_ddd"] == pytest.approx(400 / 200)
    assert s["nonselected_cost_per_ddd"] == pytest.approx(600 / 300)
    assert (s["rows_without_ddd"], s["agreed_volume_unconverted"], s["selected_volume_unconverted"]) == (1, 500, 0)
    assert s["ddd_note"].startswith("1 个约定品种行无DDD")
    cities = {r["city_code"]: r for r in body["by_city"]}
    assert (cities["350100"]["agreed_volume_ddd"], cities["350100"]["selected_volume_ddd"]) == (2000, 200)
    assert cities["350500"]["agreed_volume_ddd"] == 1000 and cities["350500"]["selected_cost_per_ddd"] is None
    assert cities["350500"]["rows_without_ddd"] == 0 and cities["350500"]["ddd_note"] is None
    # scoped like the rows: Quanzhou's bureau sees HC only
    hc = _api(client, "district", "/api/overview", as_of=AS_OF, unit="ddd").json()["totals"]
    assert (hc["institutions"], hc["agreed_volume_ddd"], hc["selected_volume_ddd"]) == (1, 1000, 0)
    # the default unit is unchanged, and a bad one is a 422
    plain = _api(client, "bureau", "/api/overview", as_of=AS_OF).json()
    assert plain["unit"] == "min" and "agreed_volume_ddd" not in plain["totals"]
    assert plain["totals"]["agreed_volume"] == 3500
    assert _api(client, "bureau", "/api/overview", as_of=AS_OF, unit="boxes").status_code == 422


def test_the_overview_cards_switch_to_ddds_in_chinese(client):
    import re

    login(client, "bureau")
    plain = client.get("/", params={"as_of": AS_OF})
    assert plain.status_code == 200 and 'data-testid="unit-switch"' in plain.text
    text = _main(plain.text)
    assert "计量单位" in text and "最小单位" in text and "DDD(限定日剂量)" in text  # the switch's two choices
    assert "约定采购量(最小单位) 3,500" in text and "中选产品采购量(最小单位) 200" in text
    assert "中选产品每DDD费用" not in text
    page = client.get("/", params={"as_of": AS_OF, "unit": "ddd"})
    assert page.status_code == 200
    text = _main(page.text)
    for shown in ("约定采购量(DDD) 3,000 DDD", "中选产品采购量(DDD) 200 DDD", "总体完成率(按DDD) 6.7%",
                  "中选产品每DDD费用 ¥2.0000", "非中选产品每DDD费用 ¥2.0000", "未换算(无DDD) 1 行"):
        assert shown in text, shown
    assert "1 个约定品种行无DDD" in text and "未换算用量(最小单位):约定 500、中选 0" in text  # the volume left out, said on the page
    assert 'value="ddd" selected' in page.text  # the switch shows the unit chosen
    assert f"/data/monitor?as_of={AS_OF}&region_code=3501&unit=ddd" in page.text  # links keep the unit
    # read as a user reads it: no English codes, no bare fractions, codes only beside their names
    assert not re.search(r"\b(behind|zero|over|normal|min|ddd)\b", text)
    assert not re.findall(r"(?<![¥\d.,])\d+\.\d+(?![\d%])", text), "a figure shown as a bare fraction"
    for code in re.findall(r"\b35\d{4}\b", text):
        assert re.search(rf"[\u4e00-\u9fff] {code}", text), f"region code {code} without its name"
    assert client.get("/", params={"as_of": AS_OF, "unit": "boxes"}).status_code == 422


def test_the_monitor_report_sums_its_rollups_in_ddds(tmp_path):
    from datetime import date, datetime

    from jicai.commands.monitor import monitor_report
    from jicai.contract.arrow import empty
    from jicai.contract.tables import TABLES
    from jicai.policy import load_policy
    from jicai.store import connect

    wh = connect(f"duckdb:///{tmp_path / 'jicai.duckdb'}")
    tables = _tables()
    for name in TABLES:
        wh.write_table(name, tables.get(name, empty(name)), overwrite=True)
    report = monitor_report(wh, date(2024, 6, 30), None, load_policy(), datetime(2024, 7, 1), unit="ddd")
    by_batch = report.table("by_batch")
    assert by_batch.title == "按批次汇总(含DDD)" and "约定采购量(DDD)" in [c.zh for c in by_batch.columns]
    b1 = by_batch.rows[0]
    assert (b1["agreed_volume_ddd"], b1["selected_volume_ddd"], b1["rows_without_ddd"]) == (3000, 200, 1)
    assert b1["selected_cost_per_ddd"] == pytest.approx(2.0) and b1["agreed_volume_unconverted"] == 500
    ha = next(r for r in report.table("by_institution").rows if r["institution_code"] == HA)
    assert (ha["agreed_volume_ddd"], ha["agreed_volume_unconverted"], ha["completion_ddd"]) == (1000, 500, 0.2)
    wh.close()


def test_jicai_supply_unit_ddd_converts_its_rollups_and_trends(tmp_path):
    import json

    from typer.testing import CliRunner

    from jicai.cli import app as cli
    from jicai.contract.arrow import empty
    from jicai.contract.tables import TABLES
    from jicai.store import connect

    wh = connect(f"duckdb:///{tmp_path / 'jicai.duckdb'}")
    tables = _tables()
    for name in TABLES:
        wh.write_table(name, tables.get(name, empty(name)), overwrite=True)
    wh.close()
    out = tmp_path / "supply.json"
    r = CliRunner().invoke(cli, ["supply", "--month", "2024-04", "--months", "2", "--unit", "ddd", "--format", "json",
                                 "--out", str(out)], env={"JICAI_DATA_DIR": str(tmp_path)})
    assert r.exit_code == 0, r.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert [(x["enterprise_code"], x["ordered_units_ddd"], x["ordered_cost_per_ddd"]) for x in doc["enterprises"]] \
        == [(EA, 200, 2.0)]
    assert doc["scorecard"][0]["ordered_units_ddd"] == 200 and doc["scorecard"][0]["ddd_per_unit"] == 1.0
    # the trend of March and April: 300 DDD of P1B, then 200 of P1, each month its own row
    assert [(x["month"], x["ordered_units_ddd"], x["products_without_ddd"]) for x in doc["trend"]] == [
        ("2024-03", 300, 0), ("2024-04", 200, 0)]
    assert {(x["month"], x["distributor_code"]) for x in doc["distributor_trend"]} == {("2024-03", EB), ("2024-04", EA)}


def test_the_monthly_and_quarterly_reports_show_the_ddd_figures(tmp_path):
    """The reports' roll-ups carry the DDD figures (the rows as in the overview's test above): 3,000 agreed DDD,
    200 selected for ¥400; HA's V2 agreement has none and is counted apart."""
    import re
    from datetime import date

    from jicai.contract.arrow import empty
    from jicai.contract.tables import TABLES
    from jicai.reports.html import render_html
    from jicai.reports.monthly import monthly_report
    from jicai.reports.quarterly import quarterly_report
    from jicai.store import connect

    wh = connect(f"duckdb:///{tmp_path / 'jicai.duckdb'}")
    tables = _tables()
    for name in TABLES:
        wh.write_table(name, tables.get(name, empty(name)), overwrite=True)
    report = monthly_report(wh, date(2024, 6, 30))
    by_batch = report.table("by_batch")
    (b1,) = by_batch.rows
    assert (b1["agreed_volume"], b1["agreed_volume_ddd"], b1["selected_volume_ddd"]) == (3500, 3000, 200)
    assert b1["completion_ddd"] == pytest.approx(200 / 3000) and b1["selected_cost_per_ddd"] == pytest.approx(2.0)
    assert (b1["rows_without_ddd"], b1["agreed_volume_unconverted"]) == (1, 500)
    names = [c.name for c in by_batch.columns]  # the DDDs beside the minimum units in the workbook
    assert names[names.index("completion") + 1:names.index("completion") + 4] == [
        "agreed_volume_ddd", "selected_volume_ddd", "completion_ddd"]
    assert "completion_ddd" in by_batch.brief and "selected_cost_per_ddd" in by_batch.brief
    assert by_batch.totals["selected_volume_ddd"] == 200
    zero = report.table("zero")  # a list of agreements: each row's volume in DDDs, or its reason
    assert {r["variety_id"]: r["agreed_volume_ddd"] for r in zero.rows if r["institution_code"] == HB} == {"V1": 1000}
    assert "agreed_volume_ddd" in [c.name for c in zero.columns] and "ddd_note" in [c.name for c in zero.columns]
    headline = dict(report.headline)
    assert headline["中选产品采购量(DDD)"] == "200 DDD" and headline["中选产品每DDD费用"] == "2.0000元"
    assert headline["无DDD的约定品种"] == "1 行(未计入DDD)"
    html = render_html(report)
    assert "总体完成率(按DDD)" in html and "中选产品每DDD费用" in html and "6.7%" in html
    assert any("按DDD" in n for n in report.notes)
    quarterly = quarterly_report(wh, 2024, 2)
    lag = {r["institution_code"]: r for r in quarterly.table("lagging").rows}
    assert lag[HA]["completion_ddd"] == pytest.approx(0.2) and lag[HA]["agreed_volume_unconverted"] == 500
    assert lag[HB]["completion_ddd"] == 0 and "completion_ddd" in quarterly.table("lagging").brief
    assert not re.search(r"\bddd\b", re.sub(r"<[^>]+>", " ", render_html(quarterly)))
    wh.close()


# An institution's page (/institutions/<code>?unit=ddd): HA's V1 agreed 1,000 = 1,000 DDD, selected 200 DDD for ¥400
# (¥2.0000 per DDD), non-selected 300 DDD for ¥600 (¥2.0000); its V2 (500 片 agreed, nothing bought) has no DDDs and
# is kept apart. HA in DDDs: agreed 1,000, selected 200 → 20.0% (in minimum units 200 ÷ 1,500 = 13.3%).

def test_an_institutions_api_gives_its_varieties_and_totals_in_ddds(client):
    body = _api(client, "bureau", f"/api/institutions/{HA}", as_of=AS_OF, unit="ddd").json()
    assert body["unit"] == "ddd"
    s = body["ddd"]
    assert (s["agreed_volume_ddd"], s["selected_volume_ddd"], s["nonselected_volume_ddd"]) == (1000, 200, 300)
    assert s["completion_ddd"] == pytest.approx(200 / 1000) and s["completion"] == pytest.approx(200 / 1500)
    assert (s["selected_cost_per_ddd"], s["nonselected_cost_per_ddd"]) == (pytest.approx(2.0), pytest.approx(2.0))
    assert (s["rows_without_ddd"], s["agreed_volume_unconverted"]) == (1, 500)
    v = {r["variety_id"]: r for r in body["varieties"]}
    assert (v["V1"]["selected_volume_ddd"], v["V1"]["selected_cost_per_ddd"]) == (200, 2.0)
    assert v["V2"]["agreed_volume_ddd"] is None and v["V2"]["ddd_note"] == NOTE_V2
    plain = _api(client, "bureau", f"/api/institutions/{HA}", as_of=AS_OF).json()
    assert plain["unit"] == "min" and plain["ddd"] is None and "selected_volume_ddd" not in plain["varieties"][0]
    assert _api(client, "bureau", f"/api/institutions/{HA}", as_of=AS_OF, unit="boxes").status_code == 422


def test_an_institutions_page_switches_to_ddds_and_keeps_the_unit_in_its_links(client):
    import re

    login(client, "bureau")
    plain = client.get(f"/institutions/{HA}", params={"as_of": AS_OF})
    assert plain.status_code == 200 and 'data-testid="unit-switch"' in plain.text
    assert "约定采购量(DDD)" not in _main(plain.text)
    page = client.get(f"/institutions/{HA}", params={"as_of": AS_OF, "unit": "ddd"})
    assert page.status_code == 200 and 'value="ddd" selected' in page.text
    text = _main(page.text)
    for shown in ("约定采购量(DDD) 1,000 DDD", "中选产品采购量(DDD) 200 DDD", "总体完成率(按DDD) 20.0%",
                  "中选产品每DDD费用 ¥2.0000", "非中选产品每DDD费用 ¥2.0000", "未换算(无DDD) 1 行",
                  "1 个约定品种行无DDD", "未换算用量(最小单位):约定 500、中选 0"):
        assert shown in text, shown
    for header in ("约定采购量(DDD)", "中选产品采购量(DDD)", "中选产品采购量每DDD费用", "DDD说明"):
        assert f">{header}</th>" in page.text, header
    assert NOTE_V2 in text and f'title="{NOTE_V2}">—</span>' in page.text  # V2: a dash that says why
    assert f"/institutions/{HA}/orders?variety_id=V1&as_of={AS_OF}&unit=ddd" in page.text  # links keep the unit
    assert f"/data/monitor?as_of={AS_OF}&institution_code={HA}&unit=ddd" in page.text
    back = client.get(f"/institutions/{HA}/orders", params={"variety_id": "V1", "as_of": AS_OF, "unit": "ddd"})
    assert f"/institutions/{HA}?as_of={AS_OF}&unit=ddd" in back.text
    rows = client.get("/data/monitor", params={"as_of": AS_OF, "unit": "ddd"})
    assert f'href="/institutions/{HA}?unit=ddd"' in rows.text  # the monitoring in DDDs links to the page in DDDs
    assert not re.search(r"\b(behind|zero|over|normal|min|ddd)\b", text)
    assert not re.findall(r"(?<![¥\d.,])\d+\.\d+(?![\d%])", text), "a figure shown as a bare fraction"
    login(client, "institution")  # a hospital's overview is its own page, with the switch too
    assert "中选产品采购量(DDD) 200 DDD" in _main(client.get("/", params={"as_of": AS_OF, "unit": "ddd"}).text)
