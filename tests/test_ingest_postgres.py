"""The same import on a PostgreSQL warehouse: typed tables, quarantine, replace, idempotency."""

from __future__ import annotations

import datetime as dt

import pytest

from helpers_ingest import ORDER_HEADER, order_row, write_csv, write_reference
from jicai.ingest import import_paths
from jicai.store import connect


@pytest.mark.postgres
def test_import_into_postgres(pg_database, tmp_path):
    wh = connect(pg_database)
    # The database is shared by the tests of this worker: start from no tables, as a bureau's first import does.
    for name in wh.list_tables():
        wh.con.raw_sql(f'DROP TABLE IF EXISTS "{name}" CASCADE')
    try:
        ref = import_paths(wh, [write_reference(tmp_path / "ref")[0].parent])
        assert [(r.status, r.rows_quarantined) for r in ref] == [("loaded", 0)] * 4
        orders = write_csv(tmp_path / "a" / "orders.csv",
                           [ORDER_HEADER, order_row(1), order_row(2, quantity="-1"), order_row(3)])
        (r,) = import_paths(wh, [orders])
        assert (r.status, r.rows_loaded, r.rows_quarantined) == ("loaded", 2, 1)
        assert import_paths(wh, [orders])[0].status == "unchanged"
        newer = write_csv(tmp_path / "b" / "orders.csv", [ORDER_HEADER, order_row(1, quantity="42")])
        assert import_paths(wh, [newer])[0].rows_loaded == 1
        o = wh.table("orders")
        got = o.order_by("order_line_id").select("order_line_id", "quantity", "ordered_at").to_pyarrow().to_pylist()
        assert got == [
            {"order_line_id": "OL0000001", "quantity": 42.0, "ordered_at": dt.datetime(2024, 2, 2, 9, 30)},
            {"order_line_id": "OL0000003", "quantity": 10.0, "ordered_at": dt.datetime(2024, 4, 4, 9, 30)}]
        q = wh.table("_quarantine").select("row", "column", "value").to_pyarrow().to_pylist()
        assert q == [{"row": 3, "column": "quantity", "value": "-1"}]
        assert wh.table("institutions").schema()["level"].is_integer()
    finally:
        wh.close()
