"""The warehouse outbox: a decision and the warehouse write it owes commit together, the write is applied after.

A decision (a verified supply problem, an exemption, a 对码) changes the workflow database *and* rows of the
warehouse, two databases without a shared transaction. So the decision never writes the warehouse itself: it
adds :class:`~jicai.workflow.models.OutboxEntry` rows to its own transaction (:func:`enqueue`) — both commit,
or neither. After the commit :func:`apply_pending` applies every unapplied entry as a **keyed** write (delete
the rows of the entries' keys, insert the entries' rows; never a rewrite of a table, so an import running at
the same time keeps its rows and the decision keeps its own) in one warehouse transaction under the
warehouse's write lock (:mod:`jicai.store.locking`; on PostgreSQL an advisory lock, :meth:`Sink.exclusive`),
then marks them applied. An entry whose write failed stays unapplied (its attempts and error recorded) and is
applied by the next call: at the server's start, after the next decision, and by ``jicai db reconcile``.

Applying is idempotent: for each key it writes the newest entry of that key, whatever was applied before, so
applying twice — or after a crash between the warehouse commit and the marking — changes nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pyarrow as pa
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from jicai.errors import BilingualError
from jicai.ingest import ensure_schema, overrides
from jicai.ingest.schema import table_schema
from jicai.ingest.sink import sink_for
from jicai.store import Warehouse
from jicai.workflow.db import now
from jicai.workflow.models import OutboxEntry

log = logging.getLogger("jicai.workflow")
Write = Callable[[Callable[[Warehouse], int]], int]  # runs its argument on a warehouse write connection
LOCK_NAME = "jicai.outbox"


def _plain(v: Any) -> Any:
    return v.isoformat() if isinstance(v, date) else v  # datetime is a date too


def enqueue(session: Session, target: str, rows: Iterable[dict[str, Any]], key: tuple[str, ...],
            op: str = "upsert") -> None:
    """Owe the warehouse ``op`` of ``rows`` (dicts holding at least ``key``) of table ``target``, in the
    session's transaction. ``patch`` rows hold the key and the columns to set."""
    for r in rows:
        session.add(OutboxEntry(target=target, op=op, key={k: _plain(r[k]) for k in key},
                                row={} if op == "delete" else {c: _plain(v) for c, v in r.items()},
                                created_at=now(), applied_at=None, attempts=0, last_error=""))


def _typed(target: str, values: dict[str, Any]) -> dict[str, Any]:
    """JSON values back to the types of the warehouse table's columns (dates were stored as ISO text)."""
    types = {f.name: f.type for f in table_schema(target)}
    out = {}
    for c, v in values.items():
        t = types.get(c)
        if isinstance(v, str) and t is not None and pa.types.is_date(t):
            v = date.fromisoformat(v)
        elif isinstance(v, str) and t is not None and pa.types.is_timestamp(t):
            v = datetime.fromisoformat(v)
        out[c] = v
    return out


def arrow_rows(target: str, rows: list[dict[str, Any]], columns: list[str] | None = None) -> pa.Table:
    """``rows`` as an Arrow table with the warehouse types of ``target`` (all columns, or ``columns``)."""
    schema = table_schema(target)
    if columns is not None:
        schema = pa.schema([schema.field(c) for c in columns])
    return pa.Table.from_pylist([{n: r.get(n) for n in schema.names} for r in rows], schema=schema)


def _key(e: OutboxEntry) -> tuple[str, str]:
    return e.target, json.dumps(e.key, sort_keys=True)


@dataclass
class Applied:
    applied: int  # entries marked applied by this call
    error: str = ""  # why the warehouse write failed (the entries stay pending), "" when it did not


def _shown(exc: Exception) -> str:
    """What a user may read of a failed write: our bilingual errors and the OS's (a full disk) whole; an
    engine's message may quote SQL, so only its kind (the log and the entry's ``last_error`` keep the rest)."""
    if isinstance(exc, BilingualError | OSError):
        return str(exc)
    return f"数据仓库写入失败({type(exc).__name__},详见服务器日志) / the warehouse write failed " \
           f"({type(exc).__name__}; see the server log)"


def pending(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(OutboxEntry).where(OutboxEntry.applied_at.is_(None)))


def apply_pending(workflow: Any, write: Write) -> Applied:
    """Apply every unapplied entry through ``write`` (the caller's way to a warehouse write connection: the
    web's :meth:`DataService.write`, a command's own); a failure is recorded on the entries and returned."""
    with workflow.session() as s:
        if not pending(s):
            return Applied(0)
    try:
        return Applied(write(lambda wh: _apply(workflow, wh)))
    except Exception as exc:  # noqa: BLE001 - any engine or lock error: the entries stay pending, retried later
        log.warning("the warehouse outbox could not be applied (retried later): %s", exc)
        with workflow.session() as s:
            for e in s.scalars(select(OutboxEntry).where(OutboxEntry.applied_at.is_(None))):
                e.attempts, e.last_error = e.attempts + 1, str(exc)[:2000]
        return Applied(0, _shown(exc))


def _apply(workflow: Any, wh: Warehouse) -> int:
    ensure_schema(wh)  # the tables the entries go to (an empty warehouse, or one loaded by other means)
    with wh.transaction() as cur:
        sink = sink_for(wh.engine, cur)
        sink.exclusive(LOCK_NAME)  # PostgreSQL: one applier at a time (a DuckDB file's write lock already is)
        # read under the lock: two appliers cannot interleave an older entry after a newer one of the same key
        with workflow.session() as s:
            due = list(s.scalars(select(OutboxEntry).where(OutboxEntry.applied_at.is_(None))
                                 .order_by(OutboxEntry.id)))
            if not due:
                return 0
            newest: dict[tuple[str, str], OutboxEntry] = {}
            for e in s.scalars(select(OutboxEntry).where(OutboxEntry.id >= due[0].id).order_by(OutboxEntry.id)):
                newest[_key(e)] = e  # a later decision on the same key wins, even one applied already
            write_entries(sink, [newest[k] for k in dict.fromkeys(_key(e) for e in due)])
        # the warehouse commits here; the marking follows in a transaction of its own (a crash in between
        # leaves the entries pending, and applying them again changes nothing)
    stamp = now()
    with workflow.session() as s:
        for e in s.scalars(select(OutboxEntry).where(OutboxEntry.id.in_([e.id for e in due]))):
            e.applied_at = stamp
    return len(due)


def write_entries(sink: Any, entries: list[OutboxEntry]) -> None:
    """The keyed writes of ``entries`` (at most one per key) inside the sink's transaction."""
    groups: dict[tuple[str, str], list[OutboxEntry]] = {}
    for e in entries:
        groups.setdefault((e.target, e.op), []).append(e)
    for (target, op), group in groups.items():
        key = list(group[0].key)
        if op == "patch":
            for e in group:
                values = _typed(target, e.row)
                columns = [c for c in values if c not in e.key]
                typed_key = _typed(target, e.key)
                sink.execute(overrides.patch_sql(target, key, columns),
                             tuple(values[c] for c in columns) + tuple(typed_key[k] for k in key))
            continue
        sink.delete_keys(target, arrow_rows(target, [_typed(target, e.key) for e in group], key))
        if op == "upsert":
            sink.insert(target, arrow_rows(target, [_typed(target, e.row) for e in group]))
