"""How each engine streams a table out and takes one in, for :mod:`jicai.store.copy`.

Reading: PostgreSQL sends a table as CSV through ``COPY … TO STDOUT``, parsed by Arrow's streaming CSV reader
(a server-side cursor through Python tuples is ten times slower); every other engine through Ibis's
``to_pyarrow_batches``. Writing (:class:`Destination`): into a table under a temporary name — DuckDB scans the
batches as a registered Arrow stream, PostgreSQL takes them by ``COPY … FROM STDIN`` —, read back for the
verification the same way, then published by one transaction that drops the old table, renames the new one and
records it in :data:`STATE_TABLE`.
"""

from __future__ import annotations

import contextlib
import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import ibis
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import sqlglot

from jicai import clock
from jicai.store.warehouse import Warehouse

STATE_TABLE = "_jicai_copy_state"  # on the destination: the tables a copy published, verified
TEMP_PREFIX = "_jicai_copy_tmp_"   # a table on its way in; one left by a killed copy is dropped by the next
BATCH_ROWS = 65_536
# Spark's file split when a table is read back to the client (spark_batches): small enough that one task's
# Arrow result fits a 1 GB executor with room to spare
SPLIT_CONF = "spark.sql.files.maxPartitionBytes"
READ_SPLIT = "16m"


@dataclass
class Record:
    """A row of :data:`STATE_TABLE`: a table published by a copy, and what it was copied from."""

    table_name: str
    source_url: str
    source_version: int | None
    rows: int
    checksum: str
    seconds: float


STATE_SCHEMA = pa.schema([("table_name", pa.string()), ("source_url", pa.string()), ("source_version", pa.int64()),
                          ("rows", pa.int64()), ("checksum", pa.string()), ("seconds", pa.float64()),
                          ("copied_at", pa.timestamp("us"))])


def q(name: str) -> str:
    """``name`` as a quoted SQL identifier (DuckDB and PostgreSQL quote alike), by sqlglot — Ibis's own SQL
    builder — rather than by hand: the project quotes SQL in one place per layer (tests/test_leaves.py)."""
    return sqlglot.exp.to_identifier(name, quoted=True).sql("postgres")


# -- reading ----------------------------------------------------------------------------------------------------
# the column types the CSV of PostgreSQL's COPY is parsed into without loss; a table with another type is read
# through Ibis instead
_CSV_TYPES = (pa.string(), pa.large_string(), pa.int16(), pa.int32(), pa.int64(), pa.float32(), pa.float64(),
              pa.bool_(), pa.date32(), pa.timestamp("us"))


def read_table(wh: Warehouse, name: str) -> pa.RecordBatchReader:
    """The table ``name`` of ``wh`` as a stream of record batches, timestamps as naive Beijing wall clock (the
    contract's form, whatever zone an engine attaches)."""
    return _naive_times(_read(wh, name))


def _read(wh: Warehouse, name: str) -> pa.RecordBatchReader:
    if getattr(wh, "uses_lake", False):
        return lake_batches(wh, wh.manifest.tables[name])
    if wh.engine == "postgres":
        schema = wh.con.table(name).schema().to_pyarrow()
        if all(f.type in _CSV_TYPES for f in schema):
            return _pg_copy_out(wh, f"SELECT {', '.join(q(n) for n in schema.names)} FROM {q(name)}", schema)
    return wh.con.table(name).to_pyarrow_batches(chunk_size=BATCH_ROWS)


def _naive_times(reader: pa.RecordBatchReader) -> pa.RecordBatchReader:
    """The batches of ``reader`` under one schema they all match: every column nullable (Ibis declares a key NOT
    NULL in the reader's schema while DuckDB's batches say nothing, and Parquet writers insist they agree), and
    a timestamp with a zone — Spark hands TIMESTAMP columns back as instants — as its naive wall clock in Beijing."""
    schema = reader.schema
    aware = {i for i, f in enumerate(schema) if pa.types.is_timestamp(f.type) and f.type.tz is not None}
    target = pa.schema([pa.field(f.name, pa.timestamp("us") if i in aware else f.type, True)
                        for i, f in enumerate(schema)])

    def batches() -> Iterator[pa.RecordBatch]:
        for batch in reader:
            columns = list(batch.columns)
            for i in aware:
                local = columns[i].cast(pa.timestamp(schema[i].type.unit, str(clock.TZ)))
                columns[i] = pc.cast(pc.local_timestamp(local), pa.timestamp("us"))
            yield pa.RecordBatch.from_arrays(columns, schema=target)

    return pa.RecordBatchReader.from_batches(target, batches())


def spark_batches(df) -> pa.RecordBatchReader:
    """A Spark Connect DataFrame's rows as the server streams them in Arrow (``toArrow`` would gather the whole
    table in this process first), through the client call ``toLocalIterator`` is built on.

    Each task sends its whole partition as one Arrow result, built in the executor's heap: with Spark's
    default split of 128 MB of Parquet, a partition of a 10^7-line table's facts ran a 1 GB executor out of
    memory. So the read is planned with splits of :data:`READ_SPLIT` (the session's setting is put back once
    the plan has started: Spark plans the splits when the query starts)."""
    session = df.sparkSession
    client = session.client
    before = session.conf.get(SPLIT_CONF, None)
    session.conf.set(SPLIT_CONF, READ_SPLIT)
    try:
        stream = (t for t in client.to_table_as_iterator(df._plan.to_proto(client), df._plan.observations)
                  if isinstance(t, pa.Table))  # a Spark schema comes first
        head = next(stream, None)
    finally:
        if before is None:
            session.conf.unset(SPLIT_CONF)
        else:
            session.conf.set(SPLIT_CONF, before)
    if head is None:  # no rows at all: the schema of an empty result
        return pa.RecordBatchReader.from_batches(df.limit(0).toArrow().schema, iter(()))

    def batches() -> Iterator[pa.RecordBatch]:
        yield from head.to_batches()
        for t in stream:
            yield from (t if t.schema == head.schema else t.cast(head.schema)).to_batches()

    return pa.RecordBatchReader.from_batches(head.schema, batches())


class _CopyOut(io.RawIOBase):
    """The bytes of a psycopg ``COPY … TO STDOUT`` (a chunk per row) as a file Arrow's CSV reader can read."""

    def __init__(self, copy) -> None:
        self._chunks = iter(copy)
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n, size = 0, len(buffer)
        while n < size:
            if not self._pending:
                try:
                    self._pending = memoryview(next(self._chunks)).cast("B")
                except StopIteration:
                    break
            k = min(size - n, len(self._pending))
            buffer[n: n + k] = self._pending[:k]
            self._pending = self._pending[k:]
            n += k
        return n


def _pg_copy_out(wh: Warehouse, query: str, schema: pa.Schema) -> pa.RecordBatchReader:
    # COPY's CSV writes NULL as an empty field and the empty string as "": Arrow reads them back apart
    options = pacsv.ConvertOptions(column_types={f.name: f.type for f in schema}, null_values=[""],
                                   strings_can_be_null=True, quoted_strings_can_be_null=False,
                                   true_values=["t"], false_values=["f"])

    def batches() -> Iterator[pa.RecordBatch]:
        with wh.con.con.cursor() as cur, cur.copy(f"COPY ({query}) TO STDOUT (FORMAT csv)") as cp:
            stream = io.BufferedReader(_CopyOut(cp), 1 << 20)
            if not stream.peek(1):  # an empty table: no CSV at all, which Arrow's reader refuses
                return
            reader = pacsv.open_csv(stream,
                                    read_options=pacsv.ReadOptions(column_names=schema.names, use_threads=False,
                                                                   block_size=1 << 22),
                                    parse_options=pacsv.ParseOptions(newlines_in_values=True),
                                    convert_options=options)
            for batch in reader:
                yield batch.cast(schema) if batch.schema != schema else batch

    return pa.RecordBatchReader.from_batches(schema, batches())


# -- writing ----------------------------------------------------------------------------------------------------
class Destination:
    """A warehouse a copy writes into: stage a table, read it back, publish it (or discard it)."""

    streamed = True  # writes batch by batch, reads back through the engine, publishes atomically

    def __init__(self, wh: Warehouse, record: bool = True) -> None:
        self.wh = wh
        self.record = record  # keep STATE_TABLE (a resumable copy) or not (copy_tables)

    def clean(self) -> None:
        """Drop the temporary tables a killed copy left."""

    def records(self) -> dict[str, Record]:
        return {}

    def forget(self) -> None:
        """Start over: no table counts as copied."""

    def rows(self, name: str) -> int | None:
        """Rows of the published table ``name`` (None: there is none)."""
        raise NotImplementedError

    def stage(self, name: str, reader: pa.RecordBatchReader) -> str:
        raise NotImplementedError

    def read(self, staged: str) -> pa.RecordBatchReader:
        raise NotImplementedError

    def publish(self, name: str, staged: str, record: Record, drops: tuple[str, ...] = ()) -> None:
        raise NotImplementedError

    def discard(self, staged: str) -> None:
        raise NotImplementedError


class SqlDestination(Destination):
    """DuckDB and PostgreSQL: a temporary table, renamed into place in one transaction."""

    param = "?"

    def _tables(self) -> list[str]:
        return list(self.wh.con.list_tables())

    def clean(self) -> None:
        for t in self._tables():
            if t.startswith(TEMP_PREFIX):
                self.discard(t)

    def records(self) -> dict[str, Record]:
        if STATE_TABLE not in self._tables():
            return {}
        rows = self.wh.con.table(STATE_TABLE).to_pyarrow().to_pylist()
        return {r["table_name"]: Record(r["table_name"], r["source_url"], r["source_version"], r["rows"],
                                        r["checksum"], r["seconds"]) for r in rows}

    def forget(self) -> None:
        if STATE_TABLE in self._tables():
            with self.wh.transaction() as cur:
                cur.execute(f"DELETE FROM {q(STATE_TABLE)}")

    def rows(self, name: str) -> int | None:
        if name not in self._tables():
            return None
        return self.wh.con.table(name).count().to_pyarrow().as_py()

    def stage(self, name: str, reader: pa.RecordBatchReader) -> str:
        tmp = f"{TEMP_PREFIX}{uuid.uuid4().hex[:10]}"
        self.wh.con.create_table(tmp, schema=ibis.Schema.from_pyarrow(reader.schema))
        try:
            self._load(tmp, reader)
        except BaseException:
            self.discard(tmp)
            raise
        return tmp

    def _load(self, tmp: str, reader: pa.RecordBatchReader) -> None:
        raise NotImplementedError

    def publish(self, name: str, staged: str, record: Record, drops: tuple[str, ...] = ()) -> None:
        p = self.param
        with self.wh.transaction() as cur:
            for t in (name, *drops):
                cur.execute(f"DROP TABLE IF EXISTS {q(t)}")
            cur.execute(f"ALTER TABLE {q(staged)} RENAME TO {q(name)}")
            if self.record:
                cur.execute(f"CREATE TABLE IF NOT EXISTS {q(STATE_TABLE)} (table_name TEXT, source_url TEXT, "
                            f"source_version BIGINT, rows BIGINT, checksum TEXT, seconds DOUBLE PRECISION, "
                            f"copied_at TIMESTAMP)")
                cur.execute(f"DELETE FROM {q(STATE_TABLE)} WHERE table_name = {p}", (name,))
                cur.execute(f"INSERT INTO {q(STATE_TABLE)} VALUES ({', '.join([p] * 7)})",
                            (record.table_name, record.source_url, record.source_version, record.rows,
                             record.checksum, record.seconds, clock.local_now()))

    def discard(self, staged: str) -> None:
        with contextlib.suppress(Exception):
            self.wh.con.drop_table(staged, force=True)


class DuckDBDestination(SqlDestination):
    def _load(self, tmp: str, reader: pa.RecordBatchReader) -> None:
        raw = self.wh.con.con
        view = f"{tmp}_stream"
        cols = ", ".join(q(n) for n in reader.schema.names)
        raw.register(view, reader)
        try:
            raw.execute(f"INSERT INTO {q(tmp)} ({cols}) SELECT {cols} FROM {q(view)}")
        finally:
            raw.unregister(view)

    def read(self, staged: str) -> pa.RecordBatchReader:
        return self.wh.con.con.execute(f"SELECT * FROM {q(staged)}").to_arrow_reader(BATCH_ROWS)


class PostgresDestination(SqlDestination):
    param = "%s"

    def _load(self, tmp: str, reader: pa.RecordBatchReader) -> None:
        raw = self.wh.con.con
        cols = ", ".join(q(n) for n in reader.schema.names)
        opts = pacsv.WriteOptions(include_header=False)  # strings quoted, NULL an empty field: COPY tells them apart
        with raw.transaction(), raw.cursor() as cur, cur.copy(f"COPY {q(tmp)} ({cols}) FROM STDIN (FORMAT csv)") as cp:
            for batch in reader:
                buf = io.BytesIO()
                pacsv.write_csv(batch, buf, opts)
                cp.write(buf.getvalue())

    def read(self, staged: str) -> pa.RecordBatchReader:
        return read_table(self.wh, staged)


class WholeTableDestination(Destination):
    """An engine without a streamed write (the in-process ``pyspark://local`` of the tests): each table goes
    whole through :meth:`Warehouse.write_table`, unverified and not atomic — for small test tables only."""

    streamed = False

    def rows(self, name: str) -> int | None:
        return self.wh.table(name).count().to_pyarrow().as_py() if self.wh.has_table(name) else None

    def stage(self, name: str, reader: pa.RecordBatchReader) -> str:
        self._pending = reader.read_all()
        return name

    def read(self, staged: str) -> pa.RecordBatchReader:
        return pa.RecordBatchReader.from_batches(self._pending.schema, self._pending.to_batches())

    def publish(self, name: str, staged: str, record: Record, drops: tuple[str, ...] = ()) -> None:
        self.wh.write_table(name, self._pending, overwrite=True)
        self._pending = None

    def discard(self, staged: str) -> None:
        self._pending = None


class LakeDestination(Destination):
    """A Spark Connect warehouse: the client writes a new version folder of the table into the lake, Spark reads
    it back for the verification, and one lake commit publishes it (with the copy state's new version) — the
    warehouse's own transaction, so its snapshot follows. A folder left by a killed copy is named by no manifest:
    the lake's vacuum removes it."""

    def __init__(self, wh: Warehouse, record: bool = True) -> None:
        super().__init__(wh, record)
        self._open: dict[str, tuple[contextlib.AbstractContextManager, object]] = {}
        self._state_rows: list[dict] | None = None  # the copy state as last committed by this copy

    def _uri(self, name: str) -> str | None:
        return self.wh.lake.current().tables.get(name)

    def records(self) -> dict[str, Record]:
        uri = self._uri(STATE_TABLE)
        if uri is None:
            return {}
        rows = self.wh.session.read.parquet(uri).toArrow().to_pylist()
        return {r["table_name"]: Record(r["table_name"], r["source_url"], r["source_version"], r["rows"],
                                        r["checksum"], r["seconds"]) for r in rows}

    def forget(self) -> None:
        with self.wh.transaction() as tx:
            if STATE_TABLE in tx.tables():
                tx.drop(STATE_TABLE)
        self._state_rows = []

    def rows(self, name: str) -> int | None:
        uri = self._uri(name)
        return None if uri is None else self.wh.session.read.parquet(uri).count()

    def stage(self, name: str, reader: pa.RecordBatchReader) -> str:
        cm = self.wh.transaction()  # open until publish (commit) or discard (rollback)
        tx = cm.__enter__()
        try:
            folder = tx.write_arrow(name, reader)
        except BaseException as exc:
            cm.__exit__(type(exc), exc, exc.__traceback__)
            raise
        self._open[folder] = (cm, tx)
        return folder

    def read(self, staged: str) -> pa.RecordBatchReader:
        return read_table_at(self.wh, staged)

    def publish(self, name: str, staged: str, record: Record, drops: tuple[str, ...] = ()) -> None:
        cm, tx = self._open.pop(staged)
        try:
            for t in drops:
                if t in tx.tables():
                    tx.drop(t)
            if self.record:
                tx.write_arrow(STATE_TABLE, self._state(tx, record))
        except BaseException as exc:
            cm.__exit__(type(exc), exc, exc.__traceback__)
            raise
        cm.__exit__(None, None, None)  # the commit: one new manifest

    def _state(self, tx, record: Record) -> pa.Table:
        if self._state_rows is None:  # a resumed copy: the state an earlier run committed, read once
            uri = tx.base.tables.get(STATE_TABLE)
            self._state_rows = self.wh.session.read.parquet(uri).toArrow().to_pylist() if uri else []
        rows = [r for r in self._state_rows if r["table_name"] != record.table_name]
        rows.append({"table_name": record.table_name, "source_url": record.source_url,
                     "source_version": record.source_version, "rows": record.rows, "checksum": record.checksum,
                     "seconds": record.seconds, "copied_at": clock.local_now()})
        self._state_rows = rows  # (if the commit fails, the copy stops: no later table reuses it)
        return pa.Table.from_pylist(rows, schema=STATE_SCHEMA)

    def discard(self, staged: str) -> None:
        opened = self._open.pop(staged, None)
        if opened is not None:
            reason = RuntimeError("copy discarded")
            opened[0].__exit__(RuntimeError, reason, None)  # the rollback: the folder deleted


def read_table_at(wh: Warehouse, uri: str) -> pa.RecordBatchReader:
    """The rows of a lake folder as Spark reads them."""
    return _naive_times(lake_batches(wh, uri))


def lake_batches(wh: Warehouse, uri: str) -> pa.RecordBatchReader:
    """The rows of the lake folder ``uri`` as Spark reads them, one query per Parquet file: the Connect server
    gathers a query's task results faster than a client takes them, and a whole 10^7-line table passed its
    1 GB result limit (``spark.driver.maxResultSize``). A file is at most ``lake.ROWS_PER_FILE`` rows."""
    files = wh.lake.files(uri) or [uri]
    first = spark_batches(wh.session.read.parquet(files[0]))

    def batches() -> Iterator[pa.RecordBatch]:
        yield from first
        for f in files[1:]:
            for batch in spark_batches(wh.session.read.parquet(f)):
                if batch.schema == first.schema:
                    yield batch
                else:  # a file written by another writer may differ in nullability or an integer's width
                    yield from pa.Table.from_batches([batch]).cast(first.schema).to_batches()

    return pa.RecordBatchReader.from_batches(first.schema, batches())


DESTINATIONS: dict[str, type[Destination]] = {"duckdb": DuckDBDestination, "postgres": PostgresDestination}


def destination_for(wh: Warehouse, record: bool = True) -> Destination:
    if getattr(wh, "uses_lake", False):
        return LakeDestination(wh, record)
    return DESTINATIONS.get(wh.engine, WholeTableDestination)(wh, record)
