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
is read in place; UTF-16 and UTF-32 (with a BOM, or recognised by their zero bytes) are decoded as such; anything
else is decoded as GB18030 (a superset of GBK), or as charset-normalizer's best guess, and transcoded to a temporary
UTF-8 file for DuckDB. The same pass notes whether the file may hold control characters (:data:`CONTROL_BYTES`):
only then are its text cells checked for them (:mod:`jicai.ingest.validate`). A file DuckDB refuses as malformed
(a ragged or over-long row, an unbalanced quote) is read record by record instead (:mod:`jicai.ingest.csvscan`).
Excel workbooks are read by :mod:`jicai.ingest.xlsx`.

Messages never carry SQL or the server's paths (:func:`clean_message`).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from jicai.errors import BilingualError
from jicai.ingest import csvscan
from jicai.ingest.sql import lit, q
from jicai.settings import setting

CHUNK = 1 << 20
BUFFER = 8 << 20  # DuckDB's CSV read buffer (per thread): its default 32 MB is a large part of a small memory cap
FORMATS = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx", ".xls": "xlsx",
           ".parquet": "parquet", ".pq": "parquet"}


# Bytes of characters no data cell holds: C0 controls but TAB, LF, CR; DEL; and (UTF-8) the bidirectional
# overrides and isolates U+202A–U+202E, U+2066–U+2069, which make a name read differently from what it is.
CONTROL_BYTES = bytes([*range(1, 9), 11, 12, *range(14, 32), 127])
BIDI_UTF8 = tuple(ch.encode() for ch in [*map(chr, range(0x202A, 0x202F)), *map(chr, range(0x2066, 0x206A))])
_NOT_CONTROL = bytes(b for b in range(256) if b not in CONTROL_BYTES)  # deleted: what is left are control bytes
_BIDI_RE = re.compile(rb"\xe2(?:\x80[\xaa-\xae]|\x81[\xa6-\xa9])")
UTF_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8"),
            (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


class FileError(BilingualError):
    """The whole file cannot be read; carries a Chinese and an English message."""


class MalformedCsv(FileError):
    """DuckDB refuses the CSV file as malformed: it is read record by record instead (:mod:`.csvscan`)."""


def clean_message(exc: BaseException, path: Path | None = None) -> str:
    """An engine's message fit for a user: its first line, without the SQL DuckDB quotes, the server's paths
    (a file is named by its name) or a leading error class."""
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if path is not None:
        text = text.replace(str(path), path.name)
    text = re.sub(r"(?:/[^\s/\"']+)+/([^\s/\"']+)", r"\1", text)  # any other absolute path: its last part
    text = re.sub(r"^[A-Za-z ]*(?:Error|Exception):\s*", "", text)
    return re.split(r"\b(?:LINE \d+:|SELECT |FROM read_|read_(?:csv|parquet)\()", text)[0].strip(" :") or type(exc).__name__


@dataclass
class Sheet:
    name: str | None  # sheet name (XLSX) or None
    table: str  # the relation to read it from (a staging table or view, or a read_csv call)
    headers: list[str]  # header text as in the file, position i is column c{i}
    warnings: list[tuple[str, str]] = field(default_factory=list)
    types: list[str] | None = None  # DuckDB type of each c{i} when not all VARCHAR (Parquet)
    # rows (or cells) the reader rejected: a staging table of _row, pos (the cell's position or NULL for the whole
    # row), value, reason_zh, reason_en; a rejected row may be missing from ``table`` (a ragged CSV record)
    rejected: str | None = None
    controls: bool = True  # whether its text may hold control characters (a CSV file without any says False)
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

    def rescan(self, con: duckdb.DuckDBPyConnection, index: int) -> None:
        """DuckDB refused the CSV file this sheet reads: read it record by record into numbered staging tables."""
        self.table, self.rejected = self.source.scan(con, f"stage{index}", f"rejected{index}")
        self.source = None

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
    controls: bool = False  # CSV only: the bytes hold a control character (:data:`CONTROL_BYTES`) somewhere


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
    utf8, size, last, head, lines, wide, controls, tail = True, 0, b"", b"", 0, None, False, b""
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            if not head:
                head = chunk[:8]
                wide = _wide_encoding(chunk) if fmt == "csv" else None
            h.update(chunk)
            size += len(chunk)
            last = chunk[-1:]
            if fmt == "csv":
                lines += chunk.count(b"\n")
                if wide is not None:  # UTF-16/32: zero bytes are part of the text; decoded when transcoded
                    continue
                if b"\x00" in chunk:
                    raise FileError("文件含二进制内容，不是文本 CSV 文件", "file contains binary data; it is not a text CSV file")
                if not controls:  # (cheap: a byte deletion, and a search only where a U+2xxx character starts)
                    joined = tail + chunk
                    controls = bool(chunk.translate(None, _NOT_CONTROL)) or (
                        b"\xe2" in joined and _BIDI_RE.search(joined) is not None)
                    tail = chunk[-2:]
                if utf8:
                    try:
                        dec.decode(chunk)
                    except UnicodeDecodeError:
                        utf8 = False
    if fmt == "csv" and utf8 and wide is None:
        try:
            dec.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8 = False
    if size == 0:
        raise FileError("文件为空（0字节）", "file is empty (0 bytes)")
    if fmt == "csv" and head.startswith(b"PK\x03\x04"):
        raise FileError("文件是 Excel/zip 文件而不是 CSV，请改用 .xlsx 扩展名",
                        "file is an Excel/zip file, not CSV; give it the .xlsx extension")
    ole2 = path.suffix.lower() == ".xls" and head.startswith(b"\xd0\xcf\x11\xe0")  # an old .xls: calamine reads it
    if fmt == "xlsx" and not head.startswith(b"PK\x03\x04") and not ole2:
        raise FileError("文件不是 Excel（xlsx）文件：内容不是 zip 格式（是否把 CSV 或旧版 .xls 文件改了扩展名？）",
                        "the file is not an Excel (xlsx) workbook: it is not a zip archive (a CSV or an old .xls file "
                        "renamed?)")
    if fmt == "parquet" and not head.startswith(b"PAR1"):
        raise FileError("文件不是 Parquet 文件：开头没有 PAR1 标记（是否改了扩展名？）",
                        "the file is not a Parquet file: it does not start with PAR1 (a renamed file?)")
    encoding = wide or ("utf-8" if utf8 else None)
    return FileInfo(path, fmt, h.hexdigest(), size, encoding, last in (b"\n", b"\r", b"\x00"), lines,
                    controls or wide is not None)


def _wide_encoding(head: bytes) -> str | None:
    """UTF-16 or UTF-32 by its BOM, or (no BOM) by a sample that decodes without zero characters in that encoding
    while the bytes hold zeros: ASCII digits and commas in UTF-16 are ``x\\0``."""
    for bom, enc in UTF_BOMS:
        if head.startswith(bom):
            return enc if enc != "utf-8" else None
    sample = head[:4096]
    if b"\x00" not in sample:
        return None
    for enc, width in (("utf-32-le", 4), ("utf-32-be", 4), ("utf-16-le", 2), ("utf-16-be", 2)):
        try:
            text = sample[:len(sample) // width * width].decode(enc)
        except UnicodeDecodeError:
            continue
        if "\x00" not in text and ("\n" in text or "," in text or "\t" in text):
            return enc
    return None


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


def _transcode(path: Path, encoding: str, tmpdir: Path) -> tuple[Path, bool, int]:
    """A UTF-8 copy of the file, whether its text holds a control character, and its line breaks."""
    out = tmpdir / "transcoded.utf8.csv"
    controls, lines = False, 0
    pattern = re.compile("[" + re.escape(CONTROL_BYTES.decode()) + "".join(c.decode() for c in BIDI_UTF8) + "]")
    try:
        with open(path, encoding=encoding, newline="") as src, open(out, "w", encoding="utf-8", newline="") as dst:
            while chunk := src.read(CHUNK):
                if "\x00" in chunk:
                    raise FileError("文件含二进制内容，不是文本 CSV 文件", "file contains binary data; it is not a text CSV file")
                controls = controls or pattern.search(chunk) is not None
                lines += chunk.count("\n")
                dst.write(chunk)
    except UnicodeDecodeError as exc:
        raise FileError(f"文件不是有效的 {encoding} 文本（第 {exc.start:,} 字节附近）",
                        f"the file is not valid {encoding} text (near byte {exc.start:,})") from None
    return out, controls, lines


def _first_record(path: Path) -> tuple[list[str], str]:
    """Header fields and delimiter, parsed by Python (DuckDB's sniffer guesses wrong on ragged files)."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        line = f.readline()
    delim = max(",\t;|", key=line.count) if line.strip() else ","
    fields = next(csv.reader(io.StringIO(line), delimiter=delim), [])
    return [x.strip() for x in fields], delim


def read_csv(con: duckdb.DuckDBPyConnection, info: FileInfo, tmpdir: Path) -> list[Sheet]:
    path, controls, lines = info.path, info.controls, info.lines
    if info.encoding != "utf-8":
        enc = info.encoding or _guess_encoding(path)
        path, controls, lines = _transcode(path, enc, tmpdir)
        info.encoding = enc
    headers, delim = _first_record(path)
    if not any(headers):
        raise FileError("CSV 第1行（表头）为空", "row 1 (the header) of the CSV is empty")
    source = CsvSource(path, len(headers), delim, info.ends_with_newline, lines)
    if path == info.path and info.ends_with_newline:
        # the common case: no copy here; the typed pass reads the file (a transcoded copy would be gone by then,
        # and a file cut mid-row needs its last row numbered now)
        return [Sheet(None, source.relation("true"), headers, source=source, controls=controls)]
    try:
        return [Sheet(None, source.numbered(con), headers, controls=controls)]
    except MalformedCsv:
        table, rejected = source.scan(con, "stage0", "rejected0")
        return [Sheet(None, table, headers, rejected=rejected, controls=controls)]


class CsvSource:
    """How DuckDB reads one CSV file as ``c0…cN`` text.

    Explicit columns and no sniffing: DuckDB's sniffer silently drops rows of ragged files. No padding either: a
    row with fewer fields than the header, like one with more, one longer than ``csv_max_row_kb`` or a quote that
    never closes, makes DuckDB refuse the file (:class:`MalformedCsv`), which is then read record by record
    (:meth:`scan`, :mod:`.csvscan`) so that only those rows are quarantined. The parallel reader keeps file order
    (so a row's position in what is made from it is its record number)."""

    def __init__(self, path: Path, ncols: int, delim: str, ends_with_newline: bool = True, lines: int | None = None):
        self.path, self.ncols, self.delim, self.ends_with_newline = path, ncols, delim, ends_with_newline
        self.max_bytes = max(int(setting("csv_max_row_kb")), 1) * 1024
        self.lines = lines  # line breaks in the file, when counted

    def check_records(self, records: int) -> None:
        """DuckDB read ``records`` data records: fewer than the file's lines (beyond the header and the empty lines
        DuckDB skips, counted only now) means a quoted field holds a line break — legitimately, or a quote left open
        swallowed whole rows: read the file record by record to tell (:mod:`.csvscan`)."""
        expected = None if self.lines is None else self.lines - 1 + (not self.ends_with_newline)
        if expected is None or records == expected:
            return
        blank, carry = 0, b""
        with open(self.path, "rb") as f:
            while chunk := f.read(CHUNK):
                joined = carry + chunk
                blank += joined.count(b"\n\n") + joined.count(b"\n\r\n")
                carry = chunk[-2:] if not chunk.endswith(b"\n\n") else b""
        if records != expected - blank:
            raise MalformedCsv("CSV 记录数与行数不符", "CSV records do not match its lines")

    def relation(self, parallel: str) -> str:
        cols = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(self.ncols)) + "}"
        return (f"read_csv({lit(str(self.path))}, columns={cols}, auto_detect=false, header=true, "
                f"delim={lit(self.delim)}, quote='\"', escape='\"', null_padding=false, parallel={parallel}, "
                f"max_line_size={self.max_bytes}, buffer_size={max(BUFFER, 4 * self.max_bytes)})")

    def run(self, con: duckdb.DuckDBPyConnection, sql: str) -> None:
        """Run ``sql`` (a CREATE OR REPLACE) with ``{src}`` the file; :class:`MalformedCsv` when DuckDB refuses it."""
        try:
            con.execute(sql.replace("{src}", self.relation("true")))
        except duckdb.Error as exc:
            # only a malformed file is the file's fault; running out of memory or disk is not
            if isinstance(exc, duckdb.InvalidInputException) or str(exc).startswith("CSV Error"):
                raise MalformedCsv("CSV 格式错误", "malformed CSV") from exc
            raise

    def scan(self, con: duckdb.DuckDBPyConnection, table: str, rejected: str) -> tuple[str, str]:
        """Read the file record by record (:mod:`.csvscan`) into ``table`` and ``rejected``."""
        csvscan.scan_into(con, self.path, self.ncols, self.delim, self.ends_with_newline, self.max_bytes, table,
                          rejected)
        return table, rejected

    def rows(self, con: duckdb.DuckDBPyConnection, rows: str) -> str:
        """The text of the rows numbered by the query ``rows``, read again by the serial reader, which numbers
        the records in file order as they pass; only those rows are kept."""
        con.execute(f"CREATE OR REPLACE TABLE raw0 AS SELECT * FROM (SELECT row_number() OVER () + 1 AS _row, "
                    f"false AS _truncated, * FROM {self.relation('false')}) WHERE _row IN ({rows})")
        return "raw0"

    def numbered(self, con: duckdb.DuckDBPyConnection) -> str:
        """Copy the file's text into ``raw0`` and return ``stage0``, a view numbering its rows (record order).

        Rows are numbered from the first rowid: a table made inside a transaction has its rowids offset."""
        self.run(con, "CREATE OR REPLACE TABLE raw0 AS SELECT * FROM {src}")
        first, n = con.execute("SELECT min(rowid), count(*) FROM raw0").fetchone()
        self.check_records(n)
        # a file that stops mid-row with its last row short of fields is refused by DuckDB (no padding) and scanned
        con.execute(f"CREATE OR REPLACE VIEW stage0 AS SELECT rowid - {first or 0} + 2 AS _row, false AS _truncated, "
                    f"* FROM raw0")
        return "stage0"


def read_parquet(con: duckdb.DuckDBPyConnection, info: FileInfo, tmpdir: Path) -> list[Sheet]:
    src = f"read_parquet({lit(str(info.path))}, file_row_number=true)"
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()
    except duckdb.Error as exc:
        why = clean_message(exc, info.path)
        raise FileError(f"无法读取 Parquet 文件（文件损坏或被截断）：{why}",
                        f"cannot read the Parquet file (damaged or cut short): {why}") from None
    described = [(r[0], r[1]) for r in described if r[0] != "file_row_number"]
    names = [n for n, _ in described]
    sel = ", ".join(f"{q(n)} AS c{i}" for i, n in enumerate(names))
    # a view, not a copy: validation reads the file once into its typed table (and again, by row number,
    # only for the rows with problems, whose cells it shows as text)
    con.execute(f"CREATE OR REPLACE VIEW stage0 AS SELECT file_row_number + 2 AS _row, false AS _truncated, {sel} FROM {src}")
    return [Sheet(None, "stage0", names, types=[t for _, t in described])]


def stage(con: duckdb.DuckDBPyConnection, info: FileInfo, header_score: Callable[[list[str]], int],
          hidden_sheets: bool = False) -> list[Sheet]:
    """The file's sheets, staged; ``hidden_sheets`` reads an Excel workbook's hidden sheets too."""
    tmpdir = Path(tempfile.mkdtemp(prefix="jicai-stage-"))
    try:
        if info.format == "csv":
            return read_csv(con, info, tmpdir)
        if info.format == "parquet":
            return read_parquet(con, info, tmpdir)
        from jicai.ingest.xlsx import read_xlsx

        return read_xlsx(con, info, header_score, hidden_sheets)
    finally:
        import shutil

        shutil.rmtree(tmpdir, ignore_errors=True)
