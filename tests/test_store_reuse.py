"""Warehouse.reuse: the rows of the expression on every engine; on Spark kept once per snapshot, and never stale."""

from __future__ import annotations

import pyarrow as pa
import pytest
from tests.conftest import ENGINES, SPARK_URL, unavailable


def rows(t) -> list[tuple]:
    return sorted(tuple(r.values()) for r in t.to_pyarrow().to_pylist())


def table(values: list[int]) -> pa.Table:
    return pa.table({"k": pa.array(values, pa.int64()), "v": pa.array([k * 1.5 for k in values], pa.float64())})


@pytest.mark.parametrize("engine", ENGINES)
def test_reuse_gives_the_rows_of_the_expression(engine, engine_warehouse):
    wh = engine_warehouse(engine, {"t": table([1, 2, 3, 4])})
    t = wh.table("t")
    kept = wh.reuse(t.filter(t.k > 1).mutate(w=t.v * 2))
    # read twice in one statement, as the measures do
    joined = kept.join(kept.select("k", w2="w"), "k")
    assert rows(joined) == [(2, 3.0, 6.0, 6.0), (3, 4.5, 9.0, 9.0), (4, 6.0, 12.0, 12.0)]


def connect_warehouse(engine_warehouse):
    """A Spark Connect warehouse (its results are kept per snapshot; in-process Spark keeps them in read mode
    only, and the tests' in-process session writes)."""
    if not SPARK_URL:
        unavailable("JICAI_TEST_SPARK_URL not set: no Spark Connect server (make services starts one)")
    return engine_warehouse("pyspark", {"t": table([1, 2, 3])})


@pytest.mark.spark
@pytest.mark.slow
def test_spark_keeps_one_result_per_expression_and_drops_it_when_the_data_changes(engine_warehouse):
    wh = connect_warehouse(engine_warehouse)

    def kept():
        t = wh.table("t")
        return wh.reuse(t.filter(t.k >= 2))

    first = kept()
    assert kept() is first  # the same expression, built again: the result kept, no second job
    assert rows(first) == [(2, 3.0), (3, 4.5)]
    wh.write_table("t", table([2, 5, 7]))
    # a new snapshot: the kept result would be stale, so the expression is computed again
    assert rows(kept()) == [(2, 3.0), (5, 7.5), (7, 10.5)]


@pytest.mark.spark
@pytest.mark.slow
def test_spark_keeps_a_bounded_number_of_results(engine_warehouse, monkeypatch):
    from jicai.store import spark_reuse

    monkeypatch.setattr(spark_reuse, "MAX_ENTRIES", 2)
    wh = connect_warehouse(engine_warehouse)
    t = wh.table("t")
    kept = [wh.reuse(t.filter(t.k == k)) for k in (1, 2, 3)]
    assert len(wh._reused._entries) == 2
    assert wh.reuse(t.filter(t.k == 3)) is kept[2]  # the most recent: kept
    assert wh.reuse(t.filter(t.k == 1)) is not kept[0]  # the least recently used was let go: computed again
    assert rows(wh.reuse(t.filter(t.k == 1))) == [(1, 1.5)]


@pytest.mark.spark
@pytest.mark.slow
def test_spark_connect_keeps_its_results_on_the_client(engine_warehouse):
    """A kept result is an in-memory table: the cluster's next query takes it along, the client reads it."""
    import ibis.expr.operations as ops

    wh = connect_warehouse(engine_warehouse)
    t = wh.table("t")
    kept = wh.reuse(t.filter(t.k >= 2))
    assert isinstance(kept.op(), ops.InMemoryTable)
    assert rows(kept.join(t, "k").select("k", "v")) == [(2, 3.0), (3, 4.5)]


@pytest.mark.parametrize("engine", ENGINES)
def test_reuse_all_gives_each_expression_its_rows_in_order(engine, engine_warehouse):
    wh = engine_warehouse(engine, {"t": table([1, 2, 3, 4])})
    t = wh.table("t")
    low, high, total = wh.reuse_all(t.filter(t.k <= 2), t.filter(t.k > 2).mutate(w=t.v * 2),
                                    t.aggregate(n=t.k.count(), s=t.v.sum()))
    assert rows(low) == [(1, 1.5), (2, 3.0)]
    assert rows(high) == [(3, 4.5, 9.0), (4, 6.0, 12.0)]
    assert rows(total) == [(4, 15.0)]


@pytest.mark.spark
@pytest.mark.slow
def test_spark_connect_computes_them_side_by_side_and_keeps_each(engine_warehouse, monkeypatch):
    """Two cluster queries at once from one session: both kept, the second call computes nothing."""
    import threading

    wh = connect_warehouse(engine_warehouse)
    t = wh.table("t")
    threads = set()
    get = type(wh._reused).get

    def spy(self, expr):
        threads.add(threading.current_thread().name)
        return get(self, expr)

    monkeypatch.setattr(type(wh._reused), "get", spy)
    first = wh.reuse_all(t.filter(t.k >= 2), t.filter(t.k < 3))
    assert len(threads) == 2 and all(n.startswith("jicai-reuse") for n in threads)
    assert [rows(x) for x in first] == [[(2, 3.0), (3, 4.5)], [(1, 1.5), (2, 3.0)]]
    again = wh.reuse_all(t.filter(t.k >= 2), t.filter(t.k < 3))
    assert all(a is b for a, b in zip(first, again, strict=True))
