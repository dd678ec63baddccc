"""``jicai backup``'s folder: the warehouse and the workflow database of one data directory, taken together.

A backup is a folder::

    manifest.json         what is in it: each file's path, size and SHA-256, jicai's version, the schema
                          versions (DuckDB's, the workflow's Alembic revision), the data version, the time
    manifest.sha256       the SHA-256 of manifest.json (a damaged manifest is caught like a damaged file)
    warehouse/jicai.duckdb (and jicai.duckdb.wal when the last writer left one)
    workflow/workflow.sqlite, or workflow/workflow.pgdump (pg_dump's custom format) for PostgreSQL
    files/policies/…, files/catalogue/…   the data directory's own files that figures depend on

Consistency. The warehouse file is copied while this process holds the warehouse's *shared* lock and an open
read-only connection (store/locking.py): no jicai writer can be inside, so no import is half in, and DuckDB's
own file lock shuts out a foreign writer (the duckdb shell). A shared lock, not the write lock, because readers —
``jicai serve``'s pages — go on reading while it is held; only writers wait (and, once a writer is queued, new
readers wait behind it: writers are preferred). The workflow database is copied inside the same hold, first,
through its own online-backup API (SQLite's backup, or pg_dump's snapshot), so the two are taken at the same
moment as far as imports are concerned. The folder is written beside its destination and renamed into place at the end:
a backup that fails leaves nothing that looks like a backup.

The secret key is not copied (a backup should not carry the key that signs sessions); a restored development
server makes a new one, and everyone signs in again. Reports (``reports/``) are outputs and can be remade.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from jicai import clock
from jicai.errors import BilingualError
from jicai.store import locking
from jicai.store.warehouse import connect
from jicai.store.workflow_db import pg_revision, pg_tool, run_pg, sqlite_path, sqlite_revision, workflow_kind

FORMAT = 1
MANIFEST = "manifest.json"
MANIFEST_SUM = "manifest.sha256"
WAREHOUSE_FILE = "jicai.duckdb"
WORKFLOW_SQLITE = "workflow.sqlite"
WORKFLOW_PGDUMP = "workflow.pgdump"
KEPT_FOLDERS = ("policies", "catalogue")  # the data directory's files that figures and records depend on
CHUNK = 1 << 20


class BackupError(BilingualError, RuntimeError):
    """A backup cannot be taken, or a folder is no usable backup (what is wrong, in both languages)."""


# -- checksums ---------------------------------------------------------------------------------------------
def copy_hashed(src: Path, dst: Path) -> tuple[int, str]:
    """Copy ``src`` to ``dst`` and return (size, SHA-256) of what was written, read once."""
    h, size = hashlib.sha256(), 0
    dst.parent.mkdir(parents=True, exist_ok=True)
    with open(src, "rb") as f, open(dst, "wb") as g:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            g.write(chunk)
            size += len(chunk)
        g.flush()
        os.fsync(g.fileno())
    return size, h.hexdigest()


def file_hash(path: Path) -> tuple[int, str]:
    h, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
    return size, h.hexdigest()


# -- what a backup is taken from -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Source:
    """One data directory's parts: where its warehouse and its workflow database are."""

    data_dir: Path
    warehouse_url: str
    workflow_url: str

    def duckdb_file(self) -> Path:
        """The DuckDB warehouse file; a bilingual refusal for any other engine (they have their own tools)."""
        scheme = self.warehouse_url.split("://", 1)[0]
        path = urlparse(self.warehouse_url).path
        if scheme != "duckdb":
            raise BackupError(
                "jicai backup 只备份 DuckDB 数据仓库;PostgreSQL 数据仓库请用数据库自身的 pg_dump / pg_restore 备份与恢复,"
                "Spark 数据湖请备份其存储(见 docs/operations.md)",
                "jicai backup copies a DuckDB warehouse only: back a PostgreSQL warehouse up with its own pg_dump / "
                "pg_restore, a Spark lake through its storage (see docs/operations.md)")
        if path in ("", "/", ":memory:"):
            raise BackupError("内存中的数据仓库无可备份", "an in-memory warehouse has nothing to back up")
        return Path(path).resolve()


# -- taking a backup -----------------------------------------------------------------------------------------
def _snapshot_sqlite(src: Path, dst: Path) -> str | None:
    """SQLite's online backup of ``src`` into ``dst`` (consistent while the server writes); its Alembic revision."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(sqlite3.connect(f"file:{src}?mode=ro", uri=True)) as a, \
            contextlib.closing(sqlite3.connect(dst)) as b:
        a.backup(b)  # all pages in one step: one read transaction, one consistent state
        b.execute("PRAGMA journal_mode = DELETE")  # one self-contained file, no -wal beside it
    return sqlite_revision(dst)


def _snapshot_postgres(url: str, dst: Path) -> str | None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    tool = pg_tool("pg_dump")
    revision = pg_revision(url)
    run_pg([tool, "--format=custom", "--no-owner", "--no-privileges", f"--file={dst}"], url,
           "工作流数据库备份(pg_dump)", "backing up the workflow database (pg_dump)")
    return revision


def _table_rows(db: Path) -> dict[str, int]:
    """Rows of every table of a DuckDB file (the copy: proves it opens, and lets a restore be compared)."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        names = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() ORDER BY table_name").fetchall()]
        return {n: con.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}
    finally:
        con.close()


def take(source: Source, dest: Path, *, jicai_version: str) -> dict:
    """Write the backup of ``source`` to the folder ``dest`` (which must not exist or be empty); its manifest."""
    import duckdb

    dest = Path(dest).resolve()
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupError(f"备份目标已存在且非空:{dest.name}", f"the backup destination exists and is not empty: {dest.name}")
    db = source.duckdb_file()
    kind = workflow_kind(source.workflow_url)
    stage = dest.with_name(f".{dest.name}.partial-{os.getpid()}")
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    try:
        files: dict[str, tuple[int, str]] = {}
        version = locking.DataVersion(0, "", "")
        # the read lock and a read-only connection for the whole copy: no writer gets in (see the module doc)
        with connect(f"duckdb:///{db}", "read") as wh:
            # the workflow first, the moment the lock is had: a web decision that commits during the (longer)
            # warehouse copy then lies after both snapshots instead of in the workflow's but not the warehouse's
            revision = _workflow_snapshot(source.workflow_url, kind, stage, files)
            if db.exists():
                version = wh.data_version() or version
                for name in (db.name, db.name + ".wal"):
                    if (db.parent / name).exists():
                        rel = f"warehouse/{WAREHOUSE_FILE}" + name[len(db.name):]
                        files[rel] = copy_hashed(db.parent / name, stage / rel)
        for folder in KEPT_FOLDERS:
            root = source.data_dir / folder
            for path in sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []:
                rel = f"files/{folder}/{path.relative_to(root).as_posix()}"
                files[rel] = copy_hashed(path, stage / rel)
        rows = _table_rows(stage / "warehouse" / WAREHOUSE_FILE) if f"warehouse/{WAREHOUSE_FILE}" in files else {}
        manifest = {
            "format": FORMAT,
            "jicai_version": jicai_version,
            "created_at": clock.stamp().isoformat(),
            "data_version": {"number": version.number, "at": version.at, "by": version.by},
            "warehouse": {"engine": "duckdb", "duckdb_version": duckdb.__version__, "tables": rows},
            "workflow": {"engine": kind, "revision": revision},
            "files": [{"path": p, "size": s, "sha256": h} for p, (s, h) in sorted(files.items())],
        }
        text = json.dumps(manifest, ensure_ascii=False, indent=1)
        (stage / MANIFEST).write_text(text, encoding="utf-8")
        (stage / MANIFEST_SUM).write_text(hashlib.sha256(text.encode()).hexdigest() + "\n", encoding="utf-8")
        if dest.exists():
            dest.rmdir()  # empty (checked above)
        os.replace(stage, dest)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    return manifest


def _workflow_snapshot(url: str, kind: str, stage: Path, files: dict[str, tuple[int, str]]) -> str | None:
    if kind == "postgresql":
        rel = f"workflow/{WORKFLOW_PGDUMP}"
        revision = _snapshot_postgres(url, stage / rel)
    else:
        src = sqlite_path(url)
        if src is None:
            raise BackupError("内存中的工作流数据库无可备份", "an in-memory workflow database has nothing to back up")
        if not src.exists():
            return None  # nobody has signed in or decided anything yet: nothing to keep
        rel = f"workflow/{WORKFLOW_SQLITE}"
        revision = _snapshot_sqlite(src, stage / rel)
    files[rel] = file_hash(stage / rel)
    return revision
