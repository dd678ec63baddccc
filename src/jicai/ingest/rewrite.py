"""The importer's DML and DDL as queries: how a statement changes a table when the table is immutable Parquet.

A table of the Spark lake (:mod:`jicai.store.lake`) is a folder of Parquet files that is never changed: a
write makes a new version of the whole table (copy-on-write). So every statement the importer sends as text
(``DELETE``, ``UPDATE``, ``INSERT``, ``CREATE TABLE``, ``DROP TABLE``; see :class:`jicai.ingest.spark_sink.SparkSink`)
is turned here into a :class:`Plan`: for a write, the ``SELECT`` whose rows are the table's next version.

* ``DELETE FROM t WHERE c`` keeps ``SELECT * FROM t WHERE NOT coalesce(c, FALSE)``: a row whose condition is
  NULL is not deleted by DELETE, so it must be kept (``NOT c`` alone would drop it too).
* ``UPDATE t SET a = x WHERE c`` is ``SELECT CASE WHEN coalesce(c, FALSE) THEN x ELSE t.a END AS a, …, t.b AS b
  FROM t``; with ``FROM s`` the source is LEFT JOINed on ``c`` and the rows that found a partner are updated
  (the source must match a row at most once, as the workflow's overrides do: DuckDB would pick one of several).
* ``INSERT INTO t [(cols)] SELECT …|VALUES …`` is the table ``UNION ALL`` the new rows, whose columns are put
  in the table's order and cast to its types (a column left out is NULL).
* ``CREATE TABLE``, ``CREATE TABLE … AS``, ``DROP TABLE`` name what the transaction must create, fill or drop.
* Anything else (a ``SELECT``) is a query, only translated.

SQL comes in DuckDB's dialect (the importer's, :mod:`jicai.ingest.sql`) and ``?`` parameters are bound as
literals before parsing, so the result is one self-contained statement that renders in any dialect:
``spark`` for the cluster, ``duckdb`` for the tests that run both forms on the same rows
(tests/test_ingest_rewrite.py).

>>> p = plan('DELETE FROM "t" WHERE a = ?', (1,), lambda t: [])
>>> p.kind, p.table, p.sql("spark")
('replace', 't', 'SELECT * FROM `t` WHERE NOT COALESCE(a = 1, FALSE)')
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pyarrow as pa
import sqlglot
from sqlglot import exp
from sqlglot.tokens import TokenType

from jicai.errors import BilingualError
from jicai.ingest.sql import lit

Columns = Callable[[str], list[tuple[str, exp.DataType]]]  # a table's columns and types, in its order
READ = "duckdb"
HIT = "_jicai_hit"  # marks the rows of an UPDATE's FROM source that found their target row


class UnsupportedStatement(BilingualError, ValueError):
    """A statement shape the copy-on-write rewriting does not know: a bug of the caller, named with its text."""


@dataclass(frozen=True)
class Plan:
    """What a statement does to the lake: ``query`` (rows to read), ``replace`` (``table``'s next version is
    ``select``), ``create`` (an empty ``table`` of ``columns``), ``create_as`` (a new ``table`` of ``select``'s
    rows) or ``drop``; ``if_exists`` / ``if_not_exists`` as the statement said, ``or_replace`` for CREATE OR REPLACE."""

    kind: str
    table: str | None = None
    select: exp.Expression | None = None
    columns: list[tuple[str, exp.DataType]] = field(default_factory=list)
    if_exists: bool = False
    if_not_exists: bool = False
    or_replace: bool = False

    def sql(self, dialect: str = "spark") -> str:
        assert self.select is not None, f"a {self.kind} plan has no query"
        return self.select.sql(dialect=dialect)

    def arrow_schema(self) -> pa.Schema:
        """The columns of a ``create`` plan as Arrow types (the lake's files are written with pyarrow)."""
        return pa.schema([(n, arrow_type(t)) for n, t in self.columns])


_ARROW = {
    exp.DataType.Type.VARCHAR: pa.string(), exp.DataType.Type.TEXT: pa.string(), exp.DataType.Type.CHAR: pa.string(),
    exp.DataType.Type.BIGINT: pa.int64(), exp.DataType.Type.INT: pa.int32(), exp.DataType.Type.SMALLINT: pa.int16(),
    exp.DataType.Type.DOUBLE: pa.float64(), exp.DataType.Type.FLOAT: pa.float32(),
    exp.DataType.Type.BOOLEAN: pa.bool_(), exp.DataType.Type.DATE: pa.date32(),
    exp.DataType.Type.TIMESTAMP: pa.timestamp("us"), exp.DataType.Type.TIMESTAMPNTZ: pa.timestamp("us"),
}


def arrow_type(t: exp.DataType) -> pa.DataType:
    if t.this == exp.DataType.Type.DECIMAL and len(t.expressions) == 2:
        precision, scale = (int(p.name) for p in t.expressions)
        return pa.decimal128(precision, scale)
    try:
        return _ARROW[t.this]
    except KeyError:
        raise UnsupportedStatement(f"建表语句中的列类型 {t.sql()} 不受支持", f"column type {t.sql()} is not supported in "
                                   f"CREATE TABLE on the lake") from None


# -- parameters ---------------------------------------------------------------------------------------------

def literal(value: object) -> str:
    """A parameter's value as a DuckDB literal (the SQL is parsed after binding)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float | decimal.Decimal):
        return repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:  # the warehouse keeps Beijing local time without a zone
            raise UnsupportedStatement("时间参数带时区", f"a time parameter carries a time zone: {value!r}")
        return f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, str):
        return lit(value)
    raise UnsupportedStatement("不支持的参数类型", f"unsupported parameter type {type(value).__name__}: {value!r}")


def bind(sql: str, params: Sequence[object], read: str = READ) -> str:
    """``sql`` with each ``?`` placeholder (found by the dialect's tokenizer, so never one inside a string or a
    quoted name) replaced by its parameter's literal."""
    marks = [t for t in sqlglot.Dialect.get_or_raise(read).tokenize(sql) if t.token_type == TokenType.PLACEHOLDER
             and t.text == "?"]
    if len(marks) != len(params):
        raise UnsupportedStatement("参数个数与占位符不符", f"{len(params)} parameter(s) for {len(marks)} placeholder(s) "
                                   f"in: {sql}")
    out, pos = [], 0
    for tok, value in zip(marks, params, strict=True):
        out += [sql[pos:tok.start], literal(value)]
        pos = tok.end + 1
    return "".join(out) + sql[pos:]


# -- statements ---------------------------------------------------------------------------------------------

def _name(table: exp.Expression) -> str:
    if isinstance(table, exp.Schema):
        table = table.this
    if not isinstance(table, exp.Table):
        raise UnsupportedStatement("无法识别表名", f"not a table: {table.sql()}")
    return table.name


def _false_unless(cond: exp.Expression | None) -> exp.Expression:
    """``coalesce(cond, FALSE)``: true exactly for the rows a statement with WHERE ``cond`` touches."""
    if cond is None:
        return exp.true()
    return exp.func("coalesce", cond.copy(), exp.false())


def _target(table: exp.Table) -> tuple[exp.Table, str]:
    """The statement's table as a FROM item and the name its columns are qualified with (its alias or name)."""
    ref = exp.Table(this=exp.to_identifier(table.name, quoted=True))
    alias = table.alias
    if alias:
        ref.set("alias", exp.TableAlias(this=exp.to_identifier(alias)))
    return ref, alias or table.name


def _col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(exp.to_identifier(name, quoted=True), table=exp.to_identifier(table, quoted=True) if table else None)


def _delete(stmt: exp.Delete) -> Plan:
    if stmt.args.get("using") or stmt.args.get("tables"):
        raise UnsupportedStatement("不支持 DELETE … USING", f"DELETE … USING is not supported here: {stmt.sql()}")
    ref, _ = _target(stmt.this)
    where = stmt.args.get("where")
    keep = exp.not_(_false_unless(where.this if where else None))
    return Plan("replace", stmt.this.name, exp.select("*").from_(ref).where(keep))


def _update(stmt: exp.Update, columns: Columns) -> Plan:
    table = stmt.this.name
    ref, qual = _target(stmt.this)
    where = stmt.args.get("where")
    cond = where.this if where else None
    sets = {}
    for eq in stmt.expressions:
        if not isinstance(eq, exp.EQ) or not isinstance(eq.this, exp.Column):
            raise UnsupportedStatement("无法识别 SET 子句", f"not a SET column = value: {eq.sql()}")
        sets[eq.this.name] = eq.expression
    source = stmt.args.get("from_") or stmt.args.get("from")
    query = exp.select().from_(ref)
    if source is not None:
        src = source.this
        if not isinstance(src, exp.Table) or stmt.args.get("joins"):
            raise UnsupportedStatement("UPDATE … FROM 只支持一张表", f"UPDATE … FROM one table only: {stmt.sql()}")
        alias = src.alias or src.name
        marked = exp.select("*", exp.alias_(exp.true(), HIT)).from_(exp.Table(this=exp.to_identifier(src.name, quoted=True)))
        # every row of the table stays (LEFT JOIN); those that met a source row on the condition take its values
        on = cond.copy() if cond is not None else exp.true()
        query = query.join(marked.subquery(alias), on=on, join_type="LEFT")
        hit = exp.func("coalesce", _col(HIT, alias), exp.false())
    else:
        hit = _false_unless(cond)
    known = [n for n, _ in columns(table)]
    if unknown := [c for c in sets if c not in known]:
        raise UnsupportedStatement(f"表 {table} 没有列 {', '.join(unknown)}", f"table {table} has no column(s) "
                                   f"{', '.join(unknown)}: {stmt.sql()}")
    for name in known:
        old = _col(name, qual)
        new = exp.Case(ifs=[exp.If(this=hit.copy(), true=sets[name].copy())], default=old) if name in sets else old
        query = query.select(exp.alias_(new, name, quoted=True), copy=False)
    return Plan("replace", table, query)


def _insert(stmt: exp.Insert, columns: Columns) -> Plan:
    target = stmt.this
    table = _name(target)
    types = columns(table)
    given = [c.name for c in target.expressions] if isinstance(target, exp.Schema) else [n for n, _ in types]
    if unknown := [c for c in given if c not in dict(types)]:
        raise UnsupportedStatement(f"表 {table} 没有列 {', '.join(unknown)}", f"table {table} has no column(s) "
                                   f"{', '.join(unknown)}: {stmt.sql()}")
    source = stmt.expression
    if isinstance(source, exp.Values):
        rows = source.copy()
        rows.set("alias", exp.TableAlias(this=exp.to_identifier("s"),
                                         columns=[exp.to_identifier(c, quoted=True) for c in given]))
        src: exp.Expression = rows
    elif isinstance(source, exp.Query):
        src = exp.Subquery(this=source.copy(), alias=exp.TableAlias(
            this=exp.to_identifier("s"), columns=[exp.to_identifier(c, quoted=True) for c in given]))
    else:
        raise UnsupportedStatement("INSERT 只支持 SELECT 或 VALUES", f"INSERT takes SELECT or VALUES: {stmt.sql()}")
    new = exp.select(*(exp.alias_(exp.cast(_col(n, "s") if n in given else exp.null(), t.copy()), n, quoted=True)
                       for n, t in types)).from_(src)
    old = exp.select("*").from_(exp.Table(this=exp.to_identifier(table, quoted=True)))
    return Plan("replace", table, exp.union(old, new, distinct=False))


def _create(stmt: exp.Create) -> Plan:
    if (stmt.args.get("kind") or "").upper() != "TABLE":
        raise UnsupportedStatement("只支持 CREATE TABLE", f"only CREATE TABLE is supported: {stmt.sql()}")
    flags = {"if_not_exists": bool(stmt.args.get("exists")), "or_replace": bool(stmt.args.get("replace"))}
    table = _name(stmt.this)
    if stmt.expression is not None:
        return Plan("create_as", table, stmt.expression.copy(), **flags)
    if not isinstance(stmt.this, exp.Schema):
        raise UnsupportedStatement("建表语句没有列", f"CREATE TABLE without columns: {stmt.sql()}")
    cols = [(c.name, c.args["kind"]) for c in stmt.this.expressions if isinstance(c, exp.ColumnDef)]
    return Plan("create", table, columns=cols, **flags)


def _drop(stmt: exp.Drop) -> Plan:
    if (stmt.args.get("kind") or "").upper() != "TABLE":
        raise UnsupportedStatement("只支持 DROP TABLE", f"only DROP TABLE is supported: {stmt.sql()}")
    return Plan("drop", _name(stmt.this), if_exists=bool(stmt.args.get("exists")))


def plan(sql: str, params: Sequence[object], columns: Columns, read: str = READ) -> Plan:
    """The :class:`Plan` of one statement ``sql`` (dialect ``read``) with ``params`` bound to its ``?``;
    ``columns`` gives a table's columns for UPDATE and INSERT (the transaction's pending version of it)."""
    stmt = sqlglot.parse_one(bind(sql, params, read) if params else sql, read=read)
    if isinstance(stmt, exp.Delete):
        return _delete(stmt)
    if isinstance(stmt, exp.Update):
        return _update(stmt, columns)
    if isinstance(stmt, exp.Insert):
        return _insert(stmt, columns)
    if isinstance(stmt, exp.Create):
        return _create(stmt)
    if isinstance(stmt, exp.Drop):
        return _drop(stmt)
    if isinstance(stmt, exp.Query):
        return Plan("query", select=stmt)
    raise UnsupportedStatement("不支持的语句", f"statement not supported on the lake: {sql}")
