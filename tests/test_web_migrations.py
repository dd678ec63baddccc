"""The workflow database's migrations: from empty to head, back to nothing, and up again, on SQLite and
PostgreSQL; the schema they build is the one the models describe; ``jicai db`` runs them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError
from tests.web_fixtures import FAST_HASHER, pg_database
from typer.testing import CliRunner

from jicai.cli import app as cli
from jicai.workflow import Workflow
from jicai.workflow.db import normalize_url, now
from jicai.workflow.models import (
    AlertDelivery,
    AlertItem,
    AlertRead,
    AlertSubscription,
    Base,
    SupplyReport,
    User,
    WebSession,
)

ALERT_TABLES = {"alert_items", "alert_reads", "alert_subscriptions", "alert_deliveries"}
TABLES = {"users", "supply_reports", "exemptions", "supervision_actions", "audit_log", "warehouse_outbox",
          "web_sessions", "login_attempts", "peer_groups"} | ALERT_TABLES
HEAD = "0005"  # the newest revision (peer groups saved per user)
BEFORE_ALERTS = "0003"  # the revision before the one that adds the alert tables
BEFORE_SESSIONS = "0002"  # the revision before the one that adds web_sessions and login_attempts


@pytest.fixture(scope="session")
def pg_workflow_database() -> Iterator[str]:
    """A PostgreSQL database of its own for the migration tests (created and dropped with the session)."""
    with pg_database("jicai_wf_migrations") as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def workflow_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'workflow.sqlite'}"
    return request.getfixturevalue("pg_workflow_database")


def tables(wf: Workflow) -> set[str]:
    return set(inspect(wf.engine).get_table_names())


def schema_diff(wf: Workflow) -> list:
    with wf.engine.connect() as con:
        return compare_metadata(MigrationContext.configure(con, opts={"compare_type": True}), Base.metadata)


def test_upgrade_from_empty_downgrade_to_nothing_and_up_again(workflow_url):
    wf = Workflow.open(workflow_url, upgrade=False)
    try:
        wf.downgrade("base")  # the PostgreSQL database is shared by this module's tests
        assert tables(wf) == set() and wf.current() is None
        wf.upgrade()
        assert tables(wf) == TABLES | {"alembic_version"}
        assert wf.current() == Workflow.head() == HEAD
        assert schema_diff(wf) == []  # the hand-written migration builds exactly the models' schema
        wf.upgrade()  # idempotent
        assert wf.current() == HEAD
        wf.downgrade("base")
        assert tables(wf) == set() and wf.current() is None
        wf.upgrade("head")
        assert tables(wf) == TABLES | {"alembic_version"}
        assert schema_diff(wf) == []
    finally:
        wf.close()


def test_open_upgrades_and_the_schema_enforces_its_constraints(workflow_url):
    Workflow.open(workflow_url, upgrade=False).downgrade("base")
    wf = Workflow.open(workflow_url)
    wf.hasher = FAST_HASHER
    try:
        assert wf.current() == HEAD
        with wf.session() as s:
            s.add(User(name="u1", password_hash="h", role="bureau", scope="", active=True, session_version=1,
                       created_at=now()))
        bad = {
            "unknown role": lambda s: s.add(User(name="u2", password_hash="h", role="boss", scope="", active=True,
                                                 session_version=1, created_at=now())),
            "duplicate name": lambda s: s.add(User(name="u1", password_hash="h", role="bureau", scope="",
                                                   active=True, session_version=1, created_at=now())),
            "unknown problem": lambda s: s.add(_report(problem="weather")),
            "missing user (foreign key)": lambda s: s.add(_report(filed_by=999)),
        }
        for add in bad.values():
            with pytest.raises(IntegrityError), wf.session() as s:
                add(s)
        with wf.session() as s:
            s.add(_report())
        with wf.session() as s:
            assert s.query(SupplyReport).count() == 1 and s.query(User).count() == 1
    finally:
        wf.close()


def test_the_session_and_login_tables_are_added_to_a_database_in_use(workflow_url):
    """A database of the revision before, with users in it, gains the two tables and keeps its users; back down,
    they go."""
    wf = Workflow.open(workflow_url, upgrade=False)
    try:
        wf.downgrade("base")
        wf.upgrade(BEFORE_SESSIONS)
        with wf.session() as s:
            s.add(User(name="u1", password_hash="h", role="bureau", scope="", active=True, session_version=1,
                       created_at=now()))
        wf.upgrade()
        assert {"web_sessions", "login_attempts"} <= tables(wf) and schema_diff(wf) == []
        with wf.session() as s:
            user = s.query(User).one()
            s.add(WebSession(sid_hash="0" * 64, user_id=user.id, created=1.0, expires=2.0))
        with pytest.raises(IntegrityError), wf.session() as s:  # the session's user must exist
            s.add(WebSession(sid_hash="1" * 64, user_id=999, created=1.0, expires=2.0))
        wf.downgrade(BEFORE_SESSIONS)
        assert tables(wf) == TABLES - {"web_sessions", "login_attempts"} - ALERT_TABLES - {"peer_groups"} | {"alembic_version"}
        with wf.session() as s:
            assert s.query(User).count() == 1
    finally:
        wf.close()


def _report(**kw) -> SupplyReport:
    values = {"institution_code": "H35010200001", "region_code": "350102", "product_code": "P1",
              "problem": "shortage", "description": "", "start_date": date(2024, 3, 1), "filed_by": 1,
              "filed_at": now(), "status": "pending", "comment": ""}
    return SupplyReport(**{**values, **kw})


def test_the_alert_tables_are_added_to_a_database_in_use(workflow_url):
    """A database of the revision before keeps its users and gains the alert tables, whose keys hold: an alert
    once by its key, a read mark once per user, a delivery once per subscription; back down, they go."""
    wf = Workflow.open(workflow_url, upgrade=False)
    try:
        wf.downgrade("base")
        wf.upgrade(BEFORE_ALERTS)
        with wf.session() as s:
            s.add(User(name="u1", password_hash="h", role="bureau", scope="", active=True, session_version=1,
                       created_at=now()))
        wf.upgrade()
        assert ALERT_TABLES <= tables(wf) and schema_diff(wf) == []

        def item(key: str) -> AlertItem:
            return AlertItem(alert_key=key, month="2024-04", kind="payment_overdue", severity="high",
                             message="回款逾期", clause="", created_at=now())

        with wf.session() as s:
            user = s.query(User).one()
            s.add(item("k1"))
            s.flush()
            sub = AlertSubscription(recipient_kind="bureau", channel="wecom", target="https://x", created_at=now())
            s.add(sub)
            s.flush()
            first = s.query(AlertItem).one()
            s.add(AlertRead(item_id=first.id, user_id=user.id, read_at=now()))
            s.add(AlertDelivery(item_id=first.id, subscription_id=sub.id, status="sent"))
        with pytest.raises(IntegrityError), wf.session() as s:
            s.add(item("k1"))
        with pytest.raises(IntegrityError), wf.session() as s:
            s.add(AlertRead(item_id=first.id, user_id=user.id, read_at=now()))
        with pytest.raises(IntegrityError), wf.session() as s:
            s.add(AlertDelivery(item_id=first.id, subscription_id=sub.id, status="failed"))
        with pytest.raises(IntegrityError), wf.session() as s:
            s.add(AlertSubscription(recipient_kind="hospital", channel="wecom", target="https://x", created_at=now()))
        wf.downgrade(BEFORE_ALERTS)
        assert tables(wf) == TABLES - ALERT_TABLES - {"peer_groups"} | {"alembic_version"}  # 0005 goes too
        with wf.session() as s:
            assert s.query(User).count() == 1
    finally:
        wf.close()


def test_sqlite_runs_with_foreign_keys_and_wal(tmp_path):
    wf = Workflow.open(f"sqlite:///{tmp_path / 'w.sqlite'}")
    try:
        with wf.engine.connect() as con:
            assert con.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert con.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        wf.close()


def test_postgres_urls_get_the_psycopg_driver():
    assert normalize_url("postgres://u@h:5432/d") == "postgresql+psycopg://u@h:5432/d"
    assert normalize_url("postgresql://u@h/d") == "postgresql+psycopg://u@h/d"
    assert normalize_url("postgresql+psycopg://u@h/d") == "postgresql+psycopg://u@h/d"
    assert normalize_url("sqlite:///x.sqlite") == "sqlite:///x.sqlite"


def test_db_command(workflow_url):
    Workflow.open(workflow_url, upgrade=False).downgrade("base")
    runner = CliRunner()

    def db(*args: str):
        return runner.invoke(cli, ["db", *args, "--url", workflow_url])

    r = db("current")
    assert r.exit_code == 0 and f"(空 / empty) (head {HEAD})" in r.output and "needs upgrade" in r.output
    r = db("upgrade")
    assert r.exit_code == 0 and f"(空 / empty) → {HEAD}" in r.output
    assert "up to date" in db("current").output
    r = db("downgrade", "base")
    assert r.exit_code == 2 and "--yes" in r.output
    assert f"{HEAD} (head {HEAD})" in db("current").output  # nothing happened
    r = db("downgrade", "base", "--yes")
    assert r.exit_code == 0 and f"{HEAD} → (空 / empty)" in r.output
    r = db("upgrade", "nonexistent")
    assert r.exit_code == 2 and "migration failed" in r.output
