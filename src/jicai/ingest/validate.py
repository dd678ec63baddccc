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
from jicai.ingest.sql import lit, q

Existing = Callable[[str, str, pa.Array], pa.Array]  # (table, column, values) -> those that exist


@dataclass
class Outcome:
    rows_read: int
    rows_bad: int
    problems: int


def build_typed(con: duckdb.DuckDBPyConnection, t: Table, sheets: list[tuple[Sheet, HeaderMap]]) -> int:
    """``typed``: _sheet, _row, _truncated, ``_e_<col>`` (cell empty) and the parsed ``<col>`` per contract column;
    ``raw_all``: a view of the cell text ``_raw_<col>``, joined only to the few rows with problems."""
    install_macros(con)
    typed, raw = [], []
    for i, (sheet, hm) in enumerate(sheets):
        tcols, rcols = [f"{i} AS _sheet", "_row", "_truncated"], [f"{i} AS _sheet", "_row"]
        for c in t.columns:
            cell = f"c{hm.columns[c.name]}" if c.name in hm.columns else "CAST(NULL AS VARCHAR)"
            rcols.append(f"{cell} AS {q('_raw_' + c.name)}")
            tcols.append(f"jc_text({cell}) IS NULL AS {q('_e_' + c.name)}")
            tcols.append(f"{typed_expr(c, clean_expr(c, t, cell))} AS {q(c.name)}")
        typed.append(f"SELECT {', '.join(tcols)} FROM {sheet.table}")
        raw.append(f"SELECT {', '.join(rcols)} FROM {sheet.table}")
    con.execute("CREATE OR REPLACE TABLE typed AS " + " UNION ALL ".join(typed))
    con.execute("CREATE OR REPLACE VIEW raw_all AS " + " UNION ALL ".join(raw))
    return con.execute("SELECT count(*) FROM typed").fetchone()[0]


@dataclass
class Check:
    where: str  # SQL predicate over a row of ``typed`` (and ``b`` when ``join`` is set)
    column: str | None
    zh: str  # SQL text expressions
    en: str
    join: str = ""  # e.g. "JOIN bad_x b ON f.x = b.v"


def _label(c: Column) -> tuple[str, str]:
    return f"{c.zh}（{c.name}）", c.name


def _local_checks(con: duckdb.DuckDBPyConnection, t: Table) -> list[Check]:
    checks = []
    for c in t.columns:
        zh, en = _label(c)
        val, empty = q(c.name), q("_e_" + c.name)
        if c.required:
            checks.append(Check(empty, c.name, lit(f"{zh} 为必填项，值为空"), lit(f"{en} is required but empty")))
        if c.type != "str" or c.choices:
            rz, re_ = type_reason(c)
            checks.append(Check(f"NOT {empty} AND {val} IS NULL", c.name, lit(f"{zh} {rz}"), lit(f"{en} {re_}")))
        if c.check:
            v = validator(c.check)
            if v.sql_bad:
                checks.append(Check(v.sql_bad.format(col=val), c.name, lit(f"{zh} {v.reason[0]}"), lit(f"{en} {v.reason[1]}")))
            else:
                bad = _bad_values(con, c.name, v.problem)
                checks.append(Check(f"{val} IN (SELECT v FROM {bad})", c.name, "b.zh", "b.en",
                                    join=f"JOIN {bad} b ON f.{val} = b.v"))
    if t.name in ROW_CHECKS:
        (a, b), fn = ROW_CHECKS[t.name]
        bad = _bad_pairs(con, t, a, b, fn)
        checks.append(Check(f"({q(a)}, {q(b)}) IN (SELECT (a, b) FROM {bad})", b, "p.zh", "p.en",
                            join=f"JOIN {bad} p ON f.{q(a)} = p.a AND f.{q(b)} IS NOT DISTINCT FROM p.b"))
    checks.append(Check("_truncated", None, lit("该行不完整：文件在此行中途被截断"),
                        lit("row is incomplete: the file is cut off in this row")))
    return checks


def _emit(checks: list[Check], source: str) -> str:
    """One problem row per failed check, for the rows of ``source`` (aliased f, with raw text)."""
    parts = []
    for ch in checks:
        col = lit(ch.column) if ch.column else "CAST(NULL AS VARCHAR)"
        value = f"f.{q('_raw_' + ch.column)}" if ch.column else "CAST(NULL AS VARCHAR)"
        where = ch.where.replace("_truncated", "f._truncated")
        parts.append(f"SELECT f._sheet, f._row, {col} AS col, {value} AS value, {ch.zh} AS reason_zh, "
                     f"{ch.en} AS reason_en FROM {source} f {ch.join} WHERE {where}")
    return " UNION ALL ".join(parts)


def _flag_rows(con: duckdb.DuckDBPyConnection, checks: list[Check], table: str) -> None:
    """Problem rows of ``checks``: one scan of ``typed`` finds the rows, raw text is joined to those only."""
    any_bad = " OR ".join(f"({ch.where})" for ch in checks)
    con.execute(f"CREATE OR REPLACE TABLE flagged AS SELECT f.*, r.* EXCLUDE (_sheet, _row) "
                f"FROM (SELECT * FROM typed WHERE {any_bad}) f JOIN raw_all r USING (_sheet, _row)")
    con.execute(f"INSERT INTO {table} {_emit(checks, 'flagged')}")


def _bad_values(con: duckdb.DuckDBPyConnection, column: str, problem: Callable) -> str:
    """Run a code validator once per distinct value; returns the name of a (v, zh, en) table of the bad ones."""
    values = con.execute(f"SELECT DISTINCT {q(column)} FROM typed WHERE {q(column)} IS NOT NULL").fetchall()
    bad = [(v, *r) for (v,) in values if (r := problem(v)) is not None]
    return _small_table(con, f"bad_{column}", ("v", "zh", "en"), bad)


def _small_table(con: duckdb.DuckDBPyConnection, name: str, cols: tuple[str, ...], rows: list[tuple]) -> str:
    data = pa.table({k: pa.array([r[i] for r in rows], pa.string()) for i, k in enumerate(cols)})
    con.register(name + "_arrow", data)
    con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM {name}_arrow")
    con.unregister(name + "_arrow")
    return name


def _bad_pairs(con: duckdb.DuckDBPyConnection, t: Table, a: str, b: str, fn: Callable) -> str:
    """Two-column row check over distinct pairs whose codes are themselves valid."""
    check = validator(t.column(a).check).problem
    pairs = con.execute(f"SELECT DISTINCT {q(a)}, {q(b)} FROM typed WHERE {q(a)} IS NOT NULL").fetchall()
    bad = [(x, y, *r) for x, y in pairs
           if check(x) is None and (y is None or check(y) is None) and (r := fn(x, y)) is not None]
    return _small_table(con, "bad_pairs", ("a", "b", "zh", "en"), bad)


OK_ROWS = "NOT EXISTS (SELECT 1 FROM problems p WHERE p._sheet = typed._sheet AND p._row = typed._row)"


def _duplicates(con: duckdb.DuckDBPyConnection, t: Table, sheet_names: list[str | None]) -> None:
    """Later occurrences of a key among the rows without local problems (hash-aggregate first: few keys repeat)."""
    keys = ", ".join(q(k) for k in t.key)
    con.execute(f"CREATE OR REPLACE TABLE dup_keys AS SELECT {keys} FROM typed WHERE {OK_ROWS} "
                f"GROUP BY ALL HAVING count(*) > 1")
    if not con.execute("SELECT count(*) FROM dup_keys").fetchone()[0]:
        return
    label = "+".join(t.key)

    def where(first_sheet: str, lang: str) -> str:
        names = [(f"工作表“{s}”" if lang == "zh" else f"sheet {s!r} ") if s else "" for s in sheet_names]
        return f"CASE {first_sheet} " + "".join(f"WHEN {i} THEN {lit(n)} " for i, n in enumerate(names)) + "END"

    raw_key = ", ".join(f"r.{q('_raw_' + k)}" for k in t.key)
    con.execute(f"""INSERT INTO problems
    SELECT d._sheet, d._row, {lit(label)}, concat_ws('|', {raw_key}),
           {lit(f'主键（{label}）重复：与')} || {where('d._first_sheet', 'zh')} || '第' || d._first_row || '行相同，保留第一次出现的行',
           {lit(f'duplicate key ({label}): same as ')} || {where('d._first_sheet', 'en')} || 'row ' || d._first_row
             || '; the first occurrence is kept'
    FROM (SELECT _sheet, _row, row_number() OVER w AS _n, first_value(_row) OVER w AS _first_row,
                 first_value(_sheet) OVER w AS _first_sheet
          FROM typed SEMI JOIN dup_keys USING ({keys}) WHERE {OK_ROWS}
          WINDOW w AS (PARTITION BY {keys} ORDER BY _sheet, _row)) d
    JOIN raw_all r USING (_sheet, _row) WHERE d._n > 1""")


def _references(con: duckdb.DuckDBPyConnection, t: Table, existing: Existing) -> None:
    checks = []
    for c in t.columns:
        if c.ref is None:
            continue
        rt, rc = c.ref
        values = con.execute(f"SELECT DISTINCT {q(c.name)} AS v FROM typed WHERE {q(c.name)} IS NOT NULL") \
            .to_arrow_table().column("v").combine_chunks().cast(pa.string())
        known = f"known_{c.name}"
        _small_table(con, known, ("v",), [(v,) for v in existing(rt, rc, values).to_pylist()])
        if rt == t.name:  # self-reference: rows of this file count too
            con.execute(f"INSERT INTO {known} SELECT {q(rc)} FROM typed WHERE {q(rc)} IS NOT NULL AND {OK_ROWS}")
        zh, en = _label(c)
        checks.append(Check(f"{q(c.name)} IS NOT NULL AND {q(c.name)} NOT IN (SELECT v FROM {known})", c.name,
                            f"{lit(f'{zh} 引用的{TABLES[rt].zh}（{rt}.{rc}）不存在：')} || f.{q(c.name)}",
                            f"{lit(f'{en}: unknown reference, no {rt}.{rc} = ')} || f.{q(c.name)}"))
    if checks:
        _flag_rows(con, checks, "problems")


PROBLEMS_DDL = ("CREATE OR REPLACE TABLE problems (_sheet INTEGER, _row BIGINT, col VARCHAR, value VARCHAR, "
                "reason_zh VARCHAR, reason_en VARCHAR)")


def validate(con: duckdb.DuckDBPyConnection, t: Table, sheets: list[tuple[Sheet, HeaderMap]],
             existing: Existing) -> Outcome:
    rows = build_typed(con, t, sheets)
    con.execute(PROBLEMS_DDL)
    _flag_rows(con, _local_checks(con, t), "problems")
    _duplicates(con, t, [s.name for s, _ in sheets])
    _references(con, t, existing)
    bad, n = con.execute("SELECT count(DISTINCT (_sheet, _row)), count(*) FROM problems").fetchone()
    return Outcome(rows, bad, n)


def good_rows(con: duckdb.DuckDBPyConnection, t: Table, schema: pa.Schema, batch: int = 100_000) -> pa.RecordBatchReader:
    """The rows without problems, typed as the warehouse table, as a stream."""
    cols = ", ".join(q(n) for n in schema.names)
    rel = con.execute(f"SELECT {cols} FROM typed WHERE NOT EXISTS (SELECT 1 FROM problems p "
                      f"WHERE p._sheet = typed._sheet AND p._row = typed._row)")
    reader = rel.to_arrow_reader(batch)
    return pa.RecordBatchReader.from_batches(schema, (b.cast(schema) for b in reader))


def good_keys(con: duckdb.DuckDBPyConnection, t: Table, schema: pa.Schema) -> pa.Table:
    keys = ", ".join(q(k) for k in t.key)
    tab = con.execute(f"SELECT {keys} FROM typed WHERE NOT EXISTS (SELECT 1 FROM problems p "
                      f"WHERE p._sheet = typed._sheet AND p._row = typed._row)").to_arrow_table()
    return tab.cast(pa.schema([schema.field(k).with_nullable(True) for k in t.key]))
