"""The small tables of an import into the Spark lake, changed on the client: a copy in an in-process DuckDB.

On a Spark Connect warehouse every statement the importer sends was a Spark job, 0.1–0.4 s each however few
its rows: a file of 50 regions cost ten of them (the load log's rows, the quarantine, the reference checks,
the table's own new version) — 2 s a file, 45 s of a province's 10^6-line import went to its 21 small files
(docs/benchmarks.md). None of that needs a cluster: the tables are small and DuckDB is the importer's own
engine. So a statement whose tables are all small — not the order lines, deliveries, payments or their facts
(:func:`jicai.store.spark_client.on_cluster`), and each version's Parquet under the client's limit
(``$JICAI_SPARK_CLIENT_TABLE_MB``, as for reading) — runs here, on :class:`DuckDBSink` over a copy of the
tables it names, read from the transaction's versions with pyarrow. What it changes is written back as one
new version per table, by the client (:meth:`LakeTransaction.write_arrow`), before the first statement the
cluster runs and at the latest when the transaction commits: the cluster never reads a stale version, and a
load log changed five times in a file's transaction is written once.

Atomicity is the lake's: the versions are written into new folders and published by the transaction's one
manifest, whichever side computed them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import sqlglot
from sqlglot import exp

from jicai.ingest.rewrite import READ
from jicai.ingest.sink import DuckDBSink
from jicai.ingest.sql import q
from jicai.store.spark_client import instants, on_cluster, wall_clock

if TYPE_CHECKING:
    from jicai.store.spark_connect import LakeTransaction

KINDS = (exp.Query, exp.Insert, exp.Delete, exp.Update)  # what may run here; DDL names the lake's tables


def tables_of(sql: str) -> tuple[str | None, set[str]] | None:
    """The table a statement writes (None for a query) and every table it names (not its CTEs); None for a
    statement the mirror leaves to the cluster (DDL, or text DuckDB's dialect does not parse).

    >>> target, names = tables_of('DELETE FROM "_quarantine" WHERE batch_id IN (SELECT load_id FROM "_load_log")')
    >>> target, sorted(names)
    ('_quarantine', ['_load_log', '_quarantine'])
    >>> tables_of("WITH x AS (SELECT 1 AS a) SELECT a FROM x")
    (None, set())
    >>> tables_of("CREATE TABLE t (a INT)") is None
    True
    """
    try:
        stmt = sqlglot.parse_one(sql, read=READ)
    except sqlglot.errors.ParseError:
        return None
    if not isinstance(stmt, KINDS):
        return None
    ctes = {c.alias_or_name for c in stmt.find_all(exp.CTE)}
    names = {t.name for t in stmt.find_all(exp.Table) if t.name and t.name not in ctes}
    if isinstance(stmt, exp.Query):
        return None, names
    target = stmt.this.this if isinstance(stmt, exp.Insert) and isinstance(stmt.this, exp.Schema) else stmt.this
    return (target.name if isinstance(target, exp.Table) else None), names


class ClientMirror:
    """The small tables one lake transaction reads or changes, in an in-process DuckDB (one per transaction:
    every sink of the transaction shares it, :func:`for_transaction`)."""

    def __init__(self, tx: LakeTransaction, max_bytes: int) -> None:
        self.tx = tx
        self.max_bytes = max_bytes
        self.duck = duckdb.connect()
        self.sink = DuckDBSink(self.duck)
        self._loaded: dict[str, str] = {}  # table → the version folder its copy was read from
        self._schemas: dict[str, pa.Schema] = {}  # table → the Arrow schema of its Parquet, to write back in
        self._sizes: dict[str, int] = {}  # version folder → Parquet bytes
        self.dirty: set[str] = set()  # changed here, not written to the lake yet
        self._read_as: dict[str, tuple] = {}  # table → the fingerprint of the version it was read from
        self._time_zone: str | None = None
        tx.before_commit.append(self.flush)
        tx.at_end.append(self.close)

    # -- which statements run here ---------------------------------------------------------------------
    def holds(self, tables: Iterable[str]) -> bool:
        """Whether every table of ``tables`` is small and exists (then a statement over them runs here)."""
        return all(self._small(t) for t in tables)

    def _small(self, table: str) -> bool:
        if table in self.dirty:
            return True
        if on_cluster(table) or table not in self.tx.tables():
            return False
        uri = self.tx.uri(table)
        if uri not in self._sizes:
            self._sizes[uri] = self.tx.lake.size(uri) if self.tx.lake.files(uri) else -1
        return 0 <= self._sizes[uri] <= self.max_bytes

    # -- running -----------------------------------------------------------------------------------------
    def ready(self, tables: Iterable[str]) -> DuckDBSink:
        """The DuckDB sink, with a current copy of each of ``tables``."""
        for table in tables:
            if table not in self.dirty and self._loaded.get(table) != self.tx.uri(table):
                self._load(table)
        return self.sink

    def changed(self, table: str) -> None:
        """``table`` was written here: its copy is the transaction's version from now on."""
        self.dirty.add(table)

    def flush(self) -> None:
        """Write every table changed here as its new version (the cluster reads it from then on); a table
        whose rows are what was read (a re-load that deletes nothing and adds nothing) keeps its version."""
        for table in sorted(self.dirty):
            if self._fingerprint(table) != self._read_as.get(table):
                data = self._lake_form(table, self.duck.table(q(table)).fetch_arrow_table())
                self._loaded[table] = self.tx.write_arrow(table, data)
                self._read_as[table] = self._fingerprint(table)
        self.dirty.clear()

    def _fingerprint(self, table: str) -> tuple:
        """The rows of the copy, in any order: their number and the sum of their hashes."""
        return self.duck.execute(f"SELECT count(*), sum(hash(t)::HUGEINT) FROM {q(table)} t").fetchone()

    def close(self) -> None:
        self.duck.close()

    # -- the copies --------------------------------------------------------------------------------------
    def _zone(self) -> str:
        if self._time_zone is None:
            self._time_zone = self.tx.session.conf.get("spark.sql.session.timeZone") or "UTC"
        return self._time_zone

    def _load(self, table: str) -> None:
        uri = self.tx.uri(table)
        files = self.tx.lake.fs_paths(uri)
        data = pads.dataset(files, format="parquet", filesystem=self.tx.lake.fs).to_table()
        # an instant (Spark's TIMESTAMP) becomes the session's wall-clock time, as Spark shows it, and goes back
        # as an instant in microseconds (INT96, Spark's default, is not for new files)
        held = instants(data.schema)
        self._schemas[table] = pa.schema(
            [f.with_type(pa.timestamp("us", tz="UTC")) if f.name in held else f for f in data.schema],
            metadata=data.schema.metadata)
        columns = [wall_clock(c, self._zone()) if name in held else c
                   for name, c in zip(data.column_names, data.columns, strict=True)]
        self.duck.register("_jicai_load", pa.table(columns, names=data.column_names))
        try:
            self.duck.execute(f"CREATE OR REPLACE TABLE {q(table)} AS SELECT * FROM _jicai_load")
        finally:
            self.duck.unregister("_jicai_load")
        self._loaded[table] = uri
        self._read_as[table] = self._fingerprint(table)

    def _lake_form(self, table: str, data: pa.Table) -> pa.Table:
        """``data`` in the schema of the table's Parquet: the lake's types stay what Spark reads."""
        # every column nullable: Spark marks a column it wrote from a literal NOT NULL, the rows added may not be
        schema = self._schemas[table]
        schema = pa.schema([f.with_nullable(True) for f in schema], metadata=schema.metadata)
        columns = []
        for field in schema:
            col = data.column(field.name)
            if pa.types.is_timestamp(field.type) and field.type.tz:
                col = pc.assume_timezone(col.cast(pa.timestamp(field.type.unit)), self._zone())
            columns.append(col.cast(field.type))
        return pa.Table.from_arrays(columns, schema=schema)


def for_transaction(tx: LakeTransaction, max_bytes: int) -> ClientMirror:
    """The transaction's mirror (made on first use)."""
    mirror = tx.attached.get(ClientMirror)
    if mirror is None:
        mirror = tx.attached[ClientMirror] = ClientMirror(tx, max_bytes)
    return mirror
