"""The importer's sink on a Spark Connect lake (jicai.ingest.spark_sink), operation by operation, with the
small tables' statements on the client (jicai.ingest.spark_mirror) and with all of them on the cluster.

Each statement shape the importer sends runs on DuckDB and through the SparkSink on the same rows in the lake;
the tables must then hold the same rows. The keyed operations (insert, delete_keys, insert_missing, absent,
query_with) are checked against hand-written expectations, and a write that would change nothing must leave
the table's version alone (a rewrite of the order lines costs a pass over all of them).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import uuid
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from conftest import unavailable
from jicai.ingest import stage
from jicai.ingest.loader import import_paths
from jicai.ingest.overrides import patch_sql, reapply_sql
from jicai.ingest.sink import sink_for
from jicai.ingest.stage import Staged
from jicai.store import connect
from test_ingest_rewrite import FACTS, LOG, VARIETIES

URL = os.environ.get("JICAI_TEST_SPARK_URL", "").strip() or "sc://127.0.0.1:15002"
LAKE_ROOT = os.environ.get("JICAI_TEST_SPARK_LAKE", "").strip()


def spark(test):
    return pytest.mark.spark(pytest.mark.slow(test))


@pytest.fixture(params=["client", "cluster"])
def lake_wh(tmp_path: Path, request, monkeypatch):
    """A Connect warehouse over a fresh lake (tiny tables: 4 shuffle partitions, not the server's 200), each
    test twice: with the small tables' statements run on the client (jicai.ingest.spark_mirror, the default)
    and with every statement on the cluster (``JICAI_SPARK_CLIENT_TABLE_MB=0``, as for tables over the limit)."""
    from jicai.store.spark_connect import split_url

    monkeypatch.setenv("JICAI_SPARK_CLIENT_TABLE_MB", "" if request.param == "client" else "0")

    host, port, _ = split_url(URL)
    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError as exc:
        unavailable(f"Spark Connect not reachable at {URL}: {exc}")
    root = Path(LAKE_ROOT) if LAKE_ROOT else tmp_path
    # a name of its own: tmp_path's name is cut to 30 characters and numbered per worker, so two workers (or a
    # run before this one) sharing the lake root would write into one lake and lose each other's commits
    lake = root / f"lake-{uuid.uuid4().hex[:12]}"
    wh = connect(URL, lake=str(lake))
    wh.session.conf.set("spark.sql.shuffle.partitions", "4")
    yield wh
    wh.close()
    shutil.rmtree(lake, ignore_errors=True)


def _load(wh, setup: str) -> duckdb.DuckDBPyConnection:
    """The tables of ``setup`` in a DuckDB database and, with the same rows, in the lake (one commit)."""
    con = duckdb.connect()
    con.execute(setup)
    names = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
    with wh.transaction() as tx:
        for n in names:
            tx.write_arrow(n, con.execute(f'SELECT * FROM "{n}"').to_arrow_table())
    return con


def _sorted(rows: list) -> list[tuple]:
    return sorted((tuple(r) for r in rows), key=repr)


def _spark_rows(wh, table: str) -> list[tuple]:
    with wh.transaction() as tx:
        return _sorted(tx.sql(f"SELECT * FROM `{table}`").collect())


SHAPES = [
    (LOG, "_quarantine", 'DELETE FROM "_quarantine" WHERE batch_id IN (SELECT load_id FROM "_load_log" '
                         'WHERE sha256 = ? AND "table" = ?)', ("h2", "orders")),
    (LOG, "_load_log", "UPDATE \"_load_log\" SET status = 'failed', finished_at = ? WHERE load_id = ? AND status = 'started'",
     (dt.datetime(2024, 1, 5, 9, 30, 1, 250), "b")),
    (LOG, "_load_log", 'INSERT INTO "_load_log" (load_id, file, status) VALUES (?, ?, \'ok?\')', ("e", "C:\\导入\\it's?.csv")),
    (VARIETIES, "varieties", reapply_sql("varieties"), ()),
    (VARIETIES, "varieties", patch_sql("varieties", ["variety_id"], ["special", "special_end"]), ("demand_change", None, "v2")),
    (FACTS, "_facts_ordered_month", "DELETE FROM \"_facts_ordered_month\" WHERE part_month IN (DATE '2024-01-01')", ()),
    (FACTS, "_facts_pending", 'INSERT INTO "_facts_pending" VALUES (?)', (dt.date(2024, 2, 1),)),
    (FACTS, "_facts_state", 'INSERT INTO "_facts_state" VALUES (TRUE, ?)', (dt.datetime(2024, 6, 1, 8, 0, 0),)),
]


@spark
@pytest.mark.parametrize("setup,table,sql,params", SHAPES, ids=[s[2][:40] for s in SHAPES])
def test_each_statement_shape_leaves_the_duckdb_rows(lake_wh, setup, table, sql, params):
    con = _load(lake_wh, setup)
    con.execute(sql, list(params))
    with lake_wh.transaction() as tx:
        sink_for(lake_wh.engine, tx).execute(sql, params)
    assert _spark_rows(lake_wh, table) == _sorted(con.execute(f'SELECT * FROM "{table}"').fetchall())


@spark
def test_create_drop_and_has_table(lake_wh):
    with lake_wh.transaction() as tx:
        sink = sink_for(lake_wh.engine, tx)
        sink.execute('CREATE TABLE IF NOT EXISTS "_facts_pending" (part_month DATE)')
        sink.execute('CREATE TABLE IF NOT EXISTS "_facts_pending" (part_month DATE)')  # exists: nothing
        sink.execute('INSERT INTO "_facts_pending" VALUES (?)', (dt.date(2024, 3, 1),))
        assert sink.has_table("_facts_pending") and not sink.has_table("_facts_state")
        assert sink.fetch('SELECT part_month FROM "_facts_pending"') == [(dt.date(2024, 3, 1),)]
    assert "_facts_pending" in lake_wh.lake.current().tables
    with lake_wh.transaction() as tx:
        sink = sink_for(lake_wh.engine, tx)
        sink.execute('DROP TABLE IF EXISTS "_facts_pending"')
        sink.execute('DROP TABLE IF EXISTS "_facts_pending"')
        assert not sink.has_table("_facts_pending")
    assert "_facts_pending" not in lake_wh.lake.current().tables


def _keyed(wh) -> None:
    with wh.transaction() as tx:
        tx.write_arrow("t", pa.table({"k": ["a", "b", "c"], "n": [1, 2, 3], "d": [dt.date(2024, 1, 1)] * 3}))


@spark
def test_keyed_writes(lake_wh):
    _keyed(lake_wh)
    with lake_wh.transaction() as tx:
        sink = sink_for(lake_wh.engine, tx)
        sink.delete_keys("t", pa.table({"k": ["b", "x"]}))
        # column order of the data need not be the table's; a missing column is NULL
        sink.insert("t", pa.table({"n": [20], "k": ["b"]}).to_reader())
        added = sink.insert_missing("t", ["k"], pa.table({"k": ["a", "d"], "n": [100, 4], "d": [None, None]},
                                                         schema=pa.schema([("k", pa.string()), ("n", pa.int64()),
                                                                           ("d", pa.date32())])).to_reader())
        assert added == 1
    assert _spark_rows(lake_wh, "t") == _sorted([("a", 1, dt.date(2024, 1, 1)), ("b", 20, None),
                                                 ("c", 3, dt.date(2024, 1, 1)), ("d", 4, None)])


@spark
def test_the_first_rows_of_an_empty_table_are_written_by_the_client(lake_wh, monkeypatch):
    """Rows with the columns and types of a table the importer created empty become its next version as the
    client wrote them (no Spark job); a table with rows, or rows of other columns, go through the cluster."""
    monkeypatch.setenv("JICAI_SPARK_CLIENT_TABLE_MB", "0")  # every table on the cluster path
    schema = pa.schema([("k", pa.string()), ("n", pa.int64()), ("d", pa.date32())])
    with lake_wh.transaction() as tx:
        tx.create("t", schema)
        tx.create("u", schema)
    with lake_wh.transaction() as tx:
        sink = sink_for(lake_wh.engine, tx)
        sink.insert("t", pa.table({"k": ["a", "b"], "n": [1, 2], "d": [dt.date(2024, 1, 1), None]}, schema=schema).to_reader())
        assert lake_wh.lake.spark_schema(tx.uri("t")) is None  # the client's Parquet
        sink.insert("t", pa.table({"k": ["c"], "n": [3], "d": [None]}, schema=schema).to_reader())
        assert lake_wh.lake.spark_schema(tx.uri("t")) is not None  # a union, written by the cluster
        sink.insert("u", pa.table({"n": [5], "k": ["e"]}).to_reader())  # not the table's columns
        assert lake_wh.lake.spark_schema(tx.uri("u")) is not None
    assert _spark_rows(lake_wh, "t") == _sorted([("a", 1, dt.date(2024, 1, 1)), ("b", 2, None), ("c", 3, None)])
    assert _spark_rows(lake_wh, "u") == [("e", 5, None)]


@spark
def test_a_write_that_changes_nothing_keeps_the_version(lake_wh):
    _keyed(lake_wh)
    before = lake_wh.lake.current()
    with lake_wh.transaction() as tx:
        sink = sink_for(lake_wh.engine, tx)
        sink.delete_keys("t", pa.table({"k": ["x", "y"]}))
        assert sink.insert_missing("t", ["k"], pa.table({"k": ["a"], "n": [9], "d": [dt.date(2024, 1, 1)]}).to_reader()) == 0
    assert lake_wh.lake.current() == before  # nothing written, nothing committed


@spark
def test_absent_and_query_with_take_staged_rows(lake_wh, tmp_path):
    _keyed(lake_wh)
    with stage.private(tmp_path) as area:
        area.con.execute("CREATE TABLE typed AS SELECT * FROM (VALUES ('a'), ('z'), ('z'), (NULL), ('y')) v(code)")
        values = Staged(area.con, "SELECT code AS v FROM typed", pa.schema([("v", pa.string())]))
        with lake_wh.transaction() as tx:
            sink = sink_for(lake_wh.engine, tx)
            assert sink.absent("t", "k", values, "unknown_code") == 2
            got = sink.query_with(pa.table({"k": ["a", "c", "q"]}), "t",
                                  "SELECT s.k, t.n FROM {src} s JOIN \"t\" t ON t.k = s.k ORDER BY s.k")
        assert sorted(area.con.execute("SELECT v FROM unknown_code").fetchall()) == [("y",), ("z",)]
    assert got == [("a", 1), ("c", 3)]


@spark
def test_an_error_in_the_transaction_publishes_nothing(lake_wh):
    _keyed(lake_wh)
    before = lake_wh.lake.current()
    with pytest.raises(RuntimeError), lake_wh.transaction() as tx:
        sink_for(lake_wh.engine, tx).insert("t", pa.table({"k": ["e"], "n": [5]}).to_reader())
        raise RuntimeError("the import failed")
    assert lake_wh.lake.current() == before
    assert [r[0] for r in _spark_rows(lake_wh, "t")] == ["a", "b", "c"]


def test_the_in_process_spark_warehouse_is_refused_in_both_languages(tmp_path):
    class InProcess:  # what connect("pyspark://local[2]") opens: no transactions
        engine, url, supports_transactions = "pyspark", "pyspark://local[2]", False

    with pytest.raises(ValueError) as e:
        import_paths(InProcess(), [tmp_path])
    assert "不支持事务" in str(e.value) and "has no transactions" in str(e.value) and "sc://" in str(e.value)


@spark
def test_delete_insert_swaps_a_log_row_as_on_duckdb(lake_wh):
    # loader._write_log: the attempt's "started" row becomes its final row, in one new version on the lake
    con = _load(lake_wh, LOG)
    row = pa.Table.from_pylist([{"load_id": "b", "status": "ok", "rows_read": 3}],
                               schema=con.execute('SELECT * FROM "_load_log" LIMIT 0').to_arrow_table().schema)
    where = "load_id = ? AND status = 'started'"
    sink_for("duckdb", con).delete_insert("_load_log", where, ("b",), row.to_reader())
    before = lake_wh.lake.current()
    with lake_wh.transaction() as tx:
        sink_for(lake_wh.engine, tx).delete_insert("_load_log", where, ("b",), row.to_reader())
    after = lake_wh.lake.current()
    assert [t for t in after.tables if after.tables[t] != before.tables.get(t)] == ["_load_log"]  # one new version
    assert _spark_rows(lake_wh, "_load_log") == _sorted(con.execute('SELECT * FROM "_load_log"').fetchall())


@spark
def test_small_tables_are_written_on_the_client_in_the_lakes_types(lake_wh, monkeypatch):
    # a table Spark wrote, with an instant (TIMESTAMP, not TIMESTAMP_NTZ, stored as INT96) and a decimal: the
    # client's copy shows the session's wall-clock time (Beijing's, 8 hours from UTC), and its new version
    # keeps the types Spark reads
    lake_wh.session.conf.set("spark.sql.session.timeZone", "Asia/Shanghai")
    with lake_wh.transaction() as tx:
        tx.replace("ev", lake_wh.session.sql(
            "SELECT 'a' AS k, TIMESTAMP '2024-01-02 10:00:00' AS seen_at, CAST(1.25 AS DECIMAL(12, 2)) AS price"),
            keep_schema=False)
    before = lake_wh.session.table("ev").schema if "ev" in lake_wh.session.catalog.listTables() else None
    mirrored = os.environ.get("JICAI_SPARK_CLIENT_TABLE_MB") != "0"
    with lake_wh.transaction() as tx:
        if mirrored:  # the statements over small tables never reach the cluster
            monkeypatch.setattr(tx, "sql", lambda *a, **k: pytest.fail("a small table's statement ran on the cluster"))
        sink = sink_for(lake_wh.engine, tx)
        sink.insert("ev", pa.table({"k": ["b"], "seen_at": [dt.datetime(2024, 3, 4, 5, 6, 7)]}).to_reader())
        sink.execute('DELETE FROM "ev" WHERE seen_at < ?', (dt.datetime(2024, 1, 2, 10, 0, 1),))
        # as text: pyspark's collect() turns an instant into the client process's time zone, not the session's
        assert sink.fetch('SELECT k, CAST(seen_at AS VARCHAR), price FROM "ev"') == [("b", "2024-03-04 05:06:07", None)]
        monkeypatch.undo()
    version = lake_wh.lake.current().tables["ev"]
    got = lake_wh.session.sql(f"SELECT k, CAST(seen_at AS STRING) FROM parquet.`{version}`").collect()
    assert [tuple(r) for r in got] == [("b", "2024-03-04 05:06:07")]
    schema = {f.name: f.dataType.simpleString() for f in
              lake_wh.session.read.parquet(lake_wh.lake.current().tables["ev"]).schema.fields}
    assert schema == {"k": "string", "seen_at": "timestamp", "price": "decimal(12,2)"}, before
