"""Writing into the warehouse inside ``wh.transaction()``: the only place engines differ for the importer.

A sink wraps the raw cursor the transaction yields (a DuckDB connection, a psycopg cursor) and offers
the operations the loader needs. It also chooses the staging area (:mod:`jicai.ingest.stage`): DuckDB
stages on the warehouse connection itself, so rows given as :class:`Staged` move by plain SQL inside the
warehouse (``INSERT … SELECT``, ``DELETE … USING``, anti-joins for references) and never pass through
Python. Otherwise data moves as Arrow record batches, so a million rows stream through without being held
twice: PostgreSQL receives them by ``COPY``.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import pyarrow as pa
import pyarrow.csv as pacsv

from jicai.ingest import stage
from jicai.ingest.sql import q  # ``table``, ``row`` and ``column`` are column names of ``_quarantine``
from jicai.ingest.stage import Stage, Staged
from jicai.store.warehouse import size_bytes

if TYPE_CHECKING:
    import ibis

    from jicai.store import Warehouse

Rows = pa.RecordBatchReader | Staged
SMALL = 100_000  # rows of a referenced table below which reading it whole beats narrowing it to a range


class Sink:
    param: ClassVar[str] = "?"
    # how many chains of facts (a day fact and its month facts) one transaction may compute side by side:
    # one, but where the engine gains from it and the transaction's statements may come from several threads
    fact_chains: ClassVar[int] = 1
    # whether the facts of many months are computed in runs of at most facts.group_lines() order lines (the
    # memory of one statement stays bounded), or all at once where the engine spills and a run costs more
    fact_runs: ClassVar[bool] = True

    def __init__(self, cur: object):
        self.cur = cur

    def fetch(self, sql: str, params: tuple = ()) -> list[tuple]:
        self.execute(sql, params)
        return list(self.cur.fetchall())

    def execute(self, sql: str, params: tuple = ()) -> None:
        """A statement without a result (a psycopg cursor has nothing to fetch after DELETE). Without
        parameters the text goes as it is: compiled SQL may hold a ``%`` (modulo) that psycopg would read
        as a placeholder."""
        if params:
            self.cur.execute(sql.replace("?", self.param), params)
        else:
            self.cur.execute(sql)

    def memory_bytes(self) -> int | None:
        """The memory one statement may use, when the engine caps it (DuckDB's ``memory_limit``); None otherwise."""
        return None

    def analyze(self, tables: Sequence[str]) -> None:
        """Bring the planner's statistics of ``tables`` (those that exist) up to date after writing them, where
        an engine plans from stored statistics (PostgreSQL); nothing elsewhere."""

    def has_table(self, name: str) -> bool:
        """Whether the warehouse (as this transaction sees it) has a table ``name``."""
        return bool(self.fetch("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", (name,))[0][0])

    def create_as(self, table: str, query: str) -> None:
        """Create ``table`` with the rows of ``query`` (SQL of the warehouse's own dialect: compiled Ibis)."""
        self.execute(f"CREATE TABLE {q(table)} AS {query}")

    def replace_rows(self, table: str, where: str, query: str) -> None:
        """Delete the rows of ``table`` matching ``where`` and insert those of ``query`` (the warehouse's dialect)."""
        self.execute(f"DELETE FROM {q(table)} WHERE {where}")
        self.execute(f"INSERT INTO {q(table)} {query}")

    def delete_insert(self, table: str, where: str, params: tuple, data: Rows) -> None:
        """Delete the rows of ``table`` matching ``where`` (with ``params``), then insert ``data``."""
        self.execute(f"DELETE FROM {q(table)} WHERE {where}", params)
        self.insert(table, data)

    def materialize(self, query: str) -> str | None:
        """Compute ``query`` once, for several statements of this transaction to read, under the name returned
        (readable through :meth:`reader`); None where an engine gains nothing from it — DuckDB and
        PostgreSQL plan a statement's repeated parts well enough, and the statements stay as they were."""
        return None

    def release(self, name: str) -> None:
        """Forget what :meth:`materialize` made under ``name`` (its files go with the transaction's staging)."""

    def reader(self, wh: Warehouse) -> Callable[[str], ibis.Table]:
        """The Ibis table of a name as this transaction sees it (for expressions compiled into its statements)."""
        return wh.table

    def create_empty(self, table: str, schema: pa.Schema) -> None:
        """Create an empty ``table`` (a warehouse whose tables Ibis cannot create: the Spark lake's)."""
        raise NotImplementedError

    def exclusive(self, name: str) -> None:
        """Hold the lock ``name`` until the transaction ends: writers that must not interleave (the workflow's
        outbox appliers) take turns. A DuckDB file's write lock already admits one writer: nothing to do."""

    def staging(self, tmpdir: Path) -> Stage:
        """Where to stage this import (see :mod:`jicai.ingest.stage`); close it after the transaction."""
        return stage.private(tmpdir)

    def absent(self, table: str, column: str, values: Staged, into: str) -> int:
        """Create the staging TEMP table ``into(v)`` of the distinct non-null ``values`` (a one-column query named
        ``v``) that do not occur in ``table.column``; returns how many there are."""
        raise NotImplementedError

    def query_with(self, data: pa.Table | Staged, like: str, sql: str) -> list[tuple]:
        """The rows of ``sql`` with ``{src}`` bound to ``data`` (columns of table ``like``)."""
        raise NotImplementedError

    def delete_keys(self, table: str, keys: pa.Table | Staged) -> None:
        """Delete the rows of ``table`` whose key (the columns of ``keys``) is in ``keys``."""
        raise NotImplementedError

    def insert(self, table: str, data: Rows) -> None:
        raise NotImplementedError

    def insert_missing(self, table: str, key: tuple[str, ...] | list[str], data: Rows) -> int:
        """Insert the rows of ``data`` whose key (the columns ``key``, never NULL) is not in ``table`` yet; rows
        of ``table`` are never changed. Returns how many rows were inserted."""
        raise NotImplementedError

    @staticmethod
    def _insert_missing_sql(table: str, key: tuple[str, ...] | list[str], cols: list[str], src: str) -> str:
        """``INSERT … SELECT … WHERE NOT EXISTS``: plain SQL both engines run the same way."""
        names = ", ".join(q(c) for c in cols)
        cond = " AND ".join(f"t.{q(k)} = s.{q(k)}" for k in key)
        return (f"INSERT INTO {q(table)} ({names}) SELECT {', '.join(f's.{q(c)}' for c in cols)} FROM {src} s "
                f"WHERE NOT EXISTS (SELECT 1 FROM {q(table)} t WHERE {cond})")

    @staticmethod
    def _distinct_values(values: Staged) -> pa.RecordBatchReader:
        return Staged(values.con, f"SELECT DISTINCT v FROM ({values.sql}) s WHERE v IS NOT NULL",
                      pa.schema([("v", pa.string())])).reader()

    @staticmethod
    def _stage_values(values: Staged, into: str, found: pa.Table) -> int:
        """Put Arrow ``found`` (column v) into the staging TEMP table ``into``."""
        name = f"_jicai_{uuid.uuid4().hex[:8]}"
        values.con.register(name, found)
        try:
            values.con.execute(f"CREATE OR REPLACE TABLE {into} AS SELECT CAST(v AS VARCHAR) AS v FROM {name}")
        finally:
            values.con.unregister(name)
        return found.num_rows


class DuckDBSink(Sink):
    def __init__(self, cur: object):
        super().__init__(cur)
        # the CLI draws its own bar; DuckDB's would garble it (its progress is still tracked for query_progress)
        cur.execute("SET enable_progress_bar_print = false")

    def staging(self, tmpdir: Path) -> Stage:
        return stage.shared(self.cur)

    def memory_bytes(self) -> int | None:
        return size_bytes(self.cur.execute("SELECT current_setting('memory_limit')").fetchone()[0])

    def _here(self, data: object) -> bool:
        """Whether ``data`` is a query over TEMP tables of this very connection (then plain SQL moves it)."""
        return isinstance(data, Staged) and data.con is self.cur

    def _with(self, data: object, sql: str, params: list | None = None) -> pa.Table | None:
        """Run ``sql`` with ``{src}`` bound to ``data``: the staged query itself, or Arrow registered for the
        statement; results are fetched before unbinding."""
        if self._here(data):
            rel = self.cur.execute(sql.replace("{src}", f"({data.sql})"), params)
            return rel.to_arrow_table() if rel.description else None
        if isinstance(data, Staged):
            data = data.reader()
        name = f"_jicai_{uuid.uuid4().hex[:8]}"
        self.cur.register(name, data)
        try:
            rel = self.cur.execute(sql.replace("{src}", name), params)
            return rel.to_arrow_table() if rel.description else None
        finally:
            self.cur.unregister(name)

    def _rows(self, table: str) -> int:
        return self.cur.execute(f"SELECT count(*) FROM {q(table)}").fetchone()[0]

    def _range(self, data: object, column: str) -> list | None:
        """min and max of ``column`` in ``data``: a ``BETWEEN`` on them lets DuckDB skip, by the row groups'
        min/max statistics, every part of a big warehouse table that cannot match (a new month's ids)."""
        if isinstance(data, pa.Table):
            data = pa.table({column: data.column(column)})
        res = self._with(data, f"SELECT min({q(column)}), max({q(column)}) FROM {{src}}")
        lo, hi = res.column(0)[0].as_py(), res.column(1)[0].as_py()
        return None if lo is None else [lo, hi]

    def query_with(self, data: pa.Table | Staged, like: str, sql: str) -> list[tuple]:
        res = self._with(data, sql)
        return [] if res is None else [tuple(r.values()) for r in res.to_pylist()]

    def absent(self, table: str, column: str, values: Staged, into: str) -> int:
        if not self._here(values):
            found = self._with(self._distinct_values(values), f"SELECT v FROM {{src}} s WHERE NOT EXISTS "
                                                              f"(SELECT 1 FROM {q(table)} r WHERE r.{q(column)} = s.v)")
            return self._stage_values(values, into, found)
        known, params = f"SELECT {q(column)} AS r FROM {q(table)}", None
        # Against a big table (order lines) only the part in the values' range is read; a small one (the
        # institutions) is read whole: its hash table is small and finding the range would cost a pass.
        if self._rows(table) > SMALL and (params := self._range(values, "v")):
            known += f" WHERE {q(column)} BETWEEN ? AND ?"
        # distinct after the anti-join: most values are known, so only the few unknown ones are de-duplicated
        self.cur.execute(f"CREATE OR REPLACE TABLE {into} AS SELECT DISTINCT s.v FROM ({values.sql}) s "
                         f"ANTI JOIN ({known}) w ON s.v = w.r WHERE s.v IS NOT NULL", params)
        return self.cur.execute(f"SELECT count(*) FROM {into}").fetchone()[0]

    def delete_keys(self, table: str, keys: pa.Table | Staged) -> None:
        names = keys.schema.names
        if not self._rows(table) or not (span := self._range(keys, names[0])):
            return
        first = q(names[0])
        # a new month's file: no row of the table lies in the keys' range, and this test reads only the row
        # groups whose statistics overlap it
        if not self.cur.execute(f"SELECT 1 FROM {q(table)} WHERE {first} BETWEEN ? AND ? LIMIT 1", span).fetchall():
            return
        cond = " AND ".join(f"t.{q(k)} = k.{q(k)}" for k in names)
        self._with(keys, f"DELETE FROM {q(table)} t USING {{src}} k WHERE {cond} AND t.{first} BETWEEN ? AND ?", span)

    def insert(self, table: str, data: Rows) -> None:
        cols = ", ".join(q(n) for n in data.schema.names)
        self._with(data, f"INSERT INTO {q(table)} ({cols}) SELECT {cols} FROM {{src}}")

    def insert_missing(self, table: str, key: tuple[str, ...] | list[str], data: Rows) -> int:
        res = self._with(data, self._insert_missing_sql(table, key, data.schema.names, "{src}"))
        return int(res.column(0)[0].as_py()) if res is not None and res.num_rows else 0


class PostgresSink(Sink):
    param = "%s"

    def exclusive(self, name: str) -> None:
        self.cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (name,))

    def analyze(self, tables: Sequence[str]) -> None:
        # Rows COPYed in this transaction are not in the statistics autovacuum keeps (it runs after the commit,
        # if at all): the facts' joins were planned for empty tables, as nested loops — one INSERT of a few
        # thousand lines ran for minutes (test_facts). ANALYZE samples at most 30,000 rows of each, in the
        # transaction, and sees its uncommitted rows.
        present = [t for t in tables if self.has_table(t)]
        if present:
            self.execute(f"ANALYZE {', '.join(q(t) for t in present)}")

    def _copy(self, table: str, data: pa.RecordBatchReader | pa.Table) -> None:
        cols = ", ".join(q(n) for n in data.schema.names)
        batches = data.to_batches() if isinstance(data, pa.Table) else data
        opts = pacsv.WriteOptions(include_header=False)
        with self.cur.copy(f"COPY {q(table)} ({cols}) FROM STDIN (FORMAT csv)") as cp:
            for batch in batches:
                buf = io.BytesIO()
                pacsv.write_csv(pa.Table.from_batches([batch]), buf, opts)
                cp.write(buf.getvalue())

    def _temp_like(self, table: str, columns: list[str]) -> str:
        name = f"_jicai_{uuid.uuid4().hex[:8]}"
        cols = ", ".join(q(c) for c in columns)
        self.cur.execute(f"CREATE TEMP TABLE {name} ON COMMIT DROP AS SELECT {cols} FROM {q(table)} WITH NO DATA")
        return name

    def absent(self, table: str, column: str, values: Staged, into: str) -> int:
        tmp = self._temp_like(table, [column])
        reader = self._distinct_values(values)
        self._copy(tmp, pa.RecordBatchReader.from_batches(
            pa.schema([(column, pa.string())]), (b.rename_columns([column]) for b in reader)))
        self.cur.execute(f"SELECT {q(column)} FROM {tmp} s WHERE NOT EXISTS "
                         f"(SELECT 1 FROM {q(table)} r WHERE r.{q(column)} = s.{q(column)})")
        return self._stage_values(values, into, pa.table({"v": pa.array([r[0] for r in self.cur.fetchall()], pa.string())}))

    def delete_keys(self, table: str, keys: pa.Table | Staged) -> None:
        names = keys.schema.names
        tmp = self._temp_like(table, names)
        self._copy(tmp, keys.reader() if isinstance(keys, Staged) else keys)
        cond = " AND ".join(f"t.{q(k)} = k.{q(k)}" for k in names)
        self.cur.execute(f"DELETE FROM {q(table)} t USING {tmp} k WHERE {cond}")

    def query_with(self, data: pa.Table | Staged, like: str, sql: str) -> list[tuple]:
        tmp = self._temp_like(like, list(data.schema.names))
        self._copy(tmp, data.reader() if isinstance(data, Staged) else data)
        self.cur.execute(sql.replace("{src}", tmp))
        return list(self.cur.fetchall())

    def insert(self, table: str, data: Rows) -> None:
        self._copy(table, data.reader() if isinstance(data, Staged) else data)

    def insert_missing(self, table: str, key: tuple[str, ...] | list[str], data: Rows) -> int:
        tmp = self._temp_like(table, data.schema.names)
        self._copy(tmp, data.reader() if isinstance(data, Staged) else data)
        self.cur.execute(self._insert_missing_sql(table, key, data.schema.names, tmp))
        return max(self.cur.rowcount, 0)


def _spark(cur: object) -> Sink:
    # its module brings the statement rewriting (sqlglot): loaded when a Spark Connect warehouse is written
    from jicai.ingest.spark_sink import SparkSink

    return SparkSink(cur)


SINKS: dict[str, Callable[[object], Sink]] = {"duckdb": DuckDBSink, "postgres": PostgresSink, "pyspark": _spark}


def sink_for(engine: str, cur: object) -> Sink:
    try:
        return SINKS[engine](cur)
    except KeyError:
        raise ValueError(f"导入不支持 {engine} 数据仓库 / importing into a {engine} warehouse is not supported "
                         f"(DuckDB, PostgreSQL or Spark Connect sc://)") from None

