"""A flood of logins cannot take the platform down or guess its way in (issue 14, finding 4): names and passwords
are capped before any work, argon2 runs under a concurrency limit, failures are budgeted per client address and
platform-wide in the workflow database (so a restart or another worker does not reset them), and
``X-Forwarded-For`` is believed only from configured proxies."""

from __future__ import annotations

import threading
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.web_fixtures import FAST_HASHER, PASSWORD, csrf, make_app, workflow_url_fixture

from jicai.workflow.models import AuditEntry

USERS = {"bureau": ("bureau", ""), "admin": ("admin", "")}


def token(client: TestClient, name: str, password: str = "Spring2024!", **headers: str):
    return client.post("/api/auth/token", data={"username": name, "password": password}, headers=headers)


def page_login(client: TestClient, name: str, password: str = "Spring2024!"):
    return client.post("/login", data={"name": name, "password": password, "csrf_token": csrf(client), "next": "/"},
                       follow_redirects=False)


def audit_rows(app) -> list[AuditEntry]:
    with app.state.workflow.session() as s:
        return list(s.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def bilingual(r) -> dict:
    detail = r.json()["detail"]
    assert detail["zh"] and detail["en"] and detail["zh"] != detail["en"]
    return detail


workflow_url = workflow_url_fixture("jicai_wf_logins")  # SQLite and PostgreSQL


# -- the budgets, kept in the workflow database -----------------------------------------------------------------
def test_spraying_one_password_over_many_names_from_one_address_is_blocked(tmp_path, workflow_url):
    app = make_app(tmp_path, users=USERS, login_address_failures=10, workflow_url=workflow_url)
    sprayer = TestClient(app, client=("10.1.1.1", 5000))
    codes = [token(sprayer, f"user{i:02d}").status_code for i in range(50)]
    assert codes == [400] * 10 + [429] * 40  # 10 failures per address, then refused without checking
    r = token(sprayer, "bureau", PASSWORD)  # even a right password from that address
    assert r.status_code == 429 and r.headers["retry-after"] == "300" and "次数过多" in bilingual(r)["zh"]
    page = page_login(sprayer, "bureau", PASSWORD)
    assert page.status_code == 429 and page.headers["retry-after"] == "300" and "此地址登录失败次数过多" in page.text
    # another address is not blocked by it
    assert token(TestClient(app, client=("10.2.2.2", 5000)), "bureau", PASSWORD).status_code == 200
    actions = [a.action for a in audit_rows(app)]
    assert actions.count("login.failed") == 10 and actions.count("login.throttled") == 42


def test_the_block_survives_a_restart_and_is_shared_by_another_process(tmp_path, workflow_url):
    app = make_app(tmp_path, users=USERS, login_address_failures=5, workflow_url=workflow_url)
    sprayer = TestClient(app, client=("10.1.1.1", 5000))
    assert [token(sprayer, f"u{i}").status_code for i in range(6)] == [400] * 5 + [429]
    app.state.workflow.close()
    restarted = make_app(tmp_path, users=USERS, login_address_failures=5, workflow_url=workflow_url)  # same DB
    assert token(TestClient(restarted, client=("10.1.1.1", 5000)), "bureau", PASSWORD).status_code == 429
    assert token(TestClient(restarted, client=("10.9.9.9", 5000)), "bureau", PASSWORD).status_code == 200


def test_a_spray_from_many_addresses_meets_the_global_budget(tmp_path, workflow_url):
    app = make_app(tmp_path, users=USERS, login_address_failures=100, login_global_failures=20,
                   workflow_url=workflow_url)
    regular = TestClient(app, client=("10.0.0.5", 5000))
    assert token(regular, "bureau", PASSWORD).status_code == 200  # a user who logged in here before the attack
    codes = [token(TestClient(app, client=(f"172.16.{i}.1", 5000)), f"user{i}").status_code for i in range(30)]
    assert codes == [400] * 20 + [429] * 10
    r = token(TestClient(app, client=("192.168.7.7", 5000)), "admin", PASSWORD)  # a new address: paused too
    assert r.status_code == 429 and "平台" in bilingual(r)["zh"]
    # a name that logged in from its address before the attack still gets in (the attacker cannot lock the
    # bureau out of its own office), within its own budgets
    assert token(regular, "bureau", PASSWORD).status_code == 200


def test_the_failures_leave_the_window(tmp_path, monkeypatch):
    from jicai.web import auth

    offset = [0.0]
    monkeypatch.setattr(auth, "_now", lambda: time.time() + offset[0])
    app = make_app(tmp_path, users=USERS, login_address_failures=3)
    sprayer = TestClient(app, client=("10.1.1.1", 5000))
    assert [token(sprayer, f"u{i}").status_code for i in range(4)] == [400, 400, 400, 429]
    offset[0] = app.state.config.login_window + 1
    assert token(sprayer, "bureau", PASSWORD).status_code == 200


# -- proxies ----------------------------------------------------------------------------------------------------
def test_a_forged_x_forwarded_for_neither_resets_the_limit_nor_changes_the_audited_address(tmp_path):
    app = make_app(tmp_path, users=USERS, login_address_failures=3)
    local = TestClient(app, client=("127.0.0.1", 5000))
    codes = [token(local, f"u{i}", **{"X-Forwarded-For": f"203.0.113.{i}"}).status_code for i in range(6)]
    assert codes == [400, 400, 400, 429, 429, 429]
    assert {row.client for row in audit_rows(app) if row.action.startswith("login")} == {"127.0.0.1"}


def test_x_forwarded_for_is_believed_from_a_configured_proxy_only(tmp_path):
    app = make_app(tmp_path, users=USERS, login_address_failures=3, trusted_proxies=("10.0.0.1",))
    proxy = TestClient(app, client=("10.0.0.1", 5000))
    stranger = TestClient(app, client=("10.0.0.2", 5000))
    for i in range(3):
        assert token(proxy, f"u{i}", **{"X-Forwarded-For": "203.0.113.7"}).status_code == 400
    # the proxy's client 203.0.113.7 is blocked; another client behind the same proxy is not
    assert token(proxy, "bureau", PASSWORD, **{"X-Forwarded-For": "203.0.113.7"}).status_code == 429
    assert token(proxy, "bureau", PASSWORD, **{"X-Forwarded-For": "203.0.113.8"}).status_code == 200
    # a header sent by anyone else is ignored
    assert token(stranger, "u9", **{"X-Forwarded-For": "198.51.100.1"}).status_code == 400
    clients = [row.client for row in audit_rows(app) if row.action.startswith("login")]
    assert clients == ["203.0.113.7"] * 4 + ["203.0.113.8", "10.0.0.2"]


def test_jicai_serve_leaves_the_proxy_headers_to_the_app(monkeypatch, tmp_path):
    """uvicorn's own proxy_headers trusts 127.0.0.1 by default: ``jicai serve`` must not turn it on."""
    import uvicorn
    from typer.testing import CliRunner

    from jicai.cli import app as cli

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: calls.append(kw))
    monkeypatch.setenv("JICAI_DATA_DIR", str(tmp_path / "data"))
    r = CliRunner().invoke(cli, ["serve", "--port", "8765"])
    assert r.exit_code == 0, r.output
    assert calls and calls[0].get("proxy_headers") is False


def test_trusted_proxies_are_read_from_the_environment(tmp_path):
    from jicai.settings import Settings
    from jicai.web.config import ConfigError, WebConfig

    settings = Settings.resolve(tmp_path)
    config = WebConfig.resolve(settings, {"JICAI_TRUSTED_PROXIES": "10.0.0.1, 10.0.1.0/24"})
    assert config.trusted_proxies == ("10.0.0.1", "10.0.1.0/24")
    assert WebConfig.resolve(settings, {}).trusted_proxies == ()
    with pytest.raises(ConfigError) as e:
        WebConfig.resolve(settings, {"JICAI_TRUSTED_PROXIES": "10.0.0.1, nonsense"})
    assert "JICAI_TRUSTED_PROXIES" in e.value.zh and "nonsense" in e.value.en


# -- lengths ----------------------------------------------------------------------------------------------------
class CountingHasher:
    """FAST_HASHER that counts its verifications and the most that ran at once (each takes ``delay`` s)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay, self.calls, self.active, self.most = delay, 0, 0, 0
        self._lock = threading.Lock()

    def verify(self, stored: str, password: str) -> bool:
        with self._lock:
            self.calls += 1
            self.active += 1
            self.most = max(self.most, self.active)
        try:
            time.sleep(self.delay)
            return FAST_HASHER.verify(stored, password)
        finally:
            with self._lock:
                self.active -= 1

    def __getattr__(self, name: str):
        return getattr(FAST_HASHER, name)


def test_a_megabyte_user_name_is_refused_fast_and_audited_short(tmp_path):
    app = make_app(tmp_path, users=USERS)
    hasher = app.state.workflow.hasher = CountingHasher()
    client = TestClient(app, client=("10.3.3.3", 5000))
    before = len(audit_rows(app))
    huge = "x" * 1_000_000
    started = time.perf_counter()
    for _ in range(5):
        r = token(client, huge)
        assert r.status_code == 400 and r.json()["error"] == "invalid_request"
        assert "64" in bilingual(r)["zh"] and "64" in r.json()["detail"]["en"]
        page = page_login(client, huge)
        assert page.status_code == 422 and "用户名过长" in page.text
    r = token(client, "bureau", "p" * 5000)  # an over-long password: no hashing either
    assert r.status_code == 400 and "1024" in bilingual(r)["en"]
    assert time.perf_counter() - started < 10 and hasher.calls == 0
    added = audit_rows(app)[before:]
    assert len(added) == 11
    for row in added:
        assert row.action == "login.refused" and len(row.user_name) <= 64 and len(row.target) <= 128
        assert len(str(row.detail)) < 200


# -- argon2 under a concurrency limit ---------------------------------------------------------------------------
def test_concurrent_attempts_never_run_more_argon2_than_the_limit(tmp_path):
    app = make_app(tmp_path, users=USERS, login_concurrency=2, login_wait=0.2)
    hasher = app.state.workflow.hasher = CountingHasher(delay=0.5)
    results: list = [None] * 12

    def attempt(i: int) -> None:
        client = TestClient(app, client=(f"10.4.{i}.1", 5000))
        name, password = ("bureau", PASSWORD) if i % 3 == 0 else (f"nobody{i}", "wrong-password")
        results[i] = token(client, name, password)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(len(results))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = [r.status_code for r in results]
    assert hasher.most <= 2, hasher.most
    assert 1 <= hasher.calls < len(results) and codes.count(503) == len(results) - hasher.calls
    for r in results:
        if r.status_code == 503:
            assert r.headers["retry-after"] == "1" and "繁忙" in bilingual(r)["zh"]
    # a refused-for-busy attempt is no failure: nobody's budget was spent on it
    actions = [a.action for a in audit_rows(app)]
    assert actions.count("login.failed") + actions.count("login") == hasher.calls


def test_an_unknown_name_costs_one_verification_like_a_known_one(tmp_path):
    app = make_app(tmp_path, users=USERS)
    hasher = app.state.workflow.hasher = CountingHasher()
    client = TestClient(app, client=("10.5.5.5", 5000))
    token(client, "nobody")
    token(client, "bureau")
    assert hasher.calls == 2


def test_a_success_clears_its_name_but_not_its_address(tmp_path):
    """An insider who sprays between logins of their own account does not reset the address's budget."""
    from jicai.workflow.logins import Budgets, note, spent

    app = make_app(tmp_path, users=USERS)
    budgets = Budgets(name=3, address=5, platform=100, window=300)
    with app.state.workflow.session() as s:
        for i in range(2):
            note(s, "bureau", "10.6.6.6", False, 1000.0 + i, budgets)
        note(s, "bureau", "10.6.6.6", True, 1002.0, budgets)  # the owner logs in: the name's count restarts
        note(s, "bureau", "10.6.6.6", False, 1003.0, budgets)
        assert spent(s, "bureau", "10.6.6.6", 1004.0, budgets) is None
        note(s, "other", "10.6.6.6", False, 1005.0, budgets)
        note(s, "other2", "10.6.6.6", False, 1006.0, budgets)
        assert spent(s, "new", "10.6.6.6", 1007.0, budgets) == "address"  # 5 failures from the address
        assert spent(s, "new", "10.6.6.7", 1007.0, budgets) is None
        assert spent(s, "new", "10.6.6.6", 1000.0 + 301, budgets) is None  # the first two left the window
        note(s, "x", "10.7.7.7", False, 2000.0, budgets)  # noting prunes what left the window
        from jicai.workflow.models import LoginAttempt

        assert {(a.name, a.ok) for a in s.scalars(select(LoginAttempt))} == {("bureau", True), ("x", False)}


@pytest.mark.parametrize("name", ["bad\x00name", "evil\x1b[31m", "name with spaces", "\u202eslo"])
def test_a_name_no_user_can_have_is_refused_without_hashing_and_audited_printable(tmp_path, workflow_url, name):
    """Control characters (NUL breaks a PostgreSQL insert) never reach the database as they are, and a name that
    cannot exist costs no argon2 check; the answer is the ordinary refusal."""
    app = make_app(tmp_path, users=USERS, workflow_url=workflow_url)
    hasher = app.state.workflow.hasher = CountingHasher()
    client = TestClient(app, client=("10.8.8.8", 5000))
    r = token(client, name)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant" and bilingual(r)
    assert page_login(client, name).status_code == 401
    assert hasher.calls == 0
    rows = [row for row in audit_rows(app) if row.action == "login.failed"]
    assert len(rows) == 2 and all(row.user_name.isprintable() for row in rows)


@pytest.mark.parametrize("variable", ["JICAI_LOGIN_CONCURRENCY", "JICAI_LOGIN_ADDRESS_FAILURES",
                                      "JICAI_LOGIN_GLOBAL_FAILURES"])
def test_the_login_settings_are_read_and_checked(tmp_path, variable):
    from jicai.settings import Settings
    from jicai.web.config import ConfigError, WebConfig

    settings = Settings.resolve(tmp_path)
    field = variable.removeprefix("JICAI_").lower()
    assert getattr(WebConfig.resolve(settings, {variable: "7"}), field) == 7
    for bad in ("0", "many", "-3"):
        with pytest.raises(ConfigError) as e:
            WebConfig.resolve(settings, {variable: bad})
        assert variable in e.value.zh and variable in e.value.en and bad in e.value.en
