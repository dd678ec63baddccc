"""Read a malformed CSV file record by record, so that one bad line costs one row, not the file.

DuckDB reads well-formed files (:class:`jicai.ingest.readers.CsvSource`); when it refuses one — a row with more or
fewer fields than the header, a row longer than the limit, a quote that never closes — the file is read here
instead, in Python, and every record is either kept (with its row number) or rejected with its reason:

* **ragged**: a record with another number of fields than the header (a short last record of a file that stops
  mid-row is kept, padded, and reported as cut off, as DuckDB's reader does);
* **over-long**: a record longer than ``csv_max_row_kb`` (setting);
* **unbalanced quote**: a line leaves a quote open and no later line closes it into a record of the header's
  width (within the length limit), or the lines it would span hold a whole record of their own: that line alone
  is rejected, naming it, and reading resumes at the next line, so the good rows after it are read, not
  swallowed into one field. (A quoted line break whose continuation lines are not records — an address on two
  lines — is one record, as CSV has it.)

Row numbers follow DuckDB's: the header is row 1, every record (kept or rejected) is the next row, blank lines are
skipped. A record spanning several lines (a quoted line break) is one row; its first line is named in reasons.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

BATCH = 50_000  # records per Arrow batch appended to the staging table
SNIPPET = 200  # characters of a rejected line kept as its value


@dataclass
class Scan:
    kept: int = 0
    rejected: int = 0
    spans: int = 0  # records spanning several lines (a quoted line break)
    rows: list[tuple] = field(default_factory=list)
    problems: list[tuple] = field(default_factory=list)


class _Lines:
    """The file's lines with their numbers, with push-back (reading resumes after a rejected line)."""

    def __init__(self, f) -> None:
        self._f, self._back, self.number = f, [], 0

    def next(self) -> tuple[int, str] | None:
        if self._back:
            return self._back.pop()
        line = self._f.readline()
        if not line:
            return None
        self.number += 1
        return self.number, line

    def push(self, items: list[tuple[int, str]]) -> None:
        self._back.extend(reversed(items))


def _split(text: str, delim: str) -> list[str]:
    return next(csv.reader([text], delimiter=delim, quotechar='"', doublequote=True), [])


def records(path: Path, ncols: int, delim: str, max_bytes: int) -> Iterator[tuple[int, str, list[str] | None, tuple]]:
    """``(line, text, fields, problem)`` per record after the header; ``fields`` None when rejected, then
    ``problem`` is ``(zh, en)``."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        lines = _Lines(f)
        lines.next()  # the header
        while (item := lines.next()) is not None:
            number, text = item
            if not text.strip("\r\n"):
                continue
            if (quotes := text.count('"')) % 2:
                taken, size, closed = [], len(text.encode()), False
                while size <= max_bytes and (more := lines.next()) is not None:
                    taken.append(more)
                    text += more[1]
                    size += len(more[1].encode())
                    quotes += more[1].count('"')
                    if quotes % 2 == 0:
                        closed = True
                        break
                fields = _split(text.rstrip("\r\n"), delim) if closed else None
                # a line inside the quoted span that is a whole record by itself: the quote swallowed it
                swallowed = any(x[1].count('"') % 2 == 0 and len(_split(x[1].rstrip("\r\n"), delim)) == ncols
                                for x in taken[:-1])
                if fields is None or len(fields) != ncols or size > max_bytes or swallowed:
                    lines.push(taken)
                    first = item[1].rstrip("\r\n")
                    yield number, first, None, (
                        f"第 {number} 行的引号没有闭合（引号在此行开始），此行未导入，其后各行照常读取",
                        f"unbalanced quote: a quote opened on line {number} is never closed; this line is not "
                        f"loaded, the lines after it are read as usual")
                    continue
                yield number, text, fields, ()
                continue
            size = len(text.encode())
            if size > max_bytes:
                yield number, text, None, (
                    f"该行长 {size / 1024:,.0f} KB，超过上限 {max_bytes // 1024:,} KB（JICAI_IMPORT_CSV_MAX_ROW_KB）",
                    f"the row is {size / 1024:,.0f} KB long, more than the limit of {max_bytes // 1024:,} KB "
                    f"(JICAI_IMPORT_CSV_MAX_ROW_KB)")
                continue
            yield number, text, _split(text.rstrip("\r\n"), delim), ()


def scan_into(con: duckdb.DuckDBPyConnection, path: Path, ncols: int, delim: str, ends_with_newline: bool,
              max_bytes: int, table: str, rejected: str) -> Scan:
    """Fill ``table`` (``_row, _truncated, c0…``) with the kept records and ``rejected`` (``_row, pos, value,
    reason_zh, reason_en``) with the rejected ones."""
    cols = ", ".join(f"c{i} VARCHAR" for i in range(ncols))
    con.execute(f"CREATE OR REPLACE TABLE {table} (_row BIGINT, _truncated BOOLEAN, {cols})")
    con.execute(f"CREATE OR REPLACE TABLE {rejected} (_row BIGINT, pos INTEGER, value VARCHAR, reason_zh VARCHAR, "
                f"reason_en VARCHAR)")
    scan = Scan()
    row = 1
    pending: tuple | None = None  # the last record is held back: it may be the cut-off end of the file

    def flush() -> None:
        if scan.rows:
            data = {"_row": pa.array([r[0] for r in scan.rows], pa.int64()),
                    "_truncated": pa.array([r[1] for r in scan.rows], pa.bool_())}
            for i in range(ncols):
                data[f"c{i}"] = pa.array([r[2][i] if i < len(r[2]) else None for r in scan.rows], pa.string())
            _append(con, table, pa.table(data))
            scan.rows.clear()
        if scan.problems:
            _append(con, rejected, pa.table({
                "_row": pa.array([p[0] for p in scan.problems], pa.int64()),
                "pos": pa.array([None] * len(scan.problems), pa.int32()),
                "value": pa.array([p[1] for p in scan.problems], pa.string()),
                "reason_zh": pa.array([p[2] for p in scan.problems], pa.string()),
                "reason_en": pa.array([p[3] for p in scan.problems], pa.string())}))
            scan.problems.clear()

    def settle(rec: tuple, last: bool) -> None:
        number, n, text, fields, problem = rec
        where_zh, where_en = ("", "") if number == n else (f"（文件第 {number} 行）", f" (line {number} of the file)")
        if fields is not None and len(fields) != ncols:
            if last and not ends_with_newline and len(fields) < ncols:
                scan.rows.append((n, True, [*fields, *[None] * (ncols - len(fields))]))
                scan.kept += 1
                return
            problem = (f"该行有 {len(fields)} 个字段，表头有 {ncols} 个{where_zh}",
                       f"the row has {len(fields)} field(s), the header {ncols}{where_en}")
            fields = None
        if fields is None:
            scan.problems.append((n, text.rstrip("\r\n")[:SNIPPET], problem[0], problem[1]))
            scan.rejected += 1
        else:
            scan.rows.append((n, False, fields))
            scan.kept += 1
            scan.spans += "\n" in text.rstrip("\r\n")

    for number, text, fields, problem in records(path, ncols, delim, max_bytes):
        row += 1
        if pending is not None:
            settle(pending, False)
        pending = (number, row, text, fields, problem)
        if len(scan.rows) + len(scan.problems) >= BATCH:
            flush()
    if pending is not None:
        settle(pending, True)
    flush()
    return scan


def _append(con: duckdb.DuckDBPyConnection, table: str, data: pa.Table) -> None:
    con.register("_jicai_scan", data)
    try:
        con.execute(f"INSERT INTO {table} SELECT * FROM _jicai_scan")
    finally:
        con.unregister("_jicai_scan")
