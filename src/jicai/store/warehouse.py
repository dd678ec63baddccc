"""Open a warehouse from a URL; one small subclass per engine.

URLs:
  ``duckdb:///path/to/jicai.duckdb``  (default, under the data directory; ``duckdb://`` = in memory)
  ``postgres://user@host:port/db``    (``postgresql://`` too)
  ``pyspark://local[2]``              (a local Spark session; ``pyspark://`` = ``local[*]``)
  ``sc://host:15002``                 (a Spark cluster through Spark Connect, over the lake of ``--lake`` /
                                      ``$JICAI_LAKE`` or ``sc://host:15002/;lake=URL``: docs/spark.md)

Mode: ``connect(url, "read")`` for everything that only computes, ``connect(url, "write")`` (the default) for
what changes the warehouse. On a DuckDB file the mode decides the lock (:mod:`jicai.store.locking`: many
readers or one writer, across processes) and a reader's connection is read-only, so a read path can never
write by mistake. In-memory DuckDB, PostgreSQL and Spark take no file lock: PostgreSQL has its own
concurrency control and is the answer when several writers must work at once.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlparse

import ibis
import pyarrow as pa

from jicai.errors import BilingualError
from jicai.store import locking, spark_client
from jicai.store.lake import LAKE_ENV, Lake, LakeError, Manifest
from jicai.store.spark_reuse import ClientReuse

# The raw tables the importer's compact facts are built from (jicai.ingest.facts), and the table that says
# the facts are complete. Writing a source any other way than through the importer makes the facts stale:
# write_table drops the state, and the measures read the raw lines until the facts are rebuilt.
FACT_SOURCES = ("orders", "deliveries", "payments")
FACTS_STATE = "_facts_state"
FACTS_PENDING = "_facts_pending"  # months whose facts a folder import has yet to recompute (ingest/facts.py)


def default_url(data_dir: Path) -> str:
    return f"duckdb:///{Path(data_dir).resolve() / 'jicai.duckdb'}"


MODES = ("read", "write")


class WarehouseBusy(BilingualError, RuntimeError):
    """The DuckDB file is held by a process that does not take jicai's lock (the duckdb shell, an old jicai)."""


class Warehouse:
    """An Ibis backend and the engine capabilities measures and loaders may ask about."""

    engine: ClassVar[str] = "base"
    # Whether a multi-statement write can be made atomic (the importer refuses engines without it).
    supports_transactions: ClassVar[bool] = False
    # Whether the URL needs a lake beside it (connect's ``lake``): the Spark Connect warehouse.
    uses_lake: ClassVar[bool] = False

    def __init__(self, con: ibis.BaseBackend, url: str, mode: str = "write"):
        self.con = con
        self.url = url
        self.mode = mode
        # A read connection sees data no writer can change while it is open (the lock, store/locking.py), so
        # the tables it has looked up stay what they were: a measure asks for twenty of them, and each lookup
        # costs the engine a catalog query. A writer's tables change under it: never cached.
        self._tables: dict[str, ibis.Table] = {}
        self._listing: list[str] | None = None

    # -- reading -------------------------------------------------------------------------------
    def table(self, name: str) -> ibis.Table:
        if self.mode != "read":
            return self.con.table(name)
        if name not in self._tables:
            self._tables[name] = self.con.table(name)
        return self._tables[name]

    def has_table(self, name: str) -> bool:
        return name in self.list_tables()

    def reuse(self, expr: ibis.Table) -> ibis.Table:
        """``expr`` — a small intermediate a measure reads more than once — computed once. DuckDB and
        PostgreSQL already compute a repeated subquery once: ``expr`` itself. Spark inlines it at every
        reference, so its warehouses keep it (:mod:`jicai.store.spark_reuse`)."""
        return expr

    def reuse_all(self, *exprs: ibis.Table) -> tuple[ibis.Table, ...]:
        """:meth:`reuse` of each of ``exprs`` — independent summaries a measure needs together. A warehouse
        whose reuse runs a query may run them side by side (Spark Connect: one cluster query waits on its last
        tasks while the other's keep the executors busy)."""
        return tuple(self.reuse(e) for e in exprs)

    def freeze(self, expr: ibis.Table) -> ibis.Table:
        """``expr`` computed now, its rows kept as an in-memory table that later queries read like a table.

        For an intermediate that several queries of one document read — the monitoring a one-page summary
        ranks, alerts and assesses on. Unlike :meth:`reuse` it saves the compilation as well: Ibis compiles an
        expression into every query that reads it, and for one as large as the monitoring compiling costs more
        than running. The rows come to the client: for results a document holds anyway (one per institution ×
        variety at most), not for order lines."""
        return ibis.memtable(expr.to_pyarrow())

    def list_tables(self) -> list[str]:
        if self.mode != "read":
            return list(self.con.list_tables())
        if self._listing is None:
            self._listing = list(self.con.list_tables())
        return list(self._listing)

    # -- writing -------------------------------------------------------------------------------
    def write_table(self, name: str, data: pa.Table | ibis.Table, *, overwrite: bool = True) -> ibis.Table:
        """Create (or replace) a table from an Arrow table or an Ibis expression of this backend."""
        self._stale_facts(name)
        return self.con.create_table(name, data, overwrite=overwrite)

    def _stale_facts(self, name: str) -> None:
        if name in FACT_SOURCES:
            tables = self.con.list_tables()
            for t in (FACTS_STATE, FACTS_PENDING):
                if t in tables:
                    self.con.drop_table(t)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[object]:
        raise NotImplementedError(f"{self.engine} warehouse has no transactions; load into DuckDB or PostgreSQL")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.con.disconnect()

    def data_version(self) -> locking.DataVersion | None:
        """The version of the data this connection reads (a DuckDB file); None where no file records one."""
        return None

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class DuckDBWarehouse(Warehouse):
    engine = "duckdb"
    supports_transactions = True

    def __init__(self, con: ibis.BaseBackend, url: str, mode: str = "write",
                 lock: locking.Lock | None = None) -> None:
        super().__init__(con, url, mode)
        self._lock = lock
        # read while holding the lock: the version of exactly the data this connection sees
        self._version = locking.read_version(lock.db) if lock is not None else None

    @classmethod
    def open(cls, url: str, mode: str = "write", timeout: float | None = None, join: bool = True) -> DuckDBWarehouse:
        path = urlparse(url).path or ":memory:"
        if path in ("", "/", ":memory:"):
            return cls(_duckdb(":memory:"), url, mode)
        db = Path(path)
        if mode == "read" and not db.exists():
            # nothing imported yet: an empty warehouse (the commands then say which tables to import), and
            # a reader never creates the file
            return cls(_duckdb(":memory:"), url, mode)
        db.parent.mkdir(parents=True, exist_ok=True)
        lock = locking.acquire(db, mode, timeout, join=join)
        try:
            # a read lock joined to this process's own write hold opens read-write (DuckDB's rule, see locking)
            con = _duckdb(str(db), read_only=lock.mode == "read")
        except BaseException as exc:
            lock.release()
            if "lock" in str(exc).lower():
                raise WarehouseBusy(f"数据仓库文件被另一个程序占用:{db}(例如 duckdb 命令行);请关闭它后重试",
                                    f"the warehouse file is held by another program: {db} (e.g. a duckdb "
                                    f"shell); close it and retry") from None
            raise
        return cls(con, url, mode, lock)

    def close(self) -> None:
        super().close()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def data_version(self) -> locking.DataVersion | None:
        return self._version

    @contextlib.contextmanager
    def transaction(self) -> Iterator[object]:
        """A DuckDB cursor inside BEGIN … COMMIT; any exception rolls everything back."""
        raw = self.con.con
        raw.execute("BEGIN TRANSACTION")
        try:
            yield raw
        except BaseException:
            raw.execute("ROLLBACK")
            raise
        else:
            raw.execute("COMMIT")


MEMORY_ENV = "JICAI_MEMORY_LIMIT"  # e.g. "1GB": DuckDB's memory cap for every warehouse connection


def memory_limit(env: Mapping[str, str] = os.environ) -> str | None:
    """The DuckDB memory cap of ``$JICAI_MEMORY_LIMIT`` (None: DuckDB's own, 80 % of the machine's memory). A
    province's measures then spill their joins to disk instead of growing: at 10^8 order lines the monitoring
    peaks at 1.2 GB with "1GB" (2.4 GB without), in about twice the time (docs/benchmarks.md)."""
    value = env.get(MEMORY_ENV, "").strip()
    if not value:
        return None
    if not re.fullmatch(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", value, re.IGNORECASE):
        raise BilingualError(f"{MEMORY_ENV} 应为内存大小,例如 1GB 或 1500MB(实为 {value!r})",
                             f"{MEMORY_ENV} must be a memory size such as 1GB or 1500MB, not {value!r}")
    return value


def size_bytes(value: str) -> int | None:
    """A memory size as DuckDB reads and prints it, in bytes: KB = 1000 bytes, KiB = 1024 (``1GB``, ``45.7 MiB``);
    None for anything else (DuckDB prints ``-1`` for no limit).

    >>> size_bytes("45.7 MiB"), size_bytes("2GB"), size_bytes("1500mb"), size_bytes("-1")
    (47919923, 2000000000, 1500000000, None)
    """
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(K|M|G|T)(i?)B", value.strip(), re.IGNORECASE)
    if not m:
        return None
    base = 1024 if m.group(3) else 1000
    return int(float(m.group(1)) * base ** ("KMGT".index(m.group(2).upper()) + 1))


def _duckdb(path: str, read_only: bool = False) -> ibis.BaseBackend:
    con = ibis.duckdb.connect(path, read_only=read_only)
    # DuckDB's own progress bar would interleave with the CLI's; the CLI shows progress itself.
    con.raw_sql("SET enable_progress_bar = false")
    if limit := memory_limit():
        con.raw_sql(f"SET memory_limit = '{limit}'")
    return con


class PostgresWarehouse(Warehouse):
    engine = "postgres"
    supports_transactions = True

    @classmethod
    def open(cls, url: str, mode: str = "write", timeout: float | None = None, join: bool = True) -> PostgresWarehouse:
        u = urlparse(url)
        con = ibis.postgres.connect(
            host=u.hostname or "127.0.0.1",
            port=u.port or 5432,
            user=u.username or "postgres",
            password=u.password or None,
            database=(u.path or "/postgres").lstrip("/") or "postgres",
        )
        return cls(con, url, mode)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[object]:
        raw = self.con.con  # psycopg connection
        with raw.transaction():
            with raw.cursor() as cur:
                yield cur


class SparkWarehouse(Warehouse):
    engine = "pyspark"

    def __init__(self, con: ibis.BaseBackend, url: str, mode: str = "write"):
        from jicai.store.spark_reuse import ReuseCache

        super().__init__(con, url, mode)
        self._reused = ReuseCache(con)

    def reuse(self, expr: ibis.Table) -> ibis.Table:
        # In-process Spark (a test fixture) has no snapshot: its tables change under every connection of the
        # process, so only a reader keeps results (as only a reader caches its table lookups).
        return self._reused.get(expr) if self.mode == "read" else expr

    @classmethod
    def open(cls, url: str, mode: str = "write", timeout: float | None = None, join: bool = True) -> SparkWarehouse:
        from pyspark.sql import SparkSession  # optional dependency: jicai[spark]

        # not urlparse: it reads "local[2]" as a malformed IPv6 host
        master = url.split("://", 1)[1].strip("/") or "local[*]"
        # Managed tables go to a folder of their own, not ./spark-warehouse: a folder left there by an
        # earlier session makes the next CREATE TABLE fail with LOCATION_ALREADY_EXISTS.
        warehouse_dir = os.environ.get("JICAI_SPARK_WAREHOUSE_DIR") or tempfile.mkdtemp(prefix="jicai-spark-")
        spark = (
            SparkSession.builder.master(master)
            .appName("jicai")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.session.timeZone", "Asia/Shanghai")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.driver.memory", "4g")
            .config("spark.sql.warehouse.dir", warehouse_dir)
            .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={warehouse_dir}")
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("ERROR")
        from jicai.store import spark_backend

        return cls(spark_backend.connect(spark), url, mode)

    def write_table(self, name: str, data: pa.Table | ibis.Table, *, overwrite: bool = True) -> ibis.Table:
        """Arrow tables go to Spark straight from Arrow: ibis goes through pandas, which turns a null
        string into the text "NaN" (a blank ``regions`` would then match no region)."""
        self._reused.clear()  # whichever way the table is written, what was kept of it is stale
        if not isinstance(data, pa.Table):
            return super().write_table(name, data, overwrite=overwrite)
        self._stale_facts(name)
        session = self.con._session
        if session.catalog.tableExists(name) and not overwrite:
            raise ValueError(f"table {name} exists")
        df = session.createDataFrame(data) if data.num_rows else session.createDataFrame([], _spark_schema(data.schema))
        df.write.mode("overwrite").saveAsTable(name)
        return self.con.table(name)

    def close(self) -> None:
        # The Spark session is process-wide and slow to start; tests and the CLI share it.
        self._reused.clear()


def _spark_schema(schema: pa.Schema):
    """The Spark schema of an Arrow schema (for empty tables, which Spark cannot infer)."""
    from pyspark.sql import types as T

    simple = {pa.string(): T.StringType(), pa.int64(): T.LongType(), pa.float64(): T.DoubleType(),
              pa.bool_(): T.BooleanType(), pa.date32(): T.DateType(), pa.timestamp("us"): T.TimestampType()}
    return T.StructType([T.StructField(f.name, simple[f.type], True) for f in schema])


class SparkConnectWarehouse(SparkWarehouse):
    """A Spark cluster through Spark Connect, over a Parquet lake (:mod:`jicai.store.lake`).

    Each connection is its own Connect session reading one manifest of the lake: a table is a temp view of the
    session over the table's version folder (made when first asked for), so a connection reads one consistent
    snapshot. Writes go to new version folders and are published by one new manifest: :meth:`write_table` for
    one table, :meth:`transaction` for several at once. The SQL dialect is Spark's, as for ``pyspark://``.
    """

    supports_transactions = True
    uses_lake = True

    def __init__(self, con: ibis.BaseBackend, url: str, mode: str, lake: Lake) -> None:
        super().__init__(con, url, mode)
        self.session = con._session
        self.lake = lake
        self.manifest = lake.current()
        self._shown: set[str] = set()
        self._writing = False  # inside a transaction: the views show versions not yet committed
        # what runs on the client (jicai.store.spark_client): the small tables, and the results kept
        self.client_tables = None
        if max_bytes := spark_client.limit_bytes():
            time_zone = self.session.conf.get("spark.sql.session.timeZone")
            self.client_tables = spark_client.ClientTables(con, lake, self.manifest, max_bytes, time_zone)
            self._reused = ClientReuse(con)
        con.client_tables = self.client_tables

    @classmethod
    def open(cls, url: str, mode: str = "write", timeout: float | None = None, join: bool = True,
             lake: str | None = None) -> SparkConnectWarehouse:
        from jicai.store import spark_backend
        from jicai.store.spark_connect import open_session

        the_lake = Lake(resolve_lake(url, lake))
        session = open_session(url)
        try:
            return cls(spark_backend.connect(session), url, mode, the_lake)
        except BaseException:
            session.stop()
            raise

    # -- reading a snapshot ------------------------------------------------------------------------------
    def table(self, name: str) -> ibis.Table:
        if name not in self.manifest.tables:
            import ibis.common.exceptions as exc

            raise exc.TableNotFound(name)
        # cached in either mode: the view shows one version until this connection commits or re-points
        # (both clear the cache), and each lookup is a round trip to the server
        if name not in self._tables:
            self._show(name)
            self._tables[name] = self.con.table(name)
        return self._tables[name]

    def list_tables(self) -> list[str]:
        # the manifest, not the server's catalog: other tools' tables on a shared server are not jicai's
        return sorted(self.manifest.tables)

    def _show(self, name: str) -> None:
        from jicai.store.spark_connect import show_version

        if name not in self._shown:
            show_version(self.session, self.lake, name, self.manifest.tables[name])
            self._shown.add(name)

    def _repoint(self, manifest: Manifest) -> None:
        """Read ``manifest`` from now on (after this connection's own commit, or before a write)."""
        from jicai.store.spark_connect import hide, show_version

        for name in sorted(self._shown):
            if name not in manifest.tables:
                hide(self.session, [name])
            elif manifest.tables[name] != self.manifest.tables.get(name):
                show_version(self.session, self.lake, name, manifest.tables[name])
        self._shown &= set(manifest.tables)
        self._read(manifest)

    def _read(self, manifest: Manifest) -> None:
        """Read ``manifest`` from now on: what was looked up or kept for the previous one is dropped."""
        self.manifest = manifest
        self._tables.clear()
        self._listing = None
        self._reused.clear()
        if self.client_tables is not None:
            self.client_tables.point(manifest)

    def data_version(self) -> locking.DataVersion:
        return locking.DataVersion(self.manifest.version, self.manifest.at, self.manifest.by)

    def reuse(self, expr: ibis.Table) -> ibis.Table:
        # a connection reads one manifest, and every change of it clears the kept results; inside a
        # transaction the views show versions not yet committed, which are not kept
        return expr if self._writing else self._reused.get(expr)

    def reuse_all(self, *exprs: ibis.Table) -> tuple[ibis.Table, ...]:
        # side by side: each query's stage ends with one task on one executor while the other idles, and the
        # client's part of each (Ibis compiling it, fetching its Arrow) overlaps the cluster's work on the other
        if self._writing or len(exprs) < 2:
            return tuple(self.reuse(e) for e in exprs)
        with concurrent.futures.ThreadPoolExecutor(len(exprs), thread_name_prefix="jicai-reuse") as pool:
            return tuple(pool.map(self._reused.get, exprs))

    # -- writing -----------------------------------------------------------------------------------------
    def write_table(self, name: str, data: pa.Table | ibis.Table, *, overwrite: bool = True) -> ibis.Table:
        """A new version of ``name`` (Arrow written by this client; an Ibis expression written by the
        cluster), published at once by a one-table commit."""
        with self.transaction() as tx:
            if name in tx.tables() and not overwrite:
                raise ValueError(f"table {name} exists")
            if isinstance(data, pa.Table):
                tx.write_arrow(name, data)
            else:
                self.con._run_pre_execute_hooks(data)  # an in-memory table inside the expression
                tx.replace(name, self.session.sql(self.con.compile(data)), keep_schema=False)
            if name in FACT_SOURCES:  # see FACT_SOURCES: the facts are stale now, in the same commit
                for t in (FACTS_STATE, FACTS_PENDING):
                    if t in tx.tables():
                        tx.drop(t)
        return self.table(name)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[object]:
        """A :class:`~jicai.store.spark_connect.LakeTransaction` over the lake's newest manifest, committed
        (one new manifest) when the block ends, rolled back on an exception; a conflict with another writer
        raises :class:`~jicai.store.lake.LakeConflict` and publishes nothing."""
        from jicai.store.spark_connect import LakeTransaction

        base = self.lake.current()
        if base.version != self.manifest.version:
            self._repoint(base)
        tx = LakeTransaction(self.session, self.lake, base, show=self._show)
        self._write_mode(True)
        self.con.before_read = tx.show_views
        try:
            yield tx
        except BaseException:
            tx.rollback()
            raise
        finally:
            self.con.before_read = None
            self._write_mode(False)
        manifest = tx.commit()
        with contextlib.suppress(OSError, LakeError):
            # old versions go as new ones come (never those of the last or of the last hour's manifests)
            self.lake.vacuum()
        # the views show the transaction's versions, but for those it never read back (LakeTransaction.unshown):
        # those are made again when first read
        shown = {n for n, u in tx.pending.items() if u and n not in tx.unshown}
        self._shown = ((self._shown - set(tx.pending)) | shown) & set(manifest.tables)
        self._read(manifest)

    def _write_mode(self, writing: bool) -> None:
        # inside a transaction the views show versions not yet committed: the cluster reads them, not the client
        self._writing = writing
        if self.client_tables is not None:
            self.client_tables.enabled = not writing

    def close(self) -> None:
        self._reused.clear()
        if self.client_tables is not None:
            self.client_tables.close()
        Warehouse.close(self)  # stops this connection's Connect session (the server keeps running)


def resolve_lake(url: str, lake: str | None = None) -> str:
    """The lake of a ``sc://`` warehouse: ``lake``, else the URL's ``;lake=`` parameter, else ``$JICAI_LAKE``."""
    from jicai.store.spark_connect import split_url

    found = lake or split_url(url)[2] or os.environ.get(LAKE_ENV, "").strip()
    if not found:
        raise BilingualError(
            f"Spark Connect 数据仓库 {url} 需要一个数据湖:用 --lake 或环境变量 {LAKE_ENV} 指定客户端与集群都能访问的"
            f"目录(本地路径、file://、hdfs:// 或 s3a://)",
            f"the Spark Connect warehouse {url} needs a lake: give --lake or {LAKE_ENV}, a folder both this client "
            f"and the cluster reach (a local path, file://, hdfs:// or s3a://)")
    return found


ENGINES: dict[str, type[Warehouse]] = {
    "duckdb": DuckDBWarehouse,
    "postgres": PostgresWarehouse,
    "postgresql": PostgresWarehouse,
    "pyspark": SparkWarehouse,
    "sc": SparkConnectWarehouse,
}


def connect(url: str, mode: str = "write", *, timeout: float | None = None, join: bool = True,
            lake: str | None = None) -> Warehouse:
    """Open the warehouse named by ``url`` to ``mode`` it ("read" or "write"); on a DuckDB file wait at most
    ``timeout`` seconds (default ``$JICAI_LOCK_TIMEOUT``, 600) for the lock, then a bilingual
    :class:`~jicai.store.locking.LockTimeout`. ``join=False``: wait for this process's own writer too, instead of
    sharing its hold (:func:`jicai.store.locking.acquire`). ``lake``: the lake of a ``sc://`` warehouse (default
    the URL's ``;lake=`` parameter, else ``$JICAI_LAKE``); other engines have none.

    >>> wh = connect("duckdb://")
    >>> wh.engine, wh.mode
    ('duckdb', 'write')
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    scheme = url.split("://", 1)[0] if "://" in url else ""
    try:
        engine = ENGINES[scheme]
    except KeyError:
        raise ValueError(
            f"不支持的数据仓库地址 / unsupported warehouse URL {url!r}: scheme must be one of {', '.join(ENGINES)}"
        ) from None
    if engine.uses_lake:
        return engine.open(url, mode, timeout, join, lake=lake)
    return engine.open(url, mode, timeout, join)


def latest_version(url: str, lake: str | None = None) -> locking.DataVersion | None:
    """The data version last committed to the DuckDB file of ``url`` (a stat and a tiny read, no lock and no
    connection: cheap enough for every request) or to the lake of a ``sc://`` URL (its newest manifest: a
    listing and a small read, no Spark); None for other engines, which record none."""
    if url.startswith("sc://"):
        m = Lake(resolve_lake(url, lake)).current()
        return locking.DataVersion(m.version, m.at, m.by)
    if not url.startswith("duckdb://"):
        return None
    path = urlparse(url).path
    if path in ("", "/", ":memory:"):
        return None
    return locking.read_version(Path(path).resolve())


def copy_tables(src: Warehouse, dst: Warehouse, names: list[str] | None = None) -> list[str]:
    """Put the tables of ``src`` on ``dst`` (e.g. test data onto PostgreSQL or Spark): streamed and each table
    published whole (:mod:`jicai.store.copy`), without the read-back verification and the copy state of
    ``jicai warehouse copy``, so that it costs no more than writing the tables."""
    from jicai.store.copy import copy_warehouse  # copy builds on this module

    return [t.name for t in copy_warehouse(src, dst, names, record=False, verify=False)]
