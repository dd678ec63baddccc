"""The fast import path: progress in rows, Parquet columns read with their own types, a file bigger than the
staging memory, CSV records with quoted newlines, replace-by-key only where keys meet, no staging left behind."""

from __future__ import annotations

import datetime as dt
import math

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from helpers_ingest import (
    DISTRIBUTOR,
    DRUG,
    HOSPITAL_A,
    ORDER_HEADER,
    order_row,
    reference_warehouse,
    write_csv,
    write_reference,
)
from jicai.ingest import import_paths
from jicai.ingest.stage import MEMORY_ENV
from jicai.store import connect


@pytest.fixture
def wh(tmp_path):
    yield from reference_warehouse(tmp_path)


def rows(wh, sql):
    return wh.con.con.execute(sql).fetchall()


def test_progress_callback_counts_rows(tmp_path):
    folder = tmp_path / "all"
    write_reference(folder)  # 3 regions, 2 institutions, 2 enterprises, 2 products
    write_csv(folder / "orders.csv", [ORDER_HEADER] + [order_row(i) for i in range(1, 1001)])
    calls = []
    results = import_paths(connect("duckdb://"), [folder], progress=lambda done, total, path: calls.append((done, total, path)))
    assert [r.rows_read for r in results] == [3, 2, 2, 2, 1000]
    done = [c[0] for c in calls]
    assert done == sorted(done)  # never goes back
    # the last report: every row of the 5 files done, of a total that is now exact
    assert calls[-1][:2] == (1009, 1009) and calls[-1][2].name == "orders.csv"
    assert {c[2].name for c in calls} == {"regions.csv", "institutions.csv", "enterprises.csv", "products.csv", "orders.csv"}


def test_parquet_columns_keep_their_types(wh, tmp_path):
    # quantity is a DOUBLE column: NaN and infinity are not numbers; ordered_at a TIMESTAMP, taken as it is
    table = pa.table({
        "order_line_id": ["OL1", "OL2", "OL3", "OL4"], "order_id": ["O1"] * 4, "institution_code": [HOSPITAL_A] * 4,
        "product_code": [DRUG] * 4, "distributor_code": [DISTRIBUTOR] * 4,
        "quantity": [2.0, math.nan, math.inf, None], "pack_price": [3.5, 1.0, 1.0, 1.0],
        "ordered_at": pa.array([dt.datetime(2024, 3, 1, 10, 0, 5)] * 4, pa.timestamp("ms")),
        "channel": [" Platform", "offline", "线下", "offline"]})
    pq.write_table(table, tmp_path / "orders.parquet")
    (r,) = import_paths(wh, [tmp_path / "orders.parquet"])
    assert (r.status, r.rows_read, r.rows_loaded, r.rows_quarantined) == ("loaded", 4, 1, 3)
    assert rows(wh, "SELECT order_line_id, quantity, ordered_at, channel FROM orders") == [
        ("OL1", 2.0, dt.datetime(2024, 3, 1, 10, 0, 5), "platform")]
    # the cell as the file has it: the number printed by DuckDB; the empty cell is a missing value
    assert rows(wh, 'SELECT "row", "column", value, reason_en FROM _quarantine ORDER BY "row"') == [
        (3, "quantity", "nan", "quantity is not a number"),
        (4, "quantity", "inf", "quantity is not a number"),
        (5, "quantity", None, "quantity is required but empty")]


def test_parquet_integer_boolean_and_date_columns(wh, tmp_path):
    table = pa.table({"institution_code": ["H44030500003", "H44030500004"], "name": ["甲", "乙"],
                      "region_code": ["440305", "440305"], "level": pa.array([2, 3], pa.int32()),
                      "kind": ["hospital", "hospital"], "public": [True, False], "sentinel": [None, True]})
    pq.write_table(table, tmp_path / "institutions.parquet")
    (r,) = import_paths(wh, [tmp_path / "institutions.parquet"])
    assert (r.status, r.rows_loaded) == ("loaded", 2)
    assert rows(wh, "SELECT institution_code, level, public FROM institutions WHERE name IN ('甲', '乙') ORDER BY 1") == [
        ("H44030500003", 2, True), ("H44030500004", 3, False)]


def test_a_file_bigger_than_the_staging_memory_imports(wh, tmp_path, monkeypatch):
    # 460,001 order lines (about 51 MB of CSV) under a 48 MB cap: DuckDB spills to disk; every check still
    # holds, the problem rows are found again in the file, and the warehouse's own setting comes back
    before = rows(wh, "SELECT current_setting('memory_limit')")
    body = [order_row(i) for i in range(1, 460_001)]
    body[150_000][2] = "H44030599999"  # unknown institution, row 150,002
    f = write_csv(tmp_path / "big" / "orders.csv", [ORDER_HEADER, *body, order_row(7)])  # row 460,002 repeats row 8
    assert f.stat().st_size > 48 * 2**20
    monkeypatch.setenv(MEMORY_ENV, "48MB")
    (r,) = import_paths(wh, [f])
    assert (r.status, r.rows_read, r.rows_loaded, r.rows_quarantined) == ("loaded", 460_001, 459_999, 2)
    assert rows(wh, 'SELECT "row", "column", value FROM _quarantine ORDER BY "row"') == [
        (150_002, "institution_code", "H44030599999"), (460_002, "order_line_id", "OL0000007")]
    assert rows(wh, "SELECT count(*), count(DISTINCT order_line_id) FROM orders") == [(459_999, 459_999)]
    assert rows(wh, "SELECT current_setting('memory_limit')") == before


def test_csv_record_with_a_quoted_newline_keeps_record_numbers(wh, tmp_path):
    # DuckDB's parallel reader refuses a quoted newline with padding of short rows; the serial reader reads it
    f = write_csv(tmp_path / "p" / "products.csv", [
        ["product_code", "name", "variety_id", "spec", "units_per_pack", "manufacturer_code", "category"],
        ["XC10AAA060A001010104460", "阿托伐他汀钙片\n（新包装）", "", "10mg*7片", "7", "", "drug"],
        ["XC10AAA060A00101010446", "短编码", "", "10mg", "7", "", "drug"]])
    (r,) = import_paths(wh, [f])
    assert (r.rows_read, r.rows_loaded, r.rows_quarantined) == (2, 1, 1)
    assert rows(wh, "SELECT name FROM products WHERE product_code = 'XC10AAA060A001010104460'") == [("阿托伐他汀钙片\n（新包装）",)]
    # the second record is row 3 (header = 1), whatever lines the first one spans
    assert rows(wh, 'SELECT "row", "column" FROM _quarantine') == [(3, "product_code")]


def test_replace_by_key_touches_only_matching_keys(wh, tmp_path):
    jan = write_csv(tmp_path / "a" / "orders.csv", [ORDER_HEADER, order_row(1), order_row(3)])
    between = write_csv(tmp_path / "b" / "orders.csv", [ORDER_HEADER, order_row(2, quantity="5")])  # in range, no match
    later = write_csv(tmp_path / "c" / "orders.csv", [ORDER_HEADER, order_row(9, quantity="6")])  # out of range
    again = write_csv(tmp_path / "d" / "orders.csv", [ORDER_HEADER, order_row(3, quantity="7")])  # replaces OL0000003
    for f in (jan, between, later, again):
        import_paths(wh, [f])
    assert rows(wh, "SELECT order_line_id, quantity FROM orders ORDER BY 1") == [
        ("OL0000001", 10.0), ("OL0000002", 5.0), ("OL0000003", 7.0), ("OL0000009", 6.0)]


def test_staging_leaves_nothing_on_the_warehouse_connection(wh, tmp_path):
    settings = ("SELECT current_setting('enable_progress_bar'), current_setting('preserve_insertion_order'), "
                "current_setting('search_path'), current_database()")
    before = rows(wh, settings)
    tables = "SELECT database_name, table_name FROM duckdb_tables() ORDER BY ALL"
    write_csv(tmp_path / "o" / "orders.csv", [ORDER_HEADER, order_row(1), order_row(1)])  # a duplicate: every check table
    import_paths(wh, [tmp_path / "o" / "orders.csv"])
    after_one = rows(wh, tables)
    assert "jicai_stage" not in {db for db, _ in after_one} and rows(wh, settings) == before
    write_csv(tmp_path / "p" / "orders.csv", [ORDER_HEADER, order_row(2)])
    import_paths(wh, [tmp_path / "p" / "orders.csv"])
    assert rows(wh, tables) == after_one


def test_duplicates_found_whatever_the_order_of_the_keys(wh, tmp_path):
    # keys in descending order (no shortcut for sorted keys applies), one repeated: rows 2..6 are 5,4,3,4,1
    f = write_csv(tmp_path / "o" / "orders.csv", [ORDER_HEADER] + [order_row(i) for i in (5, 4, 3, 4, 1)])
    (r,) = import_paths(wh, [f])
    assert (r.rows_loaded, r.rows_quarantined) == (4, 1)
    assert rows(wh, 'SELECT "row", value, reason_en FROM _quarantine') == [
        (5, "OL0000004", "duplicate key (order_line_id): same as row 3; the first occurrence is kept")]
