"""Workflow decisions reach the warehouse through an outbox (issue 14, finding 13).

A decision commits with the warehouse writes it owes; they are applied after the commit as keyed writes (never
a rewrite of a table), retried until applied (after the next decision, at the server's start, by ``jicai db
reconcile --repair``); an import running at the same time and the decisions keep each other's rows; an
exemption made in the web survives a re-import of ``varieties``; ``jicai db reconcile`` reports every
difference in Chinese and English and repairs it. On DuckDB and PostgreSQL warehouses."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.web_fixtures import FAST_HASHER, HA, P1, P2, PASSWORD, bearer, make_app, make_config, world_tables
from typer.testing import CliRunner

from jicai.cli import app as cli
from jicai.contract.roles import Principal
from jicai.ingest import import_paths
from jicai.ingest.sink import DuckDBSink
from jicai.store import Warehouse, connect
from jicai.workflow import Workflow
from jicai.workflow import decisions as wf
from jicai.workflow.models import OutboxEntry
from jicai.workflow.outbox import apply_pending
from jicai.workflow.reconcile import differences
from jicai.workflow.users import ensure_user

SRC = Path(__file__).resolve().parents[1] / "src"


# -- helpers -------------------------------------------------------------------------------------------------
class Service:
    """The warehouse service the workflow asks for, opening the warehouse per call (like a command)."""

    generation = 0

    def __init__(self, url: str) -> None:
        self.url = url

    def run(self, fn):
        wh = connect(self.url, "read")
        try:
            return fn(wh)
        finally:
            wh.close()

    def write(self, fn):
        wh = connect(self.url, "write")
        try:
            return fn(wh)
        finally:
            wh.close()


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse_url(request, tmp_path) -> Iterator[str]:
    """A warehouse holding the small province of tests/web_fixtures.py, on each engine."""
    if request.param == "duckdb":
        url = f"duckdb:///{tmp_path / 'jicai.duckdb'}"
        _load(url)
        yield url
        return
    from urllib.parse import urlparse

    from tests.conftest import PG_URL, throwaway_pg_database

    u = urlparse(PG_URL)
    with throwaway_pg_database("jicai_outbox") as name:
        url = f"postgres://{u.username or 'postgres'}@{u.hostname}:{u.port or 5432}/{name}"
        _load(url)
        yield url


def _load(url: str) -> None:
    wh = connect(url)
    try:
        for name, t in world_tables().items():
            wh.write_table(name, t, overwrite=True)
    finally:
        wh.close()


@pytest.fixture
def workflow(tmp_path) -> Iterator[Workflow]:
    w = Workflow.open(f"sqlite:///{tmp_path / 'workflow.sqlite'}")
    w.hasher = FAST_HASHER
    yield w
    w.close()


def principal(workflow: Workflow, name: str, role: str, scope: str = "") -> Principal:
    user = ensure_user(workflow, name, role, scope, PASSWORD)
    return Principal(user.id, name, role, scope)


def decide(workflow: Workflow, service: Service, who: Principal, act):
    """One decision in its transaction, then the outbox applied (what the web and the CLI do)."""
    with workflow.session() as s:
        result = act(wf.Context(s, who, service))
        result_id = result.id
    return result_id, apply_pending(workflow, service.write)


def rows(url: str, table: str, where=None) -> list[dict]:
    def read(wh: Warehouse) -> list[dict]:
        t = wh.table(table)
        return (t.filter(where(t)) if where else t).to_pyarrow().to_pylist()

    return Service(url).run(read)


def wf_rows(url: str) -> dict[str, dict]:
    return {r["report_id"]: r for r in rows(url, "supply_problems", lambda t: t.report_id.startswith("WF-"))}


def owed(workflow: Workflow) -> list[OutboxEntry]:
    with workflow.session() as s:
        return list(s.scalars(select(OutboxEntry).where(OutboxEntry.applied_at.is_(None))))


def supply_problems_csv(path: Path, ids: list[str]) -> Path:
    lines = ["report_id,institution_code,product_code,problem,reported_at,verified,start_date,end_date"]
    lines += [f"{i},{HA},{P2},late,2024-05-01T08:00:00,true,2024-05-01,2024-05-10" for i in ids]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# -- a decision and its warehouse rows --------------------------------------------------------------------
def test_a_failed_warehouse_write_keeps_the_decision_owed_until_the_next_decision_applies_it(
        warehouse_url, workflow, monkeypatch):
    service = Service(warehouse_url)
    hospital, bureau = principal(workflow, "h", "institution", HA), principal(workflow, "b", "bureau")
    sink = "PostgresSink" if warehouse_url.startswith("postgres") else "DuckDBSink"

    def broken(self, table, data):
        raise OSError("No space left on device")

    monkeypatch.setattr(f"jicai.ingest.sink.{sink}.insert", broken)
    first, done = decide(workflow, service, hospital, lambda c: wf.file_report(
        c, P1, "shortage", date(2024, 3, 1), date(2024, 3, 31), "断供"))
    # the decision stands (committed), the warehouse lacks its row, and the write is owed with its reason
    assert done.applied == 0 and "No space left" in done.error
    assert f"WF-{first}" not in wf_rows(warehouse_url)
    [entry] = owed(workflow)
    assert (entry.target, entry.attempts, entry.key) == ("supply_problems", 1, {"report_id": f"WF-{first}"})
    with workflow.session() as s:
        [d] = differences(s, service.run)
    assert (d.table, d.kind, d.key) == ("supply_problems", "missing", {"report_id": f"WF-{first}"})

    monkeypatch.undo()
    _, done = decide(workflow, service, bureau, lambda c: wf.decide_report(c, first, "verify"))
    assert done.applied == 2 and not owed(workflow)
    row = wf_rows(warehouse_url)[f"WF-{first}"]
    assert (row["verified"], row["start_date"], row["end_date"]) == (True, date(2024, 3, 1), date(2024, 3, 31))
    with workflow.session() as s:
        assert differences(s, service.run) == []


def test_an_engine_error_is_shown_without_its_sql_and_kept_whole_on_the_entry(tmp_path, workflow, monkeypatch):
    import duckdb

    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    _load(url)
    hospital = principal(workflow, "h", "institution", HA)
    sql = 'INSERT INTO "supply_problems" SELECT * FROM _jicai_1234'

    def broken(self, table, data):
        raise duckdb.IOException(f"IO Error: could not write {tmp_path}/w.duckdb.wal: {sql}")

    monkeypatch.setattr(DuckDBSink, "insert", broken)
    _, done = decide(workflow, Service(url), hospital, lambda c: wf.file_report(c, P1, "other", date(2024, 3, 1), None))
    assert done.applied == 0 and "IOException" in done.error and "see the server log" in done.error
    assert "INSERT" not in done.error and str(tmp_path) not in done.error
    [entry] = owed(workflow)
    assert sql in entry.last_error  # the operator's record keeps the whole message


def test_applying_the_outbox_again_changes_nothing(warehouse_url, workflow):
    service = Service(warehouse_url)
    hospital, bureau = principal(workflow, "h", "institution", HA), principal(workflow, "b", "bureau")
    first, _ = decide(workflow, service, hospital, lambda c: wf.file_report(c, P1, "shortage", date(2024, 3, 1), None))
    decide(workflow, service, bureau, lambda c: wf.decide_report(c, first, "verify", end=date(2024, 4, 30)))
    decide(workflow, service, bureau, lambda c: wf.add_exemption(c, "V2", "shortage", date(2024, 6, 1), None, "短缺"))
    before = {t: sorted(rows(warehouse_url, t), key=str) for t in ("supply_problems", "varieties", "_variety_exemptions")}
    with workflow.session() as s:  # as if the marking had been lost after the warehouse committed
        for e in s.scalars(select(OutboxEntry)):
            e.applied_at = None
    assert apply_pending(workflow, service.write).applied == 4  # a report's two, an exemption's two
    assert apply_pending(workflow, service.write).applied == 0
    after = {t: sorted(rows(warehouse_url, t), key=str) for t in before}
    assert after == before
    assert [r["report_id"] for r in after["supply_problems"]] == [f"WF-{first}"]  # once, the newest state
    assert after["supply_problems"][0]["end_date"] == date(2024, 4, 30)


def test_a_decision_whose_workflow_commit_fails_leaves_the_warehouse_as_it_was(tmp_path):
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from jicai.workflow.models import SupplyReport

    app = make_app(tmp_path)
    with TestClient(app, raise_server_exceptions=False) as client:
        hospital, bureau = bearer(client, "institution"), bearer(client, "bureau")
        rid = client.post("/api/supply-reports", json={"product_code": P1, "problem": "shortage",
                                                       "start_date": "2024-03-01"}, headers=hospital).json()["id"]

        def seen(session, _context, _instances) -> None:
            if any(isinstance(o, SupplyReport) and o.status == "verified" for o in session.dirty):
                session.info["verifying"] = True

        def gone(session) -> None:  # the commit of the verification (only) fails
            if session.info.pop("verifying", False):
                raise RuntimeError("the workflow database went away")

        event.listen(Session, "before_flush", seen)
        event.listen(Session, "before_commit", gone)
        try:
            r = client.post(f"/api/supply-reports/{rid}/decision", json={"decision": "verify"}, headers=bureau)
        finally:
            event.remove(Session, "before_commit", gone)
            event.remove(Session, "before_flush", seen)
        assert r.status_code >= 500  # the server's own failure, not the user's
        assert client.get(f"/api/supply-reports/{rid}", headers=bureau).json()["status"] == "pending"
        [row] = [x for x in app.state.data.run(lambda wh: wh.table("supply_problems").to_pyarrow().to_pylist())
                 if x["report_id"] == f"WF-{rid}"]
        assert row["verified"] is False  # the warehouse never saw the verification that was not committed
        with app.state.workflow.session() as s:
            assert differences(s, app.state.data.run) == []


# -- imports and decisions at the same time -----------------------------------------------------------------
IMPORTER = """
import sys, time
from pathlib import Path
from jicai.ingest import import_paths
from jicai.store import connect
url, folder, progress = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
for n, f in enumerate(sorted(folder.glob("*.csv")), 1):
    wh = connect(url)
    try:
        [r] = import_paths(wh, [f], table="supply_problems")
        assert r.status == "loaded", r.messages
    finally:
        wh.close()
    progress.write_text(str(n))
"""


@pytest.mark.slow
def test_an_import_and_decisions_at_the_same_time_keep_each_others_rows(warehouse_url, workflow, tmp_path):
    service = Service(warehouse_url)
    hospital = principal(workflow, "h", "institution", HA)
    folder = tmp_path / "imports"
    folder.mkdir()
    imported = []
    for n in range(30):
        ids = [f"IMP-{n:02d}-{k}" for k in range(3)]
        supply_problems_csv(folder / f"supply_problems_{n:02d}.csv", ids)
        imported += ids
    progress = tmp_path / "progress"
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.Popen([sys.executable, "-c", IMPORTER, warehouse_url, str(folder), str(progress)], env=env,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not progress.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        decided, overlapped = [], False
        for n in range(6):
            # made while the import runs (its write may then wait for the import's lock: DuckDB has one writer)
            overlapped = overlapped or proc.poll() is None
            rid, done = decide(workflow, service, hospital, lambda c, n=n: wf.file_report(
                c, P1, "shortage", date(2024, 3, 1 + n), None))
            assert done.applied == 1, done.error
            decided.append(f"WF-{rid}")
        _, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-2000:]
    assert overlapped, "the import finished before the decisions began: nothing was tested"
    present = {r["report_id"] for r in rows(warehouse_url, "supply_problems")}
    assert set(imported) <= present, sorted(set(imported) - present)[:5]
    assert set(decided) <= present, sorted(set(decided) - present)


# -- exemptions and a re-import of the reference tables ----------------------------------------------------
def varieties_csv(path: Path, v1_special: str = ",,") -> Path:
    path.write_text("variety_id,batch_id,name,unit,baseline_unit_price,special,special_start,special_end\n"
                    f"V1,B1,阿托伐他汀钙片(新名),片,5.5,{v1_special}\n"
                    "V2,B1,氨氯地平片,片,4.0,seasonal,2024-11-01,2025-03-31\n", encoding="utf-8")
    return path


def test_an_exemption_survives_a_reimport_of_varieties_and_its_revocation_restores_the_prior(
        warehouse_url, workflow, tmp_path):
    service = Service(warehouse_url)
    bureau = principal(workflow, "b", "bureau")
    eid, _ = decide(workflow, service, bureau, lambda c: wf.add_exemption(
        c, "V1", "shortage", date(2024, 3, 1), date(2024, 5, 31), "原料药短缺"))
    wh = connect(warehouse_url)
    try:
        [r] = import_paths(wh, [varieties_csv(tmp_path / "varieties.csv")], force=True)
        assert r.status == "loaded", r.messages
    finally:
        wh.close()
    v = {r["variety_id"]: r for r in rows(warehouse_url, "varieties")}
    # the file's new name and price are in; the web's exemption still stands over the file's blank period
    assert (v["V1"]["name"], v["V1"]["baseline_unit_price"]) == ("阿托伐他汀钙片(新名)", 5.5)
    assert (v["V1"]["special"], v["V1"]["special_start"], v["V1"]["special_end"]) == (
        "shortage", date(2024, 3, 1), date(2024, 5, 31))
    assert v["V2"]["special"] == "seasonal"  # a variety without a decision keeps the file's values
    with workflow.session() as s:
        assert differences(s, service.run) == []
    decide(workflow, service, bureau, lambda c: wf.revoke_exemption(c, eid))
    v1 = next(r for r in rows(warehouse_url, "varieties") if r["variety_id"] == "V1")
    assert (v1["special"], v1["special_start"], v1["name"]) == (None, None, "阿托伐他汀钙片(新名)")
    assert rows(warehouse_url, "_variety_exemptions") == []
    # with no exemption standing, the next file decides the variety's period, and reconcile does not fight it
    wh = connect(warehouse_url)
    try:
        [r] = import_paths(wh, [varieties_csv(tmp_path / "v2.csv", "demand_change,2024-07-01,")], "varieties")
        assert r.status == "loaded", r.messages
    finally:
        wh.close()
    assert next(r for r in rows(warehouse_url, "varieties") if r["variety_id"] == "V1")["special"] == "demand_change"
    with workflow.session() as s:
        assert differences(s, service.run) == []


def test_an_exemption_made_in_the_web_still_applies_after_varieties_is_reimported(tmp_path):
    app = make_app(tmp_path)
    with TestClient(app) as client:
        headers = bearer(client, "bureau")
        r = client.post("/api/exemptions", json={"variety_id": "V1", "special": "emergency",
                                                 "start_date": "2024-02-01", "reason": "应急"}, headers=headers)
        assert r.status_code == 201, r.text
        wh = connect(app.state.config.warehouse_url)
        try:
            import_paths(wh, [varieties_csv(tmp_path / "varieties.csv")], force=True)
        finally:
            wh.close()
        assert app.state.data.wait_fresh(30)
        v1 = app.state.data.run(lambda wh: wh.table("varieties").filter(lambda t: t.variety_id == "V1")
                                .to_pyarrow().to_pylist())[0]
        assert (v1["special"], v1["special_start"], v1["name"]) == ("emergency", date(2024, 2, 1), "阿托伐他汀钙片(新名)")


# -- retried at the server's start --------------------------------------------------------------------------
def test_a_write_owed_when_the_server_stopped_is_applied_at_its_next_start(tmp_path, monkeypatch):
    from jicai.web.app import create_app

    app = make_app(tmp_path)
    monkeypatch.setattr(DuckDBSink, "insert", lambda self, table, data: (_ for _ in ()).throw(OSError("I/O error")))
    with TestClient(app) as client:
        r = client.post("/api/supply-reports", json={"product_code": P1, "problem": "late", "start_date": "2024-03-01"},
                        headers=bearer(client, "institution"))
        assert r.status_code == 201, r.text  # the decision stands; its warehouse write is owed
        assert "WF-1" not in {x["report_id"] for x in app.state.data.run(
            lambda wh: wh.table("supply_problems").to_pyarrow().to_pylist())}
    monkeypatch.undo()
    again = create_app(make_config(tmp_path))  # the same data directory, the warehouse left as it is
    with TestClient(again):
        assert not owed(again.state.workflow)
        got = again.state.data.run(lambda wh: wh.table("supply_problems").to_pyarrow().to_pylist())
        assert [x["report_id"] for x in got if x["report_id"].startswith("WF-")] == ["WF-1"]


# -- jicai db reconcile ------------------------------------------------------------------------------------
def test_reconcile_reports_every_difference_in_both_languages_and_repair_removes_them(tmp_path, monkeypatch):
    app = make_app(tmp_path)
    config = app.state.config
    with TestClient(app) as client:
        hospital, bureau = bearer(client, "institution"), bearer(client, "bureau")
        ids = [client.post("/api/supply-reports", json={"product_code": P1, "problem": "shortage",
                                                        "start_date": "2024-03-01"}, headers=hospital).json()["id"]
               for _ in range(3)]
        assert client.post(f"/api/supply-reports/{ids[1]}/decision", json={"decision": "verify"},
                           headers=bureau).status_code == 200
        assert client.post("/api/exemptions", json={"variety_id": "V2", "special": "shortage",
                                                    "start_date": "2024-06-01", "reason": "短缺"},
                           headers=bureau).status_code == 201
        # a write that fails after the workflow committed: the report is filed, its row owed
        monkeypatch.setattr(DuckDBSink, "insert", lambda self, t, d: (_ for _ in ()).throw(OSError("disk full")))
        late = client.post("/api/supply-reports", json={"product_code": P2, "problem": "late",
                                                        "start_date": "2024-04-01"}, headers=hospital)
        assert late.status_code == 201
        monkeypatch.undo()
    wh = connect(config.warehouse_url)  # changes behind the workflow's back
    try:
        wh.con.raw_sql(f"DELETE FROM supply_problems WHERE report_id = 'WF-{ids[0]}'")
        wh.con.raw_sql(f"UPDATE supply_problems SET verified = false WHERE report_id = 'WF-{ids[1]}'")
        wh.con.raw_sql("INSERT INTO supply_problems (report_id, institution_code, product_code, problem, reported_at, "
                       f"verified, start_date) VALUES ('WF-999', '{HA}', '{P1}', 'other', TIMESTAMP '2024-01-01', "
                       "true, DATE '2024-01-01')")
        wh.con.raw_sql("UPDATE varieties SET special = NULL WHERE variety_id = 'V2'")
    finally:
        wh.close()
    runner = CliRunner()

    def reconcile(*extra: str):
        return runner.invoke(cli, ["--data-dir", str(config.data_dir), "db", "reconcile", "--url",
                                   config.workflow_url, *extra])

    r = reconcile()
    assert r.exit_code == 1, r.output
    out = " ".join(r.output.split())
    late_id = late.json()["id"]
    for zh, en in [(f"report_id=WF-{ids[0]}:数据仓库缺少该行", f"report_id=WF-{ids[0]}: missing from the warehouse"),
                   (f"report_id=WF-{late_id}:数据仓库缺少该行", f"report_id=WF-{late_id}: missing"),
                   (f"report_id=WF-{ids[1]}:与工作流的决定不一致(verified 为 False,应为 True",
                    "verified is False, should be True"),
                   ("report_id=WF-999:数据仓库多出该行", "report_id=WF-999: in the warehouse without a decision"),
                   ("品种表 variety_id=V2:与工作流的决定不一致", "varieties variety_id=V2: differs"),
                   ("1 项决定尚未写入数据仓库", "1 decision write(s) not yet applied")]:
        assert zh in out and en in out, (zh, en, out)
    assert f"WF-{ids[2]}" not in out  # rows that agree are not listed
    r = reconcile("--repair")
    assert r.exit_code == 0, r.output
    assert "工作流的决定与数据仓库一致 / the workflow's decisions and the warehouse agree" in r.output
    r = reconcile()
    assert r.exit_code == 0 and "agree" in r.output
    got = {x["report_id"]: x for x in rows(config.warehouse_url, "supply_problems")}
    assert {f"WF-{i}" for i in [*ids, late_id]} <= set(got) and "WF-999" not in got
    assert got[f"WF-{ids[1]}"]["verified"] is True
    assert next(v for v in rows(config.warehouse_url, "varieties") if v["variety_id"] == "V2")["special"] == "shortage"
