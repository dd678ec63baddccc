"""Read an Excel workbook within limits, its visible sheets only, with formula and merged cells named.

Before the workbook is opened by calamine (which would allocate whatever its XML asks for), :func:`survey` reads
the zip archive once, streaming and counting: the file size, the number of sheets, the bytes every part
decompresses to (each part checked against its CRC, so a part that lies about its size is refused too) and the
extent of each sheet (its last row, its widest column) are held to the ``xlsx_*`` settings. A zip bomb is refused
once the decompressed bytes pass the cap, before anything is kept in memory.

Hidden and very hidden sheets are skipped with a warning unless ``hidden=True`` (``jicai import --hidden-sheets``):
what Excel does not show is not loaded behind the user's back. A formula cell without a computed value (a
workbook written by a program, never opened in Excel) is reported as a formula, naming the cell; a formula with a
computed value loads that value, with a warning. A cell covered by a merged range (only its top-left cell holds
the value) is reported as merged rather than as empty.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import duckdb
import pyarrow as pa

from jicai.ingest.readers import FileError, FileInfo, Sheet, clean_message
from jicai.settings import setting

MB = 1 << 20
READ = 1 << 20
NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
      "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
      "rel": "http://schemas.openxmlformats.org/package/2006/relationships"}
_LAST_ROW = re.compile(rb'<row[^>]*?\sr="(\d+)"')
_WIDE_CELL = re.compile(rb'<c[^>]*?\sr="([A-Z]{2,3})\d+"')
STATE_ZH = {"hidden": "隐藏", "veryHidden": "深度隐藏"}


@dataclass
class SheetPart:
    name: str
    state: str  # visible | hidden | veryHidden
    part: str | None  # its XML inside the archive
    rows: int = 0
    cols: int = 0
    formulas: bool = False  # its XML holds a <f> element


@dataclass
class Survey:
    sheets: list[SheetPart] = field(default_factory=list)
    xml_bytes: int = 0


def column_index(letters: str) -> int:
    """0-based column of ``A``, ``Z``, ``AA``…"""
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


def column_letters(index: int) -> str:
    s, n = "", index + 1
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s


def _refuse(zh: str, en: str) -> FileError:
    return FileError(f"Excel 文件被拒绝：{zh}", f"the Excel file is refused: {en}")


def _sheet_parts(z: zipfile.ZipFile) -> list[SheetPart]:
    """The workbook's sheets in order, with their visibility and XML part."""
    try:
        book = ET.fromstring(z.read("xl/workbook.xml"))
        rels = ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, ET.ParseError):
        return []
    targets = {r.get("Id"): r.get("Target", "") for r in rels.findall("rel:Relationship", NS)}
    parts = []
    for s in book.iterfind("m:sheets/m:sheet", NS):
        target = targets.get(s.get(f"{{{NS['r']}}}id"), "")
        part = target.lstrip("/") if target.startswith("/") else str(PurePosixPath("xl") / target) if target else None
        parts.append(SheetPart(s.get("name", ""), s.get("state", "visible"), part))
    return parts


def survey(info: FileInfo) -> Survey:
    """Check the archive against the limits (see the module docstring) without keeping what it decompresses."""
    max_mb, max_xml = setting("xlsx_max_mb"), setting("xlsx_max_xml_mb") * MB
    max_sheets, max_rows, max_cells = setting("xlsx_max_sheets"), setting("xlsx_max_rows"), setting("xlsx_max_cells")
    if info.size > max_mb * MB:
        raise _refuse(f"文件 {info.size / MB:,.0f} MB，超过上限 {max_mb:,} MB（JICAI_IMPORT_XLSX_MAX_MB）",
                      f"it is {info.size / MB:,.0f} MB, more than the limit of {max_mb:,} MB (JICAI_IMPORT_XLSX_MAX_MB)")
    if info.path.suffix.lower() == ".xls" and not zipfile.is_zipfile(info.path):
        return Survey()  # an old binary workbook (not a zip archive): only its size is held to a limit
    try:
        z = zipfile.ZipFile(info.path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise FileError(f"无法读取 Excel 文件（文件损坏或不是 xlsx）：{clean_message(exc, info.path)}",
                        f"cannot read the Excel file (damaged or not an xlsx): {clean_message(exc, info.path)}") from None
    with z:
        result = Survey(_sheet_parts(z))
        if len(result.sheets) > max_sheets:
            raise _refuse(f"有 {len(result.sheets)} 个工作表，超过上限 {max_sheets}（JICAI_IMPORT_XLSX_MAX_SHEETS）",
                          f"it has {len(result.sheets)} sheets, more than the limit of {max_sheets} "
                          f"(JICAI_IMPORT_XLSX_MAX_SHEETS)")
        declared = sum(i.file_size for i in z.infolist())
        too_big = (f"解压后超过 {max_xml // MB:,} MB（JICAI_IMPORT_XLSX_MAX_XML_MB），可能是压缩炸弹",
                   f"it decompresses to more than {max_xml // MB:,} MB (JICAI_IMPORT_XLSX_MAX_XML_MB); a zip bomb?")
        if declared > max_xml:
            raise _refuse(*too_big)
        by_part = {s.part: s for s in result.sheets if s.part}
        with open(info.path, "rb") as raw:
            for item in z.infolist():
                sheet, carry, size = by_part.get(item.filename), b"", 0
                try:
                    for chunk in _inflate(raw, item):
                        size += len(chunk)
                        result.xml_bytes += len(chunk)
                        if result.xml_bytes > max_xml:
                            raise _refuse(*too_big)
                        if sheet is not None:
                            _extent(sheet, carry + chunk)
                            carry = chunk[-64:]
                    if size != item.file_size:
                        raise zipfile.BadZipFile(f"{item.filename} holds {size} bytes, its header says {item.file_size}")
                except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:  # sizes that lie, truncation
                    raise FileError(f"Excel 文件已损坏：{item.filename} 无法解压（{clean_message(exc, info.path)}）",
                                    f"the Excel file is damaged: {item.filename} cannot be decompressed "
                                    f"({clean_message(exc, info.path)})") from None
        for s in result.sheets:
            if s.rows > max_rows:
                raise _refuse(f"工作表“{s.name}”有 {s.rows:,} 行，超过上限 {max_rows:,}（JICAI_IMPORT_XLSX_MAX_ROWS）",
                              f"sheet {s.name!r} has {s.rows:,} rows, more than the limit of {max_rows:,} "
                              f"(JICAI_IMPORT_XLSX_MAX_ROWS)")
            if s.rows * max(s.cols, 26) > max_cells:
                raise _refuse(f"工作表“{s.name}”跨越 {s.rows:,} 行 × {max(s.cols, 26):,} 列，超过单元格上限 "
                              f"{max_cells:,}（JICAI_IMPORT_XLSX_MAX_CELLS）",
                              f"sheet {s.name!r} spans {s.rows:,} rows × {max(s.cols, 26):,} columns, more than the "
                              f"limit of {max_cells:,} cells (JICAI_IMPORT_XLSX_MAX_CELLS)")
    return result


def _inflate(raw, item: zipfile.ZipInfo):
    """The decompressed bytes of one archive member, a chunk at a time, read from its compressed data itself (not
    trusting the sizes its headers declare: calamine would not stop at them either)."""
    raw.seek(item.header_offset)
    head = raw.read(30)
    if len(head) < 30 or head[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"{item.filename}: no local header")
    raw.seek(item.header_offset + 30 + int.from_bytes(head[26:28], "little") + int.from_bytes(head[28:30], "little"))
    left = item.compress_size
    if item.compress_type == zipfile.ZIP_STORED:
        while left > 0 and (chunk := raw.read(min(READ, left))):
            left -= len(chunk)
            yield chunk
        return
    if item.compress_type != zipfile.ZIP_DEFLATED:
        raise zipfile.BadZipFile(f"{item.filename}: compression method {item.compress_type} is not supported")
    d = zlib.decompressobj(-15)
    while left > 0 and not d.eof:
        data = raw.read(min(READ, left))
        if not data:
            raise zipfile.BadZipFile(f"{item.filename}: cut short")
        left -= len(data)
        while data and not d.eof:
            out = d.decompress(data, READ)
            data = d.unconsumed_tail
            if out:
                yield out
    if not d.eof:
        raise zipfile.BadZipFile(f"{item.filename}: cut short")


def _extent(sheet: SheetPart, chunk: bytes) -> None:
    """The last row (rows come in order) and widest column (only columns past Z are looked for) in ``chunk``."""
    rows = _LAST_ROW.findall(chunk[max(chunk.rfind(b"<row "), 0):])
    if rows:
        sheet.rows = max(sheet.rows, int(rows[-1]))
    for letters in _WIDE_CELL.findall(chunk):
        sheet.cols = max(sheet.cols, column_index(letters.decode()) + 1)
    sheet.formulas = sheet.formulas or b"<f>" in chunk or b"<f " in chunk


def formula_cells(info: FileInfo, part: str) -> tuple[list[tuple[int, int, str]], int]:
    """``([(row, column index, formula)] of formulas without a computed value, formulas with one)`` of a sheet."""
    empty, computed = [], 0
    with zipfile.ZipFile(info.path) as z, z.open(part) as f:
        for _, el in ET.iterparse(f, events=("end",)):
            if el.tag != f"{{{NS['m']}}}c":
                if el.tag == f"{{{NS['m']}}}row":
                    el.clear()
                continue
            f_el = el.find("m:f", NS)
            if f_el is not None:
                v = el.find("m:v", NS)
                if v is None or not (v.text or "").strip():
                    m = re.match(r"([A-Z]+)(\d+)$", el.get("r", ""))
                    if m:
                        empty.append((int(m.group(2)), column_index(m.group(1)), f"={f_el.text or ''}"))
                else:
                    computed += 1
    return empty, computed


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


def _rejected_table(con: duckdb.DuckDBPyConnection, name: str, rows: list[tuple]) -> str | None:
    if not rows:
        return None
    data = pa.table({"_row": pa.array([r[0] for r in rows], pa.int64()), "pos": pa.array([r[1] for r in rows], pa.int32()),
                     "value": pa.array([r[2] for r in rows], pa.string()),
                     "reason_zh": pa.array([r[3] for r in rows], pa.string()),
                     "reason_en": pa.array([r[4] for r in rows], pa.string())})
    con.register("_jicai_rejected", data)
    con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM _jicai_rejected")
    con.unregister("_jicai_rejected")
    return name


def _cell_problems(info: FileInfo, part: SheetPart | None, merged: list, first_body_row: int,
                   warnings: list[tuple[str, str]]) -> list[tuple]:
    """Rejected cells of a sheet: formulas without a computed value and the covered cells of merged ranges."""
    rows = []
    if part is not None and part.formulas and part.part:
        empty, computed = formula_cells(info, part.part)
        for r, c, formula in empty:
            ref = f"{column_letters(c)}{r}"
            rows.append((r, c, formula, f"单元格 {ref} 是公式（{formula}），没有计算结果：请在 Excel 中打开并保存，或粘贴为数值",
                         f"cell {ref} is a formula ({formula}) without a computed value: open and save the workbook "
                         f"in Excel, or paste it as values"))
        if computed:
            warnings.append((f"{computed} 个单元格是公式，已使用其计算结果", f"{computed} formula cell(s): their computed "
                             f"values were used"))
    for (r0, c0), (r1, c1) in merged:
        top = f"{column_letters(c0)}{r0 + 1}"
        span = f"{top}:{column_letters(c1)}{r1 + 1}"
        for r in range(max(r0, first_body_row - 1), r1 + 1):
            for c in range(c0, c1 + 1):
                if (r, c) != (r0, c0) and r + 1 >= first_body_row:
                    ref = f"{column_letters(c)}{r + 1}"
                    rows.append((r + 1, c, None, f"单元格 {ref} 属于合并单元格 {span}，值只在 {top} 中：请取消合并并填写每一行",
                                 f"cell {ref} is part of the merged cells {span}, whose value is in {top} only: unmerge "
                                 f"them and fill in every row"))
    return rows


def read_xlsx(con: duckdb.DuckDBPyConnection, info: FileInfo, header_score: Callable[[list[str]], int],
              hidden: bool = False) -> list[Sheet]:
    """Every visible sheet (every sheet with ``hidden``) whose header (within its first 20 rows) maps to the table
    becomes a Sheet."""
    from python_calamine import CalamineWorkbook

    surveyed = survey(info)
    parts = {s.name: s for s in surveyed.sheets}
    try:
        wb = CalamineWorkbook.from_path(str(info.path))
    except Exception as exc:  # noqa: BLE001 - calamine raises its own error types
        why = clean_message(exc, info.path)
        raise FileError(f"无法读取 Excel 文件：{why}", f"cannot read the Excel file: {why}") from None
    sheets: list[Sheet] = []
    skipped: list[str] = []
    invisible: list[str] = []
    for name in wb.sheet_names:
        part = parts.get(name)
        if part is not None and part.state != "visible":
            if not hidden:
                invisible.append(f"{name}（{STATE_ZH.get(part.state, part.state)}）|{name} ({part.state})")
                continue
        sheet = wb.get_sheet_by_name(name)
        rows = sheet.to_python(skip_empty_area=False)
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
        warnings: list[tuple[str, str]] = []
        if part is not None and part.state != "visible":
            warnings.append((f"已按要求导入{STATE_ZH.get(part.state, part.state)}工作表", f"imported although {part.state}, "
                             "as asked"))
        problems = _cell_problems(info, part, sheet.merged_cell_ranges or [], h + 2, warnings)
        sheets.append(Sheet(name, t, headers, warnings=warnings,
                            rejected=_rejected_table(con, f"rejected{len(sheets)}", problems)))
    notes: list[tuple[str, str]] = []
    if invisible:
        zh, en = "、".join(x.split("|")[0] for x in invisible), ", ".join(x.split("|")[1] for x in invisible)
        notes.append((f"跳过隐藏的工作表：{zh}（Excel 中不可见；确需导入请加 --hidden-sheets）",
                      f"skipped hidden sheets: {en} (not shown by Excel; add --hidden-sheets to import them)"))
    if skipped:
        notes.append((f"跳过与该表无关的工作表：{'、'.join(skipped)}", f"skipped sheets that do not match the table: "
                      f"{', '.join(skipped)}"))
    if sheets:
        sheets[0].warnings[:0] = notes
        return sheets
    names = [*skipped, *(x.split("|")[0] for x in invisible)]
    extra_zh = "；隐藏的工作表未读取，确需导入请加 --hidden-sheets" if invisible else ""
    extra_en = "; hidden sheets were not read: add --hidden-sheets to import them" if invisible else ""
    raise FileError(f"没有任何工作表的表头与该表对应（工作表：{'、'.join(names)}）{extra_zh}",
                    f"no sheet has a header matching the table (sheets: {', '.join(names)}){extra_en}")
