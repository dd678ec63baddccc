"""The copy-on-write rewriting of the importer's statements (jicai.ingest.rewrite), checked without Spark.

For every statement shape the importer sends to a sink, the original statement runs on DuckDB, and the
rewritten SELECT (rendered back in DuckDB's dialect) runs on a copy of the same rows: the table the statement
leaves and the rows the SELECT returns must be the same multiset. The tables hold NULLs in the columns the
conditions test: a row whose condition is NULL is not deleted or updated by the statement, which a naive
``WHERE NOT c`` would get wrong.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest
from sqlglot import exp

from jicai.ingest import rewrite
from jicai.ingest.overrides import patch_sql, reapply_sql

LOG = """
CREATE TABLE _load_log (load_id VARCHAR, file VARCHAR, sha256 VARCHAR, "table" VARCHAR, rows_read BIGINT,
    rows_loaded BIGINT, rows_quarantined BIGINT, started_at TIMESTAMP, finished_at TIMESTAMP, status VARCHAR);
INSERT INTO _load_log VALUES
    ('a', 'f1.csv', 'h1', 'orders', 3, 3, 0, TIMESTAMP '2024-01-01 10:00:00', TIMESTAMP '2024-01-01 10:01:00', 'ok'),
    ('b', 'f2.csv', 'h2', 'orders', 3, 2, 1, TIMESTAMP '2024-01-02 10:00:00', NULL, 'started'),
    ('c', 'f2.csv', 'h2', 'orders', 3, 2, 1, TIMESTAMP '2024-01-03 10:00:00', NULL, NULL),
    ('d', 'f3.csv', NULL, 'products', 1, 1, 0, TIMESTAMP '2024-01-04 10:00:00', NULL, 'started'),
    (NULL, 'f4.csv', 'h2', NULL, 0, 0, 0, NULL, NULL, 'failed');
CREATE TABLE _quarantine (batch_id VARCHAR, "table" VARCHAR, file VARCHAR, sheet VARCHAR, "row" BIGINT,
    "column" VARCHAR, value VARCHAR, reason_zh VARCHAR, reason_en VARCHAR, loaded_at TIMESTAMP);
INSERT INTO _quarantine VALUES
    ('b', 'orders', 'f2.csv', NULL, 2, 'quantity', 'x', '数量', 'quantity', TIMESTAMP '2024-01-02 10:00:00'),
    ('c', 'orders', 'f2.csv', NULL, 3, NULL, NULL, '文件', 'file', NULL),
    (NULL, 'orders', 'f9.csv', NULL, NULL, NULL, NULL, '文件', 'file', NULL),
    ('a', 'orders', 'f1.csv', 'Sheet1', 5, 'x', 'y', 'z', 'z', NULL);
"""

VARIETIES = """
CREATE TABLE varieties (variety_id VARCHAR, batch_id VARCHAR, name VARCHAR, special VARCHAR,
    special_start DATE, special_end DATE);
INSERT INTO varieties VALUES
    ('v1', 'b1', '阿莫西林', NULL, NULL, NULL),
    ('v2', 'b1', '头孢', 'shortage', DATE '2024-01-01', DATE '2024-03-31'),
    ('v3', 'b1', '布洛芬', 'seasonal', NULL, DATE '2024-12-31'),
    (NULL, 'b1', '无编号', NULL, NULL, NULL);
CREATE TABLE _variety_exemptions (variety_id VARCHAR, special VARCHAR, special_start DATE, special_end DATE,
    exemption_id BIGINT);
INSERT INTO _variety_exemptions VALUES
    ('v1', 'emergency', DATE '2024-02-01', NULL, 1),
    ('v3', NULL, NULL, NULL, 2),
    ('v9', 'shortage', DATE '2024-05-01', DATE '2024-06-01', 3),
    (NULL, 'shortage', NULL, NULL, 4);
"""

FACTS = """
CREATE TABLE _facts_ordered_month (part_month DATE, institution_code VARCHAR, product_code VARCHAR,
    day DATE, packs BIGINT, amount DOUBLE, offline_amount DOUBLE);
INSERT INTO _facts_ordered_month VALUES
    (DATE '2024-01-01', 'i1', 'p1', DATE '2024-01-01', 3, 30.0, 0.0),
    (DATE '2024-02-01', 'i1', 'p1', DATE '2024-02-01', 1, 10.0, 10.0),
    (DATE '2024-03-01', 'i2', NULL, DATE '2024-03-01', 2, 20.5, 0.0),
    (NULL, 'i3', 'p3', NULL, NULL, NULL, NULL);
CREATE TABLE _facts_pending (part_month DATE);
INSERT INTO _facts_pending VALUES (DATE '2024-01-01'), (NULL);
CREATE TABLE _facts_state (complete BOOLEAN, built_at TIMESTAMP);
INSERT INTO _facts_state VALUES (FALSE, NULL);
"""


def _db(setup: str) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(setup)
    return con


def _columns(con: duckdb.DuckDBPyConnection):
    def columns(table: str) -> list[tuple[str, exp.DataType]]:
        rows = con.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? "
                           "ORDER BY ordinal_position", [table]).fetchall()
        return [(n, exp.DataType.build(t, dialect="duckdb")) for n, t in rows]
    return columns


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return sorted(con.execute(sql).fetchall(), key=repr)


def _same_effect(setup: str, sql: str, params: tuple = ()) -> rewrite.Plan:
    """Run ``sql`` on one database and its rewritten SELECT on another made by the same ``setup``; the table the
    statement changed must hold exactly the SELECT's rows, with the same columns."""
    original, copy = _db(setup), _db(setup)
    p = rewrite.plan(sql, params, _columns(copy))
    assert p.kind == "replace"
    before = _rows(original, f'SELECT * FROM "{p.table}"')
    original.execute(sql, list(params))
    expected = _rows(original, f'SELECT * FROM "{p.table}"')
    copy.execute(f"CREATE TABLE _next AS {p.sql('duckdb')}")
    assert _rows(copy, "SELECT * FROM _next") == expected
    assert [c[0] for c in _columns(copy)("_next")] == [c[0] for c in _columns(copy)(p.table)]
    assert expected != before, "the statement changed nothing: the case would prove nothing"
    return p


# -- DELETE ---------------------------------------------------------------------------------------------------

def test_delete_keeps_the_rows_whose_condition_is_null():
    # loader._forget_quarantine: batch_id NULL in the quarantine, sha256 and table NULL in the log
    earlier = 'SELECT load_id FROM "_load_log" WHERE sha256 = ? AND "table" = ?'
    p = _same_effect(LOG, f'DELETE FROM "_quarantine" WHERE batch_id IN ({earlier})', ("h2", "orders"))
    assert "COALESCE" in p.sql("spark")


def test_delete_of_a_started_row():
    # loader._write_log: status is NULL on one row, the load_id on another
    _same_effect(LOG, "DELETE FROM \"_load_log\" WHERE load_id = ? AND status = 'started'", ("b",))


def test_delete_of_fact_partitions_keeps_rows_without_a_month():
    # facts._recompute: part_month NULL must stay (NULL IN (...) is NULL, not true)
    _same_effect(FACTS, "DELETE FROM \"_facts_ordered_month\" WHERE part_month IN (DATE '2024-01-01', DATE '2024-03-01')")


def test_delete_without_where_empties_the_table():
    _same_effect(FACTS, 'DELETE FROM "_facts_pending"')


# -- UPDATE ---------------------------------------------------------------------------------------------------

def test_update_interrupted():
    # loader._interrupted
    _same_effect(LOG, "UPDATE \"_load_log\" SET status = 'interrupted' WHERE status = 'started'")


def test_update_failed_with_a_time_parameter():
    # loader._mark_failed: a datetime parameter with microseconds
    _same_effect(LOG, "UPDATE \"_load_log\" SET status = 'failed', finished_at = ? WHERE load_id = ? AND status = 'started'",
                 (dt.datetime(2024, 1, 5, 9, 30, 1, 250), "b"))


def test_update_from_the_overrides_source():
    # loader._load after a varieties import: overrides.reapply_sql; a source row without a target, a target
    # without a source row, NULL keys on both sides and a source value that sets a column to NULL
    _same_effect(VARIETIES, reapply_sql("varieties"))


def test_patch_with_a_null_value():
    # workflow.outbox.write_entries: overrides.patch_sql with a value set to NULL
    _same_effect(VARIETIES, patch_sql("varieties", ["variety_id"], ["special", "special_end"]), ("demand_change", None, "v2"))


def test_update_reads_the_old_values():
    # SET a = b, b = a swaps: every SET expression reads the row as it was
    _same_effect(VARIETIES, "UPDATE varieties SET name = batch_id, batch_id = name, special_end = special_end + 1 "
                            "WHERE special IS NOT NULL")


# -- INSERT ---------------------------------------------------------------------------------------------------

def test_insert_values_with_a_date_parameter():
    # facts.refresh (deferred): a month into _facts_pending
    _same_effect(FACTS, 'INSERT INTO "_facts_pending" VALUES (?)', (dt.date(2024, 2, 1),))


def test_insert_values_with_a_literal_and_a_parameter():
    # facts.refresh: the state row
    _same_effect(FACTS, 'INSERT INTO "_facts_state" VALUES (TRUE, ?)', (dt.datetime(2024, 6, 1, 8, 0, 0),))


def test_insert_select_into_some_columns_casts_and_fills_nulls():
    # columns named out of the table's order, one left out (NULL), a text that must become a DATE
    _same_effect(VARIETIES, "INSERT INTO varieties (special_end, variety_id, name) "
                            "SELECT CAST('2025-01-31' AS DATE), variety_id, 'x' || variety_id FROM _variety_exemptions "
                            "WHERE variety_id IS NOT NULL")


def test_insert_values_of_text_with_quotes_and_question_marks():
    p = _same_effect(LOG, 'INSERT INTO "_load_log" (load_id, file, status) VALUES (?, ?, \'ok?\')',
                     ("e", "C:\\导入\\it's?.csv"))
    assert "it\\'s?" in p.sql("spark")  # Spark reads a backslash as an escape: sqlglot writes the text for it


# -- CREATE / DROP / queries ----------------------------------------------------------------------------------

def test_create_table_with_columns():
    p = rewrite.plan('CREATE TABLE IF NOT EXISTS "_facts_pending" (part_month DATE)', (), _columns(_db("")))
    assert (p.kind, p.table, p.if_not_exists) == ("create", "_facts_pending", True)
    assert str(p.arrow_schema()) == "part_month: date32[day]"
    p = rewrite.plan('CREATE TABLE "_facts_state" (complete BOOLEAN, built_at TIMESTAMP)', (), _columns(_db("")))
    assert (p.if_not_exists, [f.type for f in p.arrow_schema()]) == (False, [__import__("pyarrow").bool_(),
                                                                           __import__("pyarrow").timestamp("us")])


def test_create_as_and_drop():
    p = rewrite.plan('CREATE TABLE "_facts_x" AS SELECT 1 AS a', (), _columns(_db("")))
    assert (p.kind, p.table, p.sql("spark")) == ("create_as", "_facts_x", "SELECT 1 AS a")
    p = rewrite.plan('DROP TABLE IF EXISTS "_facts_state"', (), _columns(_db("")))
    assert (p.kind, p.table, p.if_exists) == ("drop", "_facts_state", True)
    assert not rewrite.plan('DROP TABLE "_facts_state"', (), _columns(_db(""))).if_exists


def test_a_query_with_parameters_returns_the_same_rows():
    # loader._unchanged: a correlated count, quoted names, two parameters
    sql = ('SELECT l.rows_quarantined, (SELECT count(*) FROM "_load_log" m WHERE m.status = \'ok\' '
           'AND m.load_id <> l.load_id AND m.finished_at >= l.started_at) '
           'FROM "_load_log" l WHERE l.sha256 = ? AND l."table" = ? AND l.status IS NOT NULL '
           'ORDER BY l.finished_at DESC, l.started_at DESC LIMIT 1')
    con = _db(LOG)
    p = rewrite.plan(sql, ("h2", "orders"), _columns(con))
    assert p.kind == "query"
    assert con.execute(p.sql("duckdb")).fetchall() == con.execute(sql, ["h2", "orders"]).fetchall() == [(1, 0)]
    assert '`table`' in p.sql("spark") and '"' not in p.sql("spark")


def test_bind_counts_only_real_placeholders():
    assert rewrite.bind("SELECT '?' AS \"a?\" WHERE x = ?", (None,)) == "SELECT '?' AS \"a?\" WHERE x = NULL"
    with pytest.raises(rewrite.UnsupportedStatement):
        rewrite.bind("SELECT ?, ?", (1,))


def test_unsupported_shapes_are_named():
    with pytest.raises(rewrite.UnsupportedStatement) as e:
        rewrite.plan("DELETE FROM t USING k WHERE t.a = k.a", (), _columns(_db("")))
    assert "USING" in e.value.en
    with pytest.raises(rewrite.UnsupportedStatement) as e:
        rewrite.plan("UPDATE varieties SET nope = 1", (), _columns(_db(VARIETIES)))
    assert "nope" in e.value.en
