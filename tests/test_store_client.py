"""What runs where on a Spark Connect warehouse (jicai.store.spark_client): an expression over small tables runs on
the client from the lake's files, one over order lines on the cluster, and both read the same rows."""

from __future__ import annotations

from datetime import date, datetime

import ibis
import pyarrow as pa
import pytest
from tests.conftest import SPARK_URL, unavailable

from jicai.errors import BilingualError
from jicai.store import spark_client


def rows(table: pa.Table) -> list[tuple]:
    return sorted((tuple(r.values()) for r in table.to_pylist()), key=repr)


SMALL = pa.table({
    "institution_code": pa.array(["H1", "H2", None], pa.string()),
    "level": pa.array([3, 2, None], pa.int64()),
    "signed": pa.array([date(2024, 1, 31), None, date(2024, 2, 29)], pa.date32()),
    "at": pa.array([datetime(2024, 1, 1, 8, 30), datetime(2024, 12, 31, 23, 59, 59), None], pa.timestamp("us")),
    "share": pa.array([0.25, None, 1.0], pa.float64()),
})
LINES = pa.table({"order_line_id": pa.array([1, 2], pa.int64()), "institution_code": pa.array(["H1", "H2"])})


def connect_warehouse(engine_warehouse, tables=None):
    if not SPARK_URL:
        unavailable("JICAI_TEST_SPARK_URL not set: no Spark Connect server (make services starts one)")
    return engine_warehouse("pyspark", tables if tables is not None else {"institutions": SMALL, "orders": LINES})


def on_the_cluster_only(wh):
    """Read with the client's part switched off: the cluster answers everything."""
    class Off:
        def __enter__(self):
            wh.client_tables.enabled = False

        def __exit__(self, *exc):
            wh.client_tables.enabled = True
    return Off()


def test_which_tables_the_cluster_always_reads():
    assert spark_client.on_cluster("orders") and spark_client.on_cluster("payments")
    assert spark_client.on_cluster("_facts_accepted_day") and spark_client.on_cluster("_facts_delivery_lines")
    assert not spark_client.on_cluster("_facts_state") and not spark_client.on_cluster("agreements")


@pytest.mark.parametrize("raw, expected", [("", 256 * 2**20), ("0", 0), ("1.5", int(1.5 * 2**20)), (" 64 ", 64 * 2**20)])
def test_the_size_limit_setting(raw, expected):
    assert spark_client.limit_bytes({spark_client.MB_ENV: raw}) == expected


def test_the_setting_is_documented_with_its_default():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "spark.md").read_text(encoding="utf-8")
    row = next(line for line in doc.splitlines() if line.startswith(f"| `{spark_client.MB_ENV}` |"))
    assert f"default {spark_client.DEFAULT_MB};" in row


@pytest.mark.parametrize("raw", ["-1", "lots", "1e"])
def test_a_bad_size_limit_says_so_in_both_languages(raw):
    with pytest.raises(BilingualError) as err:
        spark_client.limit_bytes({spark_client.MB_ENV: raw})
    assert spark_client.MB_ENV in err.value.zh and "non-negative" in err.value.en


@pytest.mark.spark
@pytest.mark.slow
def test_small_tables_are_read_on_the_client_and_order_lines_on_the_cluster(engine_warehouse, monkeypatch):
    wh = connect_warehouse(engine_warehouse)
    inst, orders = wh.table("institutions"), wh.table("orders")
    small = inst.filter(inst.level >= 2).select("institution_code", "level")
    assert wh.client_tables.runs_here(small)
    assert not wh.client_tables.runs_here(orders.join(inst, "institution_code"))
    # in-memory tables join either side; kept results are in-memory tables
    assert wh.client_tables.runs_here(small.join(ibis.memtable({"institution_code": ["H1"]}), "institution_code"))

    def no_cluster(*args, **kwargs):
        raise AssertionError("the cluster was asked")

    monkeypatch.setattr(wh.con._session, "sql", no_cluster)
    assert rows(small.to_pyarrow()) == [("H1", 3), ("H2", 2)]
    assert small.count().execute() == 2
    assert rows(pa.Table.from_batches(list(small.to_pyarrow_batches()))) == [("H1", 3), ("H2", 2)]
    with pytest.raises(AssertionError, match="the cluster was asked"):
        orders.to_pyarrow()


@pytest.mark.spark
@pytest.mark.slow
def test_the_client_reads_what_the_cluster_reads(engine_warehouse):
    wh = connect_warehouse(engine_warehouse)
    # a version written by the cluster (an expression) as well as one written by the client (Arrow)
    t = wh.table("institutions")
    wh.write_table("spark_written", t.mutate(later=t.at + ibis.interval(hours=1)))
    for name in ("institutions", "spark_written"):
        expr = wh.table(name)
        assert wh.client_tables.runs_here(expr)
        near = expr.to_pyarrow()
        with on_the_cluster_only(wh):
            far = expr.to_pyarrow()
        assert near.schema == far.schema
        assert rows(near) == rows(far)
    # the wall-clock times the rows were written with, not shifted by the session's time zone
    assert sorted(str(v) for v in wh.table("spark_written").to_pyarrow().column("later").to_pylist()) == [
        "2024-01-01 09:30:00", "2025-01-01 00:59:59", "None"]


@pytest.mark.spark
@pytest.mark.slow
def test_the_client_reads_each_new_version_and_the_cluster_reads_a_transaction(engine_warehouse):
    wh = connect_warehouse(engine_warehouse)
    inst = wh.table("institutions")
    assert inst.count().execute() == 3
    wh.write_table("institutions", SMALL.slice(0, 1))
    assert wh.table("institutions").count().execute() == 1  # the commit's version, loaded again
    with wh.transaction() as tx:
        tx.write_arrow("institutions", SMALL)
        # inside the transaction the views show the version being written: the cluster reads it
        assert not wh.client_tables.runs_here(wh.con.table("institutions"))
        assert wh.con.table("institutions").count().execute() == 3
    assert wh.table("institutions").count().execute() == 3


@pytest.mark.spark
@pytest.mark.slow
def test_a_table_over_the_size_limit_stays_on_the_cluster(engine_warehouse, monkeypatch):
    wh = connect_warehouse(engine_warehouse)
    monkeypatch.setattr(wh.client_tables, "max_bytes", 1)
    assert not wh.client_tables.runs_here(wh.table("institutions"))
    assert rows(wh.table("institutions").select("institution_code").to_pyarrow()) == [("H1",), ("H2",), (None,)]


@pytest.mark.spark
@pytest.mark.slow
def test_with_the_client_part_off_everything_runs_on_the_cluster(engine_warehouse, monkeypatch):
    monkeypatch.setenv(spark_client.MB_ENV, "0")
    wh = connect_warehouse(engine_warehouse)
    assert wh.client_tables is None and wh.con.client_tables is None
    t = wh.table("institutions")
    kept = wh.reuse(t.filter(t.level == 3))
    assert rows(kept.select("institution_code").to_pyarrow()) == [("H1",)]
