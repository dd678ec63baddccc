"""The data API and pages on the small province of tests/web_fixtures.py: the same figures as the measures,
only the caller's rows, and the workflow's decisions feeding the figures.

The province (hand-computed): V1 agreements of 1,000 tablets for HA, HB (福州 350102) and HC (泉州 350502).
HA bought 30 packs × 10 of the backup P1B (accepted 2024-03-15) and 20 packs × 10 of the primary P1 (accepted
2024-05-01). As of 2024-06-30: HA selected 200, non-selected (the backup, no verified period) 300 →
completion 0.2, non-selected share 0.6; HB and HC bought nothing → completion 0.
"""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from fastapi.testclient import TestClient
from tests.web_fixtures import HA, HB, HC, P1B, bearer, csrf, login, make_app

from jicai.measures.monitor import COLUMNS, monitor
from jicai.policy import load_policy

AS_OF = "2024-06-30"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return make_app(tmp_path_factory.mktemp("webapi"))


@pytest.fixture
def client(app):
    with TestClient(app) as c:
        yield c


def get(client, user, path, **params):
    return client.get(path, params=params, headers=bearer(client, user))


def test_monitor_rows_are_the_measure_rows_with_its_columns(app, client):
    r = get(client, "bureau", "/api/monitor", as_of=AS_OF)
    assert r.status_code == 200
    body = r.json()
    assert [c["name"] for c in body["columns"]] == [c.name for c in COLUMNS]
    expected = app.state.data.run(lambda wh: monitor(wh, date(2024, 6, 30), None, load_policy()).to_pyarrow())
    exp = {(x["institution_code"], x["variety_id"]): x for x in expected.to_pylist()}
    assert body["total"] == len(exp) == 3
    for row in body["rows"]:
        e = exp[(row["institution_code"], row["variety_id"])]
        for k in ("selected_volume", "nonselected_volume", "completion", "nonselected_share", "status"):
            assert row[k] == pytest.approx(e[k]) if isinstance(e[k], float) else row[k] == e[k], k
    ha = next(x for x in body["rows"] if x["institution_code"] == HA)
    assert ha["completion"] == pytest.approx(0.2) and ha["nonselected_share"] == pytest.approx(0.6)


@pytest.mark.parametrize(("user", "seen"), [
    ("bureau", {HA, HB, HC}), ("admin", {HA, HB, HC}), ("auditor", {HA, HB, HC}), ("district", {HC}),
    ("institution", {HA}), ("institution_b", {HB}), ("enterprise", {HA, HB, HC}),
])
def test_monitor_rows_are_scoped(client, user, seen):
    body = get(client, user, "/api/monitor", as_of=AS_OF).json()
    assert {x["institution_code"] for x in body["rows"]} == seen
    assert body["total"] == len(seen)


def test_a_hospital_filtering_for_another_gets_nothing(client):
    body = get(client, "institution", "/api/monitor", as_of=AS_OF, institution_code=HB).json()
    assert body["total"] == 0 and body["rows"] == []


def test_cross_tenant_detail_and_drill_down_are_404(client):
    assert get(client, "institution", f"/api/institutions/{HA}", as_of=AS_OF).status_code == 200
    assert get(client, "institution", f"/api/institutions/{HB}", as_of=AS_OF).status_code == 404
    assert get(client, "district", f"/api/institutions/{HA}", as_of=AS_OF).status_code == 404
    assert get(client, "enterprise", f"/api/institutions/{HA}", as_of=AS_OF).status_code == 404
    lines = get(client, "institution", f"/api/institutions/{HA}/order-lines", as_of=AS_OF).json()
    assert lines["total"] == 2 and {x["product_class"] for x in lines["rows"]} == {"primary", "backup"}
    assert get(client, "institution_b", f"/api/institutions/{HA}/order-lines").status_code == 404


def test_overview_and_ranking_are_ratios_of_sums(client):
    ov = get(client, "bureau", "/api/overview", as_of=AS_OF).json()
    t = ov["totals"]
    assert t["institutions"] == 3 and t["completion"] == pytest.approx(200 / 3000)
    assert t["nonselected_share"] == pytest.approx(300 / 500) and t["zero"] == 2
    rk = {x["institution_code"]: x for x in get(client, "bureau", "/api/ranking", as_of=AS_OF).json()["rows"]}
    assert (rk[HA]["rank_in_level"], rk[HA]["decile"], rk[HA]["peers"]) == (1, 1, 2)
    assert (rk[HC]["rank_in_level"], rk[HC]["decile"]) == (2, 2)
    assert (rk[HB]["rank_in_level"], rk[HB]["decile"], rk[HB]["peers"]) == (1, 1, 1)
    # a hospital sees only itself, with its band among all its peers
    mine = get(client, "institution_c", "/api/ranking", as_of=AS_OF).json()["rows"]
    assert [(x["institution_code"], x["rank_in_level"], x["peers"]) for x in mine] == [(HC, 2, 2)]
    assert get(client, "enterprise", "/api/ranking").status_code == 403


def test_bad_arguments_are_422_in_both_languages(client):
    r = get(client, "bureau", "/api/monitor", sort="no_such_column")
    assert r.status_code == 422 and r.json()["detail"]["zh"] and r.json()["detail"]["en"]
    assert get(client, "bureau", "/api/assessment", batch="NOPE").status_code == 422
    assert get(client, "bureau", "/api/monitor", as_of="2024-13-01").status_code == 422
    assert get(client, "bureau", "/api/monitor", page_size=0).status_code == 422


def test_roles_outside_a_dataset_are_403(client):
    assert get(client, "enterprise", "/api/assessment").status_code == 403
    assert get(client, "institution", "/api/listing").status_code == 403


def test_export_holds_only_the_callers_rows_and_is_audited(client):
    r = get(client, "institution", "/api/monitor/export", as_of=AS_OF, format="csv")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert [x["institution_code"] for x in rows] == [HA]
    x = get(client, "bureau", "/api/monitor/export", as_of=AS_OF, format="xlsx")
    assert x.status_code == 200 and x.content[:2] == b"PK"
    audit = get(client, "admin", "/api/audit").json()
    items = audit.get("items", audit) if isinstance(audit, dict) else audit
    assert any(e["action"] == "export" and e["target"] == "monitor" for e in items)


def test_verifying_a_supply_problem_changes_the_figures(app, client):
    """HA files a shortage of P1 for March; once the bureau verifies it, the backup bought on 2024-03-15 counts
    as selected: completion 0.2 → 0.5 and non-selected share 0.6 → 0."""
    h = bearer(client, "institution")
    r = client.post("/api/supply-reports", headers=h, json={
        "product_code": "XC10AA00000000000000001", "problem": "shortage", "description": "断供",
        "start_date": "2024-03-01", "end_date": "2024-03-31"})
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    before = get(client, "institution", "/api/monitor", as_of=AS_OF).json()["rows"][0]
    assert before["completion"] == pytest.approx(0.2)
    d = client.post(f"/api/supply-reports/{rid}/decision", headers=bearer(client, "bureau"), json={
        "decision": "verify", "start_date": "2024-03-01", "end_date": "2024-03-31", "comment": "核实"})
    assert d.status_code == 200, d.text
    after = get(client, "institution", "/api/monitor", as_of=AS_OF).json()["rows"][0]
    assert after["completion"] == pytest.approx(0.5) and after["backup_volume"] == pytest.approx(300)
    assert after["nonselected_share"] == pytest.approx(0.0)
    lines = get(client, "institution", f"/api/institutions/{HA}/order-lines", as_of=AS_OF).json()["rows"]
    assert {x["product_code"] for x in lines if x["product_class"] == "backup"} == {P1B}


def test_pages_render_for_each_role(client):
    for user, path, text in (("bureau", "/", "集采执行总览"), ("institution", "/", "鼓楼医院甲"),
                             ("bureau", "/ranking", "鼓楼医院乙"), ("bureau", "/data/monitor", "鲤城医院丙"),
                             ("enterprise", "/data/listing", "挂网价格治理"), ("bureau", "/policy", "非中选产品采购量占比上限")):
        client.cookies.clear()
        login(client, user)
        r = client.get(path, params={"as_of": AS_OF} if path != "/policy" else None)
        assert r.status_code == 200 and text in r.text, (user, path)
    client.cookies.clear()
    login(client, "institution")
    assert client.get(f"/institutions/{HB}").status_code == 404
    assert "鲤城医院丙" not in client.get("/data/monitor", params={"as_of": AS_OF}).text


def test_import_page_reports_bad_rows_and_loads_good_ones(client):
    login(client, "bureau")
    body = ("institution_code,name,region_code,level,kind,public,sentinel\n"
            "H35010200009,新医院,350102,2,hospital,true,false\n"
            "BAD-CODE,坏行,350102,2,hospital,true,false\n").encode()
    r = client.post("/import", data={"csrf_token": csrf(client), "table": ""},
                    files={"file": ("institutions_new.csv", body, "text/csv")})
    assert r.status_code == 200, r.text[-2000:]
    assert 'data-testid="quarantine"' in r.text and "BAD-CODE" in r.text
    assert "入库 1" in r.text
    client.cookies.clear()
    login(client, "district")  # a district bureau may not import for the province
    r = client.post("/import", data={"csrf_token": csrf(client)}, files={"file": ("institutions.csv", body, "text/csv")})
    assert r.status_code == 403


def test_reports_download_for_province_users_only(client):
    login(client, "bureau")
    r = client.get("/reports/monthly.xlsx", params={"as_of": AS_OF})
    assert r.status_code == 200 and r.content[:2] == b"PK"
    client.cookies.clear()
    login(client, "district")
    assert client.get("/reports/monthly.xlsx", params={"as_of": AS_OF}).status_code == 403
