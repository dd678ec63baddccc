"""Copy a warehouse's tables to another engine, streamed, each table verified and published whole.

The upgrade path DuckDB → PostgreSQL → Spark Connect (and back) is ``jicai warehouse copy`` (docs/operations.md,
"Moving a warehouse"); this module is its engine, in three steps per table:

1. **stream** the source table as Arrow record batches into a table under a temporary name on the destination
   (:mod:`jicai.store.copy_engines`: DuckDB scans the batches, PostgreSQL takes them by ``COPY``), counting and
   checksumming each batch on the way (:mod:`jicai.store.checksum`) — never the whole table in memory;
2. **verify**: read the landed table back through the destination engine and checksum it again; a different
   row count or checksum discards it and raises :class:`CopyMismatch` (the destination's table is unchanged);
3. **publish** in one destination transaction: drop the old table, rename the new one into place, and record
   the table, its rows and checksum in the destination's ``_jicai_copy_state`` table.

Because the record is written in the same transaction as the table it describes, a copy killed at any moment
leaves a destination whose state table lists exactly the tables that landed whole and verified: a copy started
again with ``resume=True`` skips those (when the source still has the same data version, or — for an engine
that records none — the same row count) and redoes the rest. A leftover temporary table is dropped first.

The facts' state (``_facts_state``) and the pending facts (``_facts_pending``) travel last, and publishing a fact
source drops them on the destination, as :meth:`Warehouse.write_table` does: an interrupted copy never leaves
the destination believing stale facts complete.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import pyarrow as pa

from jicai.errors import BilingualError
from jicai.store.checksum import Checksum, checksum
from jicai.store.copy_engines import (
    STATE_TABLE,
    TEMP_PREFIX,
    Destination,
    Record,
    destination_for,
    read_table,
)
from jicai.store.warehouse import FACT_SOURCES, FACTS_PENDING, FACTS_STATE, Warehouse

PAUSE_ENV = "JICAI_TEST_PAUSE_IN_COPY"  # test hook "N:SECONDS": with N tables published, pause before the next


class CopyError(BilingualError, RuntimeError):
    """A copy that cannot start or go on (no such table, the destination unreachable or the same warehouse)."""


class CopyMismatch(CopyError):
    """The table read back from the destination differs from what was read from the source."""


@dataclass
class TableCopy:
    """What happened to one table: copied now, or skipped because an earlier run copied and verified it."""

    name: str
    rows: int
    checksum: str
    seconds: float
    skipped: bool = False


def redact(url: str) -> str:
    """``url`` without its password: what is shown and recorded.

    >>> redact("postgres://jicai:s3cret@db:5432/w")
    'postgres://jicai:***@db:5432/w'
    """
    try:
        u = urlsplit(url)
    except ValueError:
        return url
    if not u.password:
        return url
    netloc = u.netloc.replace(f":{u.password}@", ":***@", 1)
    return urlunsplit(u._replace(netloc=netloc))


def order(names: list[str]) -> list[str]:
    """The tables in copy order: the source's order, the pending facts and then the facts' state last."""
    return sorted(names, key=lambda n: (n == FACTS_PENDING or n == FACTS_STATE, n == FACTS_STATE))


def copyable(names: list[str]) -> list[str]:
    """The source's tables a copy moves: all but the copy's own bookkeeping."""
    return [n for n in names if n != STATE_TABLE and not n.startswith(TEMP_PREFIX)]


def _pause_for_tests(published: int, name: str) -> None:
    spec = os.environ.get(PAUSE_ENV)
    if not spec:
        return
    after, _, seconds = spec.partition(":")
    if published == int(after):
        print(f"JICAI_PAUSED_IN_COPY {name}", file=sys.stderr, flush=True)
        time.sleep(float(seconds or 60))


def _source_version(src: Warehouse) -> int | None:
    v = src.data_version()
    return v.number if v is not None else None


def copy_warehouse(src: Warehouse, dst: Warehouse, names: list[str] | None = None, *, resume: bool = False,
                   record: bool = True, verify: bool = True, on_rows: Callable[[str, int], None] | None = None,
                   on_table: Callable[[TableCopy], None] | None = None) -> list[TableCopy]:
    """Copy ``names`` (default: every table) of ``src`` to ``dst``, verified; see the module docstring.

    ``resume``: skip the tables an earlier, interrupted copy from the same source published (else start over);
    ``record=False``, ``verify=False``: keep no copy state on the destination, do not read each table back
    (:func:`jicai.store.copy_tables`, which puts small test tables on an engine and should cost no more than
    writing them).
    ``on_rows(table, rows_so_far)`` is called per batch, ``on_table(result)`` per table done."""
    available = src.list_tables()
    if names is None:
        names = copyable(available)
    else:
        unknown = [n for n in names if n not in available]
        if unknown:
            raise CopyError(f"源数据仓库没有这些表:{', '.join(unknown)}",
                            f"the source warehouse has no table(s): {', '.join(unknown)}")
    target = destination_for(dst, record)
    target.clean()
    source_url, version = redact(src.url), _source_version(src)
    done = target.records() if resume else {}
    if record and not resume:
        target.forget()
    results, published = [], 0
    for name in order(names):
        old = done.get(name)
        if old is not None and old.source_url == source_url and _unchanged(src, name, old, version) \
                and target.rows(name) == old.rows:
            result = TableCopy(name, old.rows, old.checksum, 0.0, skipped=True)
        else:
            result = _copy_one(src, target, name, source_url, version, published, on_rows, verify)
            published += 1
        results.append(result)
        if on_table is not None:
            on_table(result)
    return results


def _unchanged(src: Warehouse, name: str, old: Record, version: int | None) -> bool:
    """Whether the source table is still the one an earlier run copied: same data version where the source
    records one (a DuckDB file), else the same row count."""
    if version is not None or old.source_version is not None:
        return version == old.source_version
    return src.table(name).count().to_pyarrow().as_py() == old.rows


def _copy_one(src: Warehouse, target: Destination, name: str, source_url: str, version: int | None,
              published: int, on_rows: Callable[[str, int], None] | None, verify: bool = True) -> TableCopy:
    t0 = time.perf_counter()
    sent = Checksum()
    reader = read_table(src, name)

    def batches() -> Iterator[pa.RecordBatch]:
        for batch in sent.feed(reader):
            if on_rows is not None:
                on_rows(name, sent.rows)
            yield batch

    staged = target.stage(name, pa.RecordBatchReader.from_batches(reader.schema, batches()))
    try:
        landed = checksum(target.read(staged)) if verify else sent
        if (landed.rows, landed.hexdigest()) != (sent.rows, sent.hexdigest()):
            raise CopyMismatch(
                f"表 {name} 复制后校验不一致:源 {sent.rows:,} 行、校验和 {sent.hexdigest()};目标 {landed.rows:,} 行、"
                f"校验和 {landed.hexdigest()}。目标中的 {name} 未被替换;请检查两端的数据库后重试",
                f"table {name} differs after the copy: source {sent.rows:,} rows, checksum {sent.hexdigest()}; "
                f"destination {landed.rows:,} rows, checksum {landed.hexdigest()}. The destination's {name} was not "
                f"replaced; check both databases and retry")
        _pause_for_tests(published, name)
        seconds = time.perf_counter() - t0
        record = Record(name, source_url, version, sent.rows, sent.hexdigest(), seconds)
        target.publish(name, staged, record, drops=(FACTS_STATE, FACTS_PENDING) if name in FACT_SOURCES else ())
    except BaseException:
        target.discard(staged)
        raise
    return TableCopy(name, sent.rows, sent.hexdigest(), time.perf_counter() - t0)
