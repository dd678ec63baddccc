"""``jicai doctor`` (jicai.commands._checks): each check, forced into its bad state, says so with its status in
both languages and what to do; the exit status is 0 (all 正常), 1 (worst 警告) or 2 (any 错误); the doctor
creates nothing and waits for no lock."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import sqlite3
from collections import namedtuple
from pathlib import Path

import pytest
from tests.conftest import PG_URL, unavailable
from tests.test_locking import held
from typer.testing import CliRunner

from helpers_ingest import ORDER_HEADER, order_row, write_csv, write_reference
from jicai.cli import app

GOOD_SECRET = secrets.token_urlsafe(48)
Usage = namedtuple("Usage", "total used free")
PLENTY = Usage(10**13, 10**12, 9 * 10**12)


def doctor(data_dir: Path, env: dict[str, str] | None = None, *extra: str):
    env = {"JICAI_SECRET_KEY": GOOD_SECRET, **(env or {})}
    return CliRunner().invoke(app, ["--data-dir", str(data_dir), "doctor", *extra], env=env)


def checks(data_dir: Path, env: dict[str, str] | None = None) -> tuple[int, dict[str, dict]]:
    r = doctor(data_dir, env, "--json")
    found = json.loads(r.stdout)
    return r.exit_code, {c["name_en"]: c for c in found["checks"]}


@pytest.fixture(autouse=True)
def _plenty_of_disk(monkeypatch):
    """The disk check reads shutil.disk_usage: a machine's own free space must not decide these tests."""
    monkeypatch.setattr(shutil, "disk_usage", lambda path: PLENTY)
    monkeypatch.delenv("JICAI_WORKFLOW_URL", raising=False)
    monkeypatch.delenv("JICAI_MEMORY_LIMIT", raising=False)
    monkeypatch.delenv("JICAI_ENV", raising=False)


@pytest.fixture(scope="module")
def healthy_dir(tmp_path_factory) -> Path:
    """Reference tables and 30 order lines imported (facts complete), the workflow schema at its head."""
    root = tmp_path_factory.mktemp("doctor")
    d, files = root / "data", root / "files"
    write_reference(files)
    write_csv(files / "orders.csv", [ORDER_HEADER, *(order_row(i) for i in range(30))])
    runner = CliRunner()
    for args in (["import", str(files)], ["db", "upgrade"]):
        r = runner.invoke(app, ["--data-dir", str(d), *args])
        assert r.exit_code == 0, r.output
    return d


@pytest.fixture
def data(healthy_dir, tmp_path) -> Path:
    d = tmp_path / "data"
    shutil.copytree(healthy_dir, d)
    return d


def test_a_healthy_directory_is_all_ok_and_exits_0(data):
    r = doctor(data)
    assert r.exit_code == 0, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 9 and all(line.startswith("正常 / OK") for line in lines[:-1]), r.output
    assert "结论 / verdict: 正常 / OK" in lines[-1]
    for name in ("磁盘空间 / disk space", "数据仓库锁 / warehouse lock", "数据仓库结构 / warehouse schema",
                 "紧凑事实表 / compact facts", "工作流数据库结构 / workflow schema", "密钥 / secret key",
                 "内存上限 / memory limit", "PostgreSQL"):
        assert name in r.output
    assert "complete" in r.output and "up to date" in r.output


def test_the_doctor_creates_nothing_in_a_directory_that_does_not_exist(tmp_path):
    code, found = checks(tmp_path / "none", {"JICAI_SECRET_KEY": ""})
    assert code == 1 and not (tmp_path / "none").exists()
    assert found["warehouse schema"]["status"] == "warn" and "jicai import" in found["warehouse schema"]["todo_en"]
    assert found["workflow schema"]["status"] == "warn" and "jicai db upgrade" in found["workflow schema"]["todo_en"]
    assert found["secret key"]["status"] == "ok"  # development: jicai serve makes one at its first start


@pytest.mark.parametrize(("free", "status"), [(3 * 10**9, "ok"), (700 * 10**6, "warn"), (100 * 10**6, "error")])
def test_free_disk_space_is_weighed_against_the_warehouse(data, monkeypatch, free, status):
    monkeypatch.setattr(shutil, "disk_usage", lambda path: Usage(10**12, 10**12 - free, free))
    code, found = checks(data)
    disk = found["disk space"]
    assert disk["status"] == status, disk
    assert code == {"ok": 0, "warn": 1, "error": 2}[status]
    if status != "ok":
        assert "GB" in disk["todo_zh"] and "free space" in disk["todo_en"]


def test_a_big_warehouse_on_a_small_disk_is_a_warning_below_twice_its_size(data, monkeypatch):
    size = (data / "jicai.duckdb").stat().st_size
    monkeypatch.setattr("jicai.commands._checks.DISK_FLOOR", 1)  # only the warehouse's own size counts here
    monkeypatch.setattr(shutil, "disk_usage", lambda path: Usage(10**12, 0, int(1.5 * size)))
    assert checks(data)[1]["disk space"]["status"] == "warn"
    monkeypatch.setattr(shutil, "disk_usage", lambda path: Usage(10**12, 0, size // 2))
    assert checks(data)[1]["disk space"]["status"] == "error"


def test_a_held_lock_names_its_process_and_the_doctor_does_not_wait(data, monkeypatch):
    monkeypatch.setattr("jicai.commands._checks.LOCK_PEEK", 0.2)
    with held(data / "jicai.duckdb", "write") as p:
        code, found = checks(data)
    lock = found["warehouse lock"]
    assert code == 1 and lock["status"] == "warn" and f"pid {p.pid}" in lock["en"] and f"pid {p.pid}" in lock["zh"]
    assert f"kill {p.pid}" in lock["todo_en"]
    assert found["compact facts"]["status"] == "warn" and "not checked" in found["compact facts"]["en"]


def test_a_writer_killed_while_holding_the_lock_is_reported_as_stale(data):
    with held(data / "jicai.duckdb", "write") as p:
        os.kill(p.pid, signal.SIGKILL)
        p.wait(timeout=60)
    code, found = checks(data)
    lock = found["warehouse lock"]
    assert code == 1 and lock["status"] == "warn" and f"pid {p.pid}" in lock["en"] and "did not finish" in lock["en"]
    assert found["compact facts"]["status"] == "ok"  # the OS dropped the lock: the doctor could read


def test_readers_alone_are_fine(data):
    with held(data / "jicai.duckdb", "read"):
        code, found = checks(data)
    assert code == 0 and "reading" in found["warehouse lock"]["en"]


def test_pending_facts_name_their_months(data):
    import duckdb

    with duckdb.connect(str(data / "jicai.duckdb")) as con:  # what a folder import interrupted before finish leaves
        con.execute("DROP TABLE _facts_state")
        con.execute("CREATE TABLE _facts_pending (part_month DATE)")
        con.execute("INSERT INTO _facts_pending VALUES (DATE '2024-03-01'), (DATE '2024-05-01')")
    code, found = checks(data)
    facts = found["compact facts"]
    assert code == 1 and facts["status"] == "warn"
    assert "2024-03, 2024-05" in facts["zh"] and "2024-03, 2024-05" in facts["en"]
    assert "jicai db facts" in facts["todo_zh"] and "jicai db facts" in facts["todo_en"]

    with duckdb.connect(str(data / "jicai.duckdb")) as con:  # facts dropped by a write around the importer
        con.execute("DROP TABLE _facts_pending")
    facts = checks(data)[1]["compact facts"]
    assert facts["status"] == "warn" and "stale" in facts["en"]


def test_a_contract_table_lacking_a_column_is_named(data):
    import duckdb

    with duckdb.connect(str(data / "jicai.duckdb")) as con:
        con.execute("ALTER TABLE products DROP COLUMN spec")
    schema = checks(data)[1]["warehouse schema"]
    assert schema["status"] == "warn" and "products: spec" in schema["en"]


@pytest.mark.parametrize(("key", "why"), [
    ("short-key", "at least 32"),
    ("k" * 40, "distinct characters"),
    ("please-change-me-before-production-0123456789", "placeholder 'change'"),
])
def test_a_weak_secret_is_an_error(data, key, why):
    code, found = checks(data, {"JICAI_SECRET_KEY": key})
    secret = found["secret key"]
    assert code == 2 and secret["status"] == "error" and why in secret["en"], secret
    assert "token_urlsafe" in secret["todo_zh"] and "token_urlsafe" in secret["todo_en"]
    assert key not in json.dumps(secret)  # the doctor never prints the secret


def test_production_without_a_secret_is_an_error_and_a_readable_key_file_a_warning(data):
    code, found = checks(data, {"JICAI_SECRET_KEY": "", "JICAI_ENV": "production"})
    assert code == 2 and found["secret key"]["status"] == "error" and "production" in found["secret key"]["en"]
    key = data / "secret_key"
    key.write_text(GOOD_SECRET)
    key.chmod(0o644)
    secret = checks(data, {"JICAI_SECRET_KEY": ""})[1]["secret key"]
    assert secret["status"] == "warn" and "chmod 600" in secret["todo_en"]
    key.chmod(0o600)
    assert checks(data, {"JICAI_SECRET_KEY": ""})[1]["secret key"]["status"] == "ok"


def test_the_workflow_schema_behind_empty_or_newer_than_this_jicai(data):
    db = data / "workflow.sqlite"
    with sqlite3.connect(db) as con:
        con.execute("UPDATE alembic_version SET version_num = 'ffffffffffff'")
    code, found = checks(data)
    assert code == 2 and found["workflow schema"]["status"] == "error"
    assert "newer" in found["workflow schema"]["en"] and "upgrade jicai" in found["workflow schema"]["todo_en"]
    r = CliRunner().invoke(app, ["--data-dir", str(data), "db", "downgrade", "base", "--yes"])
    assert r.exit_code != 0  # the unknown revision cannot be downgraded either: start again from an empty file
    db.unlink()
    sqlite3.connect(db).close()
    workflow = checks(data)[1]["workflow schema"]
    assert workflow["status"] == "warn" and workflow["todo_en"] == "run jicai db upgrade"
    db.write_bytes(b"not a database" * 1000)
    code, found = checks(data)
    assert code == 2 and "cannot be read" in found["workflow schema"]["en"]
    assert "jicai restore" in found["workflow schema"]["todo_en"]


def test_the_doctor_leaves_the_workflow_database_as_it_was(data):
    """A restored workflow file is in SQLite's rollback mode; opening it through the server's engine would turn
    it to WAL — the doctor reads it without changing a byte."""
    db = data / "workflow.sqlite"
    with sqlite3.connect(db) as con:
        con.execute("PRAGMA journal_mode = DELETE")
    before = db.read_bytes()
    assert checks(data)[0] == 0
    assert db.read_bytes() == before and not (data / "workflow.sqlite-wal").exists()


@pytest.mark.parametrize(("value", "status"), [("lots", "error"), ("100MB", "warn"), ("1000TB", "warn"), ("1GB", "ok")])
def test_the_memory_limit(data, value, status):
    memory = checks(data, {"JICAI_MEMORY_LIMIT": value})[1]["memory limit"]
    assert memory["status"] == status, memory
    if status != "ok":
        assert "JICAI_MEMORY_LIMIT" in memory["todo_zh"] and "JICAI_MEMORY_LIMIT" in memory["todo_en"]


def test_an_unreachable_postgresql_is_an_error_and_a_reachable_one_ok(data):
    down = "postgres://postgres:hunter2@127.0.0.1:1/jicai"
    code, found = checks(data, {"JICAI_WORKFLOW_URL": down, "JICAI_WAREHOUSE_URL": down})
    pg = found["PostgreSQL"]
    assert code == 2 and pg["status"] == "error" and "unreachable" in pg["en"] and "hunter2" not in json.dumps(found)
    assert found["warehouse schema"]["status"] == found["workflow schema"]["status"] == "error"
    try:
        import psycopg

        psycopg.connect(PG_URL, connect_timeout=3).close()
    except Exception as exc:  # noqa: BLE001
        unavailable(f"PostgreSQL not reachable at {PG_URL}: {exc}")
    found = checks(data, {"JICAI_WAREHOUSE_URL": PG_URL, "JICAI_WORKFLOW_URL": PG_URL})[1]
    assert found["PostgreSQL"]["status"] == "ok" and "warehouse" in found["PostgreSQL"]["en"]


def test_the_text_report_says_what_to_do_in_both_languages(data):
    r = doctor(data, {"JICAI_SECRET_KEY": "short"})
    assert r.exit_code == 2
    assert "错误 / ERROR" in r.output and "→ 处理 / to do:" in r.output and "结论 / verdict: 错误 / ERROR" in r.output
