"""The sc:// warehouse on a Spark Connect server (issue 15): what one client process writes another reads,
a connection reads one snapshot, a transaction publishes all or nothing — also when its process dies — and
the types come back as DuckDB gives them.

The server is ``$JICAI_TEST_SPARK_URL`` (started by scripts/services.sh); without it these tests are
unavailable (a failure in CI). Each test has its own lake folder (``$JICAI_TEST_SPARK_LAKE`` or temporary)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from tests.conftest import SPARK_URL, unavailable

from jicai.store import connect
from jicai.store.lake import Lake, LakeConflict

pytestmark = [pytest.mark.spark, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[1]

REGIONS = pa.table({
    "region_code": pa.array(["340000", "340100", None], pa.string()),
    "n": pa.array([2**40, -1, None], pa.int64()),
    "start_date": pa.array([date(2024, 2, 29), date(2021, 1, 1), None], pa.date32()),
    "stamp": pa.array([datetime(2024, 3, 1, 8, 30, 15, 123456), datetime(2024, 12, 31, 23, 59, 59), None],
                      pa.timestamp("us")),
})


@pytest.fixture
def lake(spark_lakes) -> str:
    if not SPARK_URL:
        unavailable("JICAI_TEST_SPARK_URL is not set: no Spark Connect server to test against")
    return spark_lakes()


def open_wh(lake: str, mode: str = "write"):
    return connect(SPARK_URL, mode, lake=lake)


def in_child(code: str, lake: str) -> subprocess.CompletedProcess:
    """``code`` in a separate Python process (a second client of the same server and lake)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + str(ROOT),
           "JICAI_WAREHOUSE_URL": SPARK_URL, "JICAI_LAKE": lake}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=env, timeout=300, cwd=ROOT)


def test_what_one_process_writes_another_reads_with_the_same_types(lake):
    with open_wh(lake) as wh:
        wh.write_table("regions", REGIONS)
        assert wh.table("regions").to_pyarrow().equals(REGIONS)
    out = in_child("""
        import json, os
        from jicai.store import connect
        with connect(os.environ["JICAI_WAREHOUSE_URL"], "read") as wh:
            t = wh.table("regions").to_pyarrow()
            print(json.dumps({"schema": [str(f.type) for f in t.schema], "rows": t.to_pylist(),
                              "tables": wh.list_tables(), "version": wh.data_version().number}, default=str))
    """, lake)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["schema"] == ["string", "int64", "date32[day]", "timestamp[us]"]
    assert sorted(map(json.dumps, got["rows"])) == sorted(map(json.dumps, [
        {"region_code": "340100", "n": -1, "start_date": "2021-01-01", "stamp": "2024-12-31 23:59:59"},
        {"region_code": "340000", "n": 2**40, "start_date": "2024-02-29", "stamp": "2024-03-01 08:30:15.123456"},
        {"region_code": None, "n": None, "start_date": None, "stamp": None},
    ]))
    assert got["tables"] == ["regions"] and got["version"] == 1


def test_a_connection_reads_the_snapshot_it_opened_on(lake):
    with open_wh(lake) as writer:
        writer.write_table("t", pa.table({"k": [1]}))
        with open_wh(lake, "read") as reader:
            assert reader.table("t").to_pyarrow().column("k").to_pylist() == [1]
            writer.write_table("t", pa.table({"k": [2, 3]}))
            writer.write_table("u", pa.table({"k": [9]}))
            assert reader.table("t").count().to_pyarrow().as_py() == 1
            assert reader.list_tables() == ["t"] and reader.data_version().number == 1
        with open_wh(lake, "read") as later:
            assert sorted(later.table("t").to_pyarrow().column("k").to_pylist()) == [2, 3]
            assert later.list_tables() == ["t", "u"] and later.data_version().number == 3


def test_a_transaction_publishes_every_table_at_once_and_sees_its_own_changes(lake):
    with open_wh(lake) as wh:
        wh.write_table("a", pa.table({"k": pa.array([1, 2], pa.int64()), "s": ["x", "y"]}))
        with open_wh(lake, "read") as before:
            with wh.transaction() as tx:
                tx.replace("a", tx.sql("SELECT k * 10 AS k, s FROM a WHERE k > ?", [1]))
                tx.replace("b", tx.upload(pa.table({"v": ["甲", None]})))
                assert tx.sql("SELECT k FROM a").collect()[0].k == 20
                assert tx.tables() == ["a", "b"]
                assert Lake(lake).current().version == 1  # nothing published yet
            assert before.list_tables() == ["a"]  # the reader's snapshot did not move
        assert Lake(lake).current().version == 2
        assert wh.table("a").to_pyarrow().to_pylist() == [{"k": 20, "s": "y"}]
        assert wh.table("b").to_pyarrow().column("v").to_pylist() == ["甲", None]
        assert not list((Path(lake) / "_jicai/staging").glob("*"))  # the upload's staging is gone


def test_replace_keeps_the_schema_of_an_existing_table(lake):
    with open_wh(lake) as wh:
        wh.write_table("t", pa.table({"a": pa.array([1], pa.int64()), "b": ["x"],
                                      "at": pa.array([datetime(2024, 1, 1, 9)], pa.timestamp("us"))}))
        with wh.transaction() as tx:
            # other order, an int column, a missing column, a timestamp given as text
            tx.replace("t", tx.sql("SELECT 'y' AS b, CAST(2 AS INT) AS a"))
        got = wh.table("t").to_pyarrow()
        assert got.schema.names == ["a", "b", "at"]
        assert got.to_pylist() == [{"a": 2, "b": "y", "at": None}] and got.schema.field("a").type == pa.int64()
        with pytest.raises(Exception, match="extra"), wh.transaction() as tx:
            tx.replace("t", tx.sql("SELECT 1 AS a, 'z' AS extra"))
        assert wh.table("t").to_pyarrow().column("b").to_pylist() == ["y"]


def test_an_exception_in_a_transaction_leaves_the_previous_versions_whole(lake):
    with open_wh(lake) as wh:
        wh.write_table("t", pa.table({"k": [1, 2, 3]}))
        tables_dir = Path(lake) / "tables/t"
        folders = set(tables_dir.iterdir())
        with pytest.raises(RuntimeError, match="mid-load"), wh.transaction() as tx:
            tx.replace("t", tx.sql("SELECT k FROM t WHERE k = 1"))
            tx.drop("gone")
            tx.create("new", pa.schema([("x", pa.string())]))
            assert tx.sql("SELECT count(*) AS n FROM t").collect()[0].n == 1
            raise RuntimeError("mid-load")
        assert set(tables_dir.iterdir()) == folders  # the transaction's new folders are deleted
        assert not (Path(lake) / "tables/new").exists() or not list((Path(lake) / "tables/new").iterdir())
        assert Lake(lake).current().version == 1
        assert sorted(wh.table("t").to_pyarrow().column("k").to_pylist()) == [1, 2, 3]  # views re-pointed
        assert wh.session.sql("SELECT count(*) AS n FROM t").collect()[0].n == 3


def test_a_client_killed_before_its_commit_leaves_the_previous_version_whole(lake):
    with open_wh(lake) as wh:
        wh.write_table("orders", pa.table({"k": [1, 2, 3]}))
    out = in_child("""
        import os
        from jicai.store import connect
        wh = connect(os.environ["JICAI_WAREHOUSE_URL"])
        with wh.transaction() as tx:
            tx.replace("orders", tx.sql("SELECT k FROM orders UNION ALL SELECT k + 100 FROM orders"))
            tx.replace("other", tx.sql("SELECT 1 AS x"))
            print("written", flush=True)
            os._exit(9)  # killed between writing the new versions and publishing them
    """, lake)
    assert out.returncode == 9 and "written" in out.stdout, out.stderr
    assert Lake(lake).current().version == 1
    assert len(list((Path(lake) / "tables/orders").iterdir())) == 2  # the dead client's folder is there, unnamed
    with open_wh(lake, "read") as wh:
        assert wh.list_tables() == ["orders"]
        assert sorted(wh.table("orders").to_pyarrow().column("k").to_pylist()) == [1, 2, 3]
    assert Lake(lake).vacuum(keep=1, grace_seconds=0) != []  # and vacuum clears it once it is old enough
    assert len(list((Path(lake) / "tables/orders").iterdir())) == 1


def test_the_second_of_two_writers_over_the_same_base_is_refused_and_changes_nothing(lake):
    with open_wh(lake) as first, open_wh(lake) as second:
        first.write_table("t", pa.table({"k": [1]}))
        with pytest.raises(LakeConflict), second.transaction() as tx:
            tx.replace("t", tx.sql("SELECT 2 AS k"))
            first.write_table("t", pa.table({"k": [3]}))  # another writer commits meanwhile
        assert Lake(lake).current().version == 2
        with open_wh(lake, "read") as wh:
            assert wh.table("t").to_pyarrow().column("k").to_pylist() == [3]


def test_write_table_of_a_fact_source_drops_the_facts_state_in_the_same_commit(lake):
    with open_wh(lake) as wh:
        wh.write_table("_facts_state", pa.table({"done": [True]}))
        wh.write_table("orders", pa.table({"k": [1]}))
        assert wh.list_tables() == ["orders"] and Lake(lake).current().version == 2


def test_write_table_of_an_ibis_expression_is_written_by_the_cluster(lake):
    with open_wh(lake) as wh:
        wh.write_table("t", REGIONS)
        t = wh.table("t")
        wh.write_table("u", t.filter(t.n > 0).select("region_code", "stamp"))
        assert wh.table("u").to_pyarrow().to_pylist() == [
            {"region_code": "340000", "stamp": datetime(2024, 3, 1, 8, 30, 15, 123456)}]


def test_closing_a_session_leaves_the_other_sessions_their_release_pool():
    """pyspark 4.0 shuts down the thread pool all of a process's Connect sessions share when any one session
    closes (also from the garbage collector, in the middle of another session's call): with the pool kept,
    a call handed to it after such a close still runs."""
    from pyspark.sql.connect.client.reattach import ExecutePlanResponseReattachableIterator as Iterator_

    from jicai.store.spark_connect import keep_release_pool

    keep_release_pool()
    pool = Iterator_._get_or_create_release_thread_pool()
    Iterator_.shutdown()  # what SparkConnectClient.close() calls
    assert pool.submit(lambda: 42).result(timeout=10) == 42
    assert Iterator_._get_or_create_release_thread_pool() is pool


def test_a_table_of_several_files_comes_back_whole_one_query_per_file(lake, monkeypatch):
    """The copy's read-back and a copy out of the lake read one file per query (the Connect server's result
    limit), with small splits that put the session's setting back afterwards."""
    from jicai.store import copy_engines
    from jicai.store import lake as lake_module

    monkeypatch.setattr(lake_module, "ROWS_PER_FILE", 2)
    rows = pa.table({"k": pa.array(range(7), pa.int64()), "s": pa.array(list("abcdefg"), pa.string())})
    with open_wh(lake) as wh:
        wh.write_table("several", pa.Table.from_batches(rows.to_batches(max_chunksize=1)))  # a batch a row
        uri = wh.manifest.tables["several"]
        assert len(wh.lake.files(uri)) == 4  # 2 + 2 + 2 + 1 rows
        wh.session.conf.set(copy_engines.SPLIT_CONF, "64m")
        queries = []
        real = copy_engines.spark_batches
        monkeypatch.setattr(copy_engines, "spark_batches", lambda df: queries.append(df) or real(df))
        back = copy_engines.read_table_at(wh, uri).read_all()
        assert len(queries) == 4
        assert sorted(back.column("k").to_pylist()) == list(range(7))
        assert dict(zip(back.column("k").to_pylist(), back.column("s").to_pylist(), strict=True)) == dict(enumerate("abcdefg"))
        assert wh.session.conf.get(copy_engines.SPLIT_CONF) == "64m"


def test_a_version_opened_with_its_footers_schema_reads_as_spark_infers_it(lake):
    from jicai.store.spark_connect import read_version

    with open_wh(lake) as wh:
        wh.write_table("t", REGIONS)
        t = wh.table("t")
        # written by the cluster: its footer carries Spark's schema (decimal and instant columns too)
        wh.write_table("u", t.mutate(paid=t.n.cast("decimal(18, 2)"), at=t.stamp.cast("timestamp('UTC')")))
        uri = wh.manifest.tables["u"]
        assert wh.lake.spark_schema(uri) is not None
        inferred = wh.session.read.parquet(uri)
        given = read_version(wh.session, wh.lake, uri)
        assert given.schema == inferred.schema
        assert given.toArrow().equals(inferred.toArrow())


def test_a_version_the_client_wrote_is_opened_with_the_schema_spark_would_infer(lake):
    """No inference job for a client-written version (the small tables, a first load): its Arrow schema gives
    the Spark schema, the same as Spark's own inference — for every table of the contract, and instants."""
    from jicai.contract.arrow import empty
    from jicai.contract.tables import TABLES
    from jicai.store.spark_connect import client_schema, read_version

    at = pa.array([datetime(2024, 1, 1, 8), None, datetime(2024, 12, 31, 23, 59)], pa.timestamp("us", "UTC"))
    written = {"regions": REGIONS.append_column("at", at), **{f"c_{name}": empty(name) for name in TABLES}}
    with open_wh(lake) as wh:
        for name, data in written.items():
            folder = wh.lake.new_version_dir(name)
            wh.lake.write_arrow(folder, data)
            assert wh.lake.spark_schema(folder) is None
            assert client_schema(wh.lake.arrow_schema(folder)) is not None, name
            inferred = wh.session.read.parquet(folder)
            given = read_version(wh.session, wh.lake, folder)
            assert given.schema == inferred.schema, name
            if name == "regions":
                assert given.toArrow().equals(inferred.toArrow())
