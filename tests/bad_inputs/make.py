"""Write the generated part of the bad-input corpus (tests/bad_inputs/): run ``python tests/bad_inputs/make.py``.

Files whose bytes matter — encodings, byte-order marks, control characters, cut-off ends — and the binary ones
(xlsx, parquet, zip bombs) are made here, so that each is reproducible and reviewable as code. The hand-written
CSV files beside them (orders_bad_quantities.csv …) are not touched. What each file must do on import is in
``expected.toml`` (checked by tests/test_ingest_corpus.py). The rows use the reference data of
tests/helpers_ingest.py (hospital H44030500001, drug XC10AAA060A001010104459, distributor …).

Everything stays small (the zip bombs are each well under 1 MB compressed) so the corpus stays a few MB.
"""

from __future__ import annotations

import io
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from helpers_ingest import DISTRIBUTOR, DRUG, HOSPITAL_A, ORDER_HEADER  # noqa: E402

ORDER_ZH = ["订单明细编号", "订单编号", "医疗机构编码", "医保编码", "配送企业编码", "采购数量(包装)", "采购价格(元/包装)",
            "下单时间", "采购渠道"]


def row(i: int, **over: str) -> list[str]:
    """Order line i (a good one unless a field is overridden)."""
    r = {"order_line_id": f"OL{i:07d}", "order_id": f"O{i // 3:07d}", "institution_code": HOSPITAL_A,
         "product_code": DRUG, "distributor_code": DISTRIBUTOR, "quantity": "10", "pack_price": "12.5",
         "ordered_at": f"2024-03-{i:02d} 09:30:00", "channel": "platform"}
    r.update(over)
    return [r[h] for h in ORDER_HEADER]


def csv_text(rows: list[list[str]], delim: str = ",", end: str = "\n", header: list[str] = ORDER_HEADER) -> str:
    def cell(v: str) -> str:
        return '"' + v.replace('"', '""') + '"' if any(c in v for c in (delim, '"', "\n")) else v

    return "".join(delim.join(cell(v) for v in r) + end for r in [header, *rows])


GOOD3 = [row(1), row(2), row(3)]
FILES: dict[str, Callable[[], bytes]] = {}


def file(name: str) -> Callable:
    def register(fn: Callable[[], bytes | str]) -> Callable:
        FILES[name] = lambda: (lambda b: b.encode("utf-8") if isinstance(b, str) else b)(fn())
        return fn

    return register


# -- encodings and byte-order marks ---------------------------------------------------------------------------
for _name, _enc, _bom in [("orders_utf8_bom.csv", "utf-8", b"\xef\xbb\xbf"),
                          ("orders_utf16le_bom.csv", "utf-16-le", b"\xff\xfe"),
                          ("orders_utf16be_bom.csv", "utf-16-be", b"\xfe\xff"),
                          ("orders_utf16le_nobom.csv", "utf-16-le", b""),
                          ("orders_utf32le_bom.csv", "utf-32-le", b"\xff\xfe\x00\x00"),
                          ("orders_utf32be_nobom.csv", "utf-32-be", b"")]:
    FILES[_name] = (lambda enc, bom: lambda: bom + csv_text(GOOD3, header=ORDER_ZH).encode(enc))(_enc, _bom)
FILES["orders_gb18030.csv"] = lambda: csv_text([row(1, channel="平台采购"), row(2, channel="线下"), row(3)],
                                               header=ORDER_ZH).encode("gb18030")
FILES["orders_header_only_bom.csv"] = lambda: b"\xef\xbb\xbf" + csv_text([]).encode()
FILES["orders_pdf_renamed.csv"] = lambda: b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\x00\x00endobj\n"
FILES["orders_nul_in_cell.csv"] = lambda: csv_text([row(1), row(2, order_id="O\x000001"), row(3)]).encode()

# -- line endings, delimiters, blank lines ----------------------------------------------------------------------
FILES["orders_crlf.csv"] = lambda: csv_text(GOOD3, end="\r\n").encode()
FILES["orders_semicolon.csv"] = lambda: csv_text(GOOD3, delim=";").encode()
FILES["orders_tabs.tsv"] = lambda: csv_text(GOOD3, delim="\t").encode()
FILES["orders_blank_lines.csv"] = lambda: csv_text(GOOD3).replace("\n", "\n\n", 2).encode()

# -- truncation, ragged rows, quotes, long rows ---------------------------------------------------------------------
FILES["orders_cut_in_quote.csv"] = lambda: (csv_text(GOOD3) + ",".join(row(4)[:6]) + ',"12.').encode()
FILES["orders_ragged_more.csv"] = lambda: csv_text([row(1), row(2) + ["extra"], row(3), row(4), row(5)]).encode()
FILES["orders_ragged_less.csv"] = lambda: csv_text([row(1), row(2)[:7], row(3), row(4)]).encode()
FILES["orders_ragged_many.csv"] = lambda: csv_text([row(i) if i % 2 else row(i) + ["x", "y"] for i in range(1, 9)]).encode()
FILES["orders_quote_unclosed.csv"] = lambda: csv_text(GOOD3).replace("O0000000,H", '"O0000000,H', 1).encode()
FILES["orders_quote_swallows.csv"] = lambda: (
    csv_text([row(1), row(2), row(3), row(4), row(5)]).replace("OL0000002,O0000000", 'OL0000002,"O0000000', 1)
    .replace("OL0000004,O0000001", 'OL0000004,O0000001"', 1).encode())
FILES["orders_escaped_quotes.csv"] = lambda: csv_text([row(1, order_id='O"1"'), row(2), row(3)]).encode()
FILES["products_multiline_name.csv"] = lambda: (
    'product_code,name,spec,units_per_pack,category\n'
    f'{DRUG},"阿托伐他汀钙片\n（薄膜衣）",20mg*7片,7,drug\n').encode()
FILES["orders_long_row.csv"] = lambda: csv_text([row(1), row(2, order_id="O" + "x" * 1_100_000), row(3)]).encode()

# -- dates ------------------------------------------------------------------------------------------------------------
FILES["orders_dates_chinese.csv"] = lambda: csv_text([row(1, ordered_at="2024年3月1日"),
                                                      row(2, ordered_at="2024年03月02日 09:30:00"),
                                                      row(3, ordered_at="2024/3/3 9:30")]).encode()
FILES["orders_dates_excel_serial.csv"] = lambda: csv_text([row(1, ordered_at="45352"), row(2, ordered_at="45352.5"),
                                                           row(3, ordered_at="20240303")]).encode()
FILES["orders_dates_far_future.csv"] = lambda: csv_text([row(1), row(2, ordered_at="9999-12-31 23:59:59"),
                                                         row(3)]).encode()
FILES["orders_dates_year_one.csv"] = lambda: csv_text([row(1, ordered_at="0001-01-01"), row(2), row(3)]).encode()
FILES["orders_dates_typo_year.csv"] = lambda: csv_text([row(1), row(2), row(3, ordered_at="2204-03-03 09:30:00")]).encode()
FILES["orders_dates_invalid.csv"] = lambda: csv_text([row(1, ordered_at="2024-02-30"), row(2, ordered_at="2024-13-01"),
                                                      row(3, ordered_at="2024.03.03"), row(4)]).encode()

# -- numbers ----------------------------------------------------------------------------------------------------------
FILES["orders_fullwidth_digits.csv"] = lambda: csv_text([row(1, quantity="１０"), row(2, pack_price="１２．５"),
                                                         row(3, institution_code="Ｈ４４０３０５００００１")]).encode()
FILES["orders_thousands.csv"] = lambda: csv_text([row(1, quantity="1,200"), row(2, pack_price="1,234.50"),
                                                  row(3, quantity="12,00")]).encode()
FILES["orders_currency.csv"] = lambda: csv_text([row(1, pack_price="¥12.50"), row(2, pack_price="￥1,200"),
                                                 row(3, pack_price="12.5元"), row(4, pack_price="USD 12")]).encode()
FILES["orders_percent.csv"] = lambda: csv_text([row(1, quantity="10%"), row(2)]).encode()
FILES["orders_nan_inf.csv"] = lambda: csv_text([row(1, quantity="NaN"), row(2, pack_price="inf"), row(3, quantity="1e3"),
                                                row(4, quantity="-0")]).encode()

# -- control characters and formula-like text -----------------------------------------------------------------------
FILES["orders_control_bel.csv"] = lambda: csv_text([row(1), row(2, order_id="O\x07001"), row(3)]).encode()
FILES["orders_control_esc.csv"] = lambda: csv_text([row(1, order_id="O\x1b[31m001"), row(2), row(3)]).encode()
FILES["institutions_control_rlo.csv"] = lambda: (
    "institution_code,name,region_code,level,kind,public\n"
    "H44030500001,南山医院\u202e院医,440305,3,hospital,true\n"
    "H44030500002,蛇口社康,440305,1,primary,true\n").encode()
FILES["orders_tab_in_cell.csv"] = lambda: csv_text([row(1, order_id="O0000000\t"), row(2), row(3)]).encode()
FILES["institutions_formula_names.csv"] = lambda: (
    "institution_code,name,region_code,level,kind,public\n"
    'H44030500001,"=HYPERLINK(""http://x.example"",""点击"")",440305,3,hospital,true\n'
    "H44030500002,+cmd|' /C calc'!A0,440305,1,primary,true\n"
    "H44030500003,@SUM(1+1),440305,1,primary,true\n"
    "H44030500004,-2+3,440305,1,primary,true\n").encode()
FILES["orders_header_aliases.csv"] = lambda: csv_text(GOOD3, header=["ＯＲＤＥＲ_ＬＩＮＥ_ＩＤ", "订单编号", " 医疗机构编码 ",
                                                                     "医保编码", "配送企业编码", "采购数量（盒）", "采购价格(元/盒)",
                                                                     "下单时间", "采购渠道"]).encode()
FILES["orders_duplicate_header.csv"] = lambda: csv_text([[*r, "20"] for r in GOOD3],
                                                        header=[*ORDER_HEADER, "采购数量(包装)"]).encode()

# -- wrong extensions -------------------------------------------------------------------------------------------------
FILES["orders_not_zip.xlsx"] = lambda: csv_text(GOOD3).encode()
FILES["orders_csv_renamed.parquet"] = lambda: csv_text(GOOD3).encode()
FILES["orders_unknown.json"] = lambda: b'[{"order_line_id": "OL1"}]'


# -- Excel ------------------------------------------------------------------------------------------------------------
def _openpyxl(build: Callable) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    build(wb)
    buf = io.BytesIO()
    wb.save(buf)
    return _stable(buf.getvalue())


def _stable(data: bytes) -> bytes:
    """The workbook with fixed dates (zip entry times and docProps), so that make.py writes the same bytes again."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for item in src.infolist():
            body = src.read(item.filename)
            if item.filename == "docProps/core.xml":
                import re

                body = re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", b"2024-01-01T00:00:00Z", body)
            z.writestr(zipfile.ZipInfo(item.filename, (2024, 1, 1, 0, 0, 0)), body, zipfile.ZIP_DEFLATED)
    return out.getvalue()


def _rows(ws, rows: list[list]) -> None:
    for r in rows:
        ws.append(r)


def _hidden(wb) -> None:
    ws = wb.active
    ws.title = "订单"
    _rows(ws, [ORDER_HEADER, row(1), row(2)])
    for title, state, base in (("隐藏", "hidden", 10), ("深度隐藏", "veryHidden", 20)):
        h = wb.create_sheet(title)
        _rows(h, [ORDER_HEADER, row(base + 1), row(base + 2), row(base + 3)])
        h.sheet_state = state


def _only_hidden(wb) -> None:
    wb.active.title = "说明"
    wb.active.append(["本表数据见隐藏工作表"])
    h = wb.create_sheet("数据")
    _rows(h, [ORDER_HEADER, row(1)])
    h.sheet_state = "hidden"


def _formula(wb) -> None:
    ws = wb.active
    _rows(ws, [ORDER_HEADER, row(1), row(2), row(3)])
    ws["F3"] = "=F2*2"  # quantity of row 3: a formula openpyxl writes without a computed value
    ws["Z1"] = "=1+1"  # a formula outside the table's columns is no problem


def _merged(wb) -> None:
    ws = wb.active
    _rows(ws, [ORDER_HEADER, row(1), row(2), row(3), row(4)])
    ws.merge_cells("C3:C5")  # institution_code of rows 3–5: openpyxl keeps C3 only


def _title_row(wb) -> None:
    ws = wb.active
    _rows(ws, [["2024年3月 订单明细（单位：盒、元）"], [], ORDER_HEADER, row(1), row(2)])


def _dates(wb) -> None:
    import datetime as dt

    ws = wb.active
    _rows(ws, [ORDER_HEADER, [*row(1)[:7], dt.datetime(2024, 3, 1, 9, 30), "platform"],
               [*row(2)[:7], dt.date(2024, 3, 2), "platform"], [*row(3)[:7], 45352.5, "platform"],
               [*row(4)[:7], dt.datetime(9999, 12, 31), "platform"]])


def _controls(wb) -> None:
    _rows(wb.active, [ORDER_HEADER, row(1, order_id="O\u202e001"), row(2)])


def _many_sheets(wb) -> None:
    _rows(wb.active, [ORDER_HEADER, row(1)])
    for i in range(60):
        wb.create_sheet(f"S{i}")


def _empty(wb) -> None:
    wb.active.title = "空"


def _numbers(wb) -> None:
    _rows(wb.active, [ORDER_HEADER, [*row(1)[:5], 10, 12.5, *row(1)[7:]], [*row(2)[:5], 10.0, "12.5", *row(2)[7:]],
                      [*row(3)[:5], "十", 12.5, *row(3)[7:]]])


for _name, _build in [("orders_hidden_sheets.xlsx", _hidden), ("orders_only_hidden.xlsx", _only_hidden),
                      ("orders_formula.xlsx", _formula), ("orders_merged.xlsx", _merged),
                      ("orders_title_row.xlsx", _title_row), ("orders_dates.xlsx", _dates),
                      ("orders_control.xlsx", _controls), ("orders_many_sheets.xlsx", _many_sheets),
                      ("orders_empty_sheet.xlsx", _empty), ("orders_numbers.xlsx", _numbers)]:
    FILES[_name] = (lambda b: lambda: _openpyxl(b))(_build)


def _xlsxwriter_formula() -> bytes:
    """A formula with a computed value (as Excel saves it): the value loads."""
    import xlsxwriter

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    wb.set_properties({"created": __import__("datetime").datetime(2024, 1, 1)})
    ws = wb.add_worksheet("订单")
    for r, values in enumerate([ORDER_HEADER, row(1), row(2)]):
        ws.write_row(r, 0, values)
    ws.write_formula("F3", "=F2*2", None, 20)
    wb.close()
    return _stable(buf.getvalue())


FILES["orders_formula_cached.xlsx"] = _xlsxwriter_formula

SKELETON = {
    "[Content_Types].xml": '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '</Types>',
    "_rels/.rels": '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>',
    "xl/workbook.xml": '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
    '<sheet name="订单" sheetId="1" r:id="rId1"/></sheets></workbook>',
    "xl/_rels/workbook.xml.rels": '<?xml version="1.0"?><Relationships '
    'xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    '</Relationships>',
}
SHEET_HEAD = ('<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
              '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>order_line_id</t></is></c></row>')


def _workbook(sheet_xml: Callable[[zipfile.ZipFile, zipfile.ZipInfo], None]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name, text in SKELETON.items():
            z.writestr(zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0)), text, zipfile.ZIP_DEFLATED)
        info = zipfile.ZipInfo("xl/worksheets/sheet1.xml", (2024, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        sheet_xml(z, info)
    return buf.getvalue()


def _bomb_sheet(mb: int) -> Callable:
    def write(z: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
        with z.open(info, "w") as f:
            f.write(SHEET_HEAD.encode() + b'<row r="2"><c r="A2" t="inlineStr"><is><t>')
            block = b"A" * (1 << 20)
            for _ in range(mb):
                f.write(block)
            f.write(b"</t></is></c></row></sheetData></worksheet>")

    return write


def zip_bomb() -> bytes:
    """600 MB of sheet XML in well under 1 MB: refused by its declared size, before anything is decompressed."""
    return _workbook(_bomb_sheet(600))


def zip_bomb_lying() -> bytes:
    """The same bomb whose headers claim the sheet is 1 KB: refused while decompressing, at the cap."""
    data = bytearray(_workbook(_bomb_sheet(600)))
    item = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("xl/worksheets/sheet1.xml")
    data[item.header_offset + 22:item.header_offset + 26] = (1024).to_bytes(4, "little")  # local header
    name = item.filename.encode()
    at = data.index(b"PK\x01\x02", item.header_offset + 30)  # the central directory: this member's entry
    while data[at + 46:at + 46 + len(name)] != name:
        at = data.index(b"PK\x01\x02", at + 4)
    data[at + 24:at + 28] = (1024).to_bytes(4, "little")
    return bytes(data)


def huge_extent() -> bytes:
    """One sheet with a cell at XFD1048576: calamine would allocate 17 billion cells."""
    def write(z: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
        z.writestr(info, SHEET_HEAD + '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData></worksheet>')

    return _workbook(write)


def cut_xlsx() -> bytes:
    data = FILES["orders_title_row.xlsx"]()
    return data[: len(data) // 2]


FILES["orders_zip_bomb.xlsx"] = zip_bomb
FILES["orders_zip_bomb_lying.xlsx"] = zip_bomb_lying
FILES["orders_huge_extent.xlsx"] = huge_extent
FILES["orders_cut.xlsx"] = cut_xlsx


# -- Parquet ----------------------------------------------------------------------------------------------------------
def _parquet(table) -> bytes:
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(table, buf, compression="snappy")
    return buf.getvalue()


def _orders_table(rows: list[list[str]], typed: bool = False):
    import datetime as dt

    import pyarrow as pa

    cols = {h: [r[i] for r in rows] for i, h in enumerate(ORDER_HEADER)}
    if typed:
        cols["quantity"] = pa.array([float(v) for v in cols["quantity"]])
        cols["pack_price"] = pa.array([float(v) for v in cols["pack_price"]])
        cols["ordered_at"] = pa.array([dt.datetime.fromisoformat(v) for v in cols["ordered_at"]], pa.timestamp("us"))
    return pa.table(cols)


FILES["orders_typed.parquet"] = lambda: _parquet(_orders_table(
    [row(1), row(2, ordered_at="9999-12-31 00:00:00"), row(3, ordered_at="2024-03-03 09:30:00")], typed=True))
FILES["orders_control.parquet"] = lambda: _parquet(_orders_table([row(1, order_id="O\u202e001"), row(2)]))


def _products_control() -> bytes:
    import pyarrow as pa

    from helpers_ingest import CONSUMABLE, MANUFACTURER

    return _parquet(pa.table({"product_code": [CONSUMABLE, DRUG], "name": ["气管\u202e架支", "阿托伐他汀钙片"],
                              "spec": ["全覆膜", "20mg*7片"], "units_per_pack": [1.0, 7.0],
                              "manufacturer_code": [MANUFACTURER, None], "category": ["consumable", "drug"]}))


FILES["products_control.parquet"] = _products_control


def corrupt_parquet() -> bytes:
    """A valid footer over data pages whose bytes were overwritten: DuckDB fails while reading the rows."""
    data = bytearray(_parquet(_orders_table([row(i) for i in range(1, 30)])))
    for at in range(8, 400):
        data[at] = 0xFF
    return bytes(data)


FILES["orders_corrupt.parquet"] = corrupt_parquet
FILES["orders_cut.parquet"] = lambda: _parquet(_orders_table(GOOD3))[:200]


def main() -> None:
    for name, make in sorted(FILES.items()):
        (HERE / name).write_bytes(make())
    print(f"{len(FILES)} files written to {HERE}")


if __name__ == "__main__":
    main()
