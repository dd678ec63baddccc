"""Validate staged sheets in DuckDB: one ``typed`` table of parsed rows, one ``problems`` table.

``problems`` has one row per problem (``_sheet, _row, column, value, reason_zh, reason_en``); a row
with any problem is quarantined, every other row loads. Checks, in order:

1. row-local: required value empty, value does not parse as its type or is not one of the choices,
   the column's ``check`` validator, two-column row checks (a region and its parent), a date outside its
   plausible window (:mod:`.plausible`), a row cut short at the end of a truncated file, a row the reader
   could not split into cells (``Sheet.rejected``: ragged, over-long, an unbalanced quote, a formula cell);
2. duplicate keys among the rows that passed (1): **the first occurrence in the file is kept**, every
   later one is quarantined with the row number of the first (a file is one snapshot; two different
   rows for one key inside it is an error of the export, not an update);
3. references (``ref``) of every row: the value must exist in the warehouse (tables loaded earlier,
   including earlier files of the same import run) or, for a table referring to itself (a region's
   parent), among the rows of this file that passed (1).

The work is shaped for 10^7-row files where almost every row is good:

* one pass reads the file into ``typed``: the parsed values and ``_local``, every SQL row check of (1)
  OR-ed into one flag (the reasons are not built here);
* code validators (check characters) run in Python once per *distinct* value; duplicates are found
  on a 64-bit hash of the key first (aggregating integers, not strings), then confirmed on the few
  candidate keys; references are one anti-join per column against the warehouse (``Sink.absent``);
* the rows with any problem are collected once (``flagged``); the reasons, with the cell text as the
  file has it, are built for those rows only. With no problem, nothing after ``typed`` scans every row
  but the hash of the key, the distinct codes and the references.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from jicai.contract.tables import TABLES, Column, Table
from jicai.contract.validators import ROW_CHECKS, validator
from jicai.ingest import codemap, plausible, stage
from jicai.ingest.normalize import FREE_TEXT, HeaderMap, cell_exprs, install_macros, type_reason
from jicai.ingest.readers import FileError, MalformedCsv, Sheet, clean_message
from jicai.ingest.sql import lit, q
from jicai.ingest.stage import Staged

# (table, column, values, into): create the TEMP table ``into(v)`` of the values not in table.column; returns
# how many (Sink.absent)
Absent = Callable[[str, str, Staged, str], int]


@dataclass
class Outcome:
    rows_read: int
    rows_bad: int
    problems: int


@dataclass
class Check:
    where: str  # SQL predicate over a row of ``typed`` (and ``b`` when ``join`` is set)
    column: str | None
    zh: str  # SQL text expressions
    en: str
    join: str = ""  # e.g. "JOIN bad_x b ON f.x = b.v"


def _label(c: Column) -> tuple[str, str]:
    return f"{c.zh}（{c.name}）", c.name


def _sql_checks(t: Table, controls: str | None = None) -> list[Check]:
    """Row checks that are SQL over the parsed values and ``_e_<col>`` (the cell is empty); ``controls``: text
    values are checked for control characters — "all" of them, or only the free "text" (names, specifications:
    a Parquet file, written by a program, whose identifiers are not worth a scan of ten million rows), or none
    (a CSV file whose bytes hold none, see ``Sheet.controls``). A code's validator refuses them already."""
    checks = []
    for c in t.columns:
        zh, en = _label(c)
        val, empty = q(c.name), q("_e_" + c.name)
        if c.required:
            checks.append(Check(empty, c.name, lit(f"{zh} 为必填项，值为空"), lit(f"{en} is required but empty")))
        if controls and c.type == "str" and not c.choices and not c.check and (controls == "all" or c.name in FREE_TEXT):
            checks.append(Check(f"jc_control({val}) IS NOT NULL", c.name,
                                f"{lit(f'{zh} 含控制字符 ')} || jc_control({val}) || '，请从源数据中删除'",
                                f"{lit(f'{en} holds the control character ')} || jc_control({val}) "
                                f"|| '; remove it at the source'"))
        if c.type != "str" or c.choices:
            rz, re_ = type_reason(c)
            checks.append(Check(f"NOT {empty} AND {val} IS NULL", c.name, lit(f"{zh} {rz}"), lit(f"{en} {re_}")))
        if c.check and (v := validator(c.check)).sql_bad:
            checks.append(Check(v.sql_bad.format(col=val), c.name, lit(f"{zh} {v.reason[0]}"), lit(f"{en} {v.reason[1]}")))
    checks.append(Check("_truncated", None, lit("该行不完整：文件在此行中途被截断"),
                        lit("row is incomplete: the file is cut off in this row")))
    return checks


def build_typed(con: duckdb.DuckDBPyConnection, t: Table, sheets: list[tuple[Sheet, HeaderMap]]) -> int:
    """``typed``: _sheet, _row, the parsed ``<col>`` per contract column and ``_local`` (a SQL row check fails).

    A CSV sheet read straight from its file has no row numbers: its rows go into ``typed0`` in file order and
    ``typed`` is a view numbering them."""
    install_macros(con)
    typed = []
    for i, (sheet, hm) in enumerate(sheets):
        types = sheet.types or ["VARCHAR"] * len(sheet.headers)
        tcols = [f"{i} AS _sheet", "_row" if sheet.numbered else "CAST(NULL AS BIGINT) AS _row", "_truncated" if sheet.numbered
                 else "false AS _truncated"]
        for c in t.columns:
            pos = hm.columns.get(c.name)
            cell, dtype = (f"c{pos}", types[pos]) if pos is not None else ("CAST(NULL AS VARCHAR)", "VARCHAR")
            empty, value = cell_exprs(c, t, cell, dtype)
            tcols.append(f"{empty} AS {q('_e_' + c.name)}")
            tcols.append(f"{value} AS {q(c.name)}")
        typed.append(f"SELECT {', '.join(tcols)} FROM {{src}}")
    local = " OR ".join(f"({ch.where})" for ch in _sql_checks(t, _controls(sheets)))
    cols = ", ".join(q(c.name) for c in t.columns)
    outer = f"SELECT _sheet, _row, {cols}, coalesce({local}, false) AS _local FROM "
    if len(sheets) == 1 and not sheets[0][0].numbered:
        try:
            sheets[0][0].run(con, f"CREATE OR REPLACE TABLE typed0 AS {outer}({typed[0]})")
            sheets[0][0].source.check_records(con.execute("SELECT count(*) FROM typed0").fetchone()[0])
        except MalformedCsv:  # a ragged or over-long row, an unbalanced quote: read record by record, then as below
            sheets[0][0].rescan(con, 0)
            return build_typed(con, t, sheets)
        first = con.execute("SELECT min(rowid) FROM typed0").fetchone()[0] or 0  # see CsvSource.numbered
        con.execute(f"CREATE OR REPLACE VIEW typed AS SELECT _sheet, rowid - {first} + 2 AS _row, "
                    f"* EXCLUDE (_sheet, _row) FROM {stage.t('typed0')}")
    else:
        union = " UNION ALL ".join(sel.replace("{src}", s.table) for sel, (s, _) in zip(typed, sheets, strict=True))
        try:
            con.execute(f"CREATE OR REPLACE TABLE typed AS {outer}({union})")
        except duckdb.Error as exc:
            if (not any(s.types for s, _ in sheets) or isinstance(exc, duckdb.OutOfMemoryException)
                    or "No space left" in str(exc)):
                raise
            # a Parquet file whose footer reads but whose data does not: the file's fault, said without SQL or paths
            why = clean_message(exc)
            raise FileError(f"无法读取 Parquet 文件的数据（文件损坏）：{why}",
                            f"cannot read the Parquet file's data (damaged): {why}") from None
    return con.execute("SELECT count(*) FROM typed").fetchone()[0]


def _controls(sheets: list[tuple[Sheet, HeaderMap]]) -> str | None:
    """Which text cells :func:`_sql_checks` checks for control characters (see there)."""
    if any(s.controls and s.types is None for s, _ in sheets):
        return "all"
    return "text" if any(s.controls for s, _ in sheets) else None


def _raw_view(con: duckdb.DuckDBPyConnection, t: Table, sheets: list[tuple[Sheet, HeaderMap]]) -> None:
    """``raw_all``: ``_truncated`` and the cell text ``_raw_<col>`` (of every row, or of the flagged ones at least),
    joined only to the few rows with problems."""
    raw = []
    for i, (sheet, hm) in enumerate(sheets):
        rcols = [f"{i} AS _sheet", "_row", "_truncated"]
        for c in t.columns:
            pos = hm.columns.get(c.name)
            cell = f"c{pos}" if pos is not None else "CAST(NULL AS VARCHAR)"
            rcols.append(f"CAST({cell} AS VARCHAR) AS {q('_raw_' + c.name)}")
        raw.append(f"SELECT {', '.join(rcols)} FROM {sheet.text(con, f'SELECT _row FROM flagged WHERE _sheet = {i}')}")
    con.execute("CREATE OR REPLACE VIEW raw_all AS " + " UNION ALL ".join(raw))


def _small_table(con: duckdb.DuckDBPyConnection, name: str, cols: tuple[str, ...], rows: list[tuple]) -> str:
    data = pa.table({k: pa.array([r[i] for r in rows], pa.string()) for i, k in enumerate(cols)})
    con.register(name + "_arrow", data)
    con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM {name}_arrow")
    con.unregister(name + "_arrow")
    return name


def _value_checks(con: duckdb.DuckDBPyConnection, t: Table) -> list[Check]:
    """Code validators (once per distinct value) and two-column row checks (once per distinct pair); only the
    checks that found a bad value are returned."""
    checks = []
    for c in t.columns:
        if not c.check or validator(c.check).sql_bad:
            continue
        problem = validator(c.check).problem
        values = con.execute(f"SELECT DISTINCT {q(c.name)} FROM typed WHERE {q(c.name)} IS NOT NULL").fetchall()
        bad = [(v, *r) for (v,) in values if (r := problem(v)) is not None]
        if bad:
            name = _small_table(con, f"bad_{c.name}", ("v", "zh", "en"), bad)
            checks.append(Check(f"{q(c.name)} IN (SELECT v FROM {name})", c.name, "b.zh", "b.en",
                                join=f"JOIN {name} b ON f.{q(c.name)} = b.v"))
    if t.name in ROW_CHECKS:
        (a, b), fn = ROW_CHECKS[t.name]
        check = validator(t.column(a).check).problem
        pairs = con.execute(f"SELECT DISTINCT {q(a)}, {q(b)} FROM typed WHERE {q(a)} IS NOT NULL").fetchall()
        bad = [(x, y, *r) for x, y in pairs
               if check(x) is None and (y is None or check(y) is None) and (r := fn(x, y)) is not None]
        if bad:
            _small_table(con, "bad_pairs", ("a", "b", "zh", "en"), bad)
            checks.append(Check(f"({q(a)}, {q(b)}) IN (SELECT (a, b) FROM bad_pairs)", b, "p.zh", "p.en",
                                join=f"JOIN bad_pairs p ON f.{q(a)} = p.a AND f.{q(b)} IS NOT DISTINCT FROM p.b"))
    return checks


def _date_checks(con: duckdb.DuckDBPyConnection, t: Table, sink: object = None) -> list[Check]:
    """Dates outside their plausible window (:mod:`.plausible`; the batches' cycles are read from the warehouse)."""
    batches = sink.fetch("SELECT start_date, cycle_years FROM batches") if sink is not None else []
    return [Check(d.where, d.column, d.zh, d.en) for d in plausible.checks(con, t, plausible.cycles_of(batches))]


def _duplicates(con: duckdb.DuckDBPyConnection, t: Table, ok: str) -> int:
    """``dups``: the later occurrences of a key among the rows ``ok`` (SQL over typed), each with its first.

    Exports usually list their rows in key order: when every key is greater than the one before it, no key
    repeats (whatever order DuckDB scanned them in, a strictly increasing sequence has no repeats), which one
    streaming pass decides. Otherwise keys are grouped by a 64-bit hash: no repeated hash, no repeated key
    (decided by aggregating integers); a repeated hash names the few candidate keys, compared exactly."""
    keys = ", ".join(q(k) for k in t.key)
    con.execute("CREATE OR REPLACE TABLE dups (_sheet INTEGER, _row BIGINT, _first_sheet INTEGER, _first_row BIGINT)")
    if len(t.key) == 1 and not con.execute(
            f"SELECT count(*) FROM (SELECT {keys} AS k, lag({keys}) OVER () AS p FROM typed "
            f"WHERE {keys} IS NOT NULL AND {ok}) WHERE p >= k").fetchone()[0]:
        return 0
    con.execute(f"CREATE OR REPLACE TABLE dup_hash AS SELECT hash({keys}) AS h FROM typed WHERE {ok} "
                f"GROUP BY h HAVING count(*) > 1")
    if not con.execute("SELECT count(*) FROM dup_hash").fetchone()[0]:
        return 0
    con.execute(f"""INSERT INTO dups SELECT _sheet, _row, _first_sheet, _first_row FROM (
        SELECT _sheet, _row, row_number() OVER w AS _n, first_value(_row) OVER w AS _first_row,
               first_value(_sheet) OVER w AS _first_sheet
        FROM typed WHERE {ok} AND hash({keys}) IN (SELECT h FROM dup_hash)
        WINDOW w AS (PARTITION BY {keys} ORDER BY _sheet, _row)) WHERE _n > 1""")
    return con.execute("SELECT count(*) FROM dups").fetchone()[0]


def _references(con: duckdb.DuckDBPyConnection, t: Table, absent: Absent, ok: str, sink: object = None) -> list[Check]:
    """``unknown_<col>`` per reference column; the checks of the columns that have an unknown value. An unknown
    product of an order line carries the 对码 hint of its local code (:func:`codemap.hints`)."""
    checks = []
    for c in t.columns:
        if c.ref is None:
            continue
        rt, rc = c.ref
        known = f"unknown_{c.name}"
        n = absent(rt, rc, Staged(con, f"SELECT {q(c.name)} AS v FROM typed", pa.schema([("v", pa.string())])), known)
        if n and rt == t.name:  # self-reference: rows of this file count too
            con.execute(f"DELETE FROM {known} WHERE v IN (SELECT {q(rc)} FROM typed WHERE {q(rc)} IS NOT NULL AND {ok})")
            n = con.execute(f"SELECT count(*) FROM {known}").fetchone()[0]
        if n:
            zh, en = _label(c)
            hinted = sink is not None and c.name == "product_code" and codemap.hints(con, t.name, sink)
            checks.append(Check(f"{q(c.name)} IN (SELECT v FROM {known})", c.name,
                                f"{lit(f'{zh} 引用的{TABLES[rt].zh}（{rt}.{rc}）不存在：')} || f.{q(c.name)}"
                                + (f" || {codemap.hint_sql('zh')}" if hinted else ""),
                                f"{lit(f'{en}: unknown reference, no {rt}.{rc} = ')} || f.{q(c.name)}"
                                + (f" || {codemap.hint_sql('en')}" if hinted else "")))
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


def _detail(con: duckdb.DuckDBPyConnection, t: Table, sheets: list[tuple[Sheet, HeaderMap]], checks: list[Check]) -> None:
    """``flagged_rows``: the flagged rows with their parsed values, cell text and ``_e_<col>``, then one problem
    row per failed check (the cell text is read again only for these rows)."""
    _raw_view(con, t, sheets)
    empties = ", ".join(f"jc_text({q('_raw_' + c.name)}) IS NULL AS {q('_e_' + c.name)}" for c in t.columns)
    # _truncated is a cell of the staged sheet, not of typed: it comes back with the raw text
    con.execute(f"CREATE OR REPLACE TABLE flagged_rows AS SELECT f.* EXCLUDE (_local), r.* EXCLUDE (_sheet, _row), "
                f"{empties} FROM typed f SEMI JOIN flagged USING (_sheet, _row) JOIN raw_all r USING (_sheet, _row)")
    con.execute(f"INSERT INTO problems {_emit(checks, 'flagged_rows')}")


def _dup_problems(con: duckdb.DuckDBPyConnection, t: Table, sheet_names: list[str | None]) -> None:
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
    FROM dups d JOIN flagged_rows r USING (_sheet, _row)""")


PROBLEMS_DDL = ("CREATE OR REPLACE TABLE problems (_sheet INTEGER, _row BIGINT, col VARCHAR, value VARCHAR, "
                "reason_zh VARCHAR, reason_en VARCHAR)")


def validate(con: duckdb.DuckDBPyConnection, t: Table, sheets: list[tuple[Sheet, HeaderMap]],
             absent: Absent) -> Outcome:
    return check(con, t, sheets, absent, build_typed(con, t, sheets))


def check(con: duckdb.DuckDBPyConnection, t: Table, sheets: list[tuple[Sheet, HeaderMap]], absent: Absent,
          rows: int, sink: object = None) -> Outcome:
    """Every check over ``typed`` (made by :func:`build_typed`, ``rows`` rows): ``flagged`` and ``problems``.

    With the warehouse's ``sink`` (:class:`jicai.ingest.sink.Sink`), order lines are 对码-ed first: confirmed
    local codes become national ones, and unknown ones get suggestions in their reason (:mod:`.codemap`)."""
    con.execute(PROBLEMS_DDL)
    rejected, unread = _rejected(con, sheets)
    if sink is not None:
        codemap.apply_confirmed(con, t.name, sink)
    value_checks = _value_checks(con, t) + _date_checks(con, t, sink)
    local = " OR ".join(["_local"] + [f"({ch.where})" for ch in value_checks])
    con.execute(f"CREATE OR REPLACE TABLE bad_local AS SELECT _sheet, _row FROM typed WHERE {local}")
    ok = ("NOT EXISTS (SELECT 1 FROM bad_local b WHERE b._sheet = typed._sheet AND b._row = typed._row)"
          if con.execute("SELECT count(*) FROM bad_local").fetchone()[0] else "true")
    n_dups = _duplicates(con, t, ok)
    ref_checks = _references(con, t, absent, ok, sink)
    parts = ["SELECT _sheet, _row FROM bad_local", "SELECT _sheet, _row FROM dups"]
    if rejected:
        parts.append("SELECT _sheet, _row FROM rejected")
    if ref_checks:
        parts.append(f"SELECT _sheet, _row FROM typed WHERE {' OR '.join(f'({ch.where})' for ch in ref_checks)}")
    con.execute("CREATE OR REPLACE TABLE flagged AS " + " UNION ".join(parts))
    bad = con.execute("SELECT count(*) FROM flagged").fetchone()[0]
    if bad:
        _detail(con, t, sheets, _sql_checks(t, _controls(sheets)) + value_checks + ref_checks)
        if n_dups:
            _dup_problems(con, t, [s.name for s, _ in sheets])
        if rejected:  # the reader's reason replaces what the checks make of the same cell (a formula is not "empty")
            con.execute("DELETE FROM problems p WHERE EXISTS (SELECT 1 FROM rejected r WHERE r._sheet = p._sheet "
                        "AND r._row = p._row AND r.col = p.col)")
            con.execute("INSERT INTO problems SELECT * FROM rejected")
    return Outcome(rows + unread, bad, con.execute("SELECT count(*) FROM problems").fetchone()[0])


def _rejected(con: duckdb.DuckDBPyConnection, sheets: list[tuple[Sheet, HeaderMap]]) -> tuple[int, int]:
    """``rejected``: the problems the readers found (``Sheet.rejected``) as problem rows, their cells named by the
    contract column (a cell of a column the table does not use is no problem); returns how many, and how many
    of their rows never reached ``typed`` (CSV records that could not be split: they count as read)."""
    parts = []
    for i, (sheet, hm) in enumerate(sheets):
        if sheet.rejected is None:
            continue
        names = "".join(f"WHEN {pos} THEN {lit(name)} " for name, pos in hm.columns.items())
        col = f"CASE pos {names}END" if names else "CAST(NULL AS VARCHAR)"
        parts.append(f"SELECT {i} AS _sheet, _row, {col} AS col, value, reason_zh, reason_en FROM {sheet.rejected} "
                     f"WHERE pos IS NULL OR pos IN ({', '.join(str(p) for p in hm.columns.values()) or 'NULL'})")
    if not parts:
        return 0, 0
    con.execute("CREATE OR REPLACE TABLE rejected AS " + " UNION ALL ".join(parts))
    n, unread = con.execute("SELECT count(*), count(DISTINCT (_sheet, _row)) FILTER (WHERE NOT EXISTS (SELECT 1 FROM "
                            "typed t WHERE t._sheet = r._sheet AND t._row = r._row)) FROM rejected r").fetchone()
    return n, unread


def _good(con: duckdb.DuckDBPyConnection, cols: str) -> str:
    """SQL of ``cols`` of the rows without problems (no anti-join when every row is good); the staging tables are
    named in full, so the query also runs in the warehouse transaction."""
    if not con.execute(f"SELECT count(*) FROM {stage.t('flagged')}").fetchone()[0]:
        return f"SELECT {cols} FROM {stage.t('typed')}"
    return f"SELECT {cols} FROM {stage.t('typed')} ANTI JOIN {stage.t('flagged')} USING (_sheet, _row)"


def good_rows(con: duckdb.DuckDBPyConnection, t: Table, schema: pa.Schema) -> Staged:
    """The rows without problems, as the warehouse table's columns (``Staged.reader()`` streams them as Arrow)."""
    return Staged(con, _good(con, ", ".join(q(n) for n in schema.names)), schema)


def good_key_rows(con: duckdb.DuckDBPyConnection, t: Table, schema: pa.Schema) -> Staged:
    """The keys of the rows without problems (the rows of the warehouse they replace), as a staged query."""
    return Staged(con, _good(con, ", ".join(q(k) for k in t.key)),
                  pa.schema([schema.field(k).with_nullable(True) for k in t.key]))


def good_keys(con: duckdb.DuckDBPyConnection, t: Table, schema: pa.Schema) -> pa.Table:
    """The keys of the rows without problems, as Arrow."""
    return good_key_rows(con, t, schema).table()
