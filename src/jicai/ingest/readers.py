"""Put one input file into a DuckDB staging connection as text, with the row numbers the user sees.

Every reader yields :class:`Sheet` objects: a staging relation (a TEMP table or view) whose columns
``c0…cN`` hold the cells of the header ``headers[i]``, and a ``_row`` column (1-based, header = row 1 for CSV
and Parquet; the real sheet row for XLSX, where a title may sit above the header). CSV and XLSX cells are
text (VARCHAR). A Parquet file is not copied at all: its sheet is a view over ``read_parquet`` that keeps the
file's own column types (``Sheet.types``), so a DOUBLE or TIMESTAMP column is not turned into text only to be
parsed back; :mod:`jicai.ingest.normalize` reads such columns as they are. Nothing is validated here:
normalization and validation are SQL over these relations (:mod:`jicai.ingest.validate`).

Everything is created ``TEMP``: the staging connection may be the warehouse's own (DuckDB), where temporary
objects live beside the warehouse tables without touching its file and vanish with the connection.

CSV bytes are checked in the same streaming pass that hashes the file: UTF-8 (with or without BOM)
is read in place; anything else is decoded as GB18030 (a superset of GBK), or as charset-normalizer's
best guess, and transcoded to a temporary UTF-8 file for DuckDB.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from jicai.errors import BilingualError
from jicai.ingest.sql import lit, q

CHUNK = 1 << 20
BUFFER = 8 << 20  # DuckDB's CSV read buffer (per thread): its default 32 MB is a large part of a small memory cap
FORMATS = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx", ".xls": "xlsx",
           ".parquet": "parquet", ".pq": "parquet"}


class FileError(BilingualError):
    """The whole file cannot be read; carries a Chinese and an English message."""


@dataclass
class Sheet:
    name: str | None  # sheet name (XLSX) or None
    table: str  # the relation to read it from (a staging table or view, or a read_csv call)
    headers: list[str]  # header text as in the file, position i is column c{i}
    warnings: list[tuple[str, str]] = field(default_factory=list)
    types: list[str] | None = None  # DuckDB type of each c{i} when not all VARCHAR (Parquet)
    # A CSV file read straight into the typed table: ``table`` is then its read_csv(...) call, without _row
    # and _truncated (rows are numbered by their order in what is made from them), and ``source`` reads it.
    source: CsvSource | None = None

    @property
    def numbered(self) -> bool:
        return self.source is None

    def run(self, con: duckdb.DuckDBPyConnection, sql: str) -> None:
        """Run ``sql`` with ``{src}`` standing for this sheet's relation."""
        if self.source is not None:
            self.source.run(con, sql)
        else:
            con.execute(sql.replace("{src}", self.table))

    def text(self, con: duckdb.DuckDBPyConnection, rows: str) -> str:
        """A relation of ``_row``, ``_truncated`` and the cells, holding at least the rows numbered by the query
        ``rows`` (only they are copied from a CSV file read straight: this is asked for when rows have problems)."""
        return self.source.rows(con, rows) if self.source is not None else self.table


@dataclass
class FileInfo:
    path: Path
    format: str
    sha256: str
    size: int
    encoding: str | None = None  # CSV only: "utf-8" or the encoding it was transcoded from
    ends_with_newline: bool = True
    lines: int = 0  # CSV only: line breaks counted while hashing (a progress estimate of its rows)


def file_format(path: Path) -> str | None:
    return FORMATS.get(path.suffix.lower())


def inspect(path: Path) -> FileInfo:
    """Hash the file and, for CSV, find out whether its bytes are UTF-8, in one streaming pass."""
    fmt = file_format(path)
    if fmt is None:
        raise FileError(f"不支持的文件类型 {path.suffix!r}（支持 csv、xlsx、parquet）",
                        f"unsupported file type {path.suffix!r} (csv, xlsx, parquet are)")
    h = hashlib.sha256()
    dec = codecs.getincrementaldecoder("utf-8")()
    utf8, size, last, head, lines = True, 0, b"", b"", 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            if not head:
                head = chunk[:8]
            h.update(chunk)
            size += len(chunk)
            last = chunk[-1:]
            if fmt == "csv":
                lines += chunk.count(b"\n")
                if b"\x00" in chunk:
                    raise FileError("文件含二进制内容，不是文本 CSV 文件", "file contains binary data; it is not a text CSV file")
                if utf8:
                    try:
                        dec.decode(chunk)
                    except UnicodeDecodeError:
                        utf8 = False
    if fmt == "csv" and utf8:
        try:
            dec.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8 = False
    if size == 0:
        raise FileError("文件为空（0字节）", "file is empty (0 bytes)")
    if fmt == "csv" and head.startswith(b"PK\x03\x04"):
        raise FileError("文件是 Excel/zip 文件而不是 CSV，请改用 .xlsx 扩展名",
                        "file is an Excel/zip file, not CSV; give it the .xlsx extension")
    return FileInfo(path, fmt, h.hexdigest(), size, "utf-8" if utf8 else None, last in (b"\n", b"\r"), lines)


def estimate_rows(path: Path) -> int:
    """A cheap guess of a file's data rows, for progress before it is read: a Parquet file's metadata, the line
    breaks in the first MB of a CSV file scaled to its size, a guess from an Excel file's size."""
    fmt = file_format(path)
    try:
        size = path.stat().st_size
        if fmt == "parquet":
            import pyarrow.parquet as pq

            return pq.ParquetFile(path).metadata.num_rows
        if fmt == "csv":
            with open(path, "rb") as f:
                head = f.read(CHUNK)
            return max(round(head.count(b"\n") * size / max(len(head), 1)) - 1, 0)
    except (OSError, ValueError, pa.ArrowException):
        return 0
    return size // 40 if fmt == "xlsx" else 0


def _guess_encoding(path: Path) -> str:
    """GB18030 covers GBK/GB2312 exports of Chinese platforms; otherwise ask charset-normalizer."""
    candidates = ["gb18030"]
    with open(path, "rb") as f:
        sample = f.read(CHUNK)
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates.insert(0, "utf-16")
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    if best is not None and best.encoding not in candidates:
        candidates.append(best.encoding)
    for enc in candidates:
        try:
            with open(path, encoding=enc, errors="strict") as f:
                while f.read(CHUNK):
                    pass
            return enc
        except (UnicodeDecodeError, LookupError):
            continue
    raise FileError("无法识别文件编码（支持 UTF-8、GBK/GB18030），文件可能不是文本",
                    "cannot detect the file encoding (UTF-8 and GBK/GB18030 are supported); it may not be text")


def _transcode(path: Path, encoding: str, tmpdir: Path) -> Path:
    out = tmpdir / (path.stem + ".utf8.csv")
    with open(path, encoding=encoding, newline="") as src, open(out, "w", encoding="utf-8", newline="") as dst:
        while chunk := src.read(CHUNK):
            dst.write(chunk)
    return out


def _first_record(path: Path) -> tuple[list[str], str]:
    """Header fields and delimiter, parsed by Python (DuckDB's sniffer guesses wrong on ragged files)."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        line = f.readline()
    delim = max(",\t;|", key=line.count) if line.strip() else ","
    fields = next(csv.reader(io.StringIO(line), delimiter=delim), [])
    return [x.strip() for x in fields], delim


def read_csv(con: duckdb.DuckDBPyConnection, info: FileInfo, tmpdir: Path) -> list[Sheet]:
    path = info.path
    if info.encoding is None:
        enc = _guess_encoding(path)
        path = _transcode(path, enc, tmpdir)
        info.encoding = enc
    headers, delim = _first_record(path)
    if not any(headers):
        raise FileError("CSV 第1行（表头）为空", "row 1 (the header) of the CSV is empty")
    source = CsvSource(path, len(headers), delim)
    if path == info.path and info.ends_with_newline:
        # the common case: no copy here; the typed pass reads the file (a transcoded copy would be gone by then,
        # and a file cut mid-row needs its last row numbered now)
        return [Sheet(None, source.relation("true"), headers, source=source)]
    return [Sheet(None, source.numbered(con, info.ends_with_newline), headers)]


class CsvSource:
    """How DuckDB reads one CSV file as ``c0…cN`` text.

    Explicit columns and no sniffing: DuckDB's sniffer silently drops rows of ragged files. null_padding turns a
    row cut short (a truncated file) into NULLs that validation reports. The parallel reader keeps file order (so
    a row's position in what is made from it is its record number) but refuses null_padding with a quoted
    newline: such a file is read again by the serial reader."""

    def __init__(self, path: Path, ncols: int, delim: str):
        self.path, self.ncols, self.delim = path, ncols, delim

    def relation(self, parallel: str) -> str:
        cols = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(self.ncols)) + "}"
        return (f"read_csv({lit(str(self.path))}, columns={cols}, auto_detect=false, header=true, "
                f"delim={lit(self.delim)}, quote='\"', escape='\"', null_padding=true, parallel={parallel}, buffer_size={BUFFER})")

    def run(self, con: duckdb.DuckDBPyConnection, sql: str) -> None:
        """Run ``sql`` (a CREATE OR REPLACE) with ``{src}`` the file, by the parallel reader, else the serial one."""
        for parallel in ("true", "false"):
            try:
                con.execute(sql.replace("{src}", self.relation(parallel)))
                return
            except duckdb.Error as exc:
                if parallel == "true":
                    continue
                # only a malformed file is the file's fault; running out of memory or disk is not
                if isinstance(exc, duckdb.InvalidInputException):
                    detail = str(exc).splitlines()
                    where = next((x for x in detail if "Line" in x), detail[0] if detail else "")
                    raise FileError(f"CSV 格式错误（{where}）：某行字段数多于表头或引号不匹配",
                                    f"malformed CSV ({where}): a row has more fields than the header or unbalanced "
                                    f"quotes") from exc
                raise

    def rows(self, con: duckdb.DuckDBPyConnection, rows: str) -> str:
        """The text of the rows numbered by the query ``rows``, read again by the serial reader, which numbers
        the records in file order as they pass; only those rows are kept."""
        con.execute(f"CREATE OR REPLACE TABLE raw0 AS SELECT * FROM (SELECT row_number() OVER () + 1 AS _row, "
                    f"false AS _truncated, * FROM {self.relation('false')}) WHERE _row IN ({rows})")
        return "raw0"

    def numbered(self, con: duckdb.DuckDBPyConnection, ends_with_newline: bool = True) -> str:
        """Copy the file's text into ``raw0`` and return ``stage0``, a view numbering its rows (record order).

        Rows are numbered from the first rowid: a table made inside a transaction has its rowids offset."""
        self.run(con, "CREATE OR REPLACE TABLE raw0 AS SELECT * FROM {src}")
        first, last = con.execute("SELECT min(rowid), max(rowid) FROM raw0").fetchone()
        truncated = "false"
        if not ends_with_newline and last is not None:
            # a file that stops mid-row: its last row, if short of fields, is quarantined as cut off
            truncated = f"(rowid = {last} AND c{self.ncols - 1} IS NULL)"
        con.execute(f"CREATE OR REPLACE VIEW stage0 AS SELECT rowid - {first or 0} + 2 AS _row, {truncated} AS _truncated, "
                    f"* FROM raw0")
        return "stage0"


def read_parquet(con: duckdb.DuckDBPyConnection, info: FileInfo, tmpdir: Path) -> list[Sheet]:
    src = f"read_parquet({lit(str(info.path))}, file_row_number=true)"
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()
    except duckdb.Error as exc:
        raise FileError(f"无法读取 Parquet 文件：{exc}", f"cannot read the Parquet file: {exc}") from exc
    described = [(r[0], r[1]) for r in described if r[0] != "file_row_number"]
    names = [n for n, _ in described]
    sel = ", ".join(f"{q(n)} AS c{i}" for i, n in enumerate(names))
    # a view, not a copy: validation reads the file once into its typed table (and again, by row number,
    # only for the rows with problems, whose cells it shows as text)
    con.execute(f"CREATE OR REPLACE VIEW stage0 AS SELECT file_row_number + 2 AS _row, false AS _truncated, {sel} FROM {src}")
    return [Sheet(None, "stage0", names, types=[t for _, t in described])]


def cell_text(v: object) -> str | None:
    """Excel cell → text as a user would type it (integral floats without ``.0``, dates in ISO)."""
    if v is None or v == "":
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)
    if isinstance(v, dt.datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, (dt.date, dt.time)):
        return v.isoformat()
    if isinstance(v, dt.timedelta):
        return repr(v.total_seconds() / 86400)
    return str(v)


def read_xlsx(con: duckdb.DuckDBPyConnection, info: FileInfo, tmpdir: Path,
              header_score: Callable[[list[str]], int]) -> list[Sheet]:
    """Every sheet whose header (found within the first 20 rows) maps to the table becomes a Sheet."""
    from python_calamine import CalamineWorkbook

    try:
        wb = CalamineWorkbook.from_path(str(info.path))
    except Exception as exc:  # noqa: BLE001 - calamine raises its own error types
        raise FileError(f"无法读取 Excel 文件：{exc}", f"cannot read the Excel file: {exc}") from exc
    sheets: list[Sheet] = []
    skipped: list[str] = []
    for name in wb.sheet_names:
        rows = wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
        scored = [(header_score([cell_text(c) or "" for c in r]), i) for i, r in enumerate(rows[:20])]
        best = max(scored, default=(0, 0))
        if best[0] == 0:
            skipped.append(name)
            continue
        h = best[1]
        headers = [(cell_text(c) or "").strip() for c in rows[h]]
        body = [(i + 1, r) for i, r in enumerate(rows[h + 1:], start=h + 1) if any(c not in ("", None) for c in r)]
        data = {"_row": pa.array([i for i, _ in body], pa.int64())}
        for j in range(len(headers)):
            data[f"c{j}"] = pa.array([cell_text(r[j]) if j < len(r) else None for _, r in body], pa.string())
        t = f"stage{len(sheets)}"
        con.register("_jicai_sheet", pa.table(data))
        con.execute(f"CREATE OR REPLACE TABLE {t} AS SELECT _row, false AS _truncated, * EXCLUDE (_row) FROM _jicai_sheet")
        con.unregister("_jicai_sheet")
        sheets.append(Sheet(name, t, headers))
    if sheets and skipped:
        sheets[0].warnings.append((f"跳过与该表无关的工作表：{'、'.join(skipped)}",
                                   f"skipped sheets that do not match the table: {', '.join(skipped)}"))
    if not sheets:
        raise FileError(f"没有任何工作表的表头与该表对应（工作表：{'、'.join(skipped)}）",
                        f"no sheet has a header matching the table (sheets: {', '.join(skipped)})")
    return sheets


def stage(con: duckdb.DuckDBPyConnection, info: FileInfo, header_score: Callable[[list[str]], int]) -> list[Sheet]:
    tmpdir = Path(tempfile.mkdtemp(prefix="jicai-stage-"))
    try:
        if info.format == "csv":
            return read_csv(con, info, tmpdir)
        if info.format == "parquet":
            return read_parquet(con, info, tmpdir)
        return read_xlsx(con, info, tmpdir, header_score)
    finally:
        import shutil

        shutil.rmtree(tmpdir, ignore_errors=True)
