"""The warehouse as the web platform sees it: one connection, results cached per as-of date.

Measures take seconds on a province; pages must answer in milliseconds. So each measure is computed once per
(measure, arguments) and kept in memory until :meth:`DataService.invalidate` — called after an import and
after every workflow decision that feeds the measures (a verified supply-problem period, an exemption).
Queries run one at a time under a lock: a DuckDB connection is not shared between threads, and the cache
makes the lock cheap. Scope is *not* applied here: :mod:`jicai.web.scope` filters what this returns.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from jicai.store import Warehouse, connect


class DataService:
    def __init__(self, warehouse_url: str) -> None:
        self.url = warehouse_url
        self._lock = threading.RLock()
        self._wh: Warehouse | None = None
        self._cache: dict[tuple, Any] = {}
        self.generation = 0  # bumped by invalidate(); part of ETags and cache keys

    # -- connection ----------------------------------------------------------------------------
    @property
    def wh(self) -> Warehouse:
        if self._wh is None:
            self._wh = connect(self.url)
        return self._wh

    def close(self) -> None:
        with self._lock:
            if self._wh is not None:
                self._wh.close()
                self._wh = None

    def run(self, fn: Callable[[Warehouse], Any]) -> Any:
        """Run ``fn(warehouse)`` alone on the connection."""
        with self._lock:
            return fn(self.wh)

    # -- cache ---------------------------------------------------------------------------------
    def cached(self, key: tuple, compute: Callable[[Warehouse], Any]) -> Any:
        """``compute(warehouse)`` once per key until the next :meth:`invalidate`."""
        with self._lock:
            if key not in self._cache:
                self._cache[key] = compute(self.wh)
            return self._cache[key]

    def invalidate(self) -> None:
        with self._lock:
            self._cache.clear()
            self.generation += 1

    # -- writes fed by the workflow ------------------------------------------------------------
    def upsert_rows(self, table: str, rows: list[dict], key: tuple[str, ...]) -> None:
        """Insert or replace ``rows`` of contract table ``table`` by ``key``, in one transaction where the
        engine has them, then invalidate the cache. Small tables only (supply_problems, varieties)."""
        from jicai.contract.arrow import from_pylist, schema

        new = from_pylist(table, rows)
        with self._lock:
            wh = self.wh
            s = schema(table)
            old = wh.table(table).to_pyarrow().select(s.names).cast(s) if wh.has_table(table) else s.empty_table()
            keys = {tuple(r[k] for k in key) for r in new.select(list(key)).to_pylist()}
            kept = [r for r in old.to_pylist() if tuple(r[k] for k in key) not in keys]
            merged = pa.concat_tables([from_pylist(table, kept), new]) if kept else new
            if wh.supports_transactions:
                with wh.transaction():
                    wh.write_table(table, merged, overwrite=True)
            else:
                wh.write_table(table, merged, overwrite=True)
            self.invalidate()
