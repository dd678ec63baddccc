"""The importer's sink on a Spark Connect warehouse: every write is a new version of a Parquet table.

The transaction it wraps is the lake's (:class:`jicai.store.spark_connect.LakeTransaction`): its SQL reads the
transaction's pending version of each table, ``replace`` writes a table's next version from a Spark
DataFrame, and nothing is visible to others until the manifest is committed. Parquet files cannot be changed,
so a write is **copy-on-write**: the next version is computed from the pending one by the cluster — a DELETE
keeps the other rows, an INSERT is a UNION ALL, an UPDATE a projection (:mod:`jicai.ingest.rewrite` turns the
importer's statements into those queries). Rows of the client (a file's good rows, keys, reference values)
reach the cluster as Parquet in the lake's staging folder (``tx.upload``), never through the gRPC channel.

What stays on the client: reading, typing and validating the file in a private DuckDB (:func:`stage.private`,
as for PostgreSQL), the few values a reference check finds unknown, and every statement whose tables are all
small — the load log, the quarantine, the reference tables — which runs on a copy of them in an in-process
DuckDB (:mod:`jicai.ingest.spark_mirror`; a Spark job per statement cost 2 s per small file). Writes of a
table with no row to change (keys of a new month, nothing missing) are skipped: a rewrite of the order
lines costs a pass over all of them.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from sqlglot import exp

from jicai.ingest import rewrite, spark_mirror
from jicai.ingest.rewrite import UnsupportedStatement
from jicai.ingest.sink import DuckDBSink, Rows, Sink
from jicai.ingest.sql import q
from jicai.ingest.stage import Staged
from jicai.store.spark_client import limit_bytes

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from jicai.store import Warehouse


class SparkSink(Sink):
    """A :class:`~jicai.ingest.sink.Sink` over a lake transaction (``cur``: what ``wh.transaction()`` yields)."""

    fact_chains = 2  # a stage's tail leaves executors idle: the other chain's tasks fill them
    # One run of months: the executors spill, and each run is a new version of every fact that copies the rows
    # of the runs before it (10^7 lines: three runs 245 s of facts, one run 202 s, with the shared payments)
    fact_runs = False

    def __init__(self, cur: Any):
        super().__init__(cur)
        self.tx = cur
        self.session = cur.session
        limit = limit_bytes()
        self.mirror = spark_mirror.for_transaction(cur, limit) if limit else None  # 0: all on the cluster

    # -- where a statement runs ----------------------------------------------------------------------------
    def _client(self, tables: set[str] | list[str], target: str | None = None) -> DuckDBSink | None:
        """The client's DuckDB sink when every table of ``tables`` is small (``target``, the table written,
        then counts as changed there); None when the cluster must run it — after the tables changed on the
        client are written to the lake, so that it reads them."""
        if self.mirror is not None and self.mirror.holds(tables):
            sink = self.mirror.ready(tables)
            if target is not None:
                self.mirror.changed(target)
            return sink
        self._cluster()
        return None

    def _cluster(self) -> None:
        if self.mirror is not None:
            self.mirror.flush()

    def _statement(self, sql: str, query: bool) -> DuckDBSink | None:
        found = spark_mirror.tables_of(sql)
        if found is None or (found[0] is None) != query:
            self._cluster()
            return None
        return self._client(found[1], found[0])

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
        if (here := self._statement(sql, query=True)) is not None:
            return here.fetch(sql, params)
        p = self._plan(sql, params)
        if p.kind != "query":
            raise UnsupportedStatement("fetch 只能用于查询", f"fetch takes a query, not: {sql}")
        return [tuple(r) for r in self.tx.sql(p.sql("spark")).collect()]

    def execute(self, sql: str, params: tuple = ()) -> None:
        if (here := self._statement(sql, query=False)) is not None:
            here.execute(sql, params)
            return
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
        self._cluster()
        self.tx.replace(table, self.tx.sql(query), keep_schema=False)

    def replace_rows(self, table: str, where: str, query: str) -> None:
        """One new version: the rows of ``table`` not matching ``where`` (DuckDB dialect, as for DELETE) and the
        rows of ``query`` (Spark SQL) — a fact's partitions recomputed in one pass instead of two."""
        self._cluster()
        kept = rewrite.plan(f"DELETE FROM {q(table)} WHERE {where}", (), self._columns).sql("spark")
        old = self.tx.sql(kept)
        self.tx.replace(table, old.unionByName(self._typed_like(self.tx.sql(query), old)))

    def delete_insert(self, table: str, where: str, params: tuple, data: Rows) -> None:
        found = spark_mirror.tables_of(f"DELETE FROM {q(table)} WHERE {where}")
        if found is not None and (here := self._client(found[1], table)) is not None:
            here.delete_insert(table, where, params, data)
            return
        kept = rewrite.plan(f"DELETE FROM {q(table)} WHERE {where}", params, self._columns).sql("spark")
        old = self.tx.sql(kept)
        self.tx.replace(table, old.unionByName(self._typed_like(self._upload(data), old)))

    def materialize(self, query: str) -> str:
        """Written once to the transaction's staging and read from there by every later statement: Spark
        computes a repeated part of a plan again at each reference (the facts' accepted lines: the order lines
        joined with their deliveries, read twice by each of two facts)."""
        self._cluster()
        name = f"_jicai_{uuid.uuid4().hex[:8]}"
        self.tx.stage(self.tx.sql(query)).createOrReplaceTempView(name)
        return name

    def release(self, name: str) -> None:
        self.session.catalog.dropTempView(name)

    def create_empty(self, table: str, schema: pa.Schema) -> None:
        self._cluster()  # a table changed on the client would be written over the new one at the commit
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
        found = spark_mirror.tables_of(sql.replace("{src}", "_jicai_src"))
        if found is not None and (here := self._client(found[1] - {"_jicai_src"})) is not None:
            return here.query_with(data, like, sql)
        name = f"_jicai_{uuid.uuid4().hex[:8]}"
        self._upload(data).createOrReplaceTempView(name)
        try:
            return self.fetch(sql.replace("{src}", name))
        finally:
            self.session.catalog.dropTempView(name)

    def absent(self, table: str, column: str, values: Staged, into: str) -> int:
        if (here := self._client([table])) is not None:
            return here.absent(table, column, values, into)
        known = self._table(table).select(column).withColumnRenamed(column, "v")
        unknown = self._upload(self._distinct_values(values)).join(known, "v", "left_anti")
        found = [r[0] for r in unknown.collect()]  # the few unknown values: they name problems in the file
        return self._stage_values(values, into, pa.table({"v": pa.array(found, pa.string())}))

    def delete_keys(self, table: str, keys: pa.Table | Staged) -> None:
        if (here := self._client([table], table)) is not None:
            here.delete_keys(table, keys)
            return
        names = list(keys.schema.names)
        rows, gone = self._table(table), self._upload(keys)
        if not rows.join(gone, names, "left_semi").limit(1).count():
            return  # no row has these keys (a new month's file): no new version
        self.tx.replace(table, rows.join(gone, names, "left_anti"))

    def insert(self, table: str, data: Rows) -> None:
        if (here := self._client([table], table)) is not None:
            here.insert(table, data)
            return
        if self._into_empty(table, data):
            return
        rows = self._table(table)
        self.tx.replace(table, rows.unionByName(self._typed_like(self._upload(data), rows)))

    def _into_empty(self, table: str, data: Rows) -> bool:
        """Write ``data`` from the client as ``table``'s next version when its pending version is the empty one
        the importer created and the rows have its columns and types: the cluster would only read the upload
        and write it again (a first load of 10^7 order lines: 12.8 s of a 34 s file). False: it was not."""
        if table not in self.tx.tables():
            return False
        schema = self.tx.lake.empty_client_schema(self.tx.uri(table))
        given = data.schema
        if schema is None or [(f.name, f.type) for f in given] != [(f.name, f.type) for f in schema]:
            return False
        reader = data.reader() if isinstance(data, Staged) else data
        self.tx.write_arrow(table, reader)
        return True

    def insert_missing(self, table: str, key: tuple[str, ...] | list[str], data: Rows) -> int:
        if (here := self._client([table], table)) is not None:
            return here.insert_missing(table, key, data)
        rows = self._table(table)
        new = self._upload(data).join(rows.select(*key), list(key), "left_anti")
        n = new.count()
        if n:
            self.tx.replace(table, rows.unionByName(self._typed_like(new, rows)))
        return n
