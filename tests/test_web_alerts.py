"""The alerts' inbox in the web: a hospital sees only its own alerts, read/unread per user, an alert out of
scope is not found (page and API), odd input is a 4xx, never a 500."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from tests.web_fixtures import EA, HA, HB, HC, bearer, csrf, login, make_app

from jicai.workflow import alert_inbox


def row(inst: str, region: str, msg: str, ent: str | None = None) -> dict:
    return {"alert_key": f"payment_overdue:2024-04:{inst}:{ent or '-'}:-", "month": "2024-04",
            "alert_kind": "payment_overdue", "severity": "high", "institution_code": inst, "region_code": region,
            "enterprise_code": ent, "message": msg, "stake_amount": 100.0, "policy_parameter": "payment_due",
            "clause": "四(四)"}


ROWS = [row(HA, "350102", "HA 回款逾期 ¥100", EA), row(HB, "350102", "HB 回款逾期 ¥100"),
        row(HC, "350502", "HC 回款逾期 ¥100")]


@pytest.fixture
def client(tmp_path):
    app = make_app(tmp_path)
    with TestClient(app) as c:
        with app.state.workflow.session() as s:
            alert_inbox.store(s, "2024-04", ROWS, env={})
        yield c


def ids(client, headers) -> dict[str, int]:
    r = client.get("/api/alert-inbox", headers=headers)
    assert r.status_code == 200, r.text
    return {i["institution_code"]: i["id"] for i in r.json()["items"]}


@pytest.mark.parametrize(("user", "seen"), [
    ("institution", {HA}), ("institution_c", {HC}), ("district", {HC}), ("bureau", {HA, HB, HC}),
    ("enterprise", {HA}), ("enterprise_b", set()),
])
def test_each_user_sees_the_alerts_of_its_scope(client, user, seen):
    assert set(ids(client, bearer(client, user))) == seen


def test_a_hospital_page_shows_its_own_and_marks_them_read(client):
    login(client, "institution")
    page = client.get("/alerts")
    assert page.status_code == 200
    assert "HA 回款逾期 ¥100" in page.text and "HB 回款逾期" not in page.text and "HC 回款逾期" not in page.text
    assert 'data-testid="unread-count"' in page.text and "未读 1" in page.text
    mine = ids(client, bearer(client, "institution"))[HA]
    r = client.post(f"/alerts/{mine}/read", data={"csrf_token": csrf(client)}, follow_redirects=False)
    assert r.status_code == 303
    assert "未读 0" in client.get("/alerts").text
    # the bureau has not read it
    assert client.get("/api/alert-inbox", headers=bearer(client, "bureau")).json()["unread"] == 3


def test_another_hospitals_alert_is_not_found(client):
    theirs = ids(client, bearer(client, "bureau"))[HB]
    h = bearer(client, "institution")
    assert client.post(f"/api/alert-inbox/{theirs}/read", headers=h).status_code == 404
    login(client, "institution")
    assert client.post(f"/alerts/{theirs}/read", data={"csrf_token": csrf(client)}).status_code == 404
    assert client.get("/api/alert-inbox", headers=bearer(client, "bureau")).json()["unread"] == 3


@pytest.mark.parametrize("path", ["/api/alert-inbox?month=2024-13", "/api/alert-inbox?month=x", "/api/alert-inbox?limit=0",
                                  "/api/alert-inbox?offset=-1"])
def test_odd_api_input_is_a_4xx(client, path):
    assert client.get(path, headers=bearer(client, "bureau")).status_code == 422


def test_odd_page_input_is_no_500(client):
    login(client, "bureau")
    for path in ("/alerts?month=2024-99", "/alerts?unread=%00", "/alerts?month=%27;--"):
        assert client.get(path).status_code == 200
    assert client.post("/alerts/0/read", data={"csrf_token": csrf(client)}).status_code == 422
    assert client.post("/alerts/99999999999/read", data={"csrf_token": csrf(client)}).status_code == 422
    assert client.post("/alerts/5/read", data={"csrf_token": "wrong"}).status_code in (400, 403)


def test_the_measure_behind_the_inbox_is_scoped_too(client):
    """/api/alerts is the alerts measure itself (the generated endpoint): a hospital gets only its own rows."""
    every = client.get("/api/alerts?as_of=2024-04-30", headers=bearer(client, "bureau"))
    assert every.status_code == 200, every.text
    rows = every.json()["rows"] if "rows" in every.json() else every.json()["items"]
    assert {r["institution_code"] for r in rows} >= {HA}
    mine = client.get("/api/alerts?as_of=2024-04-30", headers=bearer(client, "institution")).json()
    mine = mine["rows"] if "rows" in mine else mine["items"]
    assert mine and {r["institution_code"] for r in mine} == {HA}
    assert client.get("/api/alerts?as_of=soon", headers=bearer(client, "bureau")).status_code == 422
