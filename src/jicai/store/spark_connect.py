"""Spark Connect over the lake: the session, the views of a snapshot, and the lake transaction.

A connection reads one manifest of the lake (:mod:`jicai.store.lake`): each of its tables is a TEMP VIEW of the
Connect session over the table's version folder, so every query of the connection sees one consistent snapshot
however many imports commit meanwhile. A :class:`LakeTransaction` writes new version folders, re-points its
own views at them (its SQL sees its own changes) and publishes them all in one manifest when it ends.

The Connect client is imported only when a ``sc://`` warehouse is opened (the ``spark`` extra).
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from jicai.errors import BilingualError
from jicai.store.lake import Lake, Manifest

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

DEFAULT_PORT = 15002
REACH_SECONDS = 5.0  # how long to wait for the server's port before saying it is unreachable


class ConnectUnreachable(BilingualError, ConnectionError):
    """Nothing answers at the Spark Connect URL."""


def split_url(url: str) -> tuple[str, int, str | None]:
    """``sc://host:port/;k=v;lake=…`` → (host, port, lake or None). ``lake`` is jicai's own parameter (the
    URL then names the whole warehouse, e.g. for ``JICAI_WAREHOUSE_URL``); Spark's are kept for Spark.

    >>> split_url("sc://spark.example:15002/;lake=s3a://bureau/lake")
    ('spark.example', 15002, 's3a://bureau/lake')
    >>> split_url("sc://127.0.0.1")
    ('127.0.0.1', 15002, None)
    """
    rest = url.split("://", 1)[1]
    address, _, params = rest.partition("/")
    host, _, port = address.rpartition(":") if ":" in address else (address, "", "")
    lake = None
    for p in params.lstrip(";").split(";"):
        key, _, value = p.partition("=")
        if key == "lake":
            lake = value
    try:
        return host.strip("[]"), int(port) if port else DEFAULT_PORT, lake
    except ValueError:
        raise BilingualError(f"Spark Connect 地址的端口不是数字:{url}",
                             f"the port of the Spark Connect URL is not a number: {url}") from None


def spark_url(url: str) -> str:
    """The URL given to Spark: ``url`` without jicai's ``lake`` parameter."""
    head, _, params = url.partition("/;")
    kept = [p for p in params.split(";") if p and not p.startswith("lake=")]
    return head.rstrip("/") + ("/;" + ";".join(kept) if kept else "")


def open_session(url: str) -> SparkSession:
    """A new Connect session at ``url`` (its own temp views); :class:`ConnectUnreachable` within seconds when
    nothing listens there — the gRPC client itself would retry for minutes."""
    host, port, _ = split_url(url)
    try:
        with socket.create_connection((host, port), timeout=REACH_SECONDS):
            pass
    except OSError as exc:
        raise ConnectUnreachable(
            f"无法连接 Spark Connect 服务 {spark_url(url)}({exc.strerror or exc});请检查服务是否已启动、"
            f"地址与端口是否正确(JICAI_WAREHOUSE_URL / --warehouse)",
            f"cannot reach the Spark Connect server at {spark_url(url)} ({exc.strerror or exc}); check that it "
            f"is running and the host and port (JICAI_WAREHOUSE_URL / --warehouse)") from None
    from pyspark.sql import SparkSession  # optional dependency: jicai[spark]

    keep_release_pool()
    return SparkSession.builder.remote(spark_url(url)).create()


def keep_release_pool() -> None:
    """Stop closing one session from breaking every other session of the process (pyspark 4.0).

    The Connect client hands its "release this result" calls to one thread pool shared by all the process's
    sessions, and closing any session shuts that pool down. A session is also closed when the garbage
    collector frees it, which can happen in the middle of another session's hand-over, in the same thread:
    that session then fails with "cannot schedule new futures after shutdown". It happened twice in one run
    of the Spark tests, which open and close a session per test; the web server and the CLI open several.
    The pool is left running instead: its threads are idle between calls and end with the process."""
    from pyspark.sql.connect.client.reattach import ExecutePlanResponseReattachableIterator as Iterator_

    Iterator_.shutdown = classmethod(lambda cls: None)


def read_version(session: SparkSession, lake: Lake, uri: str) -> DataFrame:
    """The rows of the version folder ``uri``, read with a schema given rather than inferred: Spark infers a
    Parquet folder's schema with a job of its own (0.05–0.1 s each, one per table a measure reads). The schema
    Spark wrote into the footer is the one it would infer; a version the client wrote (the small tables, a
    first load) carries none, and its Arrow schema says the same (:func:`client_schema`)."""
    from pyspark.sql.types import StructField, StructType

    reader = session.read
    found = lake.spark_schema(uri)
    schema = StructType.fromJson(json.loads(found)) if found is not None else client_schema(lake.arrow_schema(uri))
    if schema is not None:
        # a file source reads every column as nullable, as Spark's own inference gives it
        reader = reader.schema(StructType([StructField(f.name, f.dataType, True, f.metadata) for f in schema.fields]))
    return reader.parquet(uri)


# Arrow types whose Parquet columns Spark reads as pyspark maps them (a naive timestamp, which pyarrow writes with
# isAdjustedToUTC=false, as TIMESTAMP_NTZ); any other type leaves the schema to Spark's inference
_PLAIN = (pa.types.is_string, pa.types.is_large_string, pa.types.is_int64, pa.types.is_int32, pa.types.is_float64,
          pa.types.is_boolean, pa.types.is_date32)


def client_schema(schema: pa.Schema | None) -> Any:
    """The Spark schema of Parquet files the client wrote in Arrow ``schema``, or None where a type is not one
    whose reading is known (:data:`_PLAIN`, microsecond timestamps): then Spark infers it.

    Each type of the contract's tables maps to what Spark infers (tests/test_store_connect.py, on the cluster);
    another type is left to Spark, before PySpark is even imported:

    >>> client_schema(pa.schema([("n", pa.uint8())])) is None
    True
    """
    def known(t: pa.DataType) -> bool:
        return any(test(t) for test in _PLAIN) or (pa.types.is_timestamp(t) and t.unit == "us")

    if schema is None or not all(known(f.type) for f in schema):
        return None
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(schema, prefer_timestamp_ntz=True)


def show_version(session: SparkSession, lake: Lake, name: str, uri: str) -> None:
    """Make the temp view ``name`` read the version folder ``uri``."""
    read_version(session, lake, uri).createOrReplaceTempView(name)


def hide(session: SparkSession, names: Iterable[str]) -> None:
    for name in names:
        session.catalog.dropTempView(name)


class LakeTransaction:
    """What a writer does to the lake, published at once by :meth:`commit` (the warehouse's ``transaction()``
    calls it when the ``with`` block ends normally, :meth:`rollback` on an exception)."""

    def __init__(self, session: SparkSession, lake: Lake, base: Manifest,
                 show: Callable[[str], None] | None = None) -> None:
        self.session, self.lake, self.base = session, lake, base
        # makes the view of a base table (the warehouse's, which remembers what it has shown); views are made
        # when SQL first needs them: a one-table write of Arrow rows needs none
        self._show = show or (lambda name: show_version(session, lake, name, base.tables[name]))
        self._views_ready = False
        self.pending: dict[str, str | None] = {}
        self._written: list[str] = []  # folders this transaction made: deleted unless committed
        self._staging: str | None = None
        self._uploads = 0
        # the importer may compute facts from two threads (jicai.ingest.facts, Sink.fact_chains): what they
        # share of this bookkeeping changes under the lock
        self._lock = threading.RLock()
        self.unshown: set[str] = set()  # tables written whose view is made when SQL next reads the session
        # what a writer keeps for the transaction's length (the importer's copy of the small tables,
        # jicai.ingest.spark_mirror), what must be written before the commit publishes, and what to close
        self.attached: dict[Any, Any] = {}
        self.before_commit: list[Callable[[], None]] = []
        self.at_end: list[Callable[[], None]] = []

    # -- reading ---------------------------------------------------------------------------------------
    def uri(self, table: str) -> str:
        """The version folder ``table`` is at in this transaction."""
        if table in self.pending:
            return self.pending[table] or ""  # "" once dropped
        return self.base.tables[table]

    def tables(self) -> list[str]:
        names = set(self.base.tables) | {n for n, u in self.pending.items() if u is not None}
        return sorted(names - {n for n, u in self.pending.items() if u is None})

    def sql(self, text: str, args: Iterable[Any] | dict[str, Any] = ()) -> DataFrame:
        """Spark SQL over this transaction's tables (``?`` markers take ``args`` in order, ``:name`` a dict)."""
        self.show_views()
        args = args if isinstance(args, dict) else list(args)
        return self.session.sql(text, args=args or None)

    def upload(self, data: pa.Table | pa.RecordBatchReader) -> DataFrame:
        """Rows of the client as a DataFrame of the cluster: written to the lake's staging, read by Spark."""
        folder = self._staging_folder()
        self.lake.write_arrow(folder, data)
        return self.session.read.parquet(folder)

    def stage(self, df: DataFrame) -> DataFrame:
        """``df`` computed once by the cluster into the lake's staging, and read back from there."""
        folder = self._staging_folder()
        df.write.mode("error").parquet(folder)
        return read_version(self.session, self.lake, folder)

    def _staging_folder(self) -> str:
        with self._lock:
            if self._staging is None:
                self._staging = self.lake.staging_dir()
            folder = f"{self._staging}/{self._uploads}"
            self._uploads += 1
            return folder

    # -- writing ---------------------------------------------------------------------------------------
    def replace(self, table: str, df: DataFrame, *, keep_schema: bool = True) -> str:
        """``table`` becomes the rows of ``df``, written to a new version folder (its URI). A table that exists
        keeps its schema: ``df``'s columns are taken in the table's order and cast to its types, a column
        ``df`` lacks is null; a column the table lacks is an error (it would be lost without a word).
        ``keep_schema=False``: the table takes ``df``'s schema (a table created anew)."""
        self.show_views()
        if keep_schema and table in self.tables():
            df = conform(df, self.session.table(table).schema, table)
        folder = self.lake.new_version_dir(table)
        self._written.append(folder)
        df.write.mode("error").parquet(folder)  # a fresh folder: never overwrite
        self._point(table, folder)
        return folder

    def write_arrow(self, table: str, data: pa.Table | pa.RecordBatchReader) -> str:
        """``table`` becomes ``data`` as written by the client (no trip through Spark)."""
        folder = self.lake.new_version_dir(table)
        self._written.append(folder)
        self.lake.write_arrow(folder, data)
        self._point(table, folder)
        return folder

    def create(self, table: str, schema: pa.Schema | Any) -> str:
        """An empty ``table`` of ``schema`` (Arrow, or a Spark StructType)."""
        if isinstance(schema, pa.Schema):
            return self.write_arrow(table, schema.empty_table())
        return self.replace(table, self.session.createDataFrame([], schema))

    def drop(self, table: str) -> None:
        with self._lock:
            if table in self.tables():
                hide(self.session, [table])
            self.pending[table] = None
            self.unshown.discard(table)

    def show_views(self) -> None:
        """Make the session's views show this transaction's tables (those written since, :attr:`unshown`, too):
        before SQL or an Ibis expression reads the session."""
        with self._lock:
            if not self._views_ready:
                for name in self.base.tables:
                    if name not in self.pending:  # a pending table's view already shows this transaction's version
                        self._show(name)
                self._views_ready = True
            for name in sorted(self.unshown):
                if self.pending.get(name):
                    show_version(self.session, self.lake, name, self.pending[name])
            self.unshown.clear()

    def _point(self, table: str, folder: str) -> None:
        # the view follows when SQL next needs it: opening a Parquet folder is a round trip to the server, and
        # a version the client wrote just before the commit is never read through this session
        with self._lock:
            self.pending[table] = folder
            self.unshown.add(table)

    # -- ending ----------------------------------------------------------------------------------------
    def commit(self) -> Manifest:
        try:
            for write in self.before_commit:
                write()
            manifest = self.lake.commit(self.base, self.pending) if self.pending else self.base
        except BaseException:
            self.rollback()
            raise
        self._written.clear()
        self._drop_staging()
        self._end()
        return manifest

    def rollback(self) -> None:
        """Delete what this transaction wrote and show the base manifest's tables again."""
        for folder in self._written:
            self.lake.remove(folder)
        self._written.clear()
        self._drop_staging()
        for name in self.pending:
            if name in self.base.tables:
                show_version(self.session, self.lake, name, self.base.tables[name])
            else:
                hide(self.session, [name])
        self.pending.clear()
        self.unshown.clear()
        self._end()

    def _end(self) -> None:
        ends, self.at_end[:] = list(self.at_end), []
        self.before_commit.clear()
        self.attached.clear()
        for end in ends:
            end()

    def _drop_staging(self) -> None:
        if self._staging is not None:
            self.lake.remove(self._staging)
            self._staging = None


def conform(df: DataFrame, schema: Any, table: str) -> DataFrame:
    """``df`` with the columns of ``schema`` (a Spark StructType), in its order and types."""
    from pyspark.sql import functions as F

    extra = [c for c in df.columns if c not in schema.names]
    if extra:
        raise BilingualError(f"写入表 {table} 的数据有表中没有的列:{', '.join(extra)}",
                             f"the rows written to {table} have columns the table lacks: {', '.join(extra)}")
    return df.select([(F.col(f.name) if f.name in df.columns else F.lit(None)).cast(f.dataType).alias(f.name)
                      for f in schema.fields])
