"""Supply and fund-supervision datasets through the API, scoped; and the real-time settlement gate.

Added to the small province of tests/web_fixtures.py: capitation for HA (福州) and HC (泉州); pharmacies PA
(福州 350102) and PC (泉州 350502). PA's video is online 2024-07-01 00:00 – 07-10 00:00 and offline
07-10 00:00 – 07-11 00:00; nothing after (no online interval: settlement must be refused).
"""

from __future__ import annotations

from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from tests.web_fixtures import EA, EB, HA, HC, P1, P1B, USERS, bearer, make_app, world_rows

from jicai.contract.arrow import from_pylist

PA, PC = "P35010200001", "P35050200001"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    rows = world_rows()
    rows["institutions"] += [
        {"institution_code": PA, "name": "鼓楼药房", "region_code": "350102", "level": 0, "kind": "pharmacy",
         "public": False, "sentinel": False},
        {"institution_code": PC, "name": "鲤城药房", "region_code": "350502", "level": 0, "kind": "pharmacy",
         "public": False, "sentinel": False}]
    rows["capitation"] = [
        {"period": "2024", "institution_code": HA, "enrolled": 1000, "per_capita_standard": 100.0,
         "actual_spending": 80000.0},
        {"period": "2024", "institution_code": HC, "enrolled": 1000, "per_capita_standard": 100.0,
         "actual_spending": 90000.0}]
    rows["video_status"] = [
        {"pharmacy_code": PA, "start_at": datetime(2024, 7, 1), "end_at": datetime(2024, 7, 10), "status": "online"},
        {"pharmacy_code": PA, "start_at": datetime(2024, 7, 10), "end_at": datetime(2024, 7, 11), "status": "offline"},
        {"pharmacy_code": PC, "start_at": datetime(2024, 7, 1), "end_at": datetime(2024, 8, 1), "status": "online"}]
    tables = {name: from_pylist(name, r) for name, r in rows.items()}
    users = {**USERS, "pharmacy": ("institution", PA)}
    app = make_app(tmp_path_factory.mktemp("fund"), tables, users=users)
    return TestClient(app)


def get(client, user, path, **params):
    return client.get(path, params=params, headers=bearer(client, user))


def test_capitation_is_scoped_and_hand_computed(client):
    """ā = 170,000 / 2,000 = 85; HA: package 100,000, surplus 20,000, reasonable 100,000 − 85,000 = 15,000,
    deviation 5,000 / 15,000 = 33.3% → 0.40 → returned 8,000. HC: surplus 10,000, deviation 33.3% → 4,000."""
    body = get(client, "bureau", "/api/capitation", period="2024").json()
    rows = {r["institution_code"]: r for r in body["rows"]}
    assert rows[HA]["returned_amount"] == pytest.approx(8000) and rows[HC]["returned_amount"] == pytest.approx(4000)
    assert rows[HA]["overall_per_capita"] == pytest.approx(85)
    assert [r["institution_code"] for r in get(client, "district", "/api/capitation", period="2024").json()["rows"]] == [HC]
    assert [r["institution_code"] for r in get(client, "institution", "/api/capitation", period="2024").json()["rows"]] == [HA]
    assert get(client, "enterprise", "/api/capitation", period="2024").status_code == 403
    assert get(client, "bureau", "/api/capitation", period="no-such-period").status_code == 422


@pytest.mark.parametrize(("user", "pharmacy", "at", "status", "allowed"), [
    ("bureau", PA, "2024-07-05T10:00:00", 200, True),
    ("bureau", PA, "2024-07-10T00:00:00", 200, False),  # the offline interval starts: refused
    ("bureau", PA, "2024-07-09T23:59:59", 200, True),
    ("bureau", PA, "2024-07-20T10:00:00", 200, False),  # no online interval
    ("pharmacy", PA, "2024-07-05T10:00:00", 200, True),  # a pharmacy asking about itself
    ("district", PC, "2024-07-05T10:00:00", 200, True),
    ("district", PA, "2024-07-05T10:00:00", 404, None),  # another region
    ("institution", PA, "2024-07-05T10:00:00", 404, None),  # a hospital asking about a pharmacy
    ("enterprise", PA, "2024-07-05T10:00:00", 404, None),
    ("auditor", PA, "2024-07-05T10:00:00", 404, None),  # the gate sits in the settlement path: not for auditors
])
def test_settlement_gate(client, user, pharmacy, at, status, allowed):
    r = client.post("/api/pharmacy/settlement-check", headers=bearer(client, user),
                    json={"pharmacy_code": pharmacy, "at": at})
    assert r.status_code == status, r.text
    if allowed is not None:
        d = r.json()
        assert d["allowed"] is allowed and d["reason_zh"] and d["reason_en"]


def test_settlement_gate_does_not_tell_a_district_which_codes_exist_elsewhere(client):
    """Issue 14 finding 14: a district bureau asking about a pharmacy of another region and about a code that
    exists nowhere gets the same answer (404, same body); a province-wide bureau learns the code is unknown."""
    def ask(user, code):
        return client.post("/api/pharmacy/settlement-check", headers=bearer(client, user),
                           json={"pharmacy_code": code, "at": "2024-07-05T10:00:00"})

    elsewhere, nowhere = ask("district", PA), ask("district", "P99999999999")
    assert (elsewhere.status_code, elsewhere.json()) == (nowhere.status_code, nowhere.json())
    assert nowhere.status_code == 404 and nowhere.json()["detail"]["zh"] and nowhere.json()["detail"]["en"]
    province = ask("bureau", "P99999999999")
    assert province.status_code == 200 and province.json()["allowed"] is False


def test_settlement_gate_refuses_anonymous_and_bad_input(client):
    assert client.post("/api/pharmacy/settlement-check", json={"pharmacy_code": PA}).status_code == 401
    h = bearer(client, "bureau")
    assert client.post("/api/pharmacy/settlement-check", headers=h, json={"pharmacy_code": "P1\u0000"}).status_code == 422
    assert client.post("/api/pharmacy/settlement-check", headers=h, json={"pharmacy": PA}).status_code == 422


def test_supply_scorecard_rows_belong_to_the_enterprise(client):
    """March: HA's order of the backup P1B (made and distributed by EB); April: P1 (made and distributed by EA)."""
    def products(user, month):
        return {r["product_code"] for r in get(client, user, "/api/supply-scorecard", month=month).json()["rows"]}

    assert products("bureau", "2024-03") == {P1B} and products("bureau", "2024-04") == {P1}
    assert products("enterprise", "2024-03") == set() and products("enterprise", "2024-04") == {P1}
    assert products("enterprise_b", "2024-03") == {P1B} and products("enterprise_b", "2024-04") == set()
    assert products("district", "2024-04") == {P1}  # a supplier's scorecard is not regional
    assert get(client, "institution", "/api/supply-scorecard", month="2024-03").status_code == 403


def test_supply_rollups_belong_to_the_enterprise(client):
    """March: HA's order of P1B, made and distributed by EB; April: P1, made and distributed by EA. Each
    roll-up names one kind of enterprise (its maker or its distributor), and scope finds the enterprise's own
    rows in it."""
    def codes(user, dataset, month):
        column = "enterprise_code" if dataset == "supply-enterprises" else "distributor_code"
        return [r[column] for r in get(client, user, f"/api/{dataset}", month=month).json()["rows"]]

    for dataset in ("supply-enterprises", "supply-distributors"):
        assert codes("bureau", dataset, "2024-03") == [EB] and codes("bureau", dataset, "2024-04") == [EA]
        assert codes("enterprise", dataset, "2024-04") == [EA] and codes("enterprise", dataset, "2024-03") == []
        assert codes("enterprise_b", dataset, "2024-03") == [EB] and codes("enterprise_b", dataset, "2024-04") == []
    assert get(client, "institution", "/api/supply-distributors", month="2024-04").status_code == 403


def test_fund_pages_are_the_registered_measures():
    """The four fund pages are the registry's measures (names, roles, scope as before); the lists that are only
    parts of the commands' reports have no page."""
    from jicai.measures.registry import measure
    from jicai.web.datasets import DATASETS

    for name, institution in (("capitation", "institution_code"), ("pharmacy-violations", "pharmacy_code"),
                              ("pharmacy-risk", "pharmacy_code"), ("budget", "institution_code")):
        ds = DATASETS[name]
        assert ds.measure is measure(name) and ds.group == "fund"
        assert ds.roles == ("admin", "bureau", "auditor", "institution")
        assert (ds.dims.institution, ds.dims.region) == (institution, "region_code")
    assert not {"capitation-tiers", "capitation-totals", "pharmacy-checked", "budget-consult"} & set(DATASETS)
