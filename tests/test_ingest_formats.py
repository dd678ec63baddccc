"""Formats and normalization: XLSX with Chinese headers and Excel dates, Parquet, BOM, full-width text,
replace-on-conflict, folder load order, and the CLI commands."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from helpers_ingest import (
    CONSUMABLE,
    DISTRIBUTOR,
    DRUG,
    HOSPITAL_A,
    HOSPITAL_B,
    ORDER_HEADER,
    order_row,
    write_csv,
    write_reference,
)
from jicai.contract.tables import TABLES
from jicai.ingest import ensure_schema, import_paths, table_for
from jicai.ingest.normalize import alias_index, map_headers
from jicai.store import connect


@pytest.fixture
def wh(tmp_path):
    w = connect(f"duckdb:///{tmp_path / 'wh.duckdb'}")
    write_reference(tmp_path / "ref")
    import_paths(w, [tmp_path / "ref"])
    yield w
    w.close()


def rows(wh, sql):
    return wh.con.con.execute(sql).fetchall()


# --- headers ---------------------------------------------------------------------------------------
def test_header_aliases_never_collide_inside_a_table():
    # an alias naming two columns of one table would silently load data into the wrong column
    for t in TABLES.values():
        seen: dict[str, str] = {}
        for c in t.columns:
            for n in (c.name, c.zh, *c.aliases):
                k = n.strip().casefold()
                assert seen.setdefault(k, c.name) == c.name, (t.name, n, seen[k], c.name)
    assert alias_index(TABLES["orders"])["采购数量"] == "quantity"


def test_header_mapping_is_case_space_and_width_insensitive():
    hm = map_headers(TABLES["orders"], [" ORDER_LINE_ID ", "订单编号", "ＭＥＤＩＮＳ＿ＣＯＤＥ", "采购数量（盒）", "单价 (元/包装)"])
    assert hm.columns == {"order_line_id": 0, "order_id": 1, "institution_code": 2, "quantity": 3, "pack_price": 4}


def test_unit_suffix_of_another_unit_is_not_taken():
    # 片 are minimum units, quantity counts packs: taking it would multiply volumes by the pack size
    hm = map_headers(TABLES["orders"], ["采购数量(片)"])
    assert "quantity" not in hm.columns and hm.extra == ["采购数量(片)"]
    assert "单位" in hm.warnings[0][0] and "unit does not match" in hm.warnings[0][1]


def test_table_from_file_name(tmp_path):
    assert table_for(tmp_path / "orders.csv") == "orders"
    assert table_for(tmp_path / "订单明细.xlsx") == "orders"
    assert table_for(tmp_path / "orders_2024-01.parquet") == "orders"
    assert table_for(tmp_path / "selected_products.csv") == "selected_products"
    assert table_for(tmp_path / "ordersx.csv") is None


# --- formats ---------------------------------------------------------------------------------------
def test_xlsx_chinese_headers_title_row_excel_dates_and_sheets(wh, tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "一月"
    ws.append(["某市医保局 订单明细导出"])  # title above the header: rows keep their sheet numbers
    ws.append(["订单明细编号", "订单编号", "医疗机构编码", "医保编码", "配送企业代码", "采购数量(盒)", "采购单价",
               "下单时间", "采购渠道"])
    ws.append(["OL1", "O1", HOSPITAL_A, DRUG, DISTRIBUTOR, 1200, 12.5, dt.datetime(2024, 1, 5, 9, 30), "平台"])
    ws.append(["OL2", "O1", HOSPITAL_A, DRUG, DISTRIBUTOR, "1,200", "12.5", 45297.5, "线下"])  # Excel serial: 45292 = 2024-01-01
    ws.append(["OL3", "O1", HOSPITAL_A, DRUG, DISTRIBUTOR, -1, 12.5, "2024/1/7", "platform"])
    ws2 = wb.create_sheet("二月")
    ws2.append(["订单明细编号", "订单编号", "医疗机构编码", "医保编码", "配送企业代码", "采购数量", "采购单价",
                "下单时间", "采购渠道"])
    ws2.append(["OL4", "O2", HOSPITAL_B, CONSUMABLE, DISTRIBUTOR, 3, 100, "2024-02-01 08:00:00", "offline"])
    wb.create_sheet("说明").append(["本表说明"])
    path = tmp_path / "订单明细.xlsx"
    wb.save(path)
    (r,) = import_paths(wh, [path])
    assert (r.table, r.status, r.rows_read, r.rows_loaded, r.rows_quarantined) == ("orders", "loaded", 4, 3, 1)
    assert any("说明" in m for m in r.messages)
    assert rows(wh, "SELECT order_line_id, quantity, ordered_at, channel FROM orders ORDER BY 1") == [
        ("OL1", 1200.0, dt.datetime(2024, 1, 5, 9, 30), "platform"),
        ("OL2", 1200.0, dt.datetime(2024, 1, 6, 12, 0), "offline"),
        ("OL4", 3.0, dt.datetime(2024, 2, 1, 8, 0), "offline")]
    # row 5 of sheet 一月 (title row 1, header row 2)
    assert rows(wh, 'SELECT sheet, "row", "column", value FROM _quarantine') == [("一月", 5, "quantity", "-1")]


def test_parquet_and_bom_csv(wh, tmp_path):
    table = pa.table({"order_line_id": ["OL1"], "order_id": ["O1"], "institution_code": [HOSPITAL_A],
                      "product_code": [DRUG], "distributor_code": [DISTRIBUTOR], "quantity": [2.0], "pack_price": [3.5],
                      "ordered_at": pa.array([dt.datetime(2024, 3, 1, 10, 0)], pa.timestamp("us")),
                      "channel": ["platform"]})
    pq.write_table(table, tmp_path / "orders.parquet")
    bom = tmp_path / "orders_bom.csv"
    write_csv(bom, [ORDER_HEADER, order_row(2)], encoding="utf-8-sig")
    results = import_paths(wh, [tmp_path / "orders.parquet", bom])
    assert [(r.status, r.rows_loaded, r.rows_quarantined) for r in results] == [("loaded", 1, 0), ("loaded", 1, 0)]
    assert rows(wh, "SELECT order_line_id, quantity, pack_price FROM orders ORDER BY 1") == [
        ("OL0000002", 10.0, 12.5), ("OL1", 2.0, 3.5)]


def test_full_width_booleans_levels_and_months(wh, tmp_path):
    write_csv(tmp_path / "in" / "institutions.csv", [
        ["institution_code", "name", "region_code", "level", "kind", "public", "sentinel"],
        ["Ｈ４４０３０５０００７７", "全角（编码）医院 ", "４４０３０５", "未定级", "医院", "否", "Y"]])
    write_csv(tmp_path / "in" / "fund_spending.csv", [
        ["月份", "医疗机构编码", "医保支出"],
        ["2024-01", HOSPITAL_A, "1,234,567.5"], ["2024/2", HOSPITAL_A, "10"], ["202403", HOSPITAL_A, "0"],
        ["2024-13", HOSPITAL_A, "1"]])
    a, b = import_paths(wh, [tmp_path / "in"])
    assert (a.table, a.rows_loaded, b.table, b.rows_loaded, b.rows_quarantined) == (
        "institutions", 1, "fund_spending", 3, 1)
    # codes are folded to half-width; names keep their own punctuation
    assert rows(wh, "SELECT * FROM institutions WHERE institution_code = 'H44030500077'") == [
        ("H44030500077", "全角（编码）医院", "440305", 0, "hospital", False, True)]
    assert rows(wh, "SELECT month, amount FROM fund_spending ORDER BY 1") == [
        ("2024-01", 1234567.5), ("2024-02", 10.0), ("2024-03", 0.0)]


def test_newer_file_replaces_rows_with_the_same_key(wh, tmp_path):
    first = write_csv(tmp_path / "a" / "orders.csv", [ORDER_HEADER, order_row(1, quantity="10"), order_row(2)])
    second = write_csv(tmp_path / "b" / "orders.csv", [ORDER_HEADER, order_row(1, quantity="99")])
    import_paths(wh, [first])
    (r,) = import_paths(wh, [second])
    assert r.status == "loaded"
    assert rows(wh, "SELECT order_line_id, quantity FROM orders ORDER BY 1") == [("OL0000001", 99.0), ("OL0000002", 10.0)]
    # re-importing the older file is a no-op: its bytes were loaded before
    assert import_paths(wh, [first])[0].status == "unchanged"
    assert rows(wh, "SELECT quantity FROM orders WHERE order_line_id = 'OL0000001'") == [(99.0,)]


def test_folder_loads_parents_first(tmp_path):
    # orders sort before regions by name; LOAD_ORDER puts regions first so every reference resolves
    folder = tmp_path / "all"
    write_reference(folder)
    write_csv(folder / "a_orders.csv", [ORDER_HEADER, order_row(1)])
    (folder / "a_orders.csv").rename(folder / "orders.csv")
    wh = connect("duckdb://")
    results = import_paths(wh, [folder])
    assert [r.table for r in results] == ["regions", "institutions", "enterprises", "products", "orders"]
    assert all(r.rows_quarantined == 0 and r.status == "loaded" for r in results)


def test_ensure_schema_creates_typed_empty_tables():
    wh = connect("duckdb://")
    created = ensure_schema(wh)
    assert set(TABLES) | {"_quarantine", "_load_log"} <= set(created)
    assert wh.table("capitation").schema()["enrolled"].is_integer()
    assert wh.table("orders").count().execute() == 0


# --- CLI -------------------------------------------------------------------------------------------
def test_cli_import_summary_exit_codes_and_quarantine_listing(tmp_path):
    from jicai.cli import app

    ref = tmp_path / "ref"
    write_reference(ref)
    bad = write_csv(tmp_path / "orders.csv", [ORDER_HEADER, order_row(1), order_row(2, quantity="-5")])
    runner = CliRunner()
    res = runner.invoke(app, ["import", str(ref), str(bad)])
    assert res.exit_code == 0, res.output
    assert "导入结果 / import summary" in res.output and "orders" in res.output
    res = runner.invoke(app, ["quarantine", "--format", "json", "--table", "orders"])
    listed = json.loads(res.stdout)
    assert [(x["row"], x["column"], x["value"]) for x in listed] == [(3, "quantity", "-5")]
    res = runner.invoke(app, ["import", "--strict", str(write_csv(tmp_path / "x" / "orders.csv",
                                                                  [ORDER_HEADER, order_row(5, quantity="x")]))])
    assert res.exit_code == 1
    res = runner.invoke(app, ["import", str(tmp_path / "missing.csv")])
    assert res.exit_code == 2 and "路径不存在" in res.output
