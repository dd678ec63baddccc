"""Crashes and disks (issue 14, finding 12): a held lock, a full disk and an engine failure end `jicai import` with a
bilingual message and no traceback, the message shows no path or SQL, a failed attempt is logged, and a later import
works once the cause is gone. A killed import's trace is in tests/test_ingest_atomic.py.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from tests.conftest import unavailable
from typer.testing import CliRunner

from helpers_ingest import ORDER_HEADER, order_row, write_csv, write_reference
from jicai.cli import app
from jicai.ingest import readers
from jicai.ingest.sink import DuckDBSink
from jicai.store import connect

DISK_ZH = "磁盘空间不足，导入中止"
DISK_EN = "the disk is full and the import stopped"


def _cli(data: Path, *args: str):
    return CliRunner().invoke(app, ["--data-dir", str(data), *args])


def _statuses(data: Path, name: str = "orders.csv") -> list[tuple[str, str]]:
    with connect(f"duckdb:///{data / 'jicai.duckdb'}", "read") as wh:
        return wh.con.con.execute('SELECT "table", status FROM _load_log WHERE file LIKE ? ORDER BY started_at',
                                  [f"%/{name}"]).fetchall()


def _flat(output: str) -> str:
    return " ".join(output.split())


@pytest.fixture
def loaded(tmp_path) -> Path:
    data = tmp_path / "data"
    assert _cli(data, "import", str(write_reference(tmp_path / "ref")[0].parent)).exit_code == 0
    return data


def test_a_full_disk_while_transcoding_is_a_message(loaded, tmp_path, monkeypatch):
    gbk = shutil.copy(Path(__file__).parent / "bad_inputs" / "institutions_gbk.csv", tmp_path)  # transcoded to UTF-8

    def full(*_args):
        raise OSError(errno.ENOSPC, "No space left on device", "/srv/jicai/tmp/x.csv")

    monkeypatch.setattr(readers, "_transcode", full)
    res = _cli(loaded, "import", str(gbk))
    assert res.exit_code == 2 and isinstance(res.exception, SystemExit), res.output
    assert DISK_ZH in _flat(res.output) and DISK_EN in _flat(res.output)
    assert "Traceback" not in res.output and "/srv/jicai" not in res.output
    name = "institutions_gbk.csv"
    assert _statuses(loaded, name) == [("institutions", "failed")]  # the attempt is logged, nothing loaded
    monkeypatch.undo()
    ok = _cli(loaded, "import", str(gbk))
    assert ok.exit_code == 0, ok.output
    assert _statuses(loaded, name) == [("institutions", "failed"), ("institutions", "ok")]


def test_a_full_disk_in_the_engine_is_a_message_without_its_path(loaded, tmp_path, monkeypatch):
    orders = write_csv(tmp_path / "in" / "orders.csv", [ORDER_HEADER, order_row(1), order_row(2)])
    real = DuckDBSink.insert

    def full(self, table, data):
        if table == "orders":
            raise duckdb.IOException('IO Error: Could not write file "/srv/jicai/data/jicai.duckdb.wal": '
                                     "No space left on device")
        return real(self, table, data)

    monkeypatch.setattr(DuckDBSink, "insert", full)
    res = _cli(loaded, "import", str(orders))
    assert res.exit_code == 2 and isinstance(res.exception, SystemExit), res.output
    assert DISK_ZH in _flat(res.output) and DISK_EN in _flat(res.output) and "/srv/jicai" not in res.output
    monkeypatch.undo()
    assert _cli(loaded, "import", str(orders)).exit_code == 0
    with connect(f"duckdb:///{loaded / 'jicai.duckdb'}", "read") as wh:
        assert wh.con.con.execute("SELECT count(*) FROM orders").fetchone() == (2,)


def test_an_engine_error_shows_neither_sql_nor_paths(loaded, tmp_path, monkeypatch):
    orders = write_csv(tmp_path / "in" / "orders.csv", [ORDER_HEADER, order_row(1)])

    def broken(self, table, data):
        raise duckdb.IOException('IO Error: Cannot open file "/srv/jicai/data/x.parquet": Permission denied\n'
                                 "LINE 1: SELECT * FROM read_parquet('/srv/jicai/data/x.parquet')")

    monkeypatch.setattr(DuckDBSink, "insert", broken)
    res = _cli(loaded, "import", str(orders))
    assert res.exit_code == 2 and "Traceback" not in res.output
    flat = _flat(res.output)
    assert "数据仓库出错，导入中止" in flat and 'Cannot open file "x.parquet": Permission denied' in flat
    assert "/srv/jicai" not in flat and "SELECT" not in flat and "read_parquet" not in flat


def test_an_import_while_another_writes_waits_then_says_so(loaded, tmp_path, monkeypatch):
    orders = write_csv(tmp_path / "in" / "orders.csv", [ORDER_HEADER, order_row(1)])
    url = f"duckdb:///{loaded / 'jicai.duckdb'}"
    holder = subprocess.Popen([sys.executable, "-c", f"""
import sys, time
from jicai.store import connect
wh = connect({url!r}, "write")
print("HOLDING", flush=True)
time.sleep(60)
"""], stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        assert holder.stdout.readline().strip() == "HOLDING"
        monkeypatch.setenv("JICAI_LOCK_TIMEOUT", "0.5")
        start = time.monotonic()
        res = _cli(loaded, "import", str(orders))
        assert time.monotonic() - start < 30
        assert res.exit_code != 0 and isinstance(res.exception, SystemExit), res.output
        flat = _flat(res.output)
        assert "等待数据仓库锁超时(0.5 秒" in flat and "timed out after 0.5 s waiting for the warehouse lock" in flat
        assert "Traceback" not in res.output
    finally:
        holder.kill()
        holder.wait(timeout=30)
    assert _cli(loaded, "import", str(orders)).exit_code == 0


@pytest.mark.slow
def test_a_real_full_disk_then_freed(tmp_path):
    """On a 30 MB tmpfs (root only; skipped elsewhere): an import that fills the disk fails with the message, a small
    one still fails while the disk is full, and once space is freed the grown warehouse file takes the small import."""
    small = tmp_path / "small"
    small.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=30m", "tmpfs", str(small)], capture_output=True).returncode:
        unavailable("needs root to mount a small tmpfs")
    try:
        data = small / "data"
        assert _cli(data, "import", str(write_reference(tmp_path / "ref")[0].parent)).exit_code == 0
        big = write_csv(tmp_path / "big" / "orders.csv", [ORDER_HEADER] + [order_row(i) for i in range(1, 400_001)])
        few = write_csv(tmp_path / "few" / "orders.csv", [ORDER_HEADER] + [order_row(i) for i in range(1, 11)])
        # the warehouse takes ~2 MB before and ~12 MB after the big import: 4 MB of room cannot hold it
        (small / "filler").write_bytes(bytes(24 << 20))
        res = _cli(data, "import", str(big))
        assert res.exit_code == 2 and DISK_ZH in _flat(res.output) and "Traceback" not in res.output
        (small / "filler").unlink()
        ok = _cli(data, "import", str(few))
        assert ok.exit_code == 0, ok.output
        with connect(f"duckdb:///{data / 'jicai.duckdb'}", "read") as wh:
            assert wh.con.con.execute("SELECT count(*) FROM orders").fetchone() == (10,)
    finally:
        subprocess.run(["umount", str(small)], capture_output=True)
