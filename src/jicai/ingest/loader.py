"""Import files into the warehouse: one transaction per file, idempotent, nothing lost.

For each file: hash it (SHA-256). If an earlier load of the same bytes into the same table is logged
``ok``, the file is **unchanged** — nothing is done — when nothing could change the outcome:

* that load (the latest ``ok`` one of this SHA-256 + table) quarantined no row, or
* no other load has been logged ``ok`` (for any table) since it started, so the warehouse that its
  references were checked against is the same.

Otherwise — a new file, or a file whose rows were quarantined and the warehouse has had data loaded
since (e.g. ``orders.csv`` imported before ``institutions.csv``: the orders of unknown institutions are
quarantined; after the institutions are imported, importing the same ``orders.csv`` again loads them) —
or always with ``force=True`` (``jicai import --force``), the file is staged (:mod:`jicai.ingest.stage`: on a
DuckDB warehouse, a compressed in-memory database attached to its own connection), validated
(:mod:`jicai.ingest.validate`; the reference lookups in a transaction of their own) and, in ONE
``wh.transaction()``, written:

* its good rows. **New bytes** (no earlier ``ok`` load of this SHA-256 into this table): **newer file
  wins** — rows of the table with the same key are deleted first (``Table.on_conflict = "replace"``; a
  platform export is a snapshot, its latest copy is the truth). **Bytes loaded ``ok`` before**
  (re-validated, or ``force``): **insert-missing** — only good rows whose key is not in the table yet are
  inserted, existing keys are never replaced. The rows that loaded the first time were applied then and
  may since have been superseded by a newer file (``orders_2024-01.csv`` with quarantined rows, then
  ``orders_2024-02.csv`` updating some of its order lines: re-importing the folder re-validates January,
  loads its formerly quarantined rows and leaves February's values); only rows that failed before need
  loading now. A row that failed before but whose key a newer file has loaded since stays the newer
  file's. (An edited file is new bytes, so it replaces by key again.) ``rows_loaded`` counts the good
  rows of the file either way; a message says how many were already present and kept;
* the ``_quarantine`` rows of every earlier attempt at the same bytes into the same table (same
  SHA-256 + table, found through ``_load_log``) are deleted and replaced by one row per problem of
  each bad row of this run — ``_quarantine`` shows the **current** problems of each file, not their
  history; a previously quarantined row that is now valid simply loads;
* one ``_load_log`` row (status ``ok``, or ``failed`` for a strict import with bad rows or a file that
  cannot be read as the table — then no data row is written). ``_load_log`` keeps every attempt: the
  history lives there.

A process killed before COMMIT leaves none of these behind (tests/test_ingest_atomic.py), only the ``started``
``_load_log`` row written in its own transaction before the file was read (the final row replaces it in the
writing transaction); the next import marks it ``interrupted`` and says so.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
import time
import unicodedata
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from jicai import clock
from jicai.contract.tables import LOAD_ORDER, TABLES, Table
from jicai.ingest import facts, overrides, readers, stage
from jicai.ingest.normalize import HeaderMap, header_score, map_headers
from jicai.ingest.progress import Report, RowProgress
from jicai.ingest.readers import FileError, Sheet
from jicai.ingest.schema import LOAD_LOG, QUARANTINE, ensure_schema, table_schema
from jicai.ingest.sink import Sink, sink_for
from jicai.ingest.sql import lit, q
from jicai.ingest.stage import Stage, Staged
from jicai.ingest.validate import build_typed, check, good_key_rows, good_rows
from jicai.store import FACT_SOURCES, Warehouse

PAUSE_ENV = "JICAI_TEST_PAUSE_IN_TRANSACTION"  # test hook: seconds to sleep before COMMIT
SAMPLE = 20  # problems kept on the LoadResult for display


@dataclass
class Problem:
    sheet: str | None
    row: int | None
    column: str | None
    value: str | None
    reason_zh: str
    reason_en: str


@dataclass
class LoadResult:
    file: Path
    table: str | None
    status: str  # "loaded" | "unchanged" | "failed"
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    messages: list[str] = field(default_factory=list)  # "中文 / English", errors and warnings
    load_id: str | None = None
    problems: list[Problem] = field(default_factory=list)  # the first SAMPLE problems

    def note(self, zh: str, en: str) -> None:
        self.messages.append(f"{zh} / {en}")


def _key(s: str) -> str:
    return unicodedata.normalize("NFKC", s).strip().casefold()


def table_for(path: Path) -> str | None:
    """The table a file holds, from its stem: ``orders``, ``订单明细`` or either followed by ``_``/``-``/``.``/space
    and anything (``orders_2024-01.csv``); the longest name wins."""
    stem = _key(path.stem)
    best = None
    for t in TABLES.values():
        for n in (t.name, t.zh):
            k = _key(n)
            if (stem == k or (stem.startswith(k) and stem[len(k)] in "_-. ")) and (best is None or len(k) > best[0]):
                best = (len(k), t.name)
    return best[1] if best else None


def collect(paths: list[Path], table: str | None) -> list[tuple[Path, str | None]]:
    """Files of ``paths`` (folders expanded) with their tables, in LOAD_ORDER so references resolve."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            # in a folder only data files count (a README or the warehouse file may sit beside them)
            files += sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith((".", "~$"))
                            and readers.file_format(f) is not None)
        else:
            files.append(p)
    pairs = [(f, table or table_for(f)) for f in files]
    order = {n: i for i, n in enumerate(LOAD_ORDER)}
    return sorted(pairs, key=lambda ft: (order.get(ft[1], len(order)), str(ft[0])))


def _now() -> dt.datetime:
    return clock.local_now()


def _unchanged(wh: Warehouse, sha: str, table: str) -> tuple[bool, int, bool]:
    """``(skip, quarantined, loaded_before)``: whether re-importing these bytes into ``table`` cannot change
    anything, how many rows the latest ``ok`` load of them quarantined (0 when there is none), and whether
    there is such a load (then a re-load only inserts missing keys, see the module docstring).

    Skip when that load quarantined nothing, or when no other ``ok`` load (any table) finished at or after
    it started — the warehouse its references were checked against is unchanged. ``>=`` and ``started_at``
    err on the side of re-validating (which is always correct, only slower)."""
    with wh.transaction() as cur:
        rows = sink_for(wh.engine, cur).fetch(
            f"SELECT l.rows_quarantined, (SELECT count(*) FROM {q(LOAD_LOG)} m WHERE m.status = 'ok' "
            f"AND m.load_id <> l.load_id AND m.finished_at >= l.started_at) "
            f"FROM {q(LOAD_LOG)} l WHERE l.sha256 = ? AND l.{q('table')} = ? AND l.status = 'ok' "
            f"ORDER BY l.finished_at DESC, l.started_at DESC LIMIT 1", (sha, table))
    if not rows:
        return False, 0, False
    quarantined, later = rows[0]
    return (not quarantined or not later), int(quarantined or 0), True


def _forget_quarantine(sink: Sink, sha: str | None, table: str) -> None:
    """Delete the quarantine rows of every earlier attempt at these bytes into ``table`` (inside the
    transaction that writes the new ones, before this attempt's ``_load_log`` row exists)."""
    if sha is None:
        return
    earlier = f"SELECT load_id FROM {q(LOAD_LOG)} WHERE sha256 = ? AND {q('table')} = ?"
    if sink.fetch(f"SELECT count(*) FROM ({earlier}) e", (sha, table))[0][0]:
        sink.execute(f"DELETE FROM {q(QUARANTINE)} WHERE batch_id IN ({earlier})", (sha, table))


def _write_log(sink: Sink, res: LoadResult, sha: str | None, started: dt.datetime, status: str) -> None:
    """The attempt's ``_load_log`` row, replacing its "started" row (:func:`_write_started`) in the same
    transaction as the data: a load is either started (and then interrupted) or finished, never both."""
    row = {"load_id": res.load_id, "file": str(res.file), "sha256": sha, "table": res.table,
           "rows_read": res.rows_read, "rows_loaded": res.rows_loaded, "rows_quarantined": res.rows_quarantined,
           "started_at": started, "finished_at": None if status == "started" else _now(), "status": status}
    data = pa.Table.from_pylist([row], schema=table_schema(LOAD_LOG)).to_reader()
    if status != "started":
        sink.delete_insert(LOAD_LOG, "load_id = ? AND status = 'started'", (res.load_id,), data)
    else:
        sink.insert(LOAD_LOG, data)


def _write_started(wh: Warehouse, res: LoadResult, sha: str, started: dt.datetime) -> None:
    """A "started" ``_load_log`` row in a transaction of its own, before the file is read: a process killed during
    the import leaves this trace (and nothing else), which the next import reports (:func:`_interrupted`)."""
    with wh.transaction() as cur:
        _write_log(sink_for(wh.engine, cur), res, sha, started, "started")


def _interrupted(wh: Warehouse) -> list[tuple[str, dt.datetime]]:
    """Imports that started and never finished (killed, power lost): marked "interrupted"; their file and start.
    Called while holding the write lock, so no "started" row belongs to a running import."""
    with wh.transaction() as cur:
        sink = sink_for(wh.engine, cur)
        rows = sink.fetch(f"SELECT file, started_at FROM {q(LOAD_LOG)} WHERE status = 'started' ORDER BY started_at")
        if rows:
            sink.execute(f"UPDATE {q(LOAD_LOG)} SET status = 'interrupted' WHERE status = 'started'")
    return [(f, s) for f, s in rows]


def _file_problem(res: LoadResult, zh: str, en: str) -> pa.Table:
    res.note(zh, en)
    res.problems.append(Problem(None, None, None, None, zh, en))
    return pa.Table.from_pylist([{"batch_id": res.load_id, "table": res.table, "file": str(res.file), "reason_zh": zh,
                                  "reason_en": en, "loaded_at": _now()}], schema=table_schema(QUARANTINE))


def _fail_file(wh: Warehouse, res: LoadResult, sha: str | None, started: dt.datetime, zh: str, en: str) -> LoadResult:
    """A whole-file error: logged as failed with one quarantine row naming the reason; no data written."""
    res.status = "failed"
    qrow = _file_problem(res, zh, en)
    if res.table is not None:
        with wh.transaction() as cur:
            sink = sink_for(wh.engine, cur)
            _forget_quarantine(sink, sha, res.table)
            sink.insert(QUARANTINE, qrow.to_reader())
            _write_log(sink, res, sha, started, "failed")
    return res


def _quarantine_rows(con: object, res: LoadResult, sheets: list[str | None]) -> Staged:
    """This run's problems as ``_quarantine`` rows (a staged query: on DuckDB they never leave the engine)."""
    schema = table_schema(QUARANTINE)
    whens = "".join(f"WHEN {i} THEN {lit(n)} " for i, n in enumerate(sheets) if n)
    sheet = f"CASE p._sheet {whens}END" if whens else "NULL"
    return Staged(con, (
        f"SELECT {lit(res.load_id)} AS batch_id, {lit(res.table)} AS {q('table')}, {lit(str(res.file))} AS file, "
        f"CAST({sheet} AS VARCHAR) AS sheet, p._row AS {q('row')}, p.col AS {q('column')}, p.value, p.reason_zh, "
        f"p.reason_en, CAST({lit(_now().isoformat(sep=' '))} AS TIMESTAMP) AS loaded_at "
        f"FROM {stage.t('problems')} p ORDER BY p._sheet, p._row"), schema)


def _sample(con: object, sheets: list[str | None]) -> list[Problem]:
    rows = con.execute(f"SELECT _sheet, _row, col, value, reason_zh, reason_en FROM problems "
                       f"ORDER BY _sheet, _row LIMIT {SAMPLE}").fetchall()
    return [Problem(sheets[s], r, c, v, zh, en) for s, r, c, v, zh, en in rows]


def _pause_for_tests() -> None:
    if seconds := os.environ.get(PAUSE_ENV):
        print("JICAI_PAUSED_IN_TRANSACTION", file=sys.stderr, flush=True)
        time.sleep(float(seconds))


def import_file(wh: Warehouse, path: Path, table: str | None, strict: bool = False, force: bool = False,
                progress: RowProgress | None = None, defer_facts: bool = False, hidden_sheets: bool = False) -> LoadResult:
    """Import one file (see the module docstring); ``force`` re-validates and re-loads even unchanged bytes;
    ``defer_facts`` leaves the compact facts of the months it touches pending, for :func:`finish_facts`;
    ``hidden_sheets`` reads an Excel workbook's hidden sheets too (:mod:`jicai.ingest.xlsx`)."""
    started = _now()
    res = LoadResult(file=Path(path).resolve(), table=table, status="failed", load_id=uuid.uuid4().hex)
    if table is None:
        res.note(f"无法从文件名“{path.name}”判断是哪张表；请用 --table 指定",
                 f"cannot tell the table from the file name {path.name!r}; give --table")
        return res
    if table not in TABLES:
        res.note(f"未知的表 {table}", f"unknown table {table!r}; known: {', '.join(TABLES)}")
        return res
    t = TABLES[table]
    try:
        info = readers.inspect(path)
    except FileError as e:
        return _fail_file(wh, res, None, started, e.zh, e.en)
    except OSError as e:
        return _fail_file(wh, res, None, started, f"无法读取文件：{e}", f"cannot read the file: {e}")
    if progress is not None and info.format == "csv":
        progress.counted(max(info.lines - 1, 0))
    skip, before, loaded_before = _unchanged(wh, info.sha256, table)
    if skip and not force:
        res.status, res.load_id = "unchanged", None
        res.note("文件内容已导入过，未作更改" + ("（此后未导入新数据，隔离行不会变化；--force 可重新校验）" if before else ""),
                 "this file's content was imported before; nothing changed"
                 + (" (nothing was loaded since, so its quarantined rows would stay; --force re-validates)"
                    if before else ""))
        return res
    _write_started(wh, res, info.sha256, started)
    with tempfile.TemporaryDirectory(prefix="jicai-import-") as tmp:
        with wh.transaction() as cur:  # only to reach the connection to stage on (DuckDB: the warehouse's own)
            area = sink_for(wh.engine, cur).staging(Path(tmp))
        try:
            return _load(wh, area, t, info, res, started, strict, before, loaded_before,
                         progress or RowProgress(None, []), defer_facts, hidden_sheets)
        except FileError as e:
            return _fail_file(wh, res, info.sha256, started, e.zh, e.en)
        except Exception:
            _mark_failed(wh, res)  # an engine or disk error: the caller reports it
            raise
        finally:
            area.close()


def _mark_failed(wh: Warehouse, res: LoadResult) -> None:
    """The attempt's "started" row becomes "failed" — best effort: on a full disk this may fail too, and the next
    import then reports the attempt as interrupted."""
    try:
        with wh.transaction() as cur:
            sink_for(wh.engine, cur).execute(f"UPDATE {q(LOAD_LOG)} SET status = 'failed', finished_at = ? "
                                             f"WHERE load_id = ? AND status = 'started'", (_now(), res.load_id))
    except Exception:  # noqa: BLE001, S110 - the original error is the one to report
        pass


def _mapped(t: Table, sheets: list[Sheet], res: LoadResult) -> list[tuple[Sheet, HeaderMap]]:
    """Each sheet with its header mapping; a missing required column fails the file."""
    mapped = []
    for sheet in sheets:
        hm = map_headers(t, sheet.headers)
        where_zh, where_en = (f"工作表“{sheet.name}”", f"sheet {sheet.name!r}: ") if sheet.name else ("", "")
        for zh, en in sheet.warnings + hm.warnings:
            res.note(where_zh + zh, where_en + en)
        if missing := hm.missing(t):
            raise FileError(
                f"{where_zh}缺少必填列：{'、'.join(f'{c.zh}（{c.name}）' for c in missing)}；文件表头为：{'、'.join(sheet.headers)}",
                f"{where_en}missing required column(s): {', '.join(c.name for c in missing)}; "
                f"the file's header is: {', '.join(sheet.headers)}")
        if hm.extra:
            res.note(f"{where_zh}忽略未识别的列：{'、'.join(hm.extra)}", f"{where_en}ignored unknown columns: {', '.join(hm.extra)}")
        mapped.append((sheet, hm))
    return mapped


def _load(wh: Warehouse, area: Stage, t: Table, info: readers.FileInfo, res: LoadResult, started: dt.datetime,
          strict: bool, before: int, loaded_before: bool, progress: RowProgress, defer_facts: bool,
          hidden_sheets: bool = False) -> LoadResult:
    """Stage, check and write one file in the staging ``area``.

    Reading and typing run outside any transaction: DuckDB scans and appends committed TEMP data about twice
    as fast as a transaction's own uncommitted data. The checks run in a transaction of their own (references
    are looked up in the warehouse); then ONE transaction writes the rows, the quarantine and the log."""
    con = area.con
    with progress.phase(con, "read"):
        mapped = _mapped(t, readers.stage(con, info, lambda cells: header_score(t, cells), hidden_sheets), res)
        rows = build_typed(con, t, mapped)
    progress.counted(rows)
    names = [s.name for s, _ in mapped]
    with progress.phase(con, "check"), wh.transaction() as cur:
        sink = sink_for(wh.engine, cur)
        outcome = check(con, t, mapped, sink.absent, rows, sink)  # the sink: 对码 of order lines (ingest.codemap)
    schema = table_schema(t.name)
    res.rows_read, res.rows_quarantined = outcome.rows_read, outcome.rows_bad
    res.problems = _sample(con, names)
    area.writing()
    with progress.phase(con, "write"), wh.transaction() as cur:
        sink = sink_for(wh.engine, cur)
        _forget_quarantine(sink, info.sha256, t.name)
        if before:
            res.note(f"重新校验：上次导入隔离 {before} 行，本次隔离 {outcome.rows_bad} 行（隔离表只保留本次结果）",
                     f"re-validated: {before} row(s) were quarantined last time, {outcome.rows_bad} now "
                     f"(the quarantine keeps this run's problems only)")
        if strict and outcome.problems:
            res.status = "failed"
            res.note(f"严格模式：{outcome.rows_bad} 行有问题，本文件未导入任何数据",
                     f"strict mode: {outcome.rows_bad} bad row(s), nothing from this file was loaded")
        else:
            res.status = "loaded"
            res.rows_loaded = outcome.rows_read - outcome.rows_bad
            # the incoming keys as a staged query: the months they touch are found in SQL, never in Python
            keys = good_key_rows(con, t, schema) if res.rows_loaded and t.name in FACT_SOURCES else None
            touched = facts.touched_months(sink, t.name, keys) if keys is not None else set()
            if res.rows_loaded and loaded_before:
                # these bytes were applied before: never put their older values back over newer files' rows
                kept = res.rows_loaded - sink.insert_missing(t.name, t.key, good_rows(con, t, schema))
                if kept:
                    res.note(f"这些内容以前导入过：{kept} 行的主键已在数据仓库中，保留现有数据（可能已被更新的文件取代），"
                             f"只写入其余 {res.rows_loaded - kept} 行",
                             f"these bytes were loaded before: {kept} row(s) whose key is already in the warehouse "
                             f"were kept as they are (possibly superseded by a newer file); "
                             f"{res.rows_loaded - kept} row(s) inserted")
            elif res.rows_loaded:
                sink.delete_keys(t.name, good_key_rows(con, t, schema))
                sink.insert(t.name, good_rows(con, t, schema))
            if res.rows_loaded and (redo := overrides.reapply_sql(t.name)) and wh.has_table(overrides.OVERRIDES[t.name].source):
                sink.execute(redo)  # the workflow's exemptions win over the file's special periods
            if keys is not None:  # the compact facts of the months the file left or entered, in this transaction
                facts.refresh(wh, sink, t.name, touched | facts.touched_months(sink, t.name, keys), defer_facts)
        if outcome.problems:
            sink.insert(QUARANTINE, _quarantine_rows(con, res, names))
            res.note(f"{outcome.rows_bad} 行有问题，已隔离（{outcome.problems} 个问题）",
                     f"{outcome.rows_bad} bad row(s) quarantined ({outcome.problems} problem(s))")
        if outcome.rows_read == 0:
            res.note("文件只有表头，没有数据行", "the file has a header but no data rows")
        _write_log(sink, res, info.sha256, started, "ok" if res.status == "loaded" else "failed")
        _pause_for_tests()
    return res


def import_paths(wh: Warehouse, paths: list[Path], table: str | None = None, strict: bool = False,
                 progress: object = None, force: bool = False, hidden_sheets: bool = False) -> list[LoadResult]:
    """Import files and folders (a folder: every file in it, in ``LOAD_ORDER``).

    ``table`` overrides the table named by each file's stem; ``strict`` loads nothing from a file with
    any bad row; ``force`` re-validates files whose bytes were loaded before even when nothing could have
    changed (otherwise they are "unchanged", see the module docstring). ``progress`` counts rows (see
    :mod:`jicai.ingest.progress`): a rich ``Progress`` (one task whose total is the rows of all files, its
    description the file under way) or a callable ``(rows_done, rows_total, path)`` called as rows are done;
    ``rows_total`` is an estimate until every file has been read.
    """
    if not wh.supports_transactions:
        raise ValueError(f"{wh.engine} 数据仓库（{wh.url}）不支持事务，无法导入；请导入 DuckDB、PostgreSQL 或 Spark Connect"
                         f"（sc://，配合 --lake）数据仓库 / the {wh.engine} warehouse {wh.url} has no transactions; "
                         "import into DuckDB, PostgreSQL or Spark Connect (sc://, with --lake)")
    ensure_schema(wh)
    interrupted = _interrupted(wh)
    files = collect(paths, table)
    report: Report | None = progress if callable(progress) else None
    if hasattr(progress, "add_task"):
        task = progress.add_task("导入 / import", total=None)

        def report(done: int, total: int, path: Path) -> None:
            progress.update(task, completed=done, total=total, description=f"导入 / import {path.name}")

    estimates = [readers.estimate_rows(p) for p, _ in files]
    tracker = RowProgress(report, estimates)
    # several files feed the compact facts (orders, deliveries, payments): each marks its months pending and
    # the facts are computed once, after the last of them (see facts.refresh)
    defer = sum(tname in FACT_SOURCES for _, tname in files) > 1
    results = []
    for (path, tname), estimate in zip(files, estimates, strict=True):
        tracker.start(path, estimate)
        results.append(import_file(wh, path, tname, strict, force, tracker, defer, hidden_sheets))
        tracker.finish()
    if defer:
        finish_facts(wh)
    for file, at in interrupted if results else []:
        results[0].note(f"此前一次导入（{Path(file).name}，开始于 {at:%Y-%m-%d %H:%M:%S}）被中断（进程被终止、断电或磁盘已满），"
                        f"未写入任何数据；_load_log 中已记为 interrupted",
                        f"an earlier import ({Path(file).name}, started {at:%Y-%m-%d %H:%M:%S}) was interrupted (killed, "
                        f"power lost or disk full) and wrote no data; _load_log marks it interrupted")
    return results


def finish_facts(wh: Warehouse) -> None:
    """Compute the facts an import deferred (or a crashed one left pending), in a transaction of its own with
    the import's memory bound (the staging area's settings; its database stays empty)."""
    with tempfile.TemporaryDirectory(prefix="jicai-facts-") as tmp:
        with wh.transaction() as cur:
            sink = sink_for(wh.engine, cur)
            if not facts.unfinished(sink):
                return
            area = sink.staging(Path(tmp))
        try:
            area.writing()
            with wh.transaction() as cur:
                facts.finish(wh, sink_for(wh.engine, cur))
        finally:
            area.close()
