"""Authentication of the web platform: password login, sessions, CSRF, the login rate limit, API tokens, the
production settings' fail-fast, and the ``jicai users`` command."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select
from tests.web_fixtures import FAST_HASHER, HA, P1, PASSWORD, SECRET, bearer, csrf, login, make_app
from typer.testing import CliRunner

from jicai.cli import app as cli
from jicai.settings import Settings
from jicai.web import auth
from jicai.web.config import ConfigError, WebConfig
from jicai.workflow import Workflow
from jicai.workflow.models import AuditEntry, User
from jicai.workflow.users import disable_user, set_password

ADMIN = {"admin": ("admin", ""), "bureau": ("bureau", ""), "institution": ("institution", HA)}


@pytest.fixture
def app(tmp_path):
    return make_app(tmp_path, users=ADMIN, login_attempts=3, login_window=300)


@pytest.fixture
def client(app):
    with TestClient(app) as c:
        yield c


class Clock:
    """Moves jicai.web.auth's clock (sessions, tokens and the rate limit read it)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import time

        self.offset = 0.0
        monkeypatch.setattr(auth, "_now", lambda: time.time() + self.offset)


def audit_actions(app) -> list[str]:
    with app.state.workflow.session() as s:
        return list(s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def post_login(client: TestClient, name: str, password: str, next_: str = "/", token_: str | None = None):
    return client.post("/login", data={"name": name, "password": password, "next": next_,
                                       "csrf_token": csrf(client) if token_ is None else token_},
                       follow_redirects=False)


# -- login and sessions -----------------------------------------------------------------------------------
def test_login_sets_a_signed_httponly_session_and_redirects_to_next(client, app):
    r = post_login(client, "bureau", PASSWORD, "/supply-reports?status=pending")
    assert r.status_code == 303 and r.headers["location"] == "/supply-reports?status=pending"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("jicai_session=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie and f"Max-Age={app.state.config.session_max_age}" in cookie
    me = client.get("/api/auth/me").json()
    assert me == {"user_id": me["user_id"], "name": "bureau", "role": "bureau", "role_zh": "医保局", "scope": ""}
    assert audit_actions(app)[-1] == "login"


def test_wrong_password_and_unknown_user_get_the_same_refusal(client, app):
    for name, password in (("bureau", "wrong-password"), ("nobody", PASSWORD)):
        r = post_login(client, name, password)
        assert r.status_code == 401
        assert "用户名或密码错误" in r.text and "jicai_session" not in client.cookies
    assert audit_actions(app)[-2:] == ["login.failed", "login.failed"]


def test_pages_redirect_anonymous_users_to_login_with_next(client):
    r = client.get("/supply-reports?status=verified", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=" + quote("/supply-reports?status=verified", safe="")
    login_page = client.get(r.headers["location"])
    assert 'name="next" value="/supply-reports?status=verified"' in login_page.text


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "evil",
                                    "javascript:alert(1)", "/ok\r\nLocation: https://evil.example"])
def test_next_may_only_be_a_local_path(client, target):
    r = post_login(client, "bureau", PASSWORD, target)
    assert r.status_code == 303 and r.headers["location"] == "/"


def test_logout_ends_the_session_and_needs_csrf(client, app):
    login(client, "bureau")
    assert client.post("/logout", data={}, follow_redirects=False).status_code == 403
    assert client.get("/api/auth/me").status_code == 200
    r = client.post("/logout", data={"csrf_token": csrf(client)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert client.get("/api/auth/me").status_code == 401
    assert "logout" in audit_actions(app)


def test_a_tampered_or_foreign_session_cookie_is_refused(client, app):
    login(client, "institution")
    good = client.cookies["jicai_session"]
    with app.state.workflow.session() as s:
        admin_id = s.scalar(select(User.id).where(User.name == "admin"))
        inst = s.scalar(select(User).where(User.name == "institution"))
    payload = URLSafeTimedSerializer(SECRET, salt="jicai-session").loads(good)
    # the same payload with another user id, under a wrong key or with the signature edited
    forged = URLSafeTimedSerializer("another-secret-key-" + "y" * 32, salt="jicai-session").dumps(
        {**payload, "u": admin_id})
    edited = good[:-2] + ("AA" if good[-2:] != "AA" else "BB")
    for value in (forged, edited, "garbage"):
        client.cookies.set("jicai_session", value)
        assert client.get("/api/auth/me").status_code == 401
        assert client.get("/supply-reports", follow_redirects=False).status_code == 303
    # the right key but a stale session version (the password changed since) is refused too
    stale = URLSafeTimedSerializer(SECRET, salt="jicai-session").dumps({**payload, "v": inst.session_version - 1})
    client.cookies.set("jicai_session", stale)
    assert client.get("/api/auth/me").status_code == 401
    client.cookies.set("jicai_session", good)
    assert client.get("/api/auth/me").json()["name"] == "institution"


def test_a_session_expires_after_session_max_age(client, app, monkeypatch):
    clock = Clock(monkeypatch)
    login(client, "bureau")
    clock.offset = app.state.config.session_max_age - 5
    assert client.get("/api/auth/me").status_code == 200
    clock.offset = app.state.config.session_max_age + 5
    assert client.get("/api/auth/me").status_code == 401
    assert client.get("/supply-reports", follow_redirects=False).status_code == 303


def test_disabling_a_user_or_changing_its_password_ends_its_sessions_and_tokens(client, app):
    wf = app.state.workflow
    login(client, "institution")
    headers = bearer(client, "institution")
    with wf.session() as s:
        set_password(wf, s, "institution", "new-password-2")
    assert client.get("/api/auth/me").status_code == 401
    assert client.get("/api/auth/me", headers=headers).status_code == 401
    assert post_login(client, "institution", PASSWORD).status_code == 401
    login(client, "institution", "new-password-2")
    headers = bearer(client, "institution", "new-password-2")
    with wf.session() as s:
        disable_user(s, "institution")
    assert client.get("/api/auth/me").status_code == 401
    r = client.get("/api/auth/me", headers=headers)
    assert r.status_code == 401 and "失效" in r.json()["detail"]["zh"]
    assert post_login(client, "institution", "new-password-2").status_code == 401
    assert client.post("/api/auth/token", data={"username": "institution", "password": "new-password-2"}
                       ).status_code == 400


def test_an_outdated_hash_is_replaced_at_login(client, app):
    wf = app.state.workflow
    with wf.session() as s:
        old = s.scalar(select(User.password_hash).where(User.name == "bureau"))
    assert old.startswith("$argon2id$") and "m=1024" in old
    wf.hasher = PasswordHasher()  # the library's recommended parameters
    login(client, "bureau")
    with wf.session() as s:
        new = s.scalar(select(User.password_hash).where(User.name == "bureau"))
    assert "m=65536" in new and new != old
    assert wf.hasher.verify(new, PASSWORD)
    wf.hasher = FAST_HASHER


# -- CSRF ---------------------------------------------------------------------------------------------------
def test_login_form_without_or_with_a_wrong_csrf_token_is_refused(client):
    assert post_login(client, "bureau", PASSWORD, token_="").status_code == 403
    assert post_login(client, "bureau", PASSWORD, token_="0" * 64).status_code == 403
    fresh = TestClient(client.app)  # no jicai_csrf cookie at all
    r = fresh.post("/login", data={"name": "bureau", "password": PASSWORD, "csrf_token": csrf(client)},
                   follow_redirects=False)
    assert r.status_code == 403
    assert "jicai_session" not in client.cookies


def test_the_csrf_token_is_bound_to_the_session(app):
    with TestClient(app) as a, TestClient(app) as b:
        login(a, "institution")
        login(b, "institution")
        before = csrf(a)
        assert before != csrf(b)
        body = {"product_code": P1, "problem": "shortage", "start_date": "2024-03-01"}
        assert a.post("/api/supply-reports", json=body).status_code == 403  # no header
        assert a.post("/api/supply-reports", json=body, headers={"X-CSRF-Token": csrf(b)}).status_code == 403
        r = a.post("/api/supply-reports", json=body, headers={"X-CSRF-Token": before})
        assert r.status_code == 201
        # a form without the token, and one with another session's token
        form = {"product_code": P1, "problem": "late", "start_date": "2024-04-01"}
        assert a.post("/supply-reports", data=form, follow_redirects=False).status_code == 403
        assert a.post("/supply-reports", data={**form, "csrf_token": csrf(b)},
                      follow_redirects=False).status_code == 403
        r = a.post("/supply-reports", data={**form, "csrf_token": before}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/supply-reports/2"
        # a new login is a new session: the old token no longer works
        login(a, "institution")
        assert a.post("/api/supply-reports", json=body, headers={"X-CSRF-Token": before}).status_code == 403


def test_bearer_calls_need_no_csrf_token(client):
    headers = bearer(client, "institution")
    body = {"product_code": P1, "problem": "shortage", "start_date": "2024-03-01"}
    assert client.post("/api/supply-reports", json=body, headers=headers).status_code == 201


# -- rate limit --------------------------------------------------------------------------------------------
def test_login_rate_limit_per_name_and_address(client, app, monkeypatch):
    clock = Clock(monkeypatch)
    for _ in range(3):  # login_attempts = 3
        assert post_login(client, "bureau", "wrong-password").status_code == 401
    r = post_login(client, "bureau", PASSWORD)  # even the right password is refused now
    assert r.status_code == 429 and "登录失败次数过多" in r.text and "too many failed logins" not in r.text
    r = client.post("/api/auth/token", data={"username": "bureau", "password": PASSWORD})
    assert r.status_code == 429 and r.json()["detail"]["en"].startswith("too many failed logins")
    assert r.headers["retry-after"] == "300"
    # another name from the same address, and the same name from another address, are not blocked
    assert post_login(client, "admin", PASSWORD).status_code == 303
    with TestClient(app, client=("10.0.0.9", 5000)) as other:
        assert post_login(other, "bureau", PASSWORD).status_code == 303
    # when the failures leave the window the name may log in again
    clock.offset = 301
    assert post_login(client, "bureau", PASSWORD).status_code == 303
    actions = audit_actions(app)
    assert actions.count("login.failed") == 3 and actions.count("login.throttled") == 2


def test_a_successful_login_clears_the_failures(client):
    for _ in range(2):
        assert post_login(client, "bureau", "wrong-password").status_code == 401
    assert post_login(client, "bureau", PASSWORD).status_code == 303
    for _ in range(2):
        assert post_login(client, "bureau", "wrong-password").status_code == 401
    assert post_login(client, "bureau", PASSWORD).status_code == 303


# -- API tokens ---------------------------------------------------------------------------------------------
def test_token_flow(client, app):
    r = client.post("/api/auth/token", data={"username": "institution", "password": PASSWORD})
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == app.state.config.token_ttl == 3600
    assert r.headers["cache-control"] == "no-store"
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}).json()
    assert (me["name"], me["role"], me["scope"]) == ("institution", "institution", HA)
    r = client.post("/api/auth/token", data={"username": "institution", "password": "wrong-password"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_anonymous_and_bad_tokens_get_401_with_www_authenticate(client, monkeypatch):
    r = client.get("/api/auth/me")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert set(r.json()["detail"]) == {"zh", "en"}
    login(client, "bureau")  # a session cookie is not a bearer token
    cookie = client.cookies["jicai_session"]
    client.cookies.clear()
    for value in ("garbage", cookie):
        r = client.get("/api/auth/me", headers={"Authorization": f"Bearer {value}"})
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"


def test_an_expired_token_is_refused(client, app, monkeypatch):
    clock = Clock(monkeypatch)
    headers = bearer(client, "bureau")
    clock.offset = app.state.config.token_ttl - 5
    assert client.get("/api/auth/me", headers=headers).status_code == 200
    clock.offset = app.state.config.token_ttl + 5
    r = client.get("/api/auth/me", headers=headers)
    assert r.status_code == 401 and "expired" in r.json()["detail"]["en"]


def test_a_bearer_token_wins_over_the_session_and_a_bad_one_is_not_rescued_by_it(client):
    login(client, "bureau")
    headers = bearer(client, "institution")
    assert client.get("/api/auth/me", headers=headers).json()["name"] == "institution"
    assert client.get("/api/auth/me", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_openapi_declares_the_password_flow(client):
    spec = client.get("/openapi.json").json()
    schemes = spec["components"]["securitySchemes"]
    assert any(s.get("flows", {}).get("password", {}).get("tokenUrl") == "/api/auth/token" for s in schemes.values())
    assert "/login" not in spec["paths"] and "/supply-reports" not in spec["paths"]


# -- production settings ------------------------------------------------------------------------------------
def test_production_settings_fail_fast(tmp_path):
    settings = Settings(data_dir=tmp_path / "d", warehouse_url="duckdb:///x.duckdb")
    with pytest.raises(ConfigError) as e:
        WebConfig.resolve(settings, {"JICAI_ENV": "production"})
    assert all(k in e.value.en for k in ("JICAI_SECRET_KEY", "JICAI_WORKFLOW_URL", "JICAI_WAREHOUSE_URL"))
    assert "生产环境缺少设置" in e.value.zh
    full = {"JICAI_ENV": "production", "JICAI_SECRET_KEY": "k" * 40,
            "JICAI_WORKFLOW_URL": "postgresql://jicai@db/jicai", "JICAI_WAREHOUSE_URL": "postgres://jicai@db/dw"}
    with pytest.raises(ConfigError, match="JICAI_SECRET_KEY"):
        WebConfig.resolve(settings, {k: v for k, v in full.items() if k != "JICAI_SECRET_KEY"})
    with pytest.raises(ConfigError, match="PostgreSQL"):
        WebConfig.resolve(settings, {**full, "JICAI_WORKFLOW_URL": f"sqlite:///{tmp_path}/w.sqlite"})
    with pytest.raises(ConfigError, match="32 characters"):
        WebConfig.resolve(settings, {**full, "JICAI_SECRET_KEY": "short"})
    config = WebConfig.resolve(settings, full)
    assert config.production and config.secret_key == "k" * 40
    assert not (tmp_path / "d" / "secret_key").exists()  # production never makes its own key
    dev = WebConfig.resolve(settings, {})
    assert not dev.production and dev.workflow_url.startswith("sqlite:///")
    assert dev.secret_key == WebConfig.resolve(settings, {}).secret_key  # kept across restarts


def test_jicai_serve_refuses_to_start_without_production_settings(monkeypatch):
    monkeypatch.setenv("JICAI_ENV", "production")
    for k in ("JICAI_SECRET_KEY", "JICAI_WORKFLOW_URL"):
        monkeypatch.delenv(k, raising=False)
    r = CliRunner().invoke(cli, ["serve"])
    assert r.exit_code != 0 and "JICAI_SECRET_KEY" in r.output


def test_production_cookies_are_secure(tmp_path):
    app = make_app(tmp_path, users=ADMIN, production=True)
    with TestClient(app, base_url="https://testserver") as c:
        assert "Secure" in c.get("/login").headers["set-cookie"]
        r = post_login(c, "bureau", PASSWORD)
        assert r.status_code == 303 and "Secure" in r.headers["set-cookie"]


# -- jicai users ----------------------------------------------------------------------------------------------
def run(args: list[str], stdin: str = ""):
    return CliRunner().invoke(cli, ["users", *args], input=stdin)


def test_users_command(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'wf.sqlite'}"
    r = run(["add", "quanzhou", "--role", "bureau", "--scope", "3505", "--password-stdin", "--url", url],
            "long-enough-1\n")
    assert r.exit_code == 0, r.output
    r = run(["add", "hosp", "--role", "institution", "--scope", HA, "--password-stdin", "--url", url], "hosp-pass-1\n")
    assert r.exit_code == 0, r.output
    refused = {
        "short password": (["add", "x1", "--role", "bureau", "--password-stdin"], "short\n", "至少 8 个字符"),
        "empty password": (["add", "x2", "--role", "bureau", "--password-stdin"], "\n", "至少 8 个字符"),
        "no stdin flag": (["add", "x3", "--role", "bureau"], "", "--password-stdin"),
        "unknown role": (["add", "x4", "--role", "boss", "--password-stdin"], "long-enough-1\n", "未知角色"),
        "institution without scope": (["add", "x5", "--role", "institution", "--password-stdin"], "long-enough-1\n",
                                      "须指定机构编码"),
        "bad institution code": (["add", "x6", "--role", "institution", "--scope", "H3501020001", "--password-stdin"],
                                 "long-enough-1\n", "机构编码"),
        "bad USCC check character": (["add", "x7", "--role", "enterprise", "--scope", "91350100MA2Y000010",
                                      "--password-stdin"], "long-enough-1\n", "校验位"),
        "enterprise without scope": (["add", "x8", "--role", "enterprise", "--password-stdin"], "long-enough-1\n",
                                     "统一社会信用代码"),
        "region prefix of no province": (["add", "x9", "--role", "bureau", "--scope", "99", "--password-stdin"],
                                         "long-enough-1\n", "区划代码前缀"),
        "region prefix of odd length": (["add", "x10", "--role", "auditor", "--scope", "350", "--password-stdin"],
                                        "long-enough-1\n", "区划代码前缀"),
        "taken name": (["add", "hosp", "--role", "bureau", "--password-stdin"], "long-enough-1\n", "已存在"),
    }
    for why, (args, stdin, message) in refused.items():
        r = run([*args, "--url", url], stdin)
        assert r.exit_code == 2 and message in r.output, (why, r.output)
    listed = run(["list", "--url", url]).output
    assert re.search(r"hosp\s+institution\s+" + HA + r"\s+启用", listed)
    assert re.search(r"quanzhou\s+bureau\s+3505\s+启用", listed) and "x1" not in listed
    assert run(["passwd", "hosp", "--password-stdin", "--url", url], "changed-pass-2\n").exit_code == 0
    assert run(["passwd", "nobody", "--password-stdin", "--url", url], "changed-pass-2\n").exit_code == 2
    assert run(["disable", "quanzhou", "--url", url]).exit_code == 0
    assert re.search(r"quanzhou\s+bureau\s+3505\s+停用", run(["list", "--url", url]).output)
    wf = Workflow.open(url)
    try:
        with wf.session() as s:
            users = {u.name: u for u in s.scalars(select(User))}
            actions = list(s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
        assert set(users) == {"quanzhou", "hosp"}
        assert wf.hasher.verify(users["hosp"].password_hash, "changed-pass-2")
        assert users["hosp"].session_version == 2 and not users["quanzhou"].active
        assert actions == ["user.add", "user.add", "user.passwd", "user.disable"]
    finally:
        wf.close()


def test_users_command_uses_the_data_directory_by_default(tmp_path, monkeypatch):
    monkeypatch.setenv("JICAI_DATA_DIR", str(tmp_path / "data"))
    r = CliRunner().invoke(cli, ["users", "add", "a1", "--role", "admin", "--password-stdin"], input="admin-pass-1\n")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "data" / "workflow.sqlite").exists()
    assert "a1" in CliRunner().invoke(cli, ["users", "list"]).output


def test_ensure_user_creates_then_updates(tmp_path):
    from jicai.workflow.users import UserError, ensure_user

    wf = Workflow.open(f"sqlite:///{tmp_path / 'wf.sqlite'}")
    wf.hasher = FAST_HASHER
    try:
        first = ensure_user(wf, "demo-bureau", "bureau", "", "demo-pass-1")
        again = ensure_user(wf, "demo-bureau", "bureau", "", "demo-pass-1")
        assert again.id == first.id and again.session_version == first.session_version  # nothing changed
        moved = ensure_user(wf, "demo-bureau", "bureau", "3505", "demo-pass-1")
        assert moved.scope == "3505" and moved.session_version == first.session_version + 1
        with pytest.raises(UserError):
            ensure_user(wf, "demo-hospital", "institution", "", "demo-pass-1")
    finally:
        wf.close()
