"""The importer's sink on a Spark Connect warehouse: every write is a new version of a Parquet table.

The transaction it wraps is the lake's (:class:`jicai.store.spark_connect.LakeTransaction`): its SQL reads the
transaction's pending version of each table, ``replace`` writes a table's next version from a Spark
DataFrame, and nothing is visible to others until the manifest is committed. Parquet files cannot be changed,
so a write is **copy-on-write**: the next version is computed from the pending one by the cluster — a DELETE
keeps the other rows, an INSERT is a UNION ALL, an UPDATE a projection (:mod:`jicai.ingest.rewrite` turns the
importer's statements into those queries). Rows of the client (a file's good rows, keys, reference values)
reach the cluster as Parquet in the lake's staging folder (``tx.upload``), never through the gRPC channel.

What stays on the client: reading, typing and validating the file in a private DuckDB (:func:`stage.private`,
as for PostgreSQL), and the few values a reference check finds unknown. Writes of a table with no row
to change (keys of a new month, nothing missing) are skipped: a rewrite of the order lines costs a pass
over all of them.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from sqlglot import exp

from jicai.ingest import rewrite
from jicai.ingest.rewrite import UnsupportedStatement
from jicai.ingest.sink import Rows, Sink
from jicai.ingest.sql import q
from jicai.ingest.stage import Staged

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from jicai.store import Warehouse


class SparkSink(Sink):
    """A :class:`~jicai.ingest.sink.Sink` over a lake transaction (``cur``: what ``wh.transaction()`` yields)."""

    def __init__(self, cur: Any):
        super().__init__(cur)
        self.tx = cur
        self.session = cur.session

    def _table(self, name: str) -> DataFrame:
        """The transaction's pending version of ``name``. Through its SQL, which makes the views of the base
        tables when first needed (a bare ``session.table`` of a fresh connection would find none)."""
        return self.tx.sql(f"SELECT * FROM `{name.replace('`', '``')}`")

    # -- SQL as text ---------------------------------------------------------------------------------------
    def _columns(self, table: str) -> list[tuple[str, exp.DataType]]:
        return [(f.name, exp.DataType.build(f.dataType.simpleString(), dialect="spark"))
                for f in self._table(table).schema.fields]

    def _plan(self, sql: str, params: tuple) -> rewrite.Plan:
        return rewrite.plan(sql, params, self._columns)

    def fetch(self, sql: str, params: tuple = ()) -> list[tuple]:
        p = self._plan(sql, params)
        if p.kind != "query":
            raise UnsupportedStatement("fetch 只能用于查询", f"fetch takes a query, not: {sql}")
        return [tuple(r) for r in self.tx.sql(p.sql("spark")).collect()]

    def execute(self, sql: str, params: tuple = ()) -> None:
        p = self._plan(sql, params)
        exists = p.table is not None and p.table in self.tx.tables()
        if p.kind == "query":
            self.tx.sql(p.sql("spark")).collect()
        elif p.kind == "replace":
            self.tx.replace(p.table, self.tx.sql(p.sql("spark")))
        elif p.kind == "drop":
            if exists:
                self.tx.drop(p.table)
            elif not p.if_exists:
                raise UnsupportedStatement(f"表 {p.table} 不存在，无法删除", f"cannot drop {p.table}: no such table")
        elif exists and p.if_not_exists:
            return
        elif exists and not p.or_replace:
            raise UnsupportedStatement(f"表 {p.table} 已存在", f"table {p.table} exists already")
        elif p.kind == "create":
            self.tx.create(p.table, p.arrow_schema())
        else:  # create_as
            self.tx.replace(p.table, self.tx.sql(p.sql("spark")), keep_schema=False)

    def has_table(self, name: str) -> bool:
        return name in self.tx.tables()

    def create_as(self, table: str, query: str) -> None:
        self.tx.replace(table, self.tx.sql(query), keep_schema=False)

    def replace_rows(self, table: str, where: str, query: str) -> None:
        """One new version: the rows of ``table`` not matching ``where`` (DuckDB dialect, as for DELETE) and the
        rows of ``query`` (Spark SQL) — a fact's partitions recomputed in one pass instead of two."""
        kept = rewrite.plan(f"DELETE FROM {q(table)} WHERE {where}", (), self._columns).sql("spark")
        old = self.tx.sql(kept)
        self.tx.replace(table, old.unionByName(self._typed_like(self.tx.sql(query), old)))

    def delete_insert(self, table: str, where: str, params: tuple, data: Rows) -> None:
        kept = rewrite.plan(f"DELETE FROM {q(table)} WHERE {where}", params, self._columns).sql("spark")
        old = self.tx.sql(kept)
        self.tx.replace(table, old.unionByName(self._typed_like(self._upload(data), old)))

    def create_empty(self, table: str, schema: pa.Schema) -> None:
        self.tx.create(table, schema)

    def reader(self, wh: Warehouse) -> Any:
        # the transaction's own views (a table it created is not in the connection's manifest yet)
        def table(name: str) -> Any:
            self._table(name)  # the views exist from then on
            return wh.con.table(name)
        return table

    # -- rows of the client ----------------------------------------------------------------------------------
    def _upload(self, data: pa.Table | Staged | pa.RecordBatchReader) -> DataFrame:
        return self.tx.upload(data.reader() if isinstance(data, Staged) else data)

    @staticmethod
    def _typed_like(df: DataFrame, like: DataFrame) -> DataFrame:
        """``df`` with the columns of ``like``, in its order and types (a missing column is NULL)."""
        from pyspark.sql import functions as F

        return df.select([(F.col(f.name) if f.name in df.columns else F.lit(None)).cast(f.dataType).alias(f.name)
                          for f in like.schema.fields])

    def query_with(self, data: pa.Table | Staged, like: str, sql: str) -> list[tuple]:
        name = f"_jicai_{uuid.uuid4().hex[:8]}"
        self._upload(data).createOrReplaceTempView(name)
        try:
            return self.fetch(sql.replace("{src}", name))
        finally:
            self.session.catalog.dropTempView(name)

    def absent(self, table: str, column: str, values: Staged, into: str) -> int:
        known = self._table(table).select(column).withColumnRenamed(column, "v")
        unknown = self._upload(self._distinct_values(values)).join(known, "v", "left_anti")
        found = [r[0] for r in unknown.collect()]  # the few unknown values: they name problems in the file
        return self._stage_values(values, into, pa.table({"v": pa.array(found, pa.string())}))

    def delete_keys(self, table: str, keys: pa.Table | Staged) -> None:
        names = list(keys.schema.names)
        rows, gone = self._table(table), self._upload(keys)
        if not rows.join(gone, names, "left_semi").limit(1).count():
            return  # no row has these keys (a new month's file): no new version
        self.tx.replace(table, rows.join(gone, names, "left_anti"))

    def insert(self, table: str, data: Rows) -> None:
        rows = self._table(table)
        self.tx.replace(table, rows.unionByName(self._typed_like(self._upload(data), rows)))

    def insert_missing(self, table: str, key: tuple[str, ...] | list[str], data: Rows) -> int:
        rows = self._table(table)
        new = self._upload(data).join(rows.select(*key), list(key), "left_anti")
        n = new.count()
        if n:
            self.tx.replace(table, rows.unionByName(self._typed_like(new, rows)))
        return n
