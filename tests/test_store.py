"""The warehouse opens from a URL on every engine, and tables travel between engines unchanged."""

from __future__ import annotations

import datetime as dt

import pytest

from jicai.contract.arrow import from_pylist
from jicai.settings import Settings
from jicai.store import connect, copy_tables

ROWS = [
    dict(order_line_id="L1", order_id="O1", institution_code="H35010200001", product_code="XC10AAA123A001010100001",
         distributor_code="91350100M000100Y43", quantity=2.0, pack_price=10.5,
         ordered_at=dt.datetime(2024, 2, 29, 23, 59, 59), channel="platform"),
    dict(order_line_id="L2", order_id="O1", institution_code="H35010200001", product_code="XC10AAA123A001010100001",
         distributor_code="91350100M000100Y43", quantity=0.0, pack_price=0.0,
         ordered_at=dt.datetime(2024, 3, 1), channel="offline"),
]


def test_unknown_scheme_is_a_clear_error():
    with pytest.raises(ValueError, match="unsupported warehouse URL"):
        connect("mysql://x")


def test_default_warehouse_is_a_duckdb_file_in_the_data_dir(tmp_path):
    s = Settings.resolve(tmp_path / "d")
    assert s.warehouse_url == f"duckdb:///{(tmp_path / 'd' / 'jicai.duckdb').resolve()}"
    with s.warehouse() as wh:
        wh.write_table("orders", from_pylist("orders", ROWS))
    with connect(s.warehouse_url) as wh:  # persisted on disk
        assert wh.table("orders").count().execute() == 2


def test_transaction_rolls_back_on_error():
    wh = connect("duckdb://")
    wh.write_table("orders", from_pylist("orders", ROWS))
    with pytest.raises(RuntimeError), wh.transaction() as cur:
        cur.execute("DELETE FROM orders")
        raise RuntimeError("crash mid-import")
    assert wh.table("orders").count().execute() == 2


@pytest.mark.parametrize("engine", ["postgres", "pyspark"])
def test_tables_copy_to_other_engines_unchanged(engine, engine_warehouse):
    # a name of its own: the Spark session is shared, and other tests' temp views named "orders" shadow tables
    name = "store_copy_orders"
    src = connect("duckdb://")
    src.write_table(name, from_pylist("orders", ROWS))
    dst = engine_warehouse(engine, {})
    copy_tables(src, dst, [name])
    got = dst.table(name).order_by("order_line_id").to_pyarrow().to_pylist()
    assert got == [{k: r[k] for k in got[0]} for r in ROWS]
