"""The supply-problem workflow, exemptions, supervision actions and the audit log, through the API and the
pages: what each role may see and do (an authorization matrix over every endpoint, cross-tenant attempts
included), what is written into the warehouse, and how a verification changes the monitoring's figures.

The workflow database is SQLite and PostgreSQL (``app`` runs each test on both); the warehouse is DuckDB."""

from __future__ import annotations

import re
from datetime import date, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.scenarios.runner import from_dict
from tests.web_fixtures import (
    EA,
    HA,
    HB,
    HC,
    P1,
    P1B,
    P2,
    USERS,
    bearer,
    csrf,
    empty_workflow,
    login,
    make_app,
    pg_database,
)

from jicai.measures.monitor import monitor
from jicai.workflow.models import AuditEntry

ROLES = list(USERS)  # user names: admin, bureau, district, auditor, institution, institution_b, …


@pytest.fixture(scope="session")
def pg_workflow() -> str:
    with pg_database("jicai_wf_workflow") as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def app(request, tmp_path):
    url = None
    if request.param == "postgres":
        url = request.getfixturevalue("pg_workflow")
        empty_workflow(url)
    return make_app(tmp_path, workflow_url=url)


@pytest.fixture
def client(app):
    with TestClient(app) as c:
        yield c


class Api:
    """Bearer-token calls as each user (one token per user, fetched once)."""

    def __init__(self, client: TestClient) -> None:
        self.client, self._headers = client, {}

    def headers(self, user: str | None) -> dict[str, str]:
        if user is None:
            return {}
        if user not in self._headers:
            self._headers[user] = bearer(self.client, user)
        return self._headers[user]

    def get(self, user: str | None, path: str, **kw):
        return self.client.get(path, headers=self.headers(user), **kw)

    def post(self, user: str | None, path: str, body: dict | None = None):
        return self.client.post(path, json=body or {}, headers=self.headers(user))

    def file(self, user: str, product: str = P1, start: str = "2024-03-01", end: str | None = "2024-03-31",
             problem: str = "shortage") -> dict:
        r = self.post(user, "/api/supply-reports", {"product_code": product, "problem": problem,
                                                    "start_date": start, "end_date": end, "description": "断供"})
        assert r.status_code == 201, r.text
        return r.json()


@pytest.fixture
def api(client) -> Api:
    return Api(client)


def warehouse_rows(app, table: str) -> list[dict]:
    return app.state.data.run(lambda wh: wh.table(table).to_pyarrow().to_pylist())


def audit(app) -> list[tuple[str, str, str]]:
    with app.state.workflow.session() as s:
        return [(e.user_name, e.action, e.target) for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))
                if not e.action.startswith(("login", "user."))]


# -- file → verify / reject, and the warehouse rows ---------------------------------------------------------
def test_filing_then_verifying_writes_the_supply_problems_row(app, api):
    generation = app.state.data.generation
    r = api.file("institution", P1, "2024-03-01", "2024-03-31")
    assert (r["institution_code"], r["region_code"], r["status"], r["filed_by"]) == (HA, "350102", "pending",
                                                                                    "institution")
    filed_at = datetime.fromisoformat(r["filed_at"])
    assert warehouse_rows(app, "supply_problems") == [{
        "report_id": f"WF-{r['id']}", "institution_code": HA, "product_code": P1, "problem": "shortage",
        "reported_at": filed_at, "verified": False, "start_date": date(2024, 3, 1), "end_date": date(2024, 3, 31)}]
    assert app.state.data.generation > generation  # the cached figures were dropped
    # the bureau verifies a shorter period than requested
    d = api.post("bureau", f"/api/supply-reports/{r['id']}/decision",
                 {"decision": "verify", "start_date": "2024-03-05", "end_date": "2024-03-20", "comment": "属实"})
    assert d.status_code == 200, d.text
    d = d.json()
    assert (d["status"], d["verified_start"], d["verified_end"], d["decided_by"], d["comment"]) == (
        "verified", "2024-03-05", "2024-03-20", "bureau", "属实")
    assert warehouse_rows(app, "supply_problems") == [{
        "report_id": f"WF-{r['id']}", "institution_code": HA, "product_code": P1, "problem": "shortage",
        "reported_at": filed_at, "verified": True, "start_date": date(2024, 3, 5), "end_date": date(2024, 3, 20)}]
    # the hospital sees the decision
    mine = api.get("institution", f"/api/supply-reports/{r['id']}").json()
    assert (mine["status"], mine["verified_start"], mine["comment"]) == ("verified", "2024-03-05", "属实")
    assert audit(app) == [("institution", "supply_report.file", f"supply_report:{r['id']}"),
                          ("bureau", "supply_report.verify", f"supply_report:{r['id']}")]


def test_verifying_without_a_period_takes_the_requested_one_and_open_ended_stays_open(app, api):
    r = api.file("institution", P1, "2024-03-01", None)
    d = api.post("bureau", f"/api/supply-reports/{r['id']}/decision", {"decision": "verify"}).json()
    assert (d["verified_start"], d["verified_end"]) == ("2024-03-01", None)
    row = warehouse_rows(app, "supply_problems")[0]
    assert (row["verified"], row["start_date"], row["end_date"]) == (True, date(2024, 3, 1), None)


def test_rejecting_needs_a_comment_and_leaves_the_row_unverified(app, api):
    r = api.file("institution", P1B, "2024-04-01", "2024-04-10", problem="late")
    path = f"/api/supply-reports/{r['id']}/decision"
    refused = api.post("bureau", path, {"decision": "reject"})
    assert refused.status_code == 422 and refused.json()["detail"]["zh"] == "不予认定须说明理由"
    assert api.get("institution", f"/api/supply-reports/{r['id']}").json()["status"] == "pending"
    d = api.post("bureau", path, {"decision": "reject", "comment": "企业已按时配送"}).json()
    assert (d["status"], d["verified_start"], d["verified_end"]) == ("rejected", None, None)
    row = warehouse_rows(app, "supply_problems")[0]
    assert (row["verified"], row["start_date"], row["end_date"], row["problem"]) == (
        False, date(2024, 4, 1), date(2024, 4, 10), "late")
    mine = api.get("institution", "/api/supply-reports").json()["items"]
    assert [(m["id"], m["status"], m["comment"]) for m in mine] == [(r["id"], "rejected", "企业已按时配送")]


def test_bad_requests_are_refused_before_anything_is_written(app, api):
    ours = {  # refused by the workflow's rules: a bilingual message
        "unknown product": {"product_code": "XC10AA99999999999999999", "problem": "shortage",
                            "start_date": "2024-03-01"},
        "end before start": {"product_code": P1, "problem": "shortage", "start_date": "2024-03-02",
                             "end_date": "2024-03-01"},
    }
    schema = {  # refused by the request schema
        "unknown problem": {"product_code": P1, "problem": "weather", "start_date": "2024-03-01"},
        # the institution comes from the login, never from the body
        "institution in the body": {"product_code": P1, "problem": "shortage", "start_date": "2024-03-01",
                                    "institution_code": HB},
        "no start date": {"product_code": P1, "problem": "shortage"},
    }
    for why, body in {**ours, **schema}.items():
        r = api.post("institution", "/api/supply-reports", body)
        assert r.status_code == 422, (why, r.text)
        if why in ours:
            assert set(r.json()["detail"]) == {"zh", "en"}, why
    assert app.state.data.run(lambda wh: not wh.has_table("supply_problems")
                              or wh.table("supply_problems").count().to_pyarrow().as_py() == 0)
    assert audit(app) == []
    r = api.file("institution")
    bad_verify = api.post("bureau", f"/api/supply-reports/{r['id']}/decision",
                          {"decision": "verify", "start_date": "2024-03-10", "end_date": "2024-03-01"})
    assert bad_verify.status_code == 422
    assert api.get("bureau", f"/api/supply-reports/{r['id']}").json()["status"] == "pending"
    assert [a[1] for a in audit(app)] == ["supply_report.file"]


# -- who sees which report ------------------------------------------------------------------------------------
def test_each_role_sees_the_reports_in_its_scope(app, api):
    a = api.file("institution", P1)["id"]  # HA about EA's product
    b = api.file("institution_b", P1B)["id"]  # HB about EB's backup product
    c = api.file("institution_c", P2)["id"]  # HC (Quanzhou) about EB's product
    expected = {
        "admin": {a, b, c}, "bureau": {a, b, c}, "auditor": {a, b, c}, "district": {c},
        "institution": {a}, "institution_b": {b}, "institution_c": {c},
        "enterprise": {a}, "enterprise_b": {b, c},
    }
    for user, want in expected.items():
        got = {r["id"] for r in api.get(user, "/api/supply-reports").json()["items"]}
        assert got == want, user
        for report in (a, b, c):
            status = api.get(user, f"/api/supply-reports/{report}").status_code
            assert status == (200 if report in want else 404), (user, report)
    assert api.get("admin", "/api/supply-reports/99999").status_code == 404
    pending = api.get("bureau", "/api/supply-reports", params={"status": "pending"}).json()["items"]
    assert len(pending) == 3 and api.get("bureau", "/api/supply-reports?status=verified").json()["items"] == []


def test_a_hospital_cannot_decide_and_a_district_bureau_only_its_region(app, api):
    a = api.file("institution", P1)
    c = api.file("institution_c", P2)
    decide = {"decision": "verify"}
    assert api.post("institution_b", f"/api/supply-reports/{a['id']}/decision", decide).status_code == 403
    assert api.post("institution", f"/api/supply-reports/{a['id']}/decision", decide).status_code == 403
    assert api.post("auditor", f"/api/supply-reports/{a['id']}/decision", decide).status_code == 403
    assert api.post("district", f"/api/supply-reports/{a['id']}/decision", decide).status_code == 404
    assert api.get("bureau", f"/api/supply-reports/{a['id']}").json()["status"] == "pending"
    r = api.post("district", f"/api/supply-reports/{c['id']}/decision", decide)
    assert r.status_code == 200 and r.json()["decided_by"] == "district"


# -- exemptions -----------------------------------------------------------------------------------------------
def variety(app, variety_id: str) -> dict:
    return next(r for r in warehouse_rows(app, "varieties") if r["variety_id"] == variety_id)


def test_exemptions_write_the_varieties_row_and_revoking_restores_it(app, api):
    before = variety(app, "V1")
    body = {"variety_id": "V1", "special": "shortage", "start_date": "2024-03-01", "end_date": "2024-05-31",
            "reason": "原料药短缺"}
    for user in ("district", "institution", "enterprise", "auditor"):
        assert api.post(user, "/api/exemptions", body).status_code == 403, user
    first = api.post("bureau", "/api/exemptions", body)
    assert first.status_code == 201, first.text
    after = variety(app, "V1")
    assert (after["special"], after["special_start"], after["special_end"]) == (
        "shortage", date(2024, 3, 1), date(2024, 5, 31))
    assert {k: v for k, v in after.items() if not k.startswith("special")} == {
        k: v for k, v in before.items() if not k.startswith("special")}  # name, batch, baseline price kept
    second = api.post("admin", "/api/exemptions", {**body, "special": "seasonal", "start_date": "2024-10-01",
                                                   "end_date": None}).json()
    assert variety(app, "V1")["special"] == "seasonal" and variety(app, "V1")["special_end"] is None
    # revoking the newest brings back the one still standing; revoking that one the imported values
    assert api.post("bureau", f"/api/exemptions/{second['id']}/revoke").status_code == 200
    assert (variety(app, "V1")["special"], variety(app, "V1")["special_end"]) == ("shortage", date(2024, 5, 31))
    assert api.post("bureau", f"/api/exemptions/{second['id']}/revoke").status_code == 409
    assert api.post("bureau", f"/api/exemptions/{first.json()['id']}/revoke").status_code == 200
    assert variety(app, "V1") == before
    listed = api.get("institution", "/api/exemptions").json()["items"]
    assert [(e["special"], e["revoked"]) for e in listed] == [("seasonal", True), ("shortage", True)]
    assert api.post("bureau", "/api/exemptions", {**body, "variety_id": "V9"}).status_code == 422
    assert [a[1] for a in audit(app)] == ["exemption.add", "exemption.add", "exemption.revoke", "exemption.revoke"]


def test_an_exemption_keeps_a_variety_s_imported_special_period_for_its_revocation(tmp_path):
    from tests.web_fixtures import world_rows

    from jicai.contract.arrow import from_pylist

    rows = world_rows()
    rows["varieties"][1].update(special="emergency", special_start=date(2024, 1, 1), special_end=date(2024, 1, 31))
    app = make_app(tmp_path, {n: from_pylist(n, r) for n, r in rows.items()})
    with TestClient(app) as client:
        api = Api(client)
        e = api.post("bureau", "/api/exemptions", {"variety_id": "V2", "special": "shortage",
                                                   "start_date": "2024-06-01", "reason": "短缺"}).json()
        assert variety(app, "V2")["special"] == "shortage"
        api.post("bureau", f"/api/exemptions/{e['id']}/revoke")
        v = variety(app, "V2")
        assert (v["special"], v["special_start"], v["special_end"]) == (
            "emergency", date(2024, 1, 1), date(2024, 1, 31))


# -- supervision actions ----------------------------------------------------------------------------------------
def test_supervision_actions_are_shown_to_their_target_and_region(app, api):
    on_ha = api.post("bureau", "/api/actions", {"target_kind": "institution", "target_code": HA,
                                                "action": "remind", "reason": "进度落后"})
    assert on_ha.status_code == 201, on_ha.text
    on_ea = api.post("admin", "/api/actions", {"target_kind": "enterprise", "target_code": EA,
                                               "action": "notice", "reason": "配送不及时"}).json()
    assert api.post("district", "/api/actions", {"target_kind": "institution", "target_code": HA,
                                                 "action": "interview", "reason": "x"}).status_code == 403
    on_hc = api.post("district", "/api/actions", {"target_kind": "institution", "target_code": HC,
                                                  "action": "interview", "reason": "非中选占比过高"}).json()
    for user in ("institution", "enterprise", "auditor"):
        assert api.post(user, "/api/actions", {"target_kind": "institution", "target_code": HA,
                                               "action": "remind", "reason": "x"}).status_code == 403
    unknown = api.post("bureau", "/api/actions", {"target_kind": "enterprise", "target_code": "X" * 18,
                                                  "action": "remind", "reason": "x"})
    assert unknown.status_code == 422
    expected = {
        "admin": {on_ha.json()["id"], on_ea["id"], on_hc["id"]}, "auditor": {on_ha.json()["id"], on_ea["id"], on_hc["id"]},
        "district": {on_ea["id"], on_hc["id"]}, "institution": {on_ha.json()["id"]}, "institution_b": set(),
        "institution_c": {on_hc["id"]}, "enterprise": {on_ea["id"]}, "enterprise_b": set(),
    }
    for user, want in expected.items():
        assert {a["id"] for a in api.get(user, "/api/actions").json()["items"]} == want, user
    assert [a[1] for a in audit(app)] == ["action.remind", "action.notice", "action.interview"]


# -- the audit log -----------------------------------------------------------------------------------------------
def test_the_audit_log_is_read_by_bureau_auditor_and_admin_within_their_region(app, api):
    api.file("institution", P1)
    api.file("institution_c", P2)
    for user in ("institution", "enterprise"):
        assert api.get(user, "/api/audit").status_code == 403
    everything = api.get("auditor", "/api/audit").json()["items"]
    assert {"login", "supply_report.file"} <= {e["action"] for e in everything}
    mine = api.get("district", "/api/audit").json()["items"]
    assert [(e["action"], e["region_code"], e["user_name"]) for e in mine] == [
        ("supply_report.file", "350502", "institution_c")]
    filtered = api.get("admin", "/api/audit", params={"action": "supply_report"}).json()["items"]
    assert [e["action"] for e in filtered] == ["supply_report.file", "supply_report.file"]
    assert all(e["client"] == "testclient" for e in everything if e["action"] in ("login", "supply_report.file"))


# -- the authorization matrix ---------------------------------------------------------------------------------------
OK, CREATED = 200, 201


def test_authorization_matrix(app, api):
    """Every workflow endpoint × every role (and anonymous): the status each must get. Reports: ``a`` is HA's
    (in Fuzhou, about EA's product P1); ids outside a caller's scope answer 404, roles that may never do a
    thing 403, no credentials 401."""
    a = api.file("institution", P1)["id"]
    api.post("bureau", "/api/exemptions", {"variety_id": "V2", "special": "seasonal", "start_date": "2024-01-01",
                                           "reason": "季节性"})
    report = {"product_code": P1, "problem": "late", "start_date": "2024-05-01"}
    exemption = {"variety_id": "V1", "special": "shortage", "start_date": "2024-02-01", "reason": "短缺"}
    action = {"target_kind": "institution", "target_code": HA, "action": "remind", "reason": "提醒"}
    everyone = dict.fromkeys(ROLES, OK)
    deciders = {**dict.fromkeys(ROLES, 403), "admin": CREATED, "bureau": CREATED}
    endpoints = [
        ("GET", "/api/auth/me", None, everyone),
        ("GET", "/api/supply-reports", None, everyone),
        ("POST", "/api/supply-reports", report,
         {**dict.fromkeys(ROLES, 403), "institution": CREATED, "institution_b": CREATED, "institution_c": CREATED}),
        ("GET", f"/api/supply-reports/{a}", None,
         {**dict.fromkeys(ROLES, 404), "admin": OK, "bureau": OK, "auditor": OK, "institution": OK,
          "enterprise": OK}),
        ("POST", f"/api/supply-reports/{a}/decision", {"decision": "verify"},
         {**dict.fromkeys(ROLES, 403), "admin": OK, "bureau": OK, "district": 404}),
        ("GET", "/api/exemptions", None, everyone),
        ("POST", "/api/exemptions", exemption, deciders),
        ("POST", "/api/exemptions/99999/revoke", None, {**dict.fromkeys(ROLES, 403), "admin": 404, "bureau": 404}),
        ("GET", "/api/actions", None, everyone),
        ("POST", "/api/actions", action, deciders),
        ("GET", "/api/audit", None, {**dict.fromkeys(ROLES, 403), "admin": OK, "bureau": OK, "district": OK,
                                     "auditor": OK}),
    ]
    wrong = []
    for method, path, body, expected in endpoints:
        assert set(expected) == set(ROLES), path
        for user in [None, *ROLES]:
            want = 401 if user is None else expected[user]
            r = api.get(user, path) if method == "GET" else api.post(user, path, body)
            if r.status_code != want:
                wrong.append(f"{method} {path} as {user}: {r.status_code}, expected {want}")
            if r.status_code >= 400:
                assert set(r.json()["detail"]) == {"zh", "en"}, (method, path, user)
    assert not wrong, "\n".join(wrong)


PAGES_ANY_ROLE = ["/supply-reports", "/exemptions", "/actions"]


def test_pages_authorization(app, client):
    a = Api(client).file("institution", P1)["id"]
    for path in [*PAGES_ANY_ROLE, f"/supply-reports/{a}", "/audit"]:
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), path
    expected_report = {"admin": 200, "bureau": 200, "auditor": 200, "institution": 200, "enterprise": 200}
    expected_audit = {"admin": 200, "bureau": 200, "district": 200, "auditor": 200}
    for user in ROLES:
        with TestClient(app) as c:
            login(c, user)
            for path in PAGES_ANY_ROLE:
                assert c.get(path).status_code == 200, (user, path)
            assert c.get(f"/supply-reports/{a}").status_code == expected_report.get(user, 404), user
            assert c.get("/audit").status_code == expected_audit.get(user, 403), user


# -- pages: the forms -----------------------------------------------------------------------------------------------
FORM = re.compile(r"<form\b[^>]*method=\"post\"[^>]*>(.*?)</form>", re.S)


def test_every_form_carries_the_csrf_token(app):
    with TestClient(app) as c:
        login(c, "institution")
        report = c.post("/supply-reports", data={"csrf_token": csrf(c), "product_code": P1, "problem": "shortage",
                                                 "start_date": "2024-03-01"}, follow_redirects=False)
        assert report.status_code == 303
    seen = 0
    for user in ("institution", "bureau"):
        with TestClient(app) as c:
            login(c, user)
            token = csrf(c)
            for path in [*PAGES_ANY_ROLE, report.headers["location"], "/audit", "/login"]:
                page = c.get(path)
                if page.status_code != 200:
                    continue
                for form in FORM.findall(page.text):
                    seen += 1
                    assert f'name="csrf_token" value="{token}"' in form, (user, path, form[:200])
    assert seen >= 8  # filing, decision, exemption, revoke, action, logout forms on several pages


def test_file_and_decide_through_the_pages(app):
    with TestClient(app) as hospital, TestClient(app) as bureau:
        login(hospital, "institution")
        r = hospital.post("/supply-reports", data={"csrf_token": csrf(hospital), "product_code": P1,
                                                   "problem": "shortage", "start_date": "2024-03-01",
                                                   "end_date": "2024-03-31", "description": "断货两周"},
                          follow_redirects=False)
        assert r.status_code == 303
        path = r.headers["location"]
        assert "待核实" in hospital.get(path).text
        bad = hospital.post("/supply-reports", data={"csrf_token": csrf(hospital), "product_code": "nope",
                                                     "problem": "shortage", "start_date": "2024-03-01"})
        assert bad.status_code == 422 and "不在产品目录中" in bad.text
        login(bureau, "bureau")
        queue = bureau.get("/supply-reports").text
        assert path in queue and "断货" not in queue  # the queue lists; the description is on the report page
        r = bureau.post(f"{path}/decision", data={"csrf_token": csrf(bureau), "decision": "verify",
                                                  "start_date": "2024-03-03", "end_date": "2024-03-17",
                                                  "comment": "经核实属实"}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == path
        page = hospital.get(path).text
        assert "已核实" in page and "2024-03-03 – 2024-03-17" in page and "经核实属实" in page
        assert hospital.get(path + "?lang=en").text.count("verified") >= 1
        # a hospital posting the decision form is refused
        refused = hospital.post(f"{path}/decision", data={"csrf_token": csrf(hospital), "decision": "reject",
                                                          "comment": "x"})
        assert refused.status_code == 403


def test_imported_supply_problems_are_listed_for_the_institution_in_scope(tmp_path):
    """The platform's records imported with the data (not ``WF-…``) appear, read-only, in the workflow's list for
    the hospital that filed them (HA: a verified shortage of P1 from 2024-03-01 to 2024-03-31) and for the
    province's bureau, not for another hospital (HB) nor for Quanzhou's bureau (HA is in Fuzhou, 350102)."""
    from tests.web_fixtures import world_rows

    from jicai.contract.arrow import from_pylist

    rows = world_rows()
    rows["supply_problems"] = [{"report_id": "GY202403020001", "institution_code": HA, "product_code": P1,
                                "problem": "shortage", "reported_at": datetime(2024, 3, 2, 10, 30), "verified": True,
                                "start_date": date(2024, 3, 1), "end_date": date(2024, 3, 31)}]
    app = make_app(tmp_path, {n: from_pylist(n, r) for n, r in rows.items()})
    with TestClient(app) as c:
        login(c, "institution")
        page = c.get("/supply-reports").text
        assert 'data-testid="imported-reports"' in page and "没有报告。" not in page
        assert "2024-03-01 – 2024-03-31" in page and "已核实" in page and "短缺断供" in page
        assert "2024-03-02 10:30" in page
    for user, sees in (("institution_b", False), ("district", False), ("bureau", True)):
        with TestClient(app) as c:
            login(c, user)
            page = c.get("/supply-reports?status=verified").text
            assert ('data-testid="imported-reports"' in page) is sees, user


# -- what a verification does to the figures ------------------------------------------------------------------------
HX = "H61010200001"  # a hospital in Xi'an (610102), where P1 is the selected product of V1


def test_a_verified_period_changes_completion_and_share(tmp_path):
    """Hand-computed on the scenario world: HX agreed 1,000 units of V1; it bought 30 packs (300 units) of the
    backup P1B accepted 2024-03-15 and 20 packs (200 units) of the selected P1 accepted 2024-05-01. As of
    2024-07-01 (time progress exactly 0.5):

    - no verified problem: selected 200 → completion 0.2 < 0.5 → behind; the backup is non-selected:
      share = 300 / (200 + 300) = 0.6 > 0.5 → 非中选超量;
    - a filed (unverified) report, a rejected one, or one verified for April only: the same;
    - verified for March (P1's shortage covers 03-15): selected 200 + 300 = 500 → completion 0.5, normal;
      non-selected 0 → share 0.
    """
    scenario = from_dict({
        "description": "a hospital bought the backup product during a shortage of the selected one",
        "world": "vbp", "measure": "jicai.measures.monitor:monitor", "expect": [],
        "tables": {"institutions": [{"institution_code": HX, "name": "西安医院", "region_code": "610102", "level": 3,
                                     "kind": "hospital", "public": True}]},
        "agreements": [{"inst": HX, "agreed": 1000}],
        "buys": [{"inst": HX, "product": "P1B", "packs": 30, "accepted": "2024-03-15"},
                 {"inst": HX, "product": "P1", "packs": 20, "accepted": "2024-05-01"}],
    })
    app = make_app(tmp_path, scenario.tables, users={"hospital": ("institution", HX), "bureau": ("bureau", "")})

    def figures() -> tuple:
        t = app.state.data.run(lambda wh: monitor(wh, date(2024, 7, 1), None, scenario.policy).to_pyarrow())
        row = next(r for r in t.to_pylist() if r["institution_code"] == HX and r["variety_id"] == "V1")
        return (row["selected_volume"], row["nonselected_volume"], row["completion"], row["status"],
                row["nonselected_share"], row["nonselected_excess"])

    before = (200.0, 300.0, 0.2, "behind", 0.6, True)
    with TestClient(app) as client:
        api = Api(client)
        assert figures() == before
        rejected = api.file("hospital", "P1", "2024-03-01", "2024-03-31")
        assert figures() == before
        api.post("bureau", f"/api/supply-reports/{rejected['id']}/decision", {"decision": "reject", "comment": "否"})
        assert figures() == before
        april = api.file("hospital", "P1", "2024-04-01", "2024-04-30")
        api.post("bureau", f"/api/supply-reports/{april['id']}/decision", {"decision": "verify"})
        assert figures() == before
        march = api.file("hospital", "P1", "2024-03-01", "2024-03-31")
        # the boundary day is inside: a period of 03-15 alone covers the backup purchase
        api.post("bureau", f"/api/supply-reports/{march['id']}/decision",
                 {"decision": "verify", "start_date": "2024-03-15", "end_date": "2024-03-15"})
        assert figures() == (500.0, 0.0, 0.5, "normal", 0.0, False)
        api.post("bureau", f"/api/supply-reports/{march['id']}/decision",
                 {"decision": "verify", "start_date": "2024-03-16", "end_date": "2024-03-31"})
        assert figures() == before  # a corrected period that misses 03-15 takes the change back


def test_enterprise_reports_follow_manufacturer_and_selected_enterprise(app, api):
    """EA makes P1; EB makes P1B and P2 and is their selected enterprise: each sees reports on its own only."""
    on_p1, on_p1b, on_p2 = api.file("institution", P1), api.file("institution", P1B), api.file("institution", P2)
    assert {r["id"] for r in api.get("enterprise", "/api/supply-reports").json()["items"]} == {on_p1["id"]}
    assert {r["id"] for r in api.get("enterprise_b", "/api/supply-reports").json()["items"]} == {
        on_p1b["id"], on_p2["id"]}
