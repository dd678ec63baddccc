"""The workflow database seen from outside its engine: which kind it is, its file, its Alembic revision read
without changing it, whether a server has it open, and PostgreSQL's client tools — what ``jicai backup``,
``jicai restore`` and ``jicai doctor`` need without opening it through the workflow's engine (which switches a
SQLite file to WAL on connect: a check or a copy must change nothing)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from jicai.errors import BilingualError


class WorkflowDbError(BilingualError, RuntimeError):
    """The workflow database cannot be reached or copied (what is wrong, in both languages)."""


def workflow_kind(url: str) -> str:
    """"sqlite" or "postgresql" (the two engines the workflow database runs on)."""
    scheme = url.split("://", 1)[0].split("+", 1)[0]
    if scheme == "sqlite":
        return "sqlite"
    if scheme in ("postgres", "postgresql"):
        return "postgresql"
    raise WorkflowDbError(f"不支持的工作流数据库地址:{scheme}://…", f"unsupported workflow database URL: {scheme}://…")


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for an in-memory one)."""
    from sqlalchemy.engine import make_url

    db = make_url(url).database
    return None if db in (None, "", ":memory:") else Path(db).resolve()


# SQLite's unix VFS: every connection to a WAL database holds a shared POSIX lock on this byte of the -shm file
# for as long as it is open (os_unix.c, UNIX_SHM_DMS = (22 + 8) * 4 + 8). A -shm file alone may be left by a
# crash; the lock is held only by a live connection.
SQLITE_SHM_DMS = 128


def sqlite_in_use(path: Path) -> bool:
    """Whether another process has the SQLite database ``path`` open (e.g. ``jicai serve``'s workflow). Not for a
    process that has it open itself: closing the probe's descriptor would drop that process's own POSIX locks."""
    shm = path.with_name(path.name + "-shm")
    try:
        fd = os.open(shm, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, SQLITE_SHM_DMS)
    except OSError:
        return True
    else:
        fcntl.lockf(fd, fcntl.LOCK_UN, 1, SQLITE_SHM_DMS)
        return False
    finally:
        os.close(fd)


def pg_env(url: str) -> dict[str, str]:
    """libpq's environment for ``url``: the password travels in PGPASSWORD, never on a command line."""
    from sqlalchemy.engine import make_url

    u = make_url(url.replace("postgres://", "postgresql://", 1))
    env = {"PGHOST": u.host or "127.0.0.1", "PGPORT": str(u.port or 5432), "PGUSER": u.username or "postgres",
           "PGDATABASE": u.database or "postgres"}
    if u.password:
        env["PGPASSWORD"] = str(u.password)
    return env


def pg_tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise WorkflowDbError(f"工作流数据库为 PostgreSQL,需要 {name}(PostgreSQL 客户端工具),但未找到:请安装 postgresql-client",
                          f"the workflow database is PostgreSQL, which needs {name} (PostgreSQL's client tools); "
                          f"it is not on PATH: install postgresql-client")
    return found


def run_pg(args: list[str], url: str, what_zh: str, what_en: str) -> None:
    r = subprocess.run(args, env={**os.environ, **pg_env(url)}, capture_output=True, text=True)
    if r.returncode:
        last = (r.stderr.strip().splitlines() or ["?"])[-1]
        raise WorkflowDbError(f"{what_zh}失败:{last}", f"{what_en} failed: {last}")


def sqlite_revision(path: Path) -> str | None:
    """The Alembic revision of SQLite file ``path``, read-only (None: no schema yet); a damaged file raises
    :class:`sqlite3.DatabaseError`."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as con:
        if not con.execute("SELECT 1 FROM sqlite_master WHERE name = 'alembic_version'").fetchone():
            return None
        row = con.execute("SELECT version_num FROM alembic_version").fetchone()
    return row[0] if row else None


def pg_connect(url: str, timeout: int = 10):
    """A psycopg connection to ``url`` that gives up after ``timeout`` seconds (no driver prefix needed)."""
    import psycopg

    env = pg_env(url)
    return psycopg.connect(host=env["PGHOST"], port=env["PGPORT"], user=env["PGUSER"], dbname=env["PGDATABASE"],
                           password=env.get("PGPASSWORD"), connect_timeout=timeout)


def pg_error(exc: Exception) -> str:
    """The first line of a driver's error (it names host and port, never the password)."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def pg_revision(url: str) -> str | None:
    import psycopg

    try:
        with pg_connect(url) as con:
            exists = con.execute("SELECT to_regclass('alembic_version')").fetchone()[0]
            row = con.execute("SELECT version_num FROM alembic_version").fetchone() if exists else None
    except psycopg.Error as exc:
        raise WorkflowDbError(f"无法连接工作流数据库(PostgreSQL):{pg_error(exc)}",
                          f"cannot reach the workflow database (PostgreSQL): {pg_error(exc)}") from None
    return row[0] if row else None
