"""Sessions are stored server-side (issue 14, finding 5): a copied ``jicai_session`` cookie stops working as soon
as its session ends — by logout, by a password change, by disabling the user (in the code and through
``jicai users``) — on every server process sharing the workflow database; expired rows are pruned."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import func, select
from tests.web_fixtures import PASSWORD, SECRET, csrf, login, make_app, workflow_url_fixture
from typer.testing import CliRunner

from jicai.cli import app as cli
from jicai.web import auth
from jicai.workflow.models import User, WebSession
from jicai.workflow.users import disable_user, set_password

USERS = {"bureau": ("bureau", ""), "admin": ("admin", "")}


workflow_url = workflow_url_fixture("jicai_wf_sessions")  # SQLite and PostgreSQL


@pytest.fixture
def app(tmp_path):
    return make_app(tmp_path, users=USERS)


def copy_of(app, client: TestClient) -> TestClient:
    """Another browser holding a copy of ``client``'s session cookie (as a thief would)."""
    thief = TestClient(app)
    thief.cookies.set("jicai_session", client.cookies["jicai_session"])
    return thief


def works(client: TestClient) -> bool:
    me = client.get("/api/auth/me")
    page = client.get("/supply-reports", follow_redirects=False)
    assert (me.status_code == 200) == (page.status_code == 200), (me.status_code, page.status_code)
    return me.status_code == 200


def sessions_of(app, name: str) -> int:
    with app.state.workflow.session() as s:
        return s.scalar(select(func.count()).select_from(WebSession).join(User, User.id == WebSession.user_id)
                        .where(User.name == name))


def test_a_copied_cookie_stops_working_right_after_logout(tmp_path, workflow_url):
    app = make_app(tmp_path, users=USERS, workflow_url=workflow_url)
    with TestClient(app) as client:
        login(client, "bureau")
        thief = copy_of(app, client)
        assert works(thief) and sessions_of(app, "bureau") == 1
        r = client.post("/logout", data={"csrf_token": csrf(client)}, follow_redirects=False)
        assert r.status_code == 303
        assert not works(thief) and sessions_of(app, "bureau") == 0
        # the user's next login is a new session; the old cookie stays dead
        login(client, "bureau")
        assert works(client) and not works(thief)


def test_logout_ends_only_that_session(app):
    with TestClient(app) as office, TestClient(app) as home:
        login(office, "bureau")
        login(home, "bureau")
        office.post("/logout", data={"csrf_token": csrf(office)}, follow_redirects=False)
        assert works(home) and sessions_of(app, "bureau") == 1


def test_a_logout_on_one_server_process_ends_the_session_on_another(tmp_path, workflow_url):
    app = make_app(tmp_path, users=USERS, workflow_url=workflow_url)
    other = make_app(tmp_path, users=USERS, workflow_url=workflow_url)  # a second process, the same database
    with TestClient(app) as client:
        login(client, "bureau")
        elsewhere = copy_of(other, client)
        assert works(elsewhere)
        client.post("/logout", data={"csrf_token": csrf(client)}, follow_redirects=False)
        assert not works(elsewhere)


@pytest.mark.parametrize("how", ["password", "disable"])
def test_a_copied_cookie_stops_working_after_a_password_change_or_disable(app, how):
    wf = app.state.workflow
    with TestClient(app) as client:
        login(client, "bureau")
        thief = copy_of(app, client)
        with wf.session() as s:
            if how == "password":
                set_password(wf, s, "bureau", "another-password-9")
            else:
                disable_user(s, "bureau")
        assert not works(thief) and not works(client)
        assert sessions_of(app, "bureau") == 0  # the rows are gone, not merely outvoted by the version


@pytest.mark.parametrize("command", [["disable", "bureau"], ["passwd", "bureau", "--password-stdin"]])
def test_the_jicai_users_command_ends_the_sessions_too(app, command):
    with TestClient(app) as client:
        login(client, "bureau")
        thief = copy_of(app, client)
        r = CliRunner().invoke(cli, ["users", *command, "--url", app.state.config.workflow_url],
                               input="another-password-9\n")
        assert r.exit_code == 0, r.output
        assert not works(thief) and sessions_of(app, "bureau") == 0


def test_a_cookie_whose_row_is_gone_is_refused_even_with_a_good_signature(app):
    with TestClient(app) as client:
        login(client, "bureau")
        with app.state.workflow.session() as s:
            s.execute(WebSession.__table__.delete())
        assert not works(client)


def test_expired_sessions_are_refused_and_pruned(app, monkeypatch):
    offset = [0.0]
    monkeypatch.setattr(auth, "_now", lambda: time.time() + offset[0])
    max_age = app.state.config.session_max_age
    with TestClient(app) as client, TestClient(app) as later:
        login(client, "bureau")
        assert sessions_of(app, "bureau") == 1
        offset[0] = max_age + 5
        assert not works(client)
        login(later, "admin")  # any login prunes the rows past their expiry
        assert sessions_of(app, "bureau") == 0 and sessions_of(app, "admin") == 1


def test_the_session_table_stores_no_usable_session_id(app):
    with TestClient(app) as client:
        login(client, "bureau", PASSWORD)
        sid = URLSafeTimedSerializer(SECRET, salt="jicai-session").loads(client.cookies["jicai_session"])["s"]
        with app.state.workflow.session() as s:
            stored = s.scalar(select(WebSession.sid_hash))
        assert stored and sid not in stored and len(stored) == 64
