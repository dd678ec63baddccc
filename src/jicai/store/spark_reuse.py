"""Small intermediate results computed once per snapshot on Spark (:meth:`Warehouse.reuse`).

Ibis compiles a measure to one SQL statement in which a shared intermediate — the products in scope, the
supply-problem periods, a summary two parts of the measure read — is a common table expression. DuckDB and
PostgreSQL compute such an expression once; Spark inlines it at every reference, and the references nest:
the monitoring's plan had 846 Parquet scans and 896 exchanges on 20,000 order lines, and took a minute on the
local cluster whatever the data's size (docs/benchmarks.md, "Spark Connect against DuckDB").

:class:`ReuseCache` computes such an expression once, keeps it in the cluster's memory (``cache()``, which
spills to disk and which Spark recomputes from its lineage when an executor is lost — a checkpoint would not
be recomputed) and gives it back as a temp view that the measure's SQL reads like a table. An entry is valid
for the snapshot the connection reads: the warehouse clears the cache whenever that changes, and the cache
keeps the last :data:`MAX_ENTRIES` only, so a long-lived connection (the web server's) holds a bounded amount.

A Spark Connect warehouse keeps its results on the client instead (:class:`ClientReuse`): a reused result is
small (a summary per institution × product, a calendar, a scope), and as an in-memory table it serves both the
cluster's next query (sent along with it) and the client's part of the measure
(:mod:`jicai.store.spark_client`), which could not read a table cached in the cluster.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from typing import Any

import ibis
import ibis.expr.types as ir

# Entries kept per connection: a measure reuses about five, the web server's datasets a few dozen.
MAX_ENTRIES = 64

_names = itertools.count()


class ReuseCache:
    """The reused expressions of one Spark connection, by expression, least recently used first."""

    def __init__(self, con: ibis.BaseBackend) -> None:
        self.con = con
        self._entries: OrderedDict[Any, tuple[ir.Table, Any, str]] = OrderedDict()
        self._lock = threading.Lock()  # the web server's threads share a connection

    def get(self, expr: ir.Table) -> ir.Table:
        key = expr.op()  # equal by structure: the same expression built twice is one entry
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key][0]
            self.con._run_pre_execute_hooks(expr)  # an in-memory table inside the expression
            df = self.con._session.sql(self.con.compile(expr)).cache()
            try:
                df.count()  # computed now, once, by the cluster: the measure's references read the cache
            except BaseException:
                df.unpersist()  # nothing half-kept: the error goes to the measure
                raise
            name = f"_jicai_reuse_{next(_names)}"
            df.createOrReplaceTempView(name)
            table = self.con.table(name)
            self._entries[key] = (table, df, name)
            while len(self._entries) > MAX_ENTRIES:
                self._release(self._entries.popitem(last=False)[1])
            return table

    def clear(self) -> None:
        """Forget every entry (the snapshot changed) and free the cluster's memory of them."""
        with self._lock:
            while self._entries:
                self._release(self._entries.popitem()[1])

    def _release(self, entry: tuple[ir.Table, Any, str]) -> None:
        _, df, name = entry
        try:
            df.unpersist()
            self.con._session.catalog.dropTempView(name)
        except Exception:  # noqa: BLE001 - a session already gone holds nothing more
            pass


class ClientReuse:
    """The reused expressions of one Spark Connect connection, computed once per snapshot (on the cluster or
    on the client, wherever the expression runs) and kept on the client as in-memory tables."""

    def __init__(self, con: ibis.BaseBackend) -> None:
        self.con = con
        self._entries: OrderedDict[Any, ir.Table] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, expr: ir.Table) -> ir.Table:
        key = expr.op()
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
        # computed outside the lock: another thread's measure need not wait for this one's query
        table = ibis.memtable(self.con.to_pyarrow(expr))
        with self._lock:
            table = self._entries.setdefault(key, table)
            self._entries.move_to_end(key)
            while len(self._entries) > MAX_ENTRIES:
                self._entries.popitem(last=False)  # Ibis drops the cluster's view of it with the last reference
        return table

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
