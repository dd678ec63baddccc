"""Writing into the warehouse inside ``wh.transaction()``: the only place engines differ for the importer.

A sink wraps the raw cursor the transaction yields (a DuckDB connection, a psycopg cursor) and offers
the operations the loader needs. Data moves as Arrow record batches, so a million rows stream
through without being held twice: DuckDB scans the Arrow stream, PostgreSQL receives it by ``COPY``.
"""

from __future__ import annotations

import io
import uuid
from typing import ClassVar

import pyarrow as pa
import pyarrow.csv as pacsv

from jicai.ingest.sql import q  # ``table``, ``row`` and ``column`` are column names of ``_quarantine``


class Sink:
    param: ClassVar[str] = "?"

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

    def existing(self, table: str, column: str, values: pa.Array) -> pa.Array:
        """Those of ``values`` that occur in ``table.column``."""
        raise NotImplementedError

    def query_with(self, data: pa.Table, like: str, sql: str) -> list[tuple]:
        """The rows of ``sql`` with ``{src}`` bound to ``data`` (columns of table ``like``)."""
        raise NotImplementedError

    def delete_keys(self, table: str, keys: pa.Table) -> None:
        """Delete the rows of ``table`` whose key (the columns of ``keys``) is in ``keys``."""
        raise NotImplementedError

    def insert(self, table: str, data: pa.RecordBatchReader) -> None:
        raise NotImplementedError

    def insert_missing(self, table: str, key: tuple[str, ...] | list[str], data: pa.RecordBatchReader) -> int:
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


class DuckDBSink(Sink):
    def __init__(self, cur: object):
        super().__init__(cur)
        cur.execute("SET enable_progress_bar = false")  # the CLI draws its own; DuckDB's would garble it

    def _with(self, data: object, sql: str) -> pa.Table | None:
        """Run ``sql`` with ``{src}`` bound to Arrow ``data``; results are fetched before unbinding."""
        name = f"_jicai_{uuid.uuid4().hex[:8]}"
        self.cur.register(name, data)
        try:
            rel = self.cur.execute(sql.format(src=name))
            return rel.to_arrow_table() if rel.description else None
        finally:
            self.cur.unregister(name)

    def existing(self, table: str, column: str, values: pa.Array) -> pa.Array:
        rel = self._with(pa.table({"v": values}),
                         f"SELECT v FROM {{src}} WHERE v IN (SELECT {q(column)} FROM {q(table)})")
        return rel.column("v").combine_chunks()

    def query_with(self, data: pa.Table, like: str, sql: str) -> list[tuple]:
        res = self._with(data, sql)
        return [] if res is None else [tuple(r.values()) for r in res.to_pylist()]

    def delete_keys(self, table: str, keys: pa.Table) -> None:
        cond = " AND ".join(f"t.{q(k)} = k.{q(k)}" for k in keys.column_names)
        self._with(keys, f"DELETE FROM {q(table)} t USING {{src}} k WHERE {cond}")

    def insert(self, table: str, data: pa.RecordBatchReader) -> None:
        cols = ", ".join(q(n) for n in data.schema.names)
        self._with(data, f"INSERT INTO {q(table)} ({cols}) SELECT {cols} FROM {{src}}")

    def insert_missing(self, table: str, key: tuple[str, ...] | list[str], data: pa.RecordBatchReader) -> int:
        res = self._with(data, self._insert_missing_sql(table, key, data.schema.names, "{src}"))
        return int(res.column(0)[0].as_py()) if res is not None and res.num_rows else 0


class PostgresSink(Sink):
    param = "%s"

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

    def existing(self, table: str, column: str, values: pa.Array) -> pa.Array:
        tmp = self._temp_like(table, [column])
        self._copy(tmp, pa.table({column: values}))
        self.cur.execute(f"SELECT DISTINCT {q(column)} FROM {tmp} WHERE {q(column)} IN "
                         f"(SELECT {q(column)} FROM {q(table)})")
        return pa.array([r[0] for r in self.cur.fetchall()], pa.string())

    def query_with(self, data: pa.Table, like: str, sql: str) -> list[tuple]:
        tmp = self._temp_like(like, data.column_names)
        self._copy(tmp, data)
        self.cur.execute(sql.format(src=tmp))
        return list(self.cur.fetchall())

    def delete_keys(self, table: str, keys: pa.Table) -> None:
        tmp = self._temp_like(table, keys.column_names)
        self._copy(tmp, keys)
        cond = " AND ".join(f"t.{q(k)} = k.{q(k)}" for k in keys.column_names)
        self.cur.execute(f"DELETE FROM {q(table)} t USING {tmp} k WHERE {cond}")

    def insert(self, table: str, data: pa.RecordBatchReader) -> None:
        self._copy(table, data)

    def insert_missing(self, table: str, key: tuple[str, ...] | list[str], data: pa.RecordBatchReader) -> int:
        tmp = self._temp_like(table, data.schema.names)
        self._copy(tmp, data)
        self.cur.execute(self._insert_missing_sql(table, key, data.schema.names, tmp))
        return max(self.cur.rowcount, 0)


SINKS: dict[str, type[Sink]] = {"duckdb": DuckDBSink, "postgres": PostgresSink}


def sink_for(engine: str, cur: object) -> Sink:
    try:
        return SINKS[engine](cur)
    except KeyError:
        raise ValueError(f"导入不支持 {engine} 数据仓库 / importing into a {engine} warehouse is not supported "
                         f"(DuckDB or PostgreSQL)") from None
