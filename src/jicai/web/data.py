"""The warehouse as the web platform sees it: measures computed once, results kept in an in-memory DuckDB.

Measures take seconds on a province; pages must answer in milliseconds. So each dataset is computed once per
(dataset, arguments) on the warehouse's own engine (DuckDB, PostgreSQL or Spark) and its rows are kept in an
in-memory DuckDB (the *result cache*), beside the small reference tables scope needs. Every page and API
query — scope, filters, sorting, paging — is an Ibis expression on that cache. :meth:`DataService.invalidate`
drops it: called after an import and after every workflow decision that feeds the measures (a verified
supply-problem period, an exemption).

Queries run one at a time under a lock (a DuckDB connection is not shared between threads); with the cache
the lock is held for milliseconds.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from jicai import clock
from jicai.store import Warehouse, connect
from jicai.web.scope import Lookups

LOOKUP_COLUMNS = {
    "institutions": ("institution_code", "name", "region_code", "level", "kind", "sentinel"),
    "products": ("product_code", "name", "variety_id", "manufacturer_code"),
    "selected_products": ("batch_id", "variety_id", "product_code", "enterprise_code", "role"),
}


class DataService:
    def __init__(self, warehouse_url: str, data_dir=None) -> None:
        self.url = warehouse_url
        self.data_dir = data_dir
        self._lock = threading.RLock()
        self._wh: Warehouse | None = None
        self._mem: Any = None
        self._names: dict[tuple, str] = {}
        self._memo: dict[tuple, Any] = {}
        self.generation = 0  # bumped by invalidate()

    # -- connections ---------------------------------------------------------------------------
    @property
    def wh(self) -> Warehouse:
        if self._wh is None:
            self._wh = connect(self.url)
            # a warehouse loaded by other means may lack optional tables; measures read them as empty
            from jicai.ingest.schema import ensure_schema

            with contextlib.suppress(Exception):  # a read-only warehouse: the measures name what is missing
                ensure_schema(self._wh)
        return self._wh

    @property
    def mem(self):
        if self._mem is None:
            self._mem = ibis.duckdb.connect()
            self._mem.raw_sql("SET threads = 2")
        return self._mem

    def close(self) -> None:
        with self._lock:
            if self._wh is not None:
                self._wh.close()
                self._wh = None
            if self._mem is not None:
                self._mem.disconnect()
                self._mem = None
            self._names.clear()
            self._memo.clear()

    def run(self, fn: Callable[[Warehouse], Any]) -> Any:
        """Run ``fn(warehouse)`` alone on the warehouse connection."""
        with self._lock:
            return fn(self.wh)

    # -- the result cache ----------------------------------------------------------------------
    def result(self, key: tuple, compute: Callable[[Warehouse], pa.Table]) -> ir.Table:
        """The cached rows of ``compute(warehouse)`` as a table of the result cache."""
        with self._lock:
            name = self._names.get(key)
            if name is None:
                rows = compute(self.wh)
                name = f"r{self.generation}_{len(self._names)}"
                self.mem.create_table(name, rows, overwrite=True)
                self._names[key] = name
            return self.mem.table(name)

    def memo(self, key: tuple, compute: Callable[[], Any]) -> Any:
        """A page's figures (Python objects) kept until the next invalidate(); the key must hold everything the
        figures depend on — the principal's role and scope included."""
        with self._lock:
            if key not in self._memo:
                self._memo[key] = compute()
            return self._memo[key]

    def lookups(self) -> Lookups:
        def ref(name: str) -> ir.Table:
            cols = LOOKUP_COLUMNS[name]

            def load(wh: Warehouse) -> pa.Table:
                if not wh.has_table(name):
                    from jicai.contract.arrow import empty

                    return empty(name).select(list(cols))
                return wh.table(name).select(*cols).to_pyarrow()

            return self.result(("lookup", name), load)

        return Lookups(ref("institutions"), ref("products"), ref("selected_products"))

    def execute(self, expr: ir.Table) -> pa.Table:
        with self._lock:
            return expr.to_pyarrow()

    def scalar(self, expr) -> Any:
        with self._lock:
            return expr.to_pyarrow().as_py()

    def invalidate(self) -> None:
        with self._lock:
            if self._mem is not None:
                for name in self._names.values():
                    self._mem.drop_table(name, force=True)
            self._names.clear()
            self._memo.clear()
            self.generation += 1

    # -- what the data covers ------------------------------------------------------------------
    def data_end(self) -> date:
        """The last day with an order (the default as-of date of every page); today when there are none."""
        def compute(wh: Warehouse) -> pa.Table:
            last = None
            if wh.has_table("orders"):
                last = wh.table("orders").ordered_at.max().to_pyarrow().as_py()
            day = last.date() if isinstance(last, datetime) else (last or clock.today())
            return pa.table({"day": pa.array([day], pa.date32())})

        return self.memo(("data_end",), lambda: self.result(("data_end",), compute).day.max().to_pyarrow().as_py())

    def batches(self) -> list[dict]:
        def compute(wh: Warehouse) -> pa.Table:
            if not wh.has_table("batches"):
                return pa.table({"batch_id": pa.array([], pa.string()), "name": pa.array([], pa.string()),
                                 "start_date": pa.array([], pa.date32()), "cycle_years": pa.array([], pa.int64())})
            b = wh.table("batches")
            return b.select("batch_id", "name", "start_date", "cycle_years").order_by("start_date").to_pyarrow()

        return self.memo(("batches",), lambda: self.result(("batches",), compute).to_pyarrow().to_pylist())

    # -- writes fed by the workflow ------------------------------------------------------------
    def upsert_rows(self, table: str, rows: list[dict], key: tuple[str, ...]) -> None:
        """Insert or replace ``rows`` of contract table ``table`` by ``key``, then invalidate the cache.
        Small tables only (supply_problems, varieties): the table is rewritten whole."""
        from jicai.contract.arrow import from_pylist, schema

        new = from_pylist(table, rows)
        with self._lock:
            wh = self.wh
            s = schema(table)
            old = wh.table(table).to_pyarrow().select(s.names).cast(s) if wh.has_table(table) else s.empty_table()
            keys = {tuple(r[k] for k in key) for r in new.select(list(key)).to_pylist()}
            kept = [r for r in old.to_pylist() if tuple(r[k] for k in key) not in keys]
            merged = pa.concat_tables([from_pylist(table, kept), new]) if kept else new
            wh.write_table(table, merged, overwrite=True)
            self.invalidate()
