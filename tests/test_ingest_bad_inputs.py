"""The bad-input corpus (tests/bad_inputs/): each file with the rows, columns and reasons a user must see.

Every case imports the reference data of helpers_ingest first (so references resolve), then the bad
file; it checks the LoadResult, the quarantine rows (file, row, column, Chinese and English reason),
that the good rows and only they reached the table, and that importing the same file again changes
nothing. Expected rows are counted by hand from the files (header = row 1).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers_ingest import DRUG, HOSPITAL_A, write_reference
from jicai.ingest import import_paths
from jicai.store import connect

CORPUS = Path(__file__).parent / "bad_inputs"


@pytest.fixture
def wh(tmp_path):
    w = connect(f"duckdb:///{tmp_path / 'wh.duckdb'}")
    results = import_paths(w, [write_reference(tmp_path / "ref")[0].parent])
    assert [(r.table, r.status, r.rows_quarantined) for r in results] == [
        ("regions", "loaded", 0), ("institutions", "loaded", 0), ("enterprises", "loaded", 0), ("products", "loaded", 0)]
    yield w
    w.close()


def rows(wh, sql: str) -> list[tuple]:
    return wh.con.con.execute(sql).fetchall()


def quarantine(wh, name: str) -> list[tuple]:
    return rows(wh, f"SELECT \"row\", \"column\", value, reason_zh, reason_en FROM _quarantine "
                    f"WHERE file LIKE '%/{name}' ORDER BY \"row\", \"column\", reason_en")


# (file, status, read, loaded, quarantined, [(row, column, zh fragment, en fragment), ...] in quarantine order)
CASES = [
    ("orders_bad_quantities.csv", "loaded", 4, 1, 3, [
        (3, "quantity", "不能为负数", "must not be negative"),
        (4, "quantity", "不是数字", "is not a number"),
        (5, "pack_price", "不是数字", "is not a number")]),
    ("orders_duplicate_keys.csv", "loaded", 4, 2, 2, [
        (4, "order_line_id", "与第2行相同", "same as row 2"),
        (5, "order_line_id", "与第2行相同", "same as row 2")]),
    ("orders_unknown_refs.csv", "loaded", 3, 1, 2, [
        (3, "institution_code", "医疗机构（institutions.institution_code）不存在：H44030599999",
         "unknown reference, no institutions.institution_code = H44030599999"),
        (4, "product_code", "不存在：XC10AAA060A001010109999", "no products.product_code = XC10AAA060A001010109999")]),
    # cut mid-row: the last row has 7 of 9 fields and no newline
    ("orders_truncated.csv", "loaded", 3, 2, 1, [
        (4, "channel", "为必填项，值为空", "channel is required but empty"),
        (4, "ordered_at", "为必填项，值为空", "ordered_at is required but empty"),
        (4, None, "文件在此行中途被截断", "the file is cut off in this row")]),
    ("orders_header_only.csv", "loaded", 0, 0, 0, []),
    ("orders_extra_columns.csv", "loaded", 1, 1, 0, []),
    ("enterprises_bad_codes.csv", "loaded", 5, 2, 3, [
        (4, "enterprise_code", "校验位错误：应为 G，实为 H", "expected G, got H"),
        (5, "enterprise_code", "应为18位，实为16位", "must have 18 characters, has 16"),
        (6, "enterprise_code", "含非法字符 'I'", "invalid character 'I'")]),
    ("institutions_bad_codes.csv", "loaded", 4, 1, 3, [
        (3, "institution_code", "共12位", "12 characters"),
        (4, "institution_code", "H 或 P", "must be H or P"),
        (5, "institution_code", "省级前缀 99 不存在", "prefix 99 does not exist")]),
    ("products_bad_codes.csv", "loaded", 3, 1, 2, [
        (3, "product_code", "耗材20或27位", "consumable 20 or 27"),
        (4, "product_code", "西药23位", "western drug 23 chars")]),
    ("regions_bad_codes.csv", "loaded", 5, 2, 3, [
        (4, "region_code", "应为6位数字", "must be 6 digits"),
        (5, "region_code", "省级前缀 99 不存在", "prefix 99 does not exist"),
        (6, "parent_code", "上级区划 450300 不是 440304 的上级", "parent 450300 is not an ancestor of 440304"),
        (6, "parent_code", "不存在：450300", "no regions.region_code = 450300")]),
    ("institutions_gbk.csv", "loaded", 2, 2, 0, []),
]


@pytest.mark.parametrize(("name", "status", "read", "loaded", "bad", "problems"), CASES, ids=[c[0] for c in CASES])
def test_bad_input(wh, name, status, read, loaded, bad, problems):
    table = name.split("_")[0]
    before = rows(wh, f"SELECT count(*) FROM {table}")[0][0]
    (r,) = import_paths(wh, [CORPUS / name])
    assert (r.table, r.status, r.rows_read, r.rows_loaded, r.rows_quarantined) == (table, status, read, loaded, bad)
    got = quarantine(wh, name)
    assert len(got) == len(problems), got
    for (row, col, _value, zh, en), (erow, ecol, ezh, een) in zip(got, problems, strict=True):
        assert (row, col) == (erow, ecol)
        assert ezh in zh and een in en, (zh, en)
    # the sample shown by the CLI names the same rows and columns
    assert sorted((p.row, p.column or "") for p in r.problems) == sorted((p[0], p[1] or "") for p in problems)
    # replace semantics: rows with keys of the reference data are replaced, not added
    after = rows(wh, f"SELECT count(*) FROM {table}")[0][0]
    assert after >= before and after <= before + loaded
    # the same file again changes nothing
    snapshot = rows(wh, f"SELECT * FROM {table} ORDER BY ALL"), rows(wh, "SELECT count(*) FROM _quarantine")
    (again,) = import_paths(wh, [CORPUS / name])
    assert again.status == "unchanged" and "未作更改" in again.messages[0] and "nothing changed" in again.messages[0]
    assert (rows(wh, f"SELECT * FROM {table} ORDER BY ALL"), rows(wh, "SELECT count(*) FROM _quarantine")) == snapshot


def test_duplicate_keeps_first_occurrence(wh):
    import_paths(wh, [CORPUS / "orders_duplicate_keys.csv"])
    # OL1 appears on rows 2 (qty 10), 4 (qty 7), 5 (qty 8): the first is kept
    assert rows(wh, "SELECT order_line_id, order_id, quantity FROM orders ORDER BY 1") == [
        ("OL1", "O1", 10.0), ("OL2", "O1", 5.0)]


def test_gbk_text_is_decoded(wh):
    import_paths(wh, [CORPUS / "institutions_gbk.csv"])
    assert rows(wh, "SELECT institution_code, name, level, kind, public FROM institutions "
                    "WHERE institution_code IN ('H44030500003', 'H44030500004') ORDER BY 1") == [
        ("H44030500003", "南山区人民医院", 3, "hospital", True), ("H44030500004", "蛇口人民医院", 2, "hospital", False)]


def test_extra_columns_warn(wh):
    (r,) = import_paths(wh, [CORPUS / "orders_extra_columns.csv"])
    assert any("忽略未识别的列：备注、remark2" in m and "ignored unknown columns: 备注, remark2" in m for m in r.messages)


def test_header_only_says_so(wh):
    (r,) = import_paths(wh, [CORPUS / "orders_header_only.csv"])
    assert any("没有数据行" in m and "no data rows" in m for m in r.messages)


@pytest.mark.parametrize(("name", "zh", "en"), [
    ("orders_empty.csv", "文件为空", "file is empty (0 bytes)"),
    ("orders_not_text.csv", "不是文本", "not a text CSV file"),
    ("orders_missing_column.csv", "缺少必填列：采购数量(包装)（quantity）", "missing required column(s): quantity"),
])
def test_whole_file_errors(wh, name, zh, en):
    for _ in range(2):  # and again: still failed, still nothing loaded
        (r,) = import_paths(wh, [CORPUS / name])
        assert r.status == "failed" and r.rows_loaded == 0
        assert any(zh in m and en in m for m in r.messages), r.messages
        assert rows(wh, "SELECT count(*) FROM orders") == [(0,)]
    # logged as failed, with the reason in quarantine (row and column empty: the whole file)
    assert rows(wh, f"SELECT status FROM _load_log WHERE file LIKE '%/{name}'") == [("failed",), ("failed",)]
    q = quarantine(wh, name)
    assert q[0][:2] == (None, None) and zh in q[0][3] and en in q[0][4]


def test_strict_loads_nothing_from_a_bad_file(wh):
    (r,) = import_paths(wh, [CORPUS / "orders_bad_quantities.csv"], strict=True)
    assert (r.status, r.rows_loaded, r.rows_quarantined) == ("failed", 0, 3)
    assert rows(wh, "SELECT count(*) FROM orders") == [(0,)]
    # not recorded as ok, so a later non-strict import of the same bytes does load the good row
    (r2,) = import_paths(wh, [CORPUS / "orders_bad_quantities.csv"])
    assert (r2.status, r2.rows_loaded) == ("loaded", 1)
    assert rows(wh, "SELECT order_line_id, quantity FROM orders") == [("OL1", 10.0)]


def test_reference_rows_used(wh):
    # sanity: the reference fixture is what the expectations above rely on
    assert rows(wh, f"SELECT count(*) FROM institutions WHERE institution_code = '{HOSPITAL_A}'") == [(1,)]
    assert rows(wh, f"SELECT units_per_pack FROM products WHERE product_code = '{DRUG}'") == [(7.0,)]
