"""Validate staged sheets in DuckDB: one ``typed`` table of parsed rows, one ``problems`` table.

``problems`` has one row per problem (``_sheet, _row, column, value, reason_zh, reason_en``); a row
with any problem is quarantined, every other row loads. Checks, in order:

1. row-local: required value empty, value does not parse as its type or is not one of the choices,
   the column's ``check`` validator, two-column row checks (a region and its parent), a row cut short
   at the end of a truncated file;
2. duplicate keys among the rows that passed (1): **the first occurrence in the file is kept**, every
   later one is quarantined with the row number of the first (a file is one snapshot; two different
   rows for one key inside it is an error of the export, not an update);
3. references (``ref``) of every row: the value must exist in the warehouse (tables loaded earlier,
   including earlier files of the same import run) or, for a table referring to itself (a region's
   parent), among the rows of this file that passed (1).

Reasons are built by SQL for all rows at once; Python runs once per *distinct* code value only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from jicai.contract.tables import TABLES, Column, Table
from jicai.contract.validators import ROW_CHECKS, validator
from jicai.ingest.normalize import HeaderMap, clean_expr, install_macros, type_reason, typed_expr
from jicai.ingest.readers import Sheet
from jicai.ingest.sink import q

Existing = Callable[[str, str, pa.Array], pa.Array]  # (table, column, values) -> those that exist


def lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


@dataclass
class Outcome:
    rows_read: int
    rows_bad: int
    problems: int


def build_typed(con: duckdb.DuckDBPyConnection, t: Table, sheets: list[tuple[Sheet, HeaderMap]]) -> int:
    """``typed``: _sheet, _row, _truncated, raw text ``_raw_<col>`` and parsed ``<col>`` per contract column."""
    install_macros(con)
    selects = []
    for i, (sheet, hm) in enumerate(sheets):
        cols = [f"{i} AS _sheet", "_row", "_truncated"]
        for c in t.columns:
            raw = f"c{hm.columns[c.name]}" if c.name in hm.columns else "CAST(NULL AS VARCHAR)"
            cols.append(f"{raw} AS {q('_raw_' + c.name)}")
            cols.append(f"{typed_expr(c, clean_expr(c, t, raw))} AS {q(c.name)}")
        selects.append(f"SELECT {', '.join(cols)} FROM {sheet.table}")
    con.execute("CREATE OR REPLACE TABLE typed AS " + " UNION ALL ".join(selects))
    return con.execute("SELECT count(*) FROM typed").fetchone()[0]


def _problem(where: str, column: str, reason: tuple[str, str], value: str | None = None, extra: str = "") -> str:
    """SELECT of the problems for one check; ``reason`` parts may be SQL (``'…' || x``) when wrapped in <>."""
    val = (value or q("_raw_" + column)) if column != "*" else "NULL"
    col = lit(column) if column != "*" else "CAST(NULL AS VARCHAR)"

    def text(s: str) -> str:
        return s[1:-1] if s.startswith("<") and s.endswith(">") else lit(s)

    return (f"SELECT _sheet, _row, {col} AS col, {val} AS value, {text(reason[0])} AS reason_zh, "
            f"{text(reason[1])} AS reason_en FROM typed {extra} WHERE {where}")


def _label(c: Column) -> tuple[str, str]:
    return f"{c.zh}（{c.name}）", c.name


def _local_checks(con: duckdb.DuckDBPyConnection, t: Table) -> list[str]:
    parts = []
    for c in t.columns:
        zh, en = _label(c)
        raw, val = q("_raw_" + c.name), q(c.name)
        empty = f"jc_text({raw}) IS NULL"
        if c.required:
            parts.append(_problem(empty, c.name, (f"{zh} 为必填项，值为空", f"{en} is required but empty")))
        if c.type != "str" or c.choices:
            rz, re_ = type_reason(c)
            parts.append(_problem(f"NOT ({empty}) AND {val} IS NULL", c.name, (f"{zh} {rz}", f"{en} {re_}")))
        if c.check:
            v = validator(c.check)
            if v.sql_bad:
                parts.append(_problem(v.sql_bad.format(col=val), c.name, (f"{zh} {v.reason[0]}", f"{en} {v.reason[1]}")))
            else:
                bad = _bad_values(con, c.name, v.problem)
                parts.append(_problem("TRUE", c.name, ("<b.zh>", "<b.en>"),
                                      extra=f"JOIN {bad} b ON typed.{val} = b.v"))
    if t.name in ROW_CHECKS:
        (a, b), fn = ROW_CHECKS[t.name]
        bad = _bad_pairs(con, t, a, b, fn)
        parts.append(_problem("TRUE", b, ("<p.zh>", "<p.en>"),
                              extra=f"JOIN {bad} p ON typed.{q(a)} = p.a AND typed.{q(b)} IS NOT DISTINCT FROM p.b"))
    parts.append(_problem("_truncated", "*", ("该行不完整：文件在此行中途被截断", "row is incomplete: the file is cut off in this row")))
    return parts


def _bad_values(con: duckdb.DuckDBPyConnection, column: str, problem: Callable) -> str:
    """Run a code validator once per distinct value; returns the name of a (v, zh, en) table of the bad ones."""
    values = con.execute(f"SELECT DISTINCT {q(column)} FROM typed WHERE {q(column)} IS NOT NULL").fetchall()
    bad = [(v, *r) for (v,) in values if (r := problem(v)) is not None]
    name = f"bad_{column}"
    con.register(name + "_arrow", pa.table({"v": pa.array([b[0] for b in bad], pa.string()),
                                            "zh": pa.array([b[1] for b in bad], pa.string()),
                                            "en": pa.array([b[2] for b in bad], pa.string())}))
    con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM {name}_arrow")
    con.unregister(name + "_arrow")
    return name


def _bad_pairs(con: duckdb.DuckDBPyConnection, t: Table, a: str, b: str, fn: Callable) -> str:
    """Two-column row check over distinct pairs whose codes are themselves valid."""
    check = validator(t.column(a).check).problem
    pairs = con.execute(f"SELECT DISTINCT {q(a)}, {q(b)} FROM typed WHERE {q(a)} IS NOT NULL").fetchall()
    bad = [(x, y, *r) for x, y in pairs
           if check(x) is None and (y is None or check(y) is None) and (r := fn(x, y)) is not None]
    con.register("bad_pairs_arrow", pa.table({k: pa.array([row[i] for row in bad], pa.string())
                                              for i, k in enumerate(("a", "b", "zh", "en"))}))
    con.execute("CREATE OR REPLACE TABLE bad_pairs AS SELECT * FROM bad_pairs_arrow")
    con.unregister("bad_pairs_arrow")
    return "bad_pairs"


def _duplicates(t: Table, sheet_names: list[str | None]) -> str:
    keys = ", ".join(q(k) for k in t.key)
    where_ok = "NOT EXISTS (SELECT 1 FROM problems p WHERE p._sheet = typed._sheet AND p._row = typed._row)"
    label = "+".join(t.key)
    sheet_case = "CASE _first_sheet " + "".join(
        f"WHEN {i} THEN {lit(f'工作表“{s}”' if s else '')} " for i, s in enumerate(sheet_names)) + "END"
    sheet_case_en = "CASE _first_sheet " + "".join(
        f"WHEN {i} THEN {lit(f'sheet {s!r} ' if s else '')} " for i, s in enumerate(sheet_names)) + "END"
    return f"""
    SELECT _sheet, _row, {lit(label)} AS col, concat_ws('|', {', '.join(q('_raw_' + k) for k in t.key)}) AS value,
           '主键（' || {lit(label)} || '）重复：与' || {sheet_case} || '第' || _first_row || '行相同，保留第一次出现的行' AS reason_zh,
           'duplicate key (' || {lit(label)} || '): same as ' || {sheet_case_en} || 'row ' || _first_row
             || '; the first occurrence is kept' AS reason_en
    FROM (SELECT _sheet, _row, {', '.join(q('_raw_' + k) for k in t.key)},
                 row_number() OVER w AS _n, first_value(_row) OVER w AS _first_row, first_value(_sheet) OVER w AS _first_sheet
          FROM typed WHERE {where_ok}
          WINDOW w AS (PARTITION BY {keys} ORDER BY _sheet, _row))
    WHERE _n > 1"""


def _references(con: duckdb.DuckDBPyConnection, t: Table, existing: Existing) -> list[str]:
    parts = []
    for c in t.columns:
        if c.ref is None:
            continue
        rt, rc = c.ref
        values = con.execute(f"SELECT DISTINCT {q(c.name)} AS v FROM typed WHERE {q(c.name)} IS NOT NULL") \
            .fetch_arrow_table().column("v").combine_chunks().cast(pa.string())
        known = existing(rt, rc, values)
        name = f"known_{c.name}"
        con.register(name + "_arrow", pa.table({"v": known}))
        con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT v FROM {name}_arrow")
        con.unregister(name + "_arrow")
        if rt == t.name:  # self-reference: rows of this file count too
            con.execute(f"INSERT INTO {name} SELECT {q(rc)} FROM typed WHERE {q(rc)} IS NOT NULL AND NOT EXISTS "
                        f"(SELECT 1 FROM problems p WHERE p._sheet = typed._sheet AND p._row = typed._row)")
        rzh = TABLES[rt].zh
        zh, en = _label(c)
        parts.append(_problem(f"{q(c.name)} IS NOT NULL AND {q(c.name)} NOT IN (SELECT v FROM {name})", c.name,
                              (f"<{lit(f'{zh} 引用的{rzh}（{rt}.{rc}）不存在：')} || typed.{q(c.name)}>",
                               f"<{lit(f'{en}: unknown reference, no {rt}.{rc} = ')} || typed.{q(c.name)}>")))
    return parts


def validate(con: duckdb.DuckDBPyConnection, t: Table, sheets: list[tuple[Sheet, HeaderMap]],
             existing: Existing) -> Outcome:
    rows = build_typed(con, t, sheets)
    con.execute("CREATE OR REPLACE TABLE problems AS " + " UNION ALL ".join(_local_checks(con, t)))
    con.execute("INSERT INTO problems " + _duplicates(t, [s.name for s, _ in sheets]))
    refs = _references(con, t, existing)
    if refs:
        con.execute("INSERT INTO problems " + " UNION ALL ".join(refs))
    bad, n = con.execute("SELECT count(DISTINCT (_sheet, _row)), count(*) FROM problems").fetchone()
    return Outcome(rows, bad, n)


def good_rows(con: duckdb.DuckDBPyConnection, t: Table, schema: pa.Schema, batch: int = 100_000) -> pa.RecordBatchReader:
    """The rows without problems, typed as the warehouse table, as a stream."""
    cols = ", ".join(q(n) for n in schema.names)
    rel = con.execute(f"SELECT {cols} FROM typed WHERE NOT EXISTS (SELECT 1 FROM problems p "
                      f"WHERE p._sheet = typed._sheet AND p._row = typed._row)")
    reader = rel.fetch_record_batch(batch)
    return pa.RecordBatchReader.from_batches(schema, (b.cast(schema) for b in reader))


def good_keys(con: duckdb.DuckDBPyConnection, t: Table, schema: pa.Schema) -> pa.Table:
    keys = ", ".join(q(k) for k in t.key)
    tab = con.execute(f"SELECT {keys} FROM typed WHERE NOT EXISTS (SELECT 1 FROM problems p "
                      f"WHERE p._sheet = typed._sheet AND p._row = typed._row)").fetch_arrow_table()
    return tab.cast(pa.schema([schema.field(k).with_nullable(True) for k in t.key]))
