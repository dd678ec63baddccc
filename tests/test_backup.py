"""``jicai backup`` and ``jicai restore`` (jicai.store.backup, jicai.store.restore): a demo province backed up and
restored onto a fresh data directory gives the same figures, the same warehouse and the same workflow rows; a
damaged, truncated or incomplete backup is refused naming the file, with nothing written; a non-empty or busy
target is refused; the copy shuts writers out but not readers."""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest
from tests.conftest import PG_URL, throwaway_pg_database, unavailable
from tests.test_locking import held
from tests.web_fixtures import FAST_HASHER
from typer.testing import CliRunner

from jicai.cli import app

DEMO_AS_OF = date(2024, 3, 31)


def jicai(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(app, [str(a) for a in args], env=env)


def flat(text: str) -> str:
    return " ".join(text.split())


def add_decisions(d: Path, institution: str, product: str) -> None:
    """Two decisions in the workflow database of ``d``: a supervision action and a verified supply problem."""
    from jicai import clock
    from jicai.workflow.db import Workflow
    from jicai.workflow.models import SupervisionAction, SupplyReport

    wf = Workflow.open(f"sqlite:///{d / 'workflow.sqlite'}")
    try:
        with wf.session() as s:
            s.add(SupervisionAction(target_kind="institution", target_code=institution, region_code="35",
                                    action="interview", reason="约谈:完成率偏低", created_by=1, created_at=clock.stamp()))
            s.add(SupplyReport(institution_code=institution, region_code="35", product_code=product,
                               problem="shortage", start_date=date(2024, 2, 1), status="verified", filed_by=1,
                               filed_at=clock.stamp(), verified_start=date(2024, 2, 1), decided_by=1,
                               decided_at=clock.stamp()))
    finally:
        wf.close()
    edition = d / "catalogue" / "B1" / "edition-001.json"
    edition.parent.mkdir(parents=True)
    edition.write_text('{"number": 1, "rows": []}', encoding="utf-8")


@pytest.fixture(scope="module")
def small_dir(tmp_path_factory) -> Path:
    """A small data directory: the importer tests' reference tables and 40 order lines, one user, two decisions
    and a published catalogue edition (built once; tests copy it)."""
    from helpers_ingest import DRUG, HOSPITAL_A, ORDER_HEADER, order_row, write_csv, write_reference
    from jicai.workflow.db import Workflow
    from jicai.workflow.users import ensure_user

    root = tmp_path_factory.mktemp("small")
    d, files = root / "data", root / "files"
    write_reference(files)
    write_csv(files / "orders.csv", [ORDER_HEADER, *(order_row(i) for i in range(40))])
    r = jicai("--data-dir", d, "import", files)
    assert r.exit_code == 0, r.output
    wf = Workflow.open(f"sqlite:///{d / 'workflow.sqlite'}")
    wf.hasher = FAST_HASHER
    try:
        ensure_user(wf, "admin", "admin", "", "a-long-password-1")
    finally:
        wf.close()
    add_decisions(d, HOSPITAL_A, DRUG)
    return d


@pytest.fixture
def data(small_dir, tmp_path) -> Path:
    d = tmp_path / "source"
    shutil.copytree(small_dir, d)
    return d


@pytest.fixture(scope="module")
def backup_of_small(small_dir, tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("bk") / "backup"
    r = jicai("--data-dir", small_dir, "backup", dest)
    assert r.exit_code == 0, r.output
    return dest


@pytest.fixture
def backup(backup_of_small, tmp_path) -> Path:
    """A copy of the small directory's backup that a test may damage."""
    return Path(shutil.copytree(backup_of_small, tmp_path / "backup"))


def figures(data_dir: Path) -> list[dict]:
    """The monitoring's rows, computed afresh from the warehouse of ``data_dir`` with the policy it resolves.

    Amounts are floating sums whose last bits follow DuckDB's parallel summation order (the same directory
    computed twice differs in the 12th digit), so they are compared to 1e-6."""
    from jicai.measures.monitor import monitor
    from jicai.measures.registry import measure
    from jicai.policy.registry import resolve_policy
    from jicai.store import connect

    with connect(f"duckdb:///{data_dir / 'jicai.duckdb'}", "read") as wh:
        policy = resolve_policy(data_dir, wh, None, None)
        rows = monitor(wh, DEMO_AS_OF, None, policy).order_by(list(measure("monitor").sort)).to_pyarrow().to_pylist()
    return [{k: round(v, 6) if isinstance(v, float) else v for k, v in r.items()} for r in rows]


def warehouse_rows(db: Path) -> dict[str, list]:
    with duckdb.connect(str(db), read_only=True) as con:
        names = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()]
        return {n: con.execute(f'SELECT * FROM "{n}" ORDER BY ALL').fetchall() for n in names}


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def workflow_rows(db: Path) -> dict[str, list]:
    with contextlib.closing(sqlite3.connect(db)) as con:
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1")]
        return {n: con.execute(f'SELECT * FROM "{n}" ORDER BY rowid').fetchall() for n in names}


def restored_is_the_same(source: Path, new: Path) -> None:
    """The warehouse (the very same file), every workflow row and the kept files of ``source`` are in ``new``."""
    assert sha(new / "jicai.duckdb") == sha(source / "jicai.duckdb")
    assert warehouse_rows(new / "jicai.duckdb") == warehouse_rows(source / "jicai.duckdb")
    rows = workflow_rows(new / "workflow.sqlite")
    assert rows == workflow_rows(source / "workflow.sqlite")
    assert len(rows["supervision_actions"]) == 1 and len(rows["supply_reports"]) == 1 and rows["audit_log"]
    edition = Path("catalogue") / "B1" / "edition-001.json"
    assert (new / edition).read_bytes() == (source / edition).read_bytes()
    assert not (new / "secret_key").exists()  # never carried in a backup


def test_restore_onto_a_fresh_directory_gives_the_same_warehouse_and_workflow_rows(small_dir, backup_of_small,
                                                                                     tmp_path):
    from jicai.store.locking import read_version

    new = tmp_path / "restored"
    r = jicai("restore", backup_of_small, "--data-dir", new)
    assert r.exit_code == 0, r.output
    assert "恢复完成" in r.output and "restored" in r.output
    restored_is_the_same(small_dir, new)
    # the restored data version is newer than the backup's, so a server started on it recomputes its figures
    assert read_version(new / "jicai.duckdb").number == read_version(small_dir / "jicai.duckdb").number + 1
    r = jicai("--data-dir", new, "users", "list")
    assert r.exit_code == 0 and "admin" in r.output, r.output


@pytest.mark.slow
def test_the_demo_province_restored_gives_the_same_figures(tmp_path):
    """The demo province (imported, monitored, six users) with two decisions: backed up, restored onto a fresh
    data directory, its monitoring computed again — the same rows."""
    source = tmp_path / "demo"
    r = jicai("--data-dir", source, "demo", "--institutions", "40", "--months", "3", "--no-serve")
    assert r.exit_code == 0, r.output
    with duckdb.connect(str(source / "jicai.duckdb"), read_only=True) as con:
        institution, product = con.execute(
            "SELECT institution_code, product_code FROM orders ORDER BY order_line_id LIMIT 1").fetchone()
    add_decisions(source, institution, product)
    before = figures(source)
    r = jicai("--data-dir", source, "backup", tmp_path / "bk")
    assert r.exit_code == 0, r.output
    new = tmp_path / "restored"
    r = jicai("restore", tmp_path / "bk", "--data-dir", new)
    assert r.exit_code == 0, r.output
    assert len(before) > 100 and figures(new) == before
    restored_is_the_same(source, new)
    assert len(workflow_rows(new / "workflow.sqlite")["users"]) == 6


def test_the_manifest_names_every_file_with_its_size_checksum_and_the_versions(small_dir, backup_of_small):
    from jicai import __version__
    from jicai.store.locking import read_version
    from jicai.workflow.db import Workflow

    text = (backup_of_small / "manifest.json").read_text(encoding="utf-8")
    assert (backup_of_small / "manifest.sha256").read_text().strip() == hashlib.sha256(text.encode()).hexdigest()
    m = json.loads(text)
    paths = {f["path"] for f in m["files"]}
    assert paths == {"warehouse/jicai.duckdb", "workflow/workflow.sqlite", "files/catalogue/B1/edition-001.json"}
    for f in m["files"]:
        body = (backup_of_small / f["path"]).read_bytes()
        assert f["size"] == len(body) and f["sha256"] == hashlib.sha256(body).hexdigest()
    assert m["jicai_version"] == __version__ and m["workflow"] == {"engine": "sqlite", "revision": Workflow.head()}
    assert m["warehouse"]["duckdb_version"] == duckdb.__version__
    assert m["data_version"]["number"] == read_version(small_dir / "jicai.duckdb").number >= 1
    assert m["warehouse"]["tables"]["orders"] == 40 and m["created_at"][:2] == "20"


def test_check_verifies_a_backup_and_writes_nothing(backup, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    r = jicai("restore", backup, "--check")
    assert r.exit_code == 0 and "the backup is whole" in flat(r.output) and "3 个文件 / files" in r.output
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    raw = bytearray((backup / "workflow" / "workflow.sqlite").read_bytes())
    raw[-1] ^= 0xFF
    (backup / "workflow" / "workflow.sqlite").write_bytes(bytes(raw))
    r = jicai("restore", backup, "--check")
    assert r.exit_code == 2 and "workflow/workflow.sqlite" in flat(r.output)


@pytest.mark.parametrize("damage", ["flip", "truncate", "missing"])
def test_a_damaged_backup_is_refused_naming_the_file_and_nothing_is_written(backup, tmp_path, damage):
    target = backup / "warehouse" / "jicai.duckdb" if damage != "truncate" else backup / "workflow" / "workflow.sqlite"
    if damage == "flip":
        raw = bytearray(target.read_bytes())
        raw[len(raw) // 2] ^= 0x01
        target.write_bytes(bytes(raw))
    elif damage == "truncate":
        target.write_bytes(target.read_bytes()[:-100])
    else:
        target.unlink()
    new = tmp_path / "restored"
    r = jicai("restore", backup, "--data-dir", new)
    text = flat(r.output)
    assert r.exit_code == 2, text
    rel = target.relative_to(backup).as_posix()
    assert rel in text and "未写入任何数据" in text and "nothing was written" in text
    assert {"flip": "altered", "truncate": "truncated", "missing": "missing"}[damage] in text
    assert not new.exists() and [p.name for p in tmp_path.iterdir()] == ["backup"]  # no stage left beside


def test_a_damaged_manifest_is_refused(backup, tmp_path):
    m = backup / "manifest.json"
    m.write_text(m.read_text(encoding="utf-8").replace('"format": 1', '"format": 1 '), encoding="utf-8")
    r = jicai("restore", backup, "--data-dir", tmp_path / "new")
    assert r.exit_code == 2 and "manifest.json" in flat(r.output) and "校验和" in r.output
    assert not (tmp_path / "new").exists()
    r = jicai("restore", tmp_path, "--data-dir", tmp_path / "new")  # a folder that is no backup at all
    assert r.exit_code == 2 and "not a jicai backup" in flat(r.output)


def test_a_backup_from_a_newer_jicai_is_refused_before_anything_is_written(backup, tmp_path):
    m = json.loads((backup / "manifest.json").read_text(encoding="utf-8"))
    m["workflow"]["revision"], m["jicai_version"] = "9999_future", "9.0.0"
    text = json.dumps(m, ensure_ascii=False)
    (backup / "manifest.json").write_text(text, encoding="utf-8")
    (backup / "manifest.sha256").write_text(hashlib.sha256(text.encode()).hexdigest())
    r = jicai("restore", backup, "--data-dir", tmp_path / "new")
    assert r.exit_code == 2 and "9999_future" in r.output and "upgrade jicai first" in flat(r.output)
    assert not (tmp_path / "new").exists()


def test_restore_into_a_non_empty_directory_is_refused_unless_forced(backup, tmp_path):
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("keep me")
    r = jicai("restore", backup, "--data-dir", occupied)
    assert r.exit_code == 2 and "--force" in r.output and "not empty" in flat(r.output)
    assert [p.name for p in occupied.iterdir()] == ["notes.txt"]

    r = jicai("restore", backup, "--data-dir", occupied, "--force")
    assert r.exit_code == 0, r.output
    assert (occupied / "jicai.duckdb").exists() and not (occupied / "notes.txt").exists()
    kept = [p for p in tmp_path.iterdir() if p.name.startswith("occupied.replaced-")]
    assert len(kept) == 1 and (kept[0] / "notes.txt").read_text() == "keep me"  # renamed aside, not deleted
    assert str(kept[0]) in flat(r.output).replace(" ", "") or kept[0].name in r.output


def test_force_is_refused_while_the_target_warehouse_is_in_use(backup, data):
    def files() -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in data.iterdir() if p.is_file()}

    before = files()
    with held(data / "jicai.duckdb", "read"):  # jicai serve reading it
        r = jicai("restore", backup, "--data-dir", data, "--force")
    assert r.exit_code == 2 and "stop them first" in flat(r.output) and "jicai serve" in r.output
    # untouched: not even the data version moved (the probe takes no lock a writer would leave a trace of)
    assert files() == before
    with held(data / "jicai.duckdb", "write"):  # an import writing it
        r = jicai("restore", backup, "--data-dir", data, "--force")
    assert r.exit_code == 2 and "stop them first" in flat(r.output)
    assert (data / "jicai.duckdb").read_bytes() == before["jicai.duckdb"]


OPEN_WORKFLOW = """
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
con.execute("PRAGMA journal_mode = WAL")
con.execute("SELECT count(*) FROM users").fetchall()
print("open", flush=True)
sys.stdin.readline()
"""


def test_force_is_refused_while_a_server_has_the_workflow_database_open(backup, data):
    """jicai serve keeps its workflow connection open between requests (and holds no warehouse lock while idle):
    replacing the directory under it would send its next decisions to the renamed-aside file."""
    p = subprocess.Popen([sys.executable, "-c", OPEN_WORKFLOW, str(data / "workflow.sqlite")], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "open", p.stderr.read()
        r = jicai("restore", backup, "--data-dir", data, "--force")
        assert r.exit_code == 2 and "stop them first" in flat(r.output)
        assert not list(data.parent.glob("source.replaced-*"))
    finally:
        p.kill()
        p.wait(timeout=60)
    assert (data / "workflow.sqlite-shm").exists()  # left by the killed process: a leftover, not a user
    r = jicai("restore", backup, "--data-dir", data, "--force")
    assert r.exit_code == 0, r.output


def test_a_backup_runs_while_a_server_reads(data, tmp_path):
    with held(data / "jicai.duckdb", "read"):  # what jicai serve holds while it computes
        r = jicai("--data-dir", data, "backup", tmp_path / "bk", env={"JICAI_LOCK_TIMEOUT": "5"})
    assert r.exit_code == 0, r.output


TRY_LOCK = """
import sys
from jicai.store.locking import LockTimeout, acquire
try:
    acquire(sys.argv[1], sys.argv[2], timeout=0, notify=lambda m: None).release()
    print("got it")
except LockTimeout:
    print("refused")
"""


def test_the_copy_shuts_writers_out_but_lets_readers_in(data, tmp_path, monkeypatch):
    """While the warehouse file is copied, another process may open it to read at once but not to write."""
    from jicai.store import backup as backup_mod

    seen: dict[str, str] = {}
    copy = backup_mod.copy_hashed

    def watched(src: Path, dst: Path):
        if src.name == "jicai.duckdb":
            for mode in ("read", "write"):
                seen[mode] = subprocess.run([sys.executable, "-c", TRY_LOCK, str(src), mode], capture_output=True,
                                            text=True, check=True).stdout.strip()
        return copy(src, dst)

    monkeypatch.setattr(backup_mod, "copy_hashed", watched)
    r = jicai("--data-dir", data, "backup", tmp_path / "bk")
    assert r.exit_code == 0, r.output
    assert seen == {"read": "got it", "write": "refused"}


def test_backup_waits_for_an_import_and_gives_up_in_both_languages(data, tmp_path):
    with held(data / "jicai.duckdb", "write"):
        r = jicai("--data-dir", data, "backup", tmp_path / "bk", env={"JICAI_LOCK_TIMEOUT": "0.5"})
    text = flat(r.output)
    assert r.exit_code == 2 and "等待数据仓库锁超时" in text and "timed out" in text and "Traceback" not in text
    assert not (tmp_path / "bk").exists() and not list(tmp_path.glob(".bk.partial-*"))


def test_a_full_disk_leaves_no_backup_and_no_traceback(data, tmp_path, monkeypatch):
    import errno

    from jicai.store import backup as backup_mod

    def full(src: Path, dst: Path):
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(backup_mod, "copy_hashed", full)
    r = jicai("--data-dir", data, "backup", tmp_path / "bk")
    text = flat(r.output)
    assert r.exit_code == 2 and "备份失败" in text and "No space left on device" in text and "Traceback" not in text
    assert list(tmp_path.iterdir()) == [data]  # neither the backup nor its half-written stage


def test_a_restore_that_runs_out_of_disk_leaves_the_target_as_it_was(backup, data, tmp_path, monkeypatch):
    import errno

    from jicai.store import restore as restore_mod

    def full(src: Path, dst: Path):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(restore_mod, "copy_hashed", full)
    before = {p.name: p.read_bytes() for p in data.iterdir() if p.is_file()}
    r = jicai("restore", backup, "--data-dir", data, "--force")
    text = flat(r.output)
    assert r.exit_code == 2 and "No space left on device" in text and "unchanged" in text and "Traceback" not in text
    assert {p.name: p.read_bytes() for p in data.iterdir() if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backup", "source"]  # no stage, nothing renamed aside


def test_backup_refuses_a_non_empty_destination_and_other_engines(data, tmp_path):
    dest = tmp_path / "bk"
    dest.mkdir()
    (dest / "x").write_text("x")
    r = jicai("--data-dir", data, "backup", dest)
    assert r.exit_code == 2 and "not empty" in flat(r.output)
    r = jicai("--data-dir", data, "--warehouse", "postgres://postgres@127.0.0.1/none", "backup", tmp_path / "pg")
    text = flat(r.output)
    assert r.exit_code == 2 and "pg_dump" in text and "DuckDB" in text and "Traceback" not in text
    assert not (tmp_path / "pg").exists()


def test_a_postgresql_workflow_without_pg_dump_is_refused_bilingually(data, tmp_path, monkeypatch):
    monkeypatch.setattr("jicai.store.workflow_db.shutil.which", lambda name: None)
    r = jicai("--data-dir", data, "backup", tmp_path / "bk", "--workflow-url", "postgres://postgres@127.0.0.1:1/wf")
    text = flat(r.output)
    assert r.exit_code == 2 and "pg_dump" in text and "postgresql-client" in text and "Traceback" not in text
    assert list(tmp_path.iterdir()) == [data]  # neither the backup nor its stage


def test_an_empty_data_directory_backs_up_and_restores(tmp_path):
    r = jicai("--data-dir", tmp_path / "empty", "backup", tmp_path / "bk")
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "bk" / "manifest.json").read_text())["files"] == []
    r = jicai("restore", tmp_path / "bk", "--data-dir", tmp_path / "new")
    assert r.exit_code == 0, r.output


def test_a_postgresql_workflow_is_dumped_and_restored_into_an_empty_database(data, tmp_path):
    """pg_dump in the backup, pg_restore into the database of --workflow-url: the same users."""
    from urllib.parse import urlparse

    from jicai.workflow.db import Workflow
    from jicai.workflow.users import ensure_user, list_users

    if not shutil.which("pg_dump"):
        unavailable("pg_dump is not installed")
    u = urlparse(PG_URL)
    with throwaway_pg_database("jicai_bk_src") as src_db, throwaway_pg_database("jicai_bk_dst") as dst_db:
        src_url = f"postgresql://{u.username or 'postgres'}@{u.hostname}:{u.port or 5432}/{src_db}"
        dst_url = f"postgresql://{u.username or 'postgres'}@{u.hostname}:{u.port or 5432}/{dst_db}"
        wf = Workflow.open(src_url)
        wf.hasher = FAST_HASHER
        try:
            ensure_user(wf, "analyst", "bureau", "35", "a-long-password-1")
        finally:
            wf.close()
        r = jicai("--data-dir", data, "backup", tmp_path / "bk", "--workflow-url", src_url)
        assert r.exit_code == 0, r.output
        files = {f["path"] for f in json.loads((tmp_path / "bk" / "manifest.json").read_text())["files"]}
        assert "workflow/workflow.pgdump" in files
        r = jicai("restore", tmp_path / "bk", "--data-dir", tmp_path / "new")  # no database to restore it into
        assert r.exit_code == 2 and "--workflow-url" in r.output and not (tmp_path / "new").exists()
        r = jicai("restore", tmp_path / "bk", "--data-dir", tmp_path / "new", "--workflow-url", dst_url)
        assert r.exit_code == 0, r.output
        wf = Workflow.open(dst_url, upgrade=False)
        try:
            assert wf.current() == Workflow.head()
            with wf.session() as s:
                assert [(x.name, x.role, x.scope) for x in list_users(s)] == [("analyst", "bureau", "35")]
        finally:
            wf.close()
        # a second restore into the now-full database is refused
        r = jicai("restore", tmp_path / "bk", "--data-dir", tmp_path / "new2", "--workflow-url", dst_url)
        assert r.exit_code == 2 and "already holds a workflow" in flat(r.output)

