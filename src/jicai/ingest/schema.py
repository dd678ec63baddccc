"""Warehouse tables the importer writes: every contract table, ``_quarantine``, ``_load_log`` and the
workflow's overrides (:mod:`jicai.ingest.overrides`)."""

from __future__ import annotations

import ibis
import pyarrow as pa

from jicai.contract import arrow
from jicai.contract.tables import TABLES
from jicai.ingest import overrides
from jicai.store import Warehouse

QUARANTINE = "_quarantine"
LOAD_LOG = "_load_log"

META_SCHEMAS: dict[str, pa.Schema] = {
    # One row per problem found in a row of an input file. ``batch_id`` is the load_id of the import
    # that found it; ``row`` is 1-based as the user sees the file (header = row 1; the real sheet row
    # in Excel); ``row`` and ``column`` are null for a problem of the whole file.
    QUARANTINE: pa.schema([
        ("batch_id", pa.string()), ("table", pa.string()), ("file", pa.string()), ("sheet", pa.string()),
        ("row", pa.int64()), ("column", pa.string()), ("value", pa.string()),
        ("reason_zh", pa.string()), ("reason_en", pa.string()), ("loaded_at", pa.timestamp("us")),
    ]),
    # One row per import attempt that reached the warehouse; status "ok" or "failed", "started" while it runs,
    # "interrupted" when it never finished (the process was killed).
    LOAD_LOG: pa.schema([
        ("load_id", pa.string()), ("file", pa.string()), ("sha256", pa.string()), ("table", pa.string()),
        ("rows_read", pa.int64()), ("rows_loaded", pa.int64()), ("rows_quarantined", pa.int64()),
        ("started_at", pa.timestamp("us")), ("finished_at", pa.timestamp("us")), ("status", pa.string()),
    ]),
    # the workflow's standing special-variety exemptions, put back over re-imported varieties (ingest.overrides)
    **overrides.SCHEMAS,
}


def table_schema(name: str) -> pa.Schema:
    return META_SCHEMAS[name] if name in META_SCHEMAS else arrow.schema(name)


def ensure_schema(wh: Warehouse) -> list[str]:
    """Create every contract table (empty, typed) and the importer's own tables that do not exist yet.

    Measures can then run on a dataset that lacks optional tables. Returns the names created.

    >>> from jicai.store import connect
    >>> wh = connect("duckdb://")
    >>> "orders" in ensure_schema(wh) and ensure_schema(wh) == []
    True
    """
    existing = set(wh.list_tables())
    created = [name for name in [*TABLES, *META_SCHEMAS] if name not in existing]
    if created and getattr(wh, "uses_lake", False):
        # a lake's table is its first (empty) Parquet version: all of them in one commit, written by the client
        from jicai.ingest.sink import sink_for

        with wh.transaction() as cur:
            sink = sink_for(wh.engine, cur)
            for name in created:
                sink.create_empty(name, table_schema(name))
        return created
    for name in created:
        wh.con.create_table(name, schema=ibis.Schema.from_pyarrow(table_schema(name)))
    return created
