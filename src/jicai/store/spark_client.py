"""What runs where on a Spark Connect warehouse: the work over order lines on the cluster, the rest on the client.

A measure joins a few tables of the order lines' scale — the order lines, deliveries and payments, and the
compact facts kept from them — with many small ones (batches, varieties, products, agreements, institutions,
supply problems…) and with small intermediates (the calendar, the products in scope, the supply-problem
periods). On the cluster every scan of a small table and every join with one is a stage, and adaptive
execution submits each stage as a job of its own: the monitoring was 59 jobs, about 20 s that did not grow
with the data (docs/benchmarks.md, "10^7"). None of that work needs a cluster.

:class:`ClientTables` keeps the small tables of the manifest a connection reads in an in-process DuckDB on
the client, read straight from the lake's Parquet files with pyarrow (the filesystem the client already
writes to at import: no job on the cluster). An expression that reads no order-line table — only small
tables and in-memory tables — runs there; every other expression runs on the cluster as before. With
:meth:`Warehouse.reuse` bringing the cluster's summaries back as Arrow (per institution × product: small by
construction), a measure's work over order lines is a few cluster queries and everything after it — the
joins with agreements, institutions and the calendar, the ratios, the statuses — runs on the client.

Which tables stay on the cluster: :data:`ORDER_LINE_TABLES` and the facts, always (so the cluster does every
pass over order lines, and the engine comparison tests Spark on them), and any other table whose Parquet
files exceed ``$JICAI_SPARK_CLIENT_TABLE_MB`` (:data:`DEFAULT_MB`). ``0`` turns the client's part off:
everything runs on the cluster (docs/spark.md, "What runs where").

Times: a timestamp column Spark wrote into the lake is stored as an instant; the client shows it in the
session's time zone, as Spark does, so both sides read the same wall-clock time.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
from ibis.formats.pyarrow import PyArrowData

from jicai.errors import BilingualError
from jicai.store.lake import Lake, Manifest, spark_fields

# The order lines and what is kept from them (ingest/facts.py): always read by the cluster.
ORDER_LINE_TABLES = ("orders", "deliveries", "payments")
FACTS_PREFIX = "_facts_"
SMALL_FACTS = ("_facts_state", "_facts_pending")  # bookkeeping of the facts, one row or a few months

MB_ENV = "JICAI_SPARK_CLIENT_TABLE_MB"
DEFAULT_MB = 256  # the Parquet of a province's agreements or products is a few MB; the client holds them in memory


def limit_bytes(env: Mapping[str, str] = os.environ) -> int:
    """The largest table (Parquet bytes) the client reads itself; 0: none, everything runs on the cluster."""
    raw = env.get(MB_ENV, "").strip()
    if not raw:
        return DEFAULT_MB * 2**20
    try:
        mb = float(raw)
    except ValueError:
        mb = -1
    if mb < 0:
        raise BilingualError(f"{MB_ENV}={raw!r} 不是非负数(单位 MB;0 表示全部在集群上计算)",
                             f"{MB_ENV}={raw!r} is not a non-negative number of MB (0: everything on the cluster)")
    return int(mb * 2**20)


def on_cluster(name: str) -> bool:
    """Whether ``name`` is one of the tables of the order lines' scale, which the cluster always reads."""
    return name in ORDER_LINE_TABLES or (name.startswith(FACTS_PREFIX) and name not in SMALL_FACTS)


def instants(schema: pa.Schema) -> set[str]:
    """The columns of a lake file's ``schema`` that hold instants (Spark's TIMESTAMP, not TIMESTAMP_NTZ): a
    timestamp with a time zone, or one Spark's own schema in the file calls ``timestamp`` — Spark writes those
    as INT96 by default, which pyarrow reads as a naive timestamp of the UTC instant."""
    named = {f["name"]: f.get("type") for f in spark_fields(schema) or []}
    return {f.name for f in schema if pa.types.is_timestamp(f.type) and (f.type.tz or named.get(f.name) == "timestamp")}


def wall_clock(col: pa.ChunkedArray | pa.Array, time_zone: str) -> pa.ChunkedArray | pa.Array:
    """Instants ``col`` (naive: UTC) as the wall-clock time of ``time_zone``, naive — what Spark shows."""
    utc = col if col.type.tz else col.cast(pa.timestamp(col.type.unit, tz="UTC"))
    return pc.local_timestamp(utc.cast(pa.timestamp(col.type.unit, tz=time_zone)))


class ClientTables:
    """The small tables of one manifest of ``lake``, in an in-process DuckDB, for the expressions of ``spark``
    (the Spark backend) that read nothing else."""

    def __init__(self, spark: ibis.BaseBackend, lake: Lake, manifest: Manifest, max_bytes: int,
                 time_zone: str) -> None:
        self.spark = spark
        self.lake = lake
        self.manifest = manifest
        self.max_bytes = max_bytes
        self.time_zone = time_zone
        self.enabled = True  # off inside a transaction: its views show versions no manifest has yet
        self.duck = ibis.duckdb.connect()  # in memory, this connection's own
        self._loaded: dict[str, str] = {}  # table → the version folder loaded
        self._sizes: dict[str, int] = {}  # version folder → Parquet bytes
        self._lock = threading.RLock()  # the web server's threads share a connection; DuckDB's is not theirs

    def point(self, manifest: Manifest) -> None:
        """Read ``manifest`` from now on: tables whose version changed are loaded again when next needed."""
        with self._lock:
            for name, uri in list(self._loaded.items()):
                if manifest.tables.get(name) != uri:
                    self.duck.drop_table(name, force=True)
                    del self._loaded[name]
            self.manifest = manifest
            # sizes of versions no longer read go too: a server that lives through many imports keeps a bounded map
            self._sizes = {uri: size for uri, size in self._sizes.items() if uri in manifest.tables.values()}

    def runs_here(self, expr: ir.Expr) -> bool:
        """Whether ``expr`` reads only small tables of this manifest and in-memory tables."""
        if not self.enabled:
            return False
        for node in expr.op().find(ops.PhysicalTable):
            if isinstance(node, ops.InMemoryTable):
                continue
            if not isinstance(node, ops.DatabaseTable) or node.source is not self.spark or node.namespace.database:
                return False  # SQL text, another backend's table, a table of another database
            if not self._small(node.name):
                return False
        return True

    def _small(self, name: str) -> bool:
        uri = self.manifest.tables.get(name)
        if uri is None or on_cluster(name):
            return False
        if uri not in self._sizes:
            self._sizes[uri] = self.lake.size(uri)
        return self._sizes[uri] <= self.max_bytes

    # -- running ---------------------------------------------------------------------------------------
    def to_pyarrow(self, expr: ir.Expr, *, params: Mapping[ir.Scalar, Any] | None = None,
                   limit: int | str | None = None) -> Any:
        with self._lock:
            return self.duck.to_pyarrow(self._rebind(expr), params=params, limit=limit)

    def execute(self, expr: ir.Expr, *, params: Mapping[ir.Scalar, Any] | None = None,
                limit: int | str | None = None) -> Any:
        with self._lock:
            return self.duck.execute(self._rebind(expr), params=params, limit=limit)

    def _rebind(self, expr: ir.Expr) -> ir.Expr:
        """``expr`` with each of its Spark tables replaced by the client's copy."""
        swap = {}
        for node in expr.op().find(ops.DatabaseTable):
            self._load(node.name, node.schema)
            swap[node] = ops.DatabaseTable(node.name, node.schema, self.duck, node.namespace)
        return expr.op().replace(swap).to_expr() if swap else expr

    def _load(self, name: str, schema: Any) -> None:
        uri = self.manifest.tables[name]
        if self._loaded.get(name) == uri:
            return
        files = self.lake.fs_paths(uri)
        if files:
            data = pads.dataset(files, format="parquet", filesystem=self.lake.fs).to_table()
            data = self._conform(data, schema)
        else:  # a table of no rows may have no file
            data = schema.to_pyarrow().empty_table()
        self.duck.create_table(name, data, overwrite=True)
        self._loaded[name] = uri

    def _conform(self, data: pa.Table, schema: Any) -> pa.Table:
        """``data`` in the types Spark shows for the table (``schema``, Ibis's): an instant becomes the
        session's wall-clock time."""
        target = schema.to_pyarrow()
        held = instants(data.schema)
        columns = []
        for field in target:
            col = data.column(field.name)
            if field.name in held and not (pa.types.is_timestamp(field.type) and field.type.tz):
                col = wall_clock(col, self.time_zone)
            columns.append(col)
        return PyArrowData.convert_table(pa.table(columns, names=target.names), schema)

    def close(self) -> None:
        with self._lock:
            self.duck.disconnect()
            self._loaded.clear()
