"""``jicai warehouse copy``: the checksum that verifies it, the DuckDB → PostgreSQL → DuckDB round trip, a copy
killed midway and resumed, a destination that corrupts or cannot be reached, and the docs."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import re
import shutil
import struct
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from tests.conftest import PG_URL, kill_at_marker, throwaway_pg_database, unavailable
from tests.reference.random_data import AS_OFS, random_tables
from tests.test_monitor_reference import assert_frames_equal
from typer.testing import CliRunner

from jicai.cli import app
from jicai.ingest import facts
from jicai.measures.monitor import monitor
from jicai.policy import load_policy
from jicai.store import FACTS_STATE, connect
from jicai.store import checksum as checksum_module
from jicai.store.checksum import checksum
from jicai.store.copy import CopyMismatch, copy_warehouse
from jicai.store.copy_engines import STATE_TABLE, TEMP_PREFIX, DuckDBDestination

ROOT = Path(__file__).resolve().parents[1]

TABLE = pa.table({
    "code": pa.array(["A1", "", None, "中选"], pa.string()),
    "n": pa.array([1, 2, None, -4], pa.int64()),
    "x": pa.array([0.5, -0.0, 3.0, None], pa.float64()),
    "day": pa.array([dt.date(2024, 2, 29), None, dt.date(1970, 1, 1), dt.date(2024, 3, 1)], pa.date32()),
    "at": pa.array([dt.datetime(2024, 2, 29, 23, 59, 59, 999999), dt.datetime(2024, 3, 1), None,
                    dt.datetime(2024, 3, 1, 8)], pa.timestamp("us")),
    "ok": pa.array([True, False, None, True]),
})


def _digest(t: pa.Table) -> str:
    return checksum(t).hexdigest()


def _set(t: pa.Table, column: str, row: int, value: object) -> pa.Table:
    values = t[column].to_pylist()
    values[row] = value
    return t.set_column(t.schema.get_field_index(column), column, pa.array(values, t.schema.field(column).type))


# -- the checksum ------------------------------------------------------------------------------------------------
M64 = 2**64 - 1


def _mix(x: int) -> int:
    x &= M64
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & M64
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def _b8(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def _reference_digest(t: pa.Table) -> str:
    """The checksum as the module docstring defines it, one Python value at a time (the module works on whole
    Arrow buffers with numpy): the two must agree."""
    kinds = {pa.string(): "string", pa.int64(): "int", pa.float64(): "float", pa.date32(): "date",
             pa.timestamp("us"): "timestamp", pa.bool_(): "bool"}

    def value(kind: str, v: object) -> int:
        if kind == "string":
            data = v.encode("utf-8")
            return _mix(sum(_mix(b | (i << 8)) for i, b in enumerate(data)) ^ _mix(len(data)))
        if kind == "float":
            return _mix(struct.unpack("<Q", struct.pack("<d", 0.0 if v == 0 else v))[0])
        if kind == "date":
            return _mix((v - dt.date(1970, 1, 1)).days)
        if kind == "timestamp":
            return _mix((v - dt.datetime(1970, 1, 1)) // dt.timedelta(microseconds=1))
        return _mix(int(v))

    a = b = 0
    for row in t.to_pylist():
        h = 0x9E3779B97F4A7C15
        for name in sorted(row):
            kind = kinds[t.schema.field(name).type]
            seed = _b8(name)
            col = _mix(_b8("null") ^ seed) if row[name] is None else _mix(value(kind, row[name]) ^ _b8(kind) ^ seed)
            h = _mix(h * 31 + col)
        a, b = (a + h) & M64, (b + _mix(h ^ 0xD6E8FEB86659FD93)) & M64
    return f"{a:016x}{b:016x}"


def test_checksum_agrees_with_a_value_by_value_reference(monkeypatch):
    assert checksum(TABLE).rows == 4
    assert _digest(TABLE) == _reference_digest(TABLE)
    # an Arrow slice (buffers with an offset) and strings hashed a few rows at a time give the same
    assert _digest(TABLE.slice(1, 3)) == _reference_digest(TABLE.slice(1, 3))
    monkeypatch.setattr(checksum_module, "_STRING_SLICE", 3)
    assert _digest(TABLE) == _reference_digest(TABLE)
    assert _digest(TABLE.slice(0, 0)) == "0" * 32


def test_checksum_ignores_row_and_column_order_and_batching():
    shuffled = TABLE.take([3, 1, 0, 2]).select(["ok", "at", "x", "code", "day", "n"])
    assert _digest(shuffled) == _digest(TABLE)
    assert checksum(pa.Table.from_batches(TABLE.to_batches(max_chunksize=1))).hexdigest() == _digest(TABLE)


@pytest.mark.parametrize("column,row,value", [
    ("code", 1, None),          # "" → NULL
    ("code", 2, ""),            # NULL → ""
    ("code", 0, "A2"),
    ("n", 2, 0),                # NULL → 0
    ("n", 0, 2),
    ("x", 0, 0.5000000000000001),
    ("day", 0, dt.date(2024, 3, 1)),
    ("at", 0, dt.datetime(2024, 3, 1)),                       # one microsecond later
    ("at", 1, dt.datetime(2024, 2, 29, 23, 59, 59, 999999)),  # one microsecond earlier
    ("ok", 1, None),
])
def test_one_changed_value_changes_the_checksum(column, row, value):
    assert _digest(_set(TABLE, column, row, value)) != _digest(TABLE)


def test_lost_duplicated_or_moved_values_change_the_checksum():
    assert _digest(TABLE.slice(0, 3)) != _digest(TABLE)
    assert _digest(pa.concat_tables([TABLE, TABLE.slice(0, 1)])) != _digest(TABLE)
    # the same two values swapped between two columns of one type
    a = pa.table({"p": ["x"], "q": ["y"]})
    assert _digest(a) != _digest(pa.table({"p": ["y"], "q": ["x"]}))
    # two duplicate rows do not cancel out
    assert _digest(pa.concat_tables([TABLE, TABLE])) != _digest(TABLE.slice(0, 0))
    # a string's bytes moved between rows
    assert _digest(pa.table({"s": ["ab", "c"]})) != _digest(pa.table({"s": ["a", "bc"]}))


def test_checksum_is_the_same_for_the_types_engines_give_back():
    # what Spark or PostgreSQL may hand back for the same values: aware timestamps (UTC instants of Beijing wall
    # clock), nanoseconds, int32, large strings, -0.0 for 0.0
    variant = TABLE.set_column(4, "at", pc.assume_timezone(TABLE["at"], "Asia/Shanghai").cast(pa.timestamp("us", "UTC")))
    assert _digest(variant) == _digest(TABLE)
    assert _digest(TABLE.set_column(4, "at", TABLE["at"].cast(pa.timestamp("ns")))) == _digest(TABLE)
    assert _digest(TABLE.set_column(0, "code", TABLE["code"].cast(pa.large_string()))) == _digest(TABLE)
    assert _digest(pa.table({"n": pa.array([1], pa.int32())})) == _digest(pa.table({"n": pa.array([1], pa.int64())}))
    assert _digest(pa.table({"x": [0.0]})) == _digest(pa.table({"x": [-0.0]}))
    # but an integer is not the float of the same value
    assert _digest(pa.table({"n": [1]})) != _digest(pa.table({"n": [1.0]}))


# -- copies ------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def province() -> dict[str, pa.Table]:
    return random_tables(seed=11, order_lines=400)


def _duckdb_source(path: Path, tables: dict[str, pa.Table]) -> str:
    url = f"duckdb:///{path}"
    with connect(url) as wh:
        for name, t in tables.items():
            wh.write_table(name, t)
        if "orders" in tables:
            facts.rebuild(wh)  # the compact facts and their state travel too
            assert facts.complete(wh)
    return url


def _digests(url: str, lake: str | None = None) -> dict[str, tuple[int, str]]:
    from jicai.store.copy import copyable
    from jicai.store.copy_engines import read_table

    with connect(url, "read", **({"lake": lake} if lake else {})) as wh:
        out = {}
        for name in copyable(wh.list_tables()):
            c = checksum(read_table(wh, name))
            out[name] = (c.rows, c.hexdigest())
        return out


def _assert_same_monitoring(url: str, expected_url: str) -> None:
    """The monitoring's rows off both warehouses: the same rows, floats equal to 1e-9 (DuckDB sums in parallel,
    so a sum's last bit depends on the order its threads meet, even on one file)."""
    frames = []
    for u in (url, expected_url):
        with connect(u, "read") as wh:
            frames.append(monitor(wh, AS_OFS[2], policy=load_policy()).to_pandas())
    assert len(frames[1]) > 0
    assert_frames_equal(*frames)


def _copy(data_dir: Path, src: str, *args: str, lake: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "JICAI_DATA_DIR": str(data_dir), "JICAI_WAREHOUSE_URL": src, "COLUMNS": "200"}
    if lake:
        env["JICAI_LAKE"] = lake
    return subprocess.run([sys.executable, "-m", "jicai.cli", "warehouse", "copy", *args], env=env,
                          capture_output=True, text=True, timeout=600)


@contextlib.contextmanager
def _empty_warehouse(engine: str, path: Path) -> Iterator[str]:
    """The URL of a new, empty warehouse on ``engine`` (a PostgreSQL database dropped afterwards)."""
    if engine == "duckdb":
        yield f"duckdb:///{path}"
        return
    with throwaway_pg_database("jicai_copy") as db:
        u = urlparse(PG_URL)
        yield f"postgres://{u.username or 'postgres'}@{u.hostname}:{u.port or 5432}/{db}"


@pytest.mark.postgres
@pytest.mark.slow
def test_duckdb_to_postgres_and_back_is_identical(tmp_path, province):
    src = _duckdb_source(tmp_path / "src.duckdb", province)
    back = f"duckdb:///{tmp_path / 'back.duckdb'}"
    with _empty_warehouse("postgres", tmp_path / "unused") as pg:
        there = _copy(tmp_path, src, "--to", pg)
        assert there.returncode == 0, there.stderr
        again = _copy(tmp_path, pg, "--to", back)
        assert again.returncode == 0, again.stderr
        expected = _digests(src)
        assert _digests(pg) == expected
        with connect(pg, "read") as wh:
            assert facts.complete(wh)
            state = {r["table_name"]: r for r in wh.table(STATE_TABLE).to_pyarrow().to_pylist()}
            assert {n: (r["rows"], r["checksum"]) for n, r in state.items()} == expected
    assert _digests(back) == expected
    assert expected["orders"][0] == province["orders"].num_rows
    # the monitoring reads the same figures off the copy
    _assert_same_monitoring(back, src)
    # progress on stderr per table, the summary on stdout with each table's rows and checksum
    assert re.search(r"orders: [\d,]+ 行 / rows,[\d.]+ s,[\d,]+ 行/秒 / rows/s", there.stderr), there.stderr
    rows, digest = expected["orders"]
    assert re.search(rf"│ orders\s+│ {rows:,}\s+│ {digest} │", there.stdout), there.stdout


@pytest.mark.spark
@pytest.mark.slow
def test_duckdb_to_spark_connect_and_back_is_identical(tmp_path, province):
    from jicai.store.spark_connect import ConnectUnreachable

    url = os.environ.get("JICAI_TEST_SPARK_URL", "").strip() or "sc://127.0.0.1:15002"
    shared = os.environ.get("JICAI_TEST_SPARK_LAKE", "").strip()  # a folder the cluster reaches too
    lake = str(Path(shared) / f"copy-{uuid.uuid4().hex[:10]}") if shared else str(tmp_path / "lake")
    try:
        connect(url, "read", lake=lake).close()
    except ConnectUnreachable as exc:
        unavailable(f"Spark Connect not reachable at {url}: {exc.en}")
    try:
        src = _duckdb_source(tmp_path / "src.duckdb", province)
        there = _copy(tmp_path, src, "--to", url, "--to-lake", lake)
        assert there.returncode == 0, there.stderr
        expected = _digests(src)
        assert _digests(url, lake) == expected
        with connect(url, "read", lake=lake) as wh:
            assert facts.complete(wh)
            state = wh.table(STATE_TABLE).to_pyarrow().to_pylist()
            assert {r["table_name"]: (r["rows"], r["checksum"]) for r in state} == expected
        back = f"duckdb:///{tmp_path / 'back.duckdb'}"
        again = _copy(tmp_path, url, "--to", back, lake=lake)
        assert again.returncode == 0, again.stderr
        assert _digests(back) == expected
        _assert_same_monitoring(back, src)
        same = _copy(tmp_path, url, "--to", url, lake=lake)  # JICAI_LAKE names the source's lake: the same
        assert same.returncode == 2 and "the destination uses the current warehouse's lake" in same.stderr
        # started again with --resume after it finished: every table is skipped, nothing rewritten
        resumed = _copy(tmp_path, src, "--to", url, "--to-lake", lake, "--resume")
        assert resumed.returncode == 0, resumed.stderr
        assert resumed.stderr.count("skipped") == len(expected), resumed.stderr
    finally:
        if shared:
            shutil.rmtree(lake, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["duckdb", "postgres"])
def test_killed_copy_resumes_where_it_stopped(tmp_path, province, engine):
    with _empty_warehouse(engine, tmp_path / "dst.duckdb") as dst:
        _kill_and_resume(tmp_path, province, dst)


def _kill_and_resume(tmp_path: Path, province: dict[str, pa.Table], dst: str) -> None:
    src = _duckdb_source(tmp_path / "src.duckdb", province)
    env = {**os.environ, "JICAI_DATA_DIR": str(tmp_path), "JICAI_WAREHOUSE_URL": src,
           "JICAI_TEST_PAUSE_IN_COPY": "2:60"}
    proc = subprocess.Popen([sys.executable, "-m", "jicai.cli", "warehouse", "copy", "--to", dst], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # two tables published, the third staged and verified
    line = kill_at_marker(proc, "JICAI_PAUSED_IN_COPY", 300)
    third = line.split()[-1]
    with connect(dst, "read") as wh:
        tables = wh.list_tables()
        done = {r["table_name"] for r in wh.table(STATE_TABLE).to_pyarrow().to_pylist()}
    assert len(done) == 2 and done <= set(tables)
    assert third not in tables and any(t.startswith(TEMP_PREFIX) for t in tables)  # staged, never published
    resumed = _copy(tmp_path, src, "--to", dst, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    for name in done:
        assert f"{name}: " in resumed.stderr and "skipped" in resumed.stderr.split(f"{name}: ", 1)[1].split("\n")[0]
    assert f"{third}: " in resumed.stderr and "verified" in resumed.stderr.split(f"{third}: ", 1)[1].split("\n")[0]
    expected = _digests(src)
    assert _digests(dst) == expected
    with connect(dst, "read") as wh:
        assert not [t for t in wh.list_tables() if t.startswith(TEMP_PREFIX)]
        assert facts.complete(wh)
    # the same end state as a copy never interrupted
    whole = f"duckdb:///{tmp_path / 'whole.duckdb'}"
    assert _copy(tmp_path, src, "--to", whole).returncode == 0
    assert _digests(whole) == expected


@pytest.mark.slow
def test_resume_recopies_a_table_whose_source_changed(tmp_path, province):
    src = _duckdb_source(tmp_path / "src.duckdb", {k: province[k] for k in ("institutions", "batches")})
    dst = f"duckdb:///{tmp_path / 'dst.duckdb'}"
    assert _copy(tmp_path, src, "--to", dst).returncode == 0
    with connect(src) as wh:  # the source changes after the copy (a new data version)
        wh.write_table("batches", province["batches"].slice(0, 1))
    resumed = _copy(tmp_path, src, "--to", dst, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "skipped" not in resumed.stderr
    assert _digests(dst)["batches"] == (1, checksum(province["batches"].slice(0, 1)).hexdigest())


def test_a_corrupted_landing_is_refused_and_the_old_table_kept(tmp_path, province, monkeypatch):
    src = connect("duckdb://")
    src.write_table("orders", province["orders"])
    dst = connect(f"duckdb:///{tmp_path / 'dst.duckdb'}")
    dst.write_table("orders", province["orders"].slice(0, 5))
    read = DuckDBDestination.read

    def corrupt(self, staged):  # the destination hands back one value changed
        t = read(self, staged).read_all()
        bumped = pc.add(t["quantity"], pa.array([1.0] + [0.0] * (t.num_rows - 1)))
        t = t.set_column(t.schema.get_field_index("quantity"), "quantity", bumped)
        return pa.RecordBatchReader.from_batches(t.schema, t.to_batches())

    monkeypatch.setattr(DuckDBDestination, "read", corrupt)
    with pytest.raises(CopyMismatch) as err:
        copy_warehouse(src, dst)
    n = province["orders"].num_rows
    assert "orders" in err.value.zh and "orders" in err.value.en
    assert err.value.en.count(f"{n:,} rows") == 2 and len(re.findall(r"checksum [0-9a-f]{32}", err.value.en)) == 2
    assert dst.table("orders").count().execute() == 5  # unchanged
    assert not [t for t in dst.list_tables() if t.startswith(TEMP_PREFIX)]
    src.close()
    dst.close()


def test_copying_a_fact_source_drops_the_destination_facts_state(tmp_path, province):
    src = connect("duckdb://")
    src.write_table("orders", province["orders"])
    dst = connect(f"duckdb:///{tmp_path / 'dst.duckdb'}")
    dst.write_table(FACTS_STATE, pa.table({"complete": [True], "built_at": pa.array([dt.datetime(2024, 1, 1)])}))
    copy_warehouse(src, dst, ["orders"])
    assert FACTS_STATE not in dst.list_tables()  # the destination's facts no longer match its orders
    src.close()
    dst.close()


def test_unreachable_destination_is_a_bilingual_error(tmp_path, province):
    src = _duckdb_source(tmp_path / "src.duckdb", {"batches": province["batches"]})
    res = _copy(tmp_path, src, "--to", "postgres://jicai:s3cret@127.0.0.1:1/nowhere")
    assert res.returncode == 2
    assert "无法打开目标数据仓库 postgres://jicai:***@127.0.0.1:1/nowhere" in res.stderr
    assert "cannot open the destination warehouse postgres://jicai:***@127.0.0.1:1/nowhere" in res.stderr
    assert "s3cret" not in res.stderr and "Traceback" not in res.stderr


def test_unknown_table_and_same_warehouse_are_refused(tmp_path, province):
    src = _duckdb_source(tmp_path / "src.duckdb", {"batches": province["batches"]})
    res = _copy(tmp_path, src, "--to", src)
    assert res.returncode == 2 and "the destination is the current warehouse" in res.stderr
    res = _copy(tmp_path, src, "--to", f"duckdb:///{tmp_path / 'd.duckdb'}", "--tables", "batches,nope")
    assert res.returncode == 2 and "no table(s): nope" in res.stderr and "Traceback" not in res.stderr


def test_copy_and_its_options_are_documented():
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    assert "## Moving a warehouse" in text and "`jicai warehouse copy" in text
    res = CliRunner().invoke(app, ["warehouse", "copy", "--help"])
    options = sorted(set(re.findall(r"--[a-z][a-z-]+", res.output)) - {"--help"})
    assert options and not [o for o in options if f"`{o}" not in text], options
    for name in ("JICAI_WAREHOUSE_URL", STATE_TABLE):
        assert name in text
