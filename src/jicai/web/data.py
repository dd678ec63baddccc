"""The warehouse as the web platform sees it: figures computed in the background, kept in a bounded cache.

Measures take seconds on a province; pages must answer in milliseconds; and the CLI must be able to import
while the server runs. So the server never keeps the warehouse open and never computes inside a request:

- **Background jobs.** Each dataset is computed once per (dataset, arguments) by a job on a small thread pool
  (``WebConfig.workers``), which opens a read-only connection (:mod:`jicai.store.locking`: it waits while a
  writer works), computes on the warehouse's own engine, materializes the rows to Arrow and closes. Two
  requests for the same missing dataset wait on the same job (the job *is* the per-dataset lock); no lock is
  held across a computation, so a slow measure blocks only the requests that need it. A request waits for a
  job at most ``WebConfig.wait`` seconds, then gets :class:`NotReady` ("正在计算 / computing, retry": 503).
- **The result cache.** Finished rows are copied into an in-memory DuckDB; every page and API query — scope,
  filters, sorting, paging — is an Ibis expression on it, run on the asking thread's own cursor of that
  database (a DuckDB connection is not shared between threads; cursors of one database run side by side), so
  a long query — a computation's roll-up of a new as-of — never makes a cached page wait. The cache is a
  least-recently-used map bounded by the Arrow bytes it holds (``WebConfig.cache_mb``); the memo of finished
  page figures is bounded by its entry count (``WebConfig.memo_entries``) and by their approximate bytes (a
  quarter of the cache's budget). Callers key both by validated, normalised arguments only (never a raw
  query string), so junk parameters cannot add entries.
- **New data without a restart.** Every writer of a DuckDB file bumps its data version (``<file>.version``);
  the server's own writes (an upload, a workflow decision through :meth:`deliver`) bump a counter of
  its own as well (PostgreSQL and Spark warehouses record no file version: there the server notices only its
  own writes). A request that sees a new version (a stat, at most every quarter second)
  schedules a *refresh*: the default figures (``warm``, set by the app: every dataset for the default as-of)
  and the last day with data are recomputed in the background into a stage, while pages keep serving the
  previous figures with a "数据更新中 / updating" note (:meth:`status`). When the stage is complete it replaces
  them at once — pages never mix the old as-of with the new figures — and figures of other arguments computed
  from older data are dropped, to be recomputed when next asked for.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from jicai import clock
from jicai.errors import BilingualError
from jicai.ingest import plausible
from jicai.store import LockTimeout, Warehouse, connect, latest_version
from jicai.web.cache import LRU, approx_size
from jicai.web.scope import Lookups

log = logging.getLogger("jicai.web")

LOOKUP_COLUMNS = {
    "institutions": ("institution_code", "name", "region_code", "level", "kind", "sentinel"),
    "products": ("product_code", "name", "variety_id", "manufacturer_code"),
    "selected_products": ("batch_id", "variety_id", "product_code", "enterprise_code", "role"),
}
RETIRE_AFTER = 60.0  # seconds an evicted result stays in the query engine, for queries built on it just before
CHECK_EVERY = 0.25  # seconds between two looks at the data version


class NotReady(BilingualError, RuntimeError):
    """The figures asked for are still being computed (or the warehouse is being written): 503, retry."""

    def __init__(self) -> None:
        super().__init__("正在计算,请稍后刷新(数据量大时首次计算需要一些时间)",
                         "computing: retry in a moment (the first computation on a large warehouse takes a while)")


Version = tuple[int, int]  # (the file's data version, the server's own writes)


def _at_least(v: Version, w: Version) -> bool:
    return v[0] >= w[0] and v[1] >= w[1]


@dataclass
class Entry:
    value: Any  # any object (a value); None for a result, whose rows are in the query engine
    version: Version  # of the data it was computed from
    cost: int  # bytes counted against the cache's budget
    table: ir.Table | None = None  # a result, as a table of the query engine
    name: str | None = None  # … registered under this name


@dataclass
class Job:
    """One computation of one key; requests for the same key wait on it."""

    compute: Callable[[Warehouse], Any]
    as_table: bool
    done: threading.Event = field(default_factory=threading.Event)
    claimed: bool = False
    entry: Entry | None = None
    error: BaseException | None = None


@dataclass
class Stage:
    """A refresh in progress: figures recomputed for ``version``, shown together when all are done."""

    version: Version
    entries: dict[Hashable, Entry] = field(default_factory=dict)
    memo: dict[Hashable, Any] = field(default_factory=dict)


class Complete:
    """A read connection on which every contract table exists: one the warehouse lacks (loaded by other means
    than ``jicai import``, which creates them all) reads as empty with its contract types — what the importer
    would have created, without writing to the warehouse."""

    def __init__(self, wh: Warehouse) -> None:
        self._wh = wh
        self._tables: set[str] | None = None
        self._empties: dict[str, ir.Table] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._wh, name)

    def _present(self) -> set[str]:
        if self._tables is None:  # a read-only connection: its tables do not change while it is open
            self._tables = set(self._wh.list_tables())
        return self._tables

    def has_table(self, name: str) -> bool:
        from jicai.contract.tables import TABLES

        return name in TABLES or name in self._present()

    def list_tables(self) -> list[str]:
        from jicai.contract.tables import TABLES

        return sorted(self._present() | set(TABLES))

    def table(self, name: str) -> ir.Table:
        from jicai.contract.tables import TABLES

        if name in TABLES and name not in self._present():
            from jicai.contract.arrow import schema

            if self._wh.engine != "duckdb":
                return ibis.memtable(schema(name).empty_table())
            if name not in self._empties:  # a temporary table (allowed read-only): no Arrow scan from Python
                self._empties[name] = self._wh.con.create_table(
                    f"_empty_{name}", schema=ibis.Schema.from_pyarrow(schema(name)), temp=True, overwrite=True)
            return self._empties[name]
        return self._wh.table(name)


class DataService:
    def __init__(self, warehouse_url: str, data_dir=None, *, cache_mb: float = 512, memo_entries: int = 4096,
                 wait: float = 20.0, workers: int = 1, warm: Callable[[DataService], None] | None = None) -> None:
        self.url = warehouse_url
        self.data_dir = data_dir
        self.wait = wait
        self.warm = warm  # the default figures a refresh recomputes (jicai.web.warmup.warm)
        self._lock = threading.Lock()  # the maps below; never held across a computation or a query
        self._query = threading.Lock()  # copies into the in-memory DuckDB and drops, one at a time (never reads)
        self._writing = threading.Lock()  # the server's own writes, one at a time
        self._pool_lock = threading.Lock()
        self._fresh = threading.Condition(self._lock)
        self._cache = LRU(int(cache_mb * 1024 * 1024))
        self._memo = LRU(int(cache_mb * 1024 * 1024) // 4, max_items=memo_entries)
        self._jobs: dict[Hashable, Job] = {}
        self._retired: list[tuple[str, float]] = []
        self._local = threading.local()  # .wh/.version: a job's open connection; .stage; .worker
        self._workers = max(1, workers)
        self._pool: ThreadPoolExecutor | None = None
        self._names = itertools.count()
        self._mem: Any = None
        self._cursors: list[Any] = []  # every thread's cursor of the query engine, closed by close()
        self._session = 0  # bumped by close(): work started before is not shown after
        self._writes = 0  # bumped by invalidate(): the server's own writes
        self._epoch = 0  # bumped when a refresh replaces the figures (memo entries of older epochs are stale)
        self._seen: Version | None = None  # the newest data version noticed
        self._ready: Version | None = None  # the version the figures shown are of
        self._ready_at = ""  # … and when those data were written
        self._refreshing = False
        self._checked = 0.0

    @property
    def generation(self) -> int:
        """A number that grows whenever what the warehouse holds changes — an import by any process, a decision
        of this server — for caches kept elsewhere (the workflow's lookups)."""
        self.check()
        seen = self._seen or (0, 0)
        return seen[0] + seen[1]  # both parts only grow

    def _mark_worker(self) -> None:
        self._local.worker = True  # a job thread computes what it needs inline, never waits for a queued job

    # -- the version of the data ---------------------------------------------------------------------
    def _version_now(self) -> tuple[Version, str]:
        v = latest_version(self.url)
        return ((v.number if v else 0), self._writes), (v.at if v else "")

    def check(self, force: bool = False) -> None:
        """Notice new data (a writer bumped the version) and schedule a refresh; cheap, called per request."""
        now = time.monotonic()
        if not force and now - self._checked < CHECK_EVERY:
            return
        self._checked = now
        version, _ = self._version_now()
        with self._lock:
            if version == self._seen:
                return
            self._seen = version
            if self._refreshing:
                return  # the running refresh goes again when it sees a newer version
            self._refreshing = True
            session = self._session
        self._submit(self._refresh, session)

    def start(self) -> None:
        """Compute the default figures in the background (the app calls it at startup)."""
        self.check(force=True)

    def status(self) -> dict[str, Any]:
        """What pages and the API say about their figures: ``updating`` while a refresh runs, and the time the
        data shown were written (the last import or decision)."""
        self.check()
        with self._lock:
            updating = self._ready is None or self._ready != self._seen
            return {"updating": updating, "data_at": self._ready_at, "version": (self._ready or (0, 0))[0]}

    def wait_fresh(self, timeout: float) -> bool:
        """Wait (at most ``timeout`` seconds) until the figures are those of the newest data."""
        self.check(force=True)
        deadline = time.monotonic() + timeout
        with self._fresh:
            session = self._session
            while self._ready != self._seen and session == self._session:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._fresh.wait(left)
            return True

    def _submit(self, fn: Callable[..., Any], *args: Any):
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="jicai-compute",
                                                initializer=self._mark_worker)
            return self._pool.submit(fn, *args)

    def _refresh(self, session: int) -> None:
        while True:
            with self._lock:
                target = self._seen
            if target is None:
                return
            stage = Stage(target)
            self._local.stage = stage
            try:
                self.data_span()
                self.batches()
                self.lookups()
                if self.warm is not None:
                    self.warm(self)
            except BaseException:  # noqa: BLE001 - a refresh that fails keeps the figures shown; say why in the log
                log.exception("refresh of the web figures failed")
            finally:
                self._local.stage = None
            _, at = self._version_now()
            with self._lock:
                if session != self._session:  # closed meanwhile
                    return
                self._swap(stage, at)
                if self._seen == target:
                    self._refreshing = False
                    self._fresh.notify_all()
                    return
            # newer data arrived while this stage was computed: shown now, and recomputed again

    def _swap(self, stage: Stage, at: str) -> None:
        """Show the stage's figures at once (under the lock); drop figures of older data."""
        released = []
        for key, entry in stage.entries.items():
            released += [e for _, e in self._cache.put(key, entry, entry.cost) if e is not entry]
        for key, entry in self._cache.items():
            if not _at_least(entry.version, stage.version):
                released.append(self._cache.pop(key))
        if released:  # figures changed: pages made of the previous ones are stale (not after a first warm-up)
            self._memo.clear()
            self._epoch += 1
        for key, value in stage.memo.items():
            self._memo.put(key, (value, self._epoch), approx_size(value))
        self._ready = stage.version
        self._ready_at = at or clock.stamp().isoformat()
        self._retire(released)

    # -- connections --------------------------------------------------------------------------------
    @property
    def mem(self):
        """The in-memory query engine of the cached results (its own connection: copies and drops, under
        ``self._query``; reads go through :meth:`_reader`)."""
        with self._pool_lock:
            if self._mem is None:
                self._mem = ibis.duckdb.connect()
                self._mem.raw_sql("SET threads = 2")
            return self._mem

    def _reader(self):
        """This thread's cursor of the query engine: reads of two threads never wait for each other (a page's
        query must not wait for a computation's long roll-up, issue 14 finding 3)."""
        mem = self.mem
        mine = getattr(self._local, "reader", None)
        if mine is None or mine[0] is not mem:
            cursor = ibis.duckdb.from_connection(mem.con.cursor())
            with self._pool_lock:
                if self._mem is not mem:  # closed meanwhile
                    raise NotReady()
                self._cursors.append(cursor)
            self._local.reader = mine = (mem, cursor)
        return mine[1]

    def _reading(self, fn: Callable[[Warehouse], Any]) -> tuple[Any, Version]:
        """``fn`` on this thread's open read connection, or on a new one held for the call only (so that a
        writer waits at most for one computation)."""
        wh = getattr(self._local, "wh", None)
        if wh is not None:
            return fn(wh), self._local.version
        generation = self._writes
        # join=False: even while this server writes (an upload, a decision), a job waits for the write to end
        # instead of sharing its connection — DuckDB work of two threads on one database can deadlock
        wh = connect(self.url, "read", join=False)
        dv = wh.data_version()  # read under the lock: the version of the data this connection sees
        version = (dv.number if dv else 0, generation)
        self._local.wh, self._local.version = Complete(wh), version
        try:
            return fn(self._local.wh), version
        finally:
            self._local.wh = None
            wh.close()

    def close(self) -> None:
        """Stop the background work and drop every figure (the app's shutdown; a later use starts afresh)."""
        with self._lock:
            self._session += 1
            released = [e for _, e in self._cache.clear()]
            self._memo.clear()
            self._jobs.clear()
            self._seen = self._ready = None
            self._refreshing = False
            self._fresh.notify_all()
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        with self._query, self._pool_lock:
            cursors, self._cursors = self._cursors, []
            for c in cursors:  # a cursor keeps the in-memory database alive
                with contextlib.suppress(Exception):
                    c.disconnect()
            if self._mem is not None:
                with contextlib.suppress(Exception):
                    self._mem.disconnect()
                self._mem = None
        del released

    # -- computing in the background ----------------------------------------------------------------
    def _entry(self, value: Any, version: Version, as_table: bool) -> Entry:
        if not as_table:
            cost = len(value) if isinstance(value, bytes | str) else 0
            return Entry(value, version, cost)
        name = f"r{next(self._names)}"
        with self._query:
            # copied into DuckDB's own memory: a query of a page then never calls back into Python for Arrow
            # data, the pattern that deadlocks duckdb-python between threads (duckdb/duckdb#2540, #18225)
            con = self.mem.con
            con.register("_incoming", value)
            try:
                con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM _incoming')
            finally:
                con.unregister("_incoming")
            table = self.mem.table(name)
        return Entry(None, version, int(value.nbytes), table, name)

    def _retire(self, entries: list[Entry]) -> None:
        """Unregister results pushed out of the cache — after a grace period, since a request may have built a
        query on one just before (under the lock)."""
        now = time.monotonic()
        self._retired += [(e.name, now) for e in entries if e is not None and e.name]
        due = [n for n, t in self._retired if now - t > RETIRE_AFTER]
        if due:
            self._retired = [(n, t) for n, t in self._retired if now - t <= RETIRE_AFTER]
            self._submit(self._unregister, due)

    def _unregister(self, names: list[str]) -> None:
        with self._query:
            if self._mem is not None:
                for n in names:
                    with contextlib.suppress(Exception):
                        self._mem.con.execute(f'DROP TABLE IF EXISTS "{n}"')

    def _run_job(self, key: Hashable, job: Job) -> None:
        with self._lock:
            if job.claimed:
                return
            job.claimed = True
            session = self._session
        stage, self._local.stage = getattr(self._local, "stage", None), None  # a request's job, not the refresh's
        try:
            value, version = self._reading(job.compute)
            entry = self._entry(value, version, job.as_table)
            with self._lock:
                if session == self._session:
                    self._retire([e for _, e in self._cache.put(key, entry, entry.cost) if e is not entry])
            job.entry = entry
        except BaseException as exc:  # noqa: BLE001 - handed to every request waiting on this job
            job.error = exc
        finally:
            self._local.stage = stage
            with self._lock:
                if self._jobs.get(key) is job:
                    del self._jobs[key]
            job.done.set()

    def _help(self) -> None:
        """Between two steps of a refresh, run the jobs requests are waiting for (one worker by default: they
        would otherwise wait for the whole refresh)."""
        with self._lock:
            waiting = [(k, j) for k, j in self._jobs.items() if not j.claimed]
        for key, job in waiting:
            self._run_job(key, job)

    def _obtain(self, key: Hashable, compute: Callable[[Warehouse], Any], as_table: bool) -> Entry:
        """The cached entry of ``key``, else computed by a job (a request waits for it, bounded)."""
        self.check()
        stage: Stage | None = getattr(self._local, "stage", None)
        in_worker = getattr(self._local, "worker", False)
        if stage is not None:
            self._help()
        with self._lock:
            entry = self._cache.get(key)
            if stage is not None:
                if key in stage.entries:
                    return stage.entries[key]
                if entry is not None and _at_least(entry.version, stage.version):
                    return entry
            elif entry is not None:
                return entry  # current, or the previous figures while a refresh runs
            private = stage is not None and entry is not None  # shown at the swap, with the rest of the stage
            job = None
            if not private:
                job = self._jobs.get(key)
                if job is None:
                    job = self._jobs[key] = Job(compute, as_table)
                    if not in_worker:
                        self._submit(self._run_job, key, job)
        if private:
            value, version = self._reading(compute)
            stage.entries[key] = e = self._entry(value, version, as_table)
            return e
        if in_worker and not job.claimed:
            self._run_job(key, job)  # inline: a worker never waits for a queued job
        if not job.done.wait(None if in_worker else self.wait):
            raise NotReady()
        if job.error is not None:
            raise job.error
        if stage is not None:
            stage.entries.setdefault(key, job.entry)
        return job.entry

    def result(self, key: tuple, compute: Callable[[Warehouse], pa.Table]) -> ir.Table:
        """The rows of ``compute(warehouse)`` as a table of the result cache (computed in the background)."""
        return self._obtain(key, compute, True).table

    def value(self, key: tuple, compute: Callable[[Warehouse], Any]) -> Any:
        """Any object computed from the warehouse (a report file, the settlement gate), cached like a result."""
        return self._obtain(key, compute, False).value

    def run(self, fn: Callable[[Warehouse], Any]) -> Any:
        """``fn(warehouse)`` on a read connection, not cached: in a job (a request waits at most ``wait``)."""
        if getattr(self._local, "worker", False) or getattr(self._local, "stage", None) is not None:
            return self._reading(fn)[0]
        future = self._submit(lambda: self._reading(fn)[0])
        try:
            return future.result(timeout=self.wait)
        except TimeoutError:
            if future.done():  # fn's own (a LockTimeout)
                raise
            raise NotReady() from None

    def memo(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """A page's figures (Python objects) kept until the data change; the key must hold everything the
        figures depend on — the principal's role and scope included."""
        self.check()
        stage: Stage | None = getattr(self._local, "stage", None)
        if stage is not None:
            if key not in stage.memo:
                stage.memo[key] = compute()
            return stage.memo[key]
        with self._lock:
            hit = self._memo.get(key)
            if hit is not None and hit[1] == self._epoch:
                return hit[0]
            epoch = self._epoch
        value = compute()  # outside the lock: figures from cached rows take milliseconds
        with self._lock:
            if epoch == self._epoch:
                self._memo.put(key, (value, epoch), approx_size(value))
        return value

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

    # -- queries on the result cache -----------------------------------------------------------------
    def execute(self, expr: ir.Table) -> pa.Table:
        import duckdb

        try:
            return self._reader().to_pyarrow(expr)
        except duckdb.CatalogException:  # built on a result dropped meanwhile: the next try finds the new one
            raise NotReady() from None

    def scalar(self, expr) -> Any:
        return self.execute(expr).as_py()

    def invalidate(self) -> None:
        """The server changed the warehouse: recompute in the background (the previous figures meanwhile)."""
        with self._lock:
            self._writes += 1
        self.check(force=True)

    # -- what the data covers ------------------------------------------------------------------------
    def data_span(self) -> tuple[date | None, date]:
        """(first, last) day with an order; the last is the default as-of date of every page (today when there
        are no orders). Implausible dates (a 9999-12-31 loaded before the importer quarantined them) are ignored:
        one such row must not move every page's figures (:mod:`jicai.ingest.plausible`)."""
        def compute(wh: Warehouse) -> pa.Table:
            first = last = None
            if wh.has_table("orders"):
                o = wh.table("orders")
                lo, hi = plausible.earliest_plausible(), plausible.latest_plausible() + timedelta(days=1)
                o = o.filter((o.ordered_at >= datetime(lo.year, lo.month, lo.day))
                             & (o.ordered_at < datetime(hi.year, hi.month, hi.day)))
                r = o.aggregate(first=o.ordered_at.min(), last=o.ordered_at.max()).to_pyarrow().to_pylist()[0]
                first, last = r["first"], r["last"]
            day = lambda t: t.date() if isinstance(t, datetime) else t  # noqa: E731
            return pa.table({"first": pa.array([day(first)], pa.date32()),
                             "last": pa.array([day(last) or clock.today()], pa.date32())})

        def span() -> tuple[date | None, date]:
            r = self.value(("data_span",), lambda wh: compute(wh).to_pylist()[0])
            return r["first"], r["last"]

        return self.memo(("data_span",), span)

    def data_end(self) -> date:
        return self.data_span()[1]

    def data_start(self) -> date | None:
        return self.data_span()[0]

    def batches(self) -> list[dict]:
        def compute(wh: Warehouse) -> list[dict]:
            if not wh.has_table("batches"):
                return []
            b = wh.table("batches")
            return b.select("batch_id", "name", "start_date", "cycle_years").order_by("start_date").to_pyarrow() \
                .to_pylist()

        return self.value(("batches",), compute)

    # -- writes -------------------------------------------------------------------------------------
    def write(self, fn: Callable[[Warehouse], Any]) -> Any:
        """``fn(warehouse)`` on a write connection (the server's own writes: an upload), then the figures are
        recomputed; the lock is awaited at most ``wait`` seconds (:class:`LockTimeout`, a 503)."""
        with self._writing:
            wh = connect(self.url, "write", timeout=self.wait)
            try:
                return fn(wh)
            finally:
                wh.close()
                self.invalidate()

    def deliver(self, workflow: Any) -> Any:
        """Apply the warehouse writes the workflow's decisions owe (:mod:`jicai.workflow.outbox`: keyed, under the
        write lock, retried until applied), then recompute the figures and wait for them, bounded, so that a
        decision's author sees its effect. A failed write leaves them owed (logged; the decision stands)."""
        from jicai.workflow.outbox import apply_pending

        done = apply_pending(workflow, self.write)
        if done.applied:
            self.wait_fresh(self.wait)
        return done


__all__ = ["DataService", "LockTimeout", "NotReady"]
