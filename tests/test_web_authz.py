"""The authorization matrix: every endpoint × every role (and anonymous), including cross-tenant attempts.

Every route of the app must have an entry in MATRIX (a test fails when a new route has none), so a page or
endpoint cannot be added without deciding who may use it. Expected statuses:
  200/201 allowed · 403 role not allowed · 404 outside the caller's scope (ids do not leak) ·
  401 anonymous API call · 303 anonymous page (to the login page).
"""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from tests.web_fixtures import HA, HB, USERS, bearer, login, make_app, routes_of

from jicai.web.datasets import DATASETS

ROLES = list(USERS)  # admin bureau district auditor institution institution_b institution_c enterprise enterprise_b
ALL = {u: 200 for u in ROLES}


def only(*users: str, other: int = 403) -> dict[str, int]:
    return {u: (200 if u in users else other) for u in ROLES}


def by_role(ds) -> dict[str, int]:
    return {u: (200 if USERS[u][0] in ds.roles else 403) for u in ROLES}


# (method, path template) -> (concrete path, {user: status}); None = public (no login needed)
MATRIX: dict[tuple[str, str], tuple[str, dict[str, int] | None]] = {
    ("GET", "/login"): ("/login", None),
    ("POST", "/login"): ("/login", None),
    ("POST", "/api/auth/token"): ("/api/auth/token", None),
    ("GET", "/api/auth/me"): ("/api/auth/me", ALL),
    ("POST", "/logout"): ("/logout", None),
    ("GET", "/api/overview"): ("/api/overview", ALL),
    ("GET", "/api/overview/trend"): ("/api/overview/trend", ALL),
    ("GET", "/api/ranking"): ("/api/ranking", only(*[u for u in ROLES if not u.startswith("enterprise")])),
    ("GET", "/api/institutions/{code}"): (f"/api/institutions/{HA}", only("admin", "bureau", "auditor", "institution",
                                                                          other=404)),
    ("GET", "/api/institutions/{code}/order-lines"): (f"/api/institutions/{HA}/order-lines",
                                                      only("admin", "bureau", "auditor", "institution", other=404)),
    ("GET", "/api/datasets"): ("/api/datasets", ALL),
    ("GET", "/"): ("/", ALL),
    ("GET", "/ranking"): ("/ranking", only(*[u for u in ROLES if not u.startswith("enterprise")])),
    ("GET", "/institutions/{code}"): (f"/institutions/{HA}", only("admin", "bureau", "auditor", "institution",
                                                                 other=404)),
    ("GET", "/institutions/{code}/orders"): (f"/institutions/{HA}/orders",
                                             only("admin", "bureau", "auditor", "institution", other=404)),
    ("GET", "/institutions/{code}/summary.{fmt}"): (f"/institutions/{HA}/summary.html",
                                                    only("admin", "bureau", "auditor", "institution", other=404)),
    # a region's summary: bureaus whose scope holds it; the district bureau (3505) gets 404 for Fuzhou
    ("GET", "/regions/{code}/summary.{fmt}"): ("/regions/350100/summary.html",
                                               {**only("admin", "bureau", "auditor"), "district": 404}),
    ("GET", "/data/{name}"): ("/data/monitor", by_role(DATASETS["monitor"])),
    ("GET", "/policy"): ("/policy", ALL),
    ("GET", "/import"): ("/import", only("admin", "bureau")),  # a district bureau gets no form it may not use
    ("POST", "/import"): ("/import", None),  # tested with files below
    ("POST", "/api/pharmacy/settlement-check"): ("", None),  # every role in tests/test_web_fund_supply.py
    ("GET", "/reports"): ("/reports", ALL),  # the page says who may download
    ("GET", "/reports/{kind}.{fmt}"): ("/reports/monthly.html?as_of=2024-06-30", only("admin", "bureau", "auditor")),
    # the API documentation: the regional roles, a district bureau too (tests/test_web_headers.py: its content)
    ("GET", "/docs"): ("/docs", only("admin", "bureau", "district", "auditor")),
    ("GET", "/redoc"): ("/redoc", only("admin", "bureau", "district", "auditor")),
    # the policy what-if: the bureau's own question (a district bureau over its own institutions)
    ("GET", "/what-if"): ("/what-if", only("admin", "bureau", "district")),
    ("GET", "/what-if.xlsx"): ("/what-if.xlsx?batch=B1&year=1&as_of=2024-12-31&min_completion=20",
                               only("admin", "bureau", "district")),
    ("POST", "/api/what-if"): ("", None),  # every role with bodies in tests/test_web_what_if.py
}
# the workflow (routes/workflow.py); report 1 is filed by `institution` (HA, 福州) about P1 (made by EA)
DECIDERS = only("admin", "bureau", other=403)
WORKFLOW_MATRIX: dict[tuple[str, str], tuple[str, dict[str, int] | None]] = {
    ("GET", "/api/supply-reports"): ("/api/supply-reports", ALL),
    ("GET", "/api/supply-reports/{report_id}"): ("/api/supply-reports/1", {
        **only("admin", "bureau", "auditor", "institution", "enterprise", other=404)}),
    ("GET", "/api/exemptions"): ("/api/exemptions", ALL),
    ("GET", "/api/actions"): ("/api/actions", ALL),
    ("GET", "/api/audit"): ("/api/audit", only("admin", "bureau", "district", "auditor")),
    ("GET", "/supply-reports"): ("/supply-reports", ALL),
    ("GET", "/supply-reports/{report_id}"): ("/supply-reports/1", {
        **only("admin", "bureau", "auditor", "institution", "enterprise", other=404)}),
    ("GET", "/exemptions"): ("/exemptions", ALL),
    ("GET", "/actions"): ("/actions", ALL),
    ("GET", "/audit"): ("/audit", only("admin", "bureau", "district", "auditor")),
    ("GET", "/mapping"): ("/mapping", only("admin", "bureau", "district", "auditor")),
    # the alert inbox: every user has one, of the alerts in scope (scope and read marks: tests/test_web_alerts.py)
    ("GET", "/api/alert-inbox"): ("/api/alert-inbox", ALL),
    ("GET", "/alerts"): ("/alerts", ALL),
    ("POST", "/api/alert-inbox/{item_id}/read"): ("", None), ("POST", "/alerts/{item_id}/read"): ("", None),
    # peer groups: every role that ranks institutions has its own (rules and writes: tests/test_peer_groups.py)
    ("GET", "/api/peer-groups"): ("/api/peer-groups", only(*[u for u in ROLES if not u.startswith("enterprise")])),
    ("GET", "/peers"): ("/peers", only(*[u for u in ROLES if not u.startswith("enterprise")])),
    ("POST", "/api/peer-groups"): ("", None), ("PUT", "/api/peer-groups/{group_id}"): ("", None),
    ("DELETE", "/api/peer-groups/{group_id}"): ("", None), ("POST", "/peers"): ("", None),
    ("POST", "/peers/{group_id}"): ("", None), ("POST", "/peers/{group_id}/delete"): ("", None),
    ("POST", "/mapping/confirm"): ("", None), ("POST", "/mapping/reject"): ("", None),  # tests/test_web_mapping.py
    # writes: tested with bodies in test_write_matrix
    ("POST", "/api/supply-reports"): ("", None), ("POST", "/api/supply-reports/{report_id}/decision"): ("", None),
    ("POST", "/api/exemptions"): ("", None), ("POST", "/api/exemptions/{exemption_id}/revoke"): ("", None),
    ("POST", "/api/actions"): ("", None), ("POST", "/supply-reports"): ("", None),
    ("POST", "/supply-reports/{report_id}/decision"): ("", None), ("POST", "/exemptions"): ("", None),
    ("POST", "/exemptions/{exemption_id}/revoke"): ("", None), ("POST", "/actions"): ("", None),
}
REPORT = {"product_code": "XC10AA00000000000000001", "problem": "shortage", "start_date": "2024-03-01"}
EXEMPTION = {"variety_id": "V1", "special": "shortage", "start_date": "2024-01-01", "end_date": "2024-02-01",
             "reason": "短缺"}
ACTION = {"target_kind": "institution", "target_code": HA, "action": "remind", "reason": "进度落后"}

for _ds in DATASETS.values():
    MATRIX[("GET", f"/api/{_ds.name}")] = (f"/api/{_ds.name}", by_role(_ds))
    MATRIX[("GET", f"/api/{_ds.name}/export")] = (f"/api/{_ds.name}/export?format=csv", by_role(_ds))


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return make_app(tmp_path_factory.mktemp("authz"))


@pytest.fixture(scope="module")
def tokens(app):
    c = TestClient(app)  # no lifespan: the app's caches live as long as the module's tests
    t = {u: bearer(c, u) for u in ROLES}
    assert c.post("/api/supply-reports", headers=t["institution"], json=REPORT).json()["id"] == 1
    return t


@pytest.fixture(scope="module")
def sessions(app, tokens):
    """A client logged in by the login form, per role."""
    return {u: login(TestClient(app), u) for u in ROLES}


GETS = {k: v for k, v in {**MATRIX, **WORKFLOW_MATRIX}.items() if v[1] is not None}


def _routes(app) -> list[tuple[str, str]]:
    out = []
    for r in routes_of(app):
        if isinstance(r, APIRoute):
            out += [(m, r.path) for m in sorted(r.methods)]
    return out


def test_every_route_is_in_the_matrix(app):
    known = set(MATRIX) | set(WORKFLOW_MATRIX)
    missing = [r for r in _routes(app) if r not in known]
    assert not missing, f"routes without an authorization decision: {missing}"


@pytest.mark.parametrize("key", sorted(GETS))
def test_anonymous_is_refused(app, tokens, key):
    method, _ = key
    path = GETS[key][0]
    c = TestClient(app)
    r = c.request(method, path, follow_redirects=False)
    if path.startswith("/api/"):
        assert r.status_code == 401, (key, r.status_code)
    else:
        assert r.status_code == 303 and r.headers["location"].startswith("/login"), (key, r.status_code)


@pytest.mark.parametrize("key", sorted(k for k in GETS if k[1].startswith("/api/")))
def test_api_matrix(app, tokens, key):
    method, _ = key
    path, expected = GETS[key]
    c = TestClient(app)
    got = {u: c.request(method, path, headers=tokens[u]).status_code for u in ROLES}
    assert got == expected, key


@pytest.mark.parametrize("key", sorted(k for k in GETS if not k[1].startswith("/api/")))
def test_page_matrix(sessions, key):
    method, _ = key
    path, expected = GETS[key]
    got = {u: sessions[u].request(method, path, follow_redirects=False).status_code for u in ROLES}
    assert got == expected, key


def test_other_hospitals_rows_never_leak_through_filters_or_exports(app, tokens):
    c = TestClient(app)
    for path in ("/api/monitor", "/api/onboarding", "/api/monitor/export?format=csv"):
        sep = "&" if "?" in path else "?"
        r = c.get(f"{path}{sep}institution_code={HB}&as_of=2024-06-30", headers=tokens["institution"])
        assert r.status_code == 200
        assert HB not in r.text, path


def test_write_matrix(app, tokens):
    """Who may write: institutions file reports (their own institution, never one from the body); the bureau
    (province-wide) decides, exempts and acts; nobody else; anonymous never."""
    c = TestClient(app)
    assert c.post("/api/supply-reports", json=REPORT).status_code == 401
    got = {u: c.post("/api/supply-reports", headers=tokens[u], json=REPORT).status_code for u in ROLES}
    assert got == only("institution", "institution_b", "institution_c", other=403) | {
        u: 201 for u in ("institution", "institution_b", "institution_c")}
    got = {}
    for u in ROLES:
        rid = c.post("/api/supply-reports", headers=tokens["institution"], json=REPORT).json()["id"]
        got[u] = c.post(f"/api/supply-reports/{rid}/decision", headers=tokens[u],
                        json={"decision": "reject", "comment": "未核实"}).status_code
    assert got == {**DECIDERS, "district": 404}  # HA is outside Quanzhou: not found for its bureau
    got = {u: c.post("/api/exemptions", headers=tokens[u], json=EXEMPTION).status_code for u in ROLES}
    assert got == {u: (201 if v == 200 else v) for u, v in DECIDERS.items()}
    got = {}
    for u in ROLES:
        eid = c.post("/api/exemptions", headers=tokens["bureau"], json=EXEMPTION).json()["id"]
        got[u] = c.post(f"/api/exemptions/{eid}/revoke", headers=tokens[u]).status_code
    assert got == DECIDERS
    got = {u: c.post("/api/actions", headers=tokens[u], json=ACTION).status_code for u in ROLES}
    assert got == {u: (201 if v == 200 else v) for u, v in DECIDERS.items()}


def test_import_is_for_province_wide_bureau_users(sessions):
    body = "region_code,name,parent_code\n350199,测试,350100\n".encode()
    got = {}
    for u in ROLES:
        c = sessions[u]
        tok = c.get("/import").text.split('name="csrf_token" value="')[1].split('"')[0] \
            if u in ("admin", "bureau") else ""
        got[u] = c.post("/import", data={"csrf_token": tok},
                        files={"file": ("regions.csv", body, "text/csv")}).status_code
    assert got == only("admin", "bureau")
