"""Progress of an import in rows — rows done of an estimated total — reported while DuckDB works on a file.

Before the run every file's rows are estimated cheaply (:func:`jicai.ingest.readers.estimate_rows`); a file's
estimate is replaced by its real count once it is read. Inside a file, each phase (read and type, check,
write) owns a share of its rows, and within a phase DuckDB's own progress of the running statement
(``query_progress()``, polled from a thread) moves the count, so a ten-million-row file does not sit at 0 for
ten seconds. The report is a callable ``(rows_done, rows_total, path)``; the CLI turns it into a bar with rows,
rows/s and the time left.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb

Report = Callable[[int, int, Path], None]

# share of a file's rows at the end of each phase (reading and typing is the largest part of the work)
PHASES = {"read": 0.5, "check": 0.65, "write": 1.0}
POLL = 0.25  # seconds between two looks at DuckDB's progress


class RowProgress:
    def __init__(self, report: Report | None, estimates: list[int]):
        self.report = report
        self.total = sum(estimates)
        self.done = 0  # rows of the files finished
        self.path: Path | None = None
        self.rows = 0  # rows (estimated, then counted) of the file under way
        self.share = 0.0  # share of it done
        self.lock = threading.Lock()

    def _emit(self) -> None:
        if self.report is not None and self.path is not None:
            self.report(self.done + int(self.rows * self.share), max(self.total, self.done), self.path)

    def start(self, path: Path, estimate: int) -> None:
        with self.lock:
            self.path, self.rows, self.share = path, estimate, 0.0
            self._emit()

    def counted(self, rows: int) -> None:
        """The file under way has ``rows`` rows (its estimate was a guess)."""
        with self.lock:
            self.total += rows - self.rows
            self.rows = rows

    def finish(self) -> None:
        with self.lock:
            self.done += self.rows
            self.rows, self.share = 0, 0.0
            self._emit()

    @contextlib.contextmanager
    def phase(self, con: duckdb.DuckDBPyConnection, name: str) -> Iterator[None]:
        """Advance through phase ``name`` as the statements DuckDB runs on ``con`` progress."""
        start, end = self.share, PHASES[name]
        stop = threading.Event()

        def poll() -> None:
            while not stop.wait(POLL):
                try:
                    pct = con.query_progress()
                except duckdb.Error:  # between two statements there may be nothing to ask about
                    continue
                if pct > 0:
                    with self.lock:
                        self.share = max(self.share, start + (end - start) * min(pct, 100.0) / 100)
                        self._emit()

        watcher = threading.Thread(target=poll, daemon=True) if self.report is not None else None
        if watcher is not None:
            watcher.start()
        try:
            yield
        finally:
            stop.set()
            if watcher is not None:
                watcher.join()
            with self.lock:
                self.share = end
                self._emit()
