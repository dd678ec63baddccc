"""The warehouse lock (jicai.store.locking): many readers or one writer across processes, a writer that waits says
for whom and gives up with a bilingual error, queued writers go before new readers, every write bumps the data
version. The other holders are separate processes (in one process, connections join the process's write hold)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pytest

from jicai.store import LockTimeout, connect, latest_version
from jicai.store.locking import LockError, acquire, holder, lock_timeout, read_version, side_file

HOLD = """
import sys
from jicai.store.locking import acquire
lock = acquire(sys.argv[1], sys.argv[2], timeout=60)
print("locked", flush=True)
sys.stdin.readline()
lock.release()
print("released", flush=True)
"""


@contextmanager
def held(db: Path, mode: str, wait: bool = True) -> Iterator[subprocess.Popen]:
    """Another process holding (or, with ``wait=False``, waiting for) the lock on ``db``; released on exit."""
    p = subprocess.Popen([sys.executable, "-c", HOLD, str(db), mode], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        if wait:
            assert p.stdout.readline().strip() == "locked", p.stderr.read()
        yield p
    finally:
        if p.poll() is None:
            p.stdin.write("\n")
            p.stdin.flush()
        p.wait(timeout=60)


def warehouse(tmp_path: Path) -> Path:
    db = tmp_path / "jicai.duckdb"
    with connect(f"duckdb:///{db}") as wh:
        wh.write_table("t", pa.table({"a": [1, 2, 3]}))
    return db


def test_a_writer_waits_saying_for_whom_then_gives_up_in_both_languages(tmp_path):
    db = warehouse(tmp_path)
    told: list[str] = []
    with held(db, "write") as other:
        with pytest.raises(LockTimeout) as e:
            acquire(db, "write", timeout=0.3, notify=told.append)
    assert len(told) == 1  # said once, not once per poll
    assert told[0].startswith("等待数据仓库锁(") and " / waiting for the warehouse lock (" in told[0]
    assert f"pid {other.pid}" in told[0]
    assert "等待数据仓库锁超时(0.3 秒" in e.value.zh and "timed out after 0.3 s" in e.value.en
    assert f"pid {other.pid}" in e.value.en and "JICAI_LOCK_TIMEOUT" in e.value.en


def test_readers_share_the_file_and_a_reader_waits_for_a_writer(tmp_path):
    db = warehouse(tmp_path)
    with held(db, "read"):
        lock = acquire(db, "read", timeout=0)  # no wait at all: readers do not exclude each other
        lock.release()
        with connect(f"duckdb:///{db}", "read", timeout=0) as wh:  # and DuckDB opens it read-only beside it
            assert wh.table("t").count().to_pyarrow().as_py() == 3
        with pytest.raises(LockTimeout):  # a writer is excluded by the reader
            acquire(db, "write", timeout=0.2, notify=lambda _: None)
    with held(db, "write"), pytest.raises(LockTimeout):
        acquire(db, "read", timeout=0.2, notify=lambda _: None)


def test_a_queued_writer_goes_before_new_readers(tmp_path):
    """Reader A is in; writer W queues; a new reader B must not get past W (else a stream of short readers would
    starve W). When A leaves, W writes; then B gets in."""
    db = warehouse(tmp_path)
    before = read_version(db).number
    with held(db, "read") as reader_a:
        with held(db, "write", wait=False) as writer:
            for _ in range(600):  # W records itself once it holds the turnstile, i.e. once it is queued
                if holder(db) is not None:
                    break
                time.sleep(0.05)
            assert holder(db)["pid"] == writer.pid
            with pytest.raises(LockTimeout):
                acquire(db, "read", timeout=0.3, notify=lambda _: None)
            reader_a.stdin.write("\n")
            reader_a.stdin.flush()
            assert reader_a.stdout.readline().strip() == "released"
            assert writer.stdout.readline().strip() == "locked"  # W got in after A, not starved
        assert writer.stdout.readline().strip() == "released"
    lock = acquire(db, "read", timeout=0)
    lock.release()
    assert read_version(db).number == before + 1  # the writer's release bumped the version, the readers' did not


def test_every_write_connection_bumps_the_data_version_and_reads_do_not(tmp_path):
    db = warehouse(tmp_path)
    url = f"duckdb:///{db}"
    v1 = latest_version(url)
    with connect(url, "read") as wh:
        assert wh.data_version() == v1
    assert latest_version(url) == v1
    with connect(url) as wh:
        wh.write_table("u", pa.table({"b": [1]}))
    v2 = latest_version(url)
    assert v2.number == v1.number + 1 and v2.at and not side_file(db, ".writer").exists()
    assert latest_version("duckdb://") is None and latest_version("postgres://x@h/db") is None


def test_a_reader_never_creates_the_file_nor_writes(tmp_path):
    db = tmp_path / "new.duckdb"
    with connect(f"duckdb:///{db}", "read") as wh:
        assert wh.list_tables() == []
    assert not db.exists()
    db = warehouse(tmp_path)
    with connect(f"duckdb:///{db}", "read") as wh, pytest.raises(Exception, match="read-only"):
        wh.write_table("v", pa.table({"c": [1]}))


def test_a_dead_writers_record_is_ignored(tmp_path):
    db = warehouse(tmp_path)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    side_file(db, ".writer").write_text(json.dumps({"pid": int(dead.stdout), "command": "jicai import",
                                                   "since": "2024-01-01T10:00:00"}))
    assert holder(db) is None
    acquire(db, "write", timeout=0).release()  # and the lock is free: the OS dropped the dead process's locks


def test_the_same_thread_cannot_wait_for_its_own_read_lock(tmp_path):
    db = warehouse(tmp_path)
    with connect(f"duckdb:///{db}", "read"), pytest.raises(LockError) as e:
        connect(f"duckdb:///{db}", "write", timeout=0)
    assert e.value.zh and e.value.en


def test_the_timeout_setting(monkeypatch):
    assert lock_timeout({}) == 600.0 and lock_timeout({"JICAI_LOCK_TIMEOUT": "2.5"}) == 2.5
    with pytest.raises(LockError, match="JICAI_LOCK_TIMEOUT"):
        lock_timeout({"JICAI_LOCK_TIMEOUT": "soon"})


def test_a_command_waiting_too_long_exits_in_both_languages_without_a_traceback(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    db = warehouse(data)
    env = {**os.environ, "JICAI_DATA_DIR": str(data), "JICAI_LOCK_TIMEOUT": "0.5"}
    cli = [sys.executable, "-c", "from jicai.cli import main; main()"]
    with held(db, "write") as other:
        r = subprocess.run([*cli, "monitor", "--as-of", "2024-06-30"], capture_output=True, text=True, env=env,
                           timeout=120)
        q = subprocess.run([*cli, "quarantine"], capture_output=True, text=True, env=env, timeout=120)
    for run in (r, q):
        assert run.returncode == 2, run.stderr
        assert "Traceback" not in run.stderr
        assert "等待数据仓库锁超时" in run.stderr and "timed out after 0.5 s" in run.stderr
        assert f"pid {other.pid}" in run.stderr


def test_memory_limit_setting(tmp_path, monkeypatch):
    """JICAI_MEMORY_LIMIT caps DuckDB on every warehouse connection; a value that is no size is a bilingual error."""
    from jicai.errors import BilingualError
    from jicai.store.warehouse import memory_limit

    assert memory_limit({}) is None and memory_limit({"JICAI_MEMORY_LIMIT": " 1500MB "}) == "1500MB"
    with pytest.raises(BilingualError, match="JICAI_MEMORY_LIMIT"):
        memory_limit({"JICAI_MEMORY_LIMIT": "lots"})
    monkeypatch.setenv("JICAI_MEMORY_LIMIT", "300MB")
    wh = connect(f"duckdb:///{tmp_path / 'w.duckdb'}")
    try:
        (limit,) = wh.con.con.execute("SELECT current_setting('memory_limit')").fetchone()
        assert limit == "286.1 MiB"  # 300 MB as DuckDB prints it
    finally:
        wh.close()
