"""A report as an Excel workbook: a cover sheet with the paragraphs, then one sheet per list.

Each list sheet has Chinese headers (the English meaning as the header's comment), number formats by
column kind (percentages as %, yuan with thousands separators and 2 decimals, a unit price with 4 and not
rounded to the fen), booleans as 是/否 or the names the measure gives them, a frozen header, an autofilter,
column widths from the content, and a bold 合计 row: additive columns are Excel SUM formulas whose cached
value is the measure's own total, ratio columns the measure's ratio of sums.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from jicai.measures.monitor import STATUS
from jicai.reports.documents import LEVELS, Column, Report, Table, beijing_minute, fixed
from jicai.reports.html import cell

NUMBER_FORMATS = {"pct": "0.0%", "pp": "0.0", "money": "#,##0.00", "price": "#,##0.0000", "volume": "#,##0",
                  "int": "0", "rank": "0", "score": "0.0", "date": "yyyy-mm-dd"}
WIDTHS = {"pct": 10, "pp": 12, "money": 16, "price": 12, "volume": 14, "int": 9, "rank": 7, "score": 8, "date": 11,
          "bool": 8, "level": 8, "status": 13}


def _display_len(s: str) -> int:
    """Width in Excel character units: a Chinese character is about two."""
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in s)


def column_width(t: Table, c: Column) -> float:
    """As wide as the widest value as shown (a code by its Chinese name, a number with its separators, a
    Chinese character two units), the totals cell and the header (which wraps onto two lines if it must), so
    that no name is cut; within reason (a very long text wraps in the cell)."""
    shown = [cell(c.show(r.get(c.name)), c.kind) for r in t.rows[:2000]]
    if t.totals is not None and t.totals.get(c.name) is not None:
        shown.append(cell(t.totals[c.name], c.kind))
    content = max([_display_len(x) for x in shown] + [4]) + 2
    header = _display_len(c.zh)
    header = header / 2 + 2 if header > 12 else header + 3  # a long header wraps over two lines
    return min(max(content, header, WIDTHS.get(c.kind, 8)), 80)


def _excel_col(j: int) -> str:
    s = ""
    j += 1
    while j:
        j, r = divmod(j - 1, 26)
        s = chr(65 + r) + s
    return s


# decimals a cell keeps: what the format shows and a little more, never a float's residue (0.1000000000112777)
DECIMALS = {"pct": 6, "pp": 4, "price": 6, "volume": 3, "score": 4}


def _value(c: Column, v: Any) -> Any:
    """The cell value: numbers stay numbers (formatted by the cell format), codes become Chinese."""
    v = c.show(v)
    number = isinstance(v, (int, float)) and not isinstance(v, bool)
    if c.kind == "pp" and number:
        return round(v * 100, DECIMALS["pp"])
    if c.kind == "money" and number:
        return float(fixed(v, 2))  # the cell holds the fen the text shows, not the float behind it
    if c.kind in DECIMALS and isinstance(v, float):
        v = round(v, DECIMALS[c.kind])
        return int(v) if c.kind == "volume" and v.is_integer() else v
    if c.kind == "bool":  # named by the measure (合格/不合格) or 是/否
        return v if isinstance(v, str) else ("是" if v else "否")
    if c.kind == "level":
        return LEVELS.get(v, str(v))
    if c.kind == "status":
        return STATUS.get(v, (v,))[0]
    if c.kind == "date" and isinstance(v, date) and not isinstance(v, datetime):
        return datetime(v.year, v.month, v.day)
    if c.kind == "text" and isinstance(v, datetime):  # a time of day: as text, Beijing time to the minute
        return beijing_minute(v)
    return v


def _write_table(wb, t: Table, fmt: dict) -> None:
    ws = wb.add_worksheet(t.title)
    cols = t.columns
    n = len(t.rows)
    for j, c in enumerate(cols):
        ws.write_string(0, j, c.zh, fmt["header"])
        ws.write_comment(0, j, f"{c.name}: {c.en}", {"x_scale": 2})
        ws.set_column(j, j, column_width(t, c), fmt.get(c.kind))
    if any(_display_len(c.zh) > 12 for c in cols):  # a long header wraps (column_width): room for two lines
        ws.set_row(0, 30)
    for i, row in enumerate(t.rows, start=1):
        for j, c in enumerate(cols):
            v = row.get(c.name)
            if v is None or (isinstance(v, float) and v != v):
                continue
            v = _value(c, v)
            if isinstance(v, datetime):
                ws.write_datetime(i, j, v, fmt["date"])
            elif isinstance(v, bool):
                ws.write_string(i, j, "是" if v else "否")
            elif isinstance(v, (int, float)):
                ws.write_number(i, j, v, fmt.get(c.kind))
            else:
                ws.write_string(i, j, str(v))
    last = n + 1  # the totals row (0-based index), right under the data
    if t.totals is not None:
        ws.write_string(last, 0, "合计", fmt["total"])
        for j, c in enumerate(cols[1:], start=1):
            v = t.totals.get(c.name)
            cf = fmt[f"total_{c.kind}"] if f"total_{c.kind}" in fmt else fmt["total"]
            if c.total:
                col = _excel_col(j)
                cached = _value(c, v if v is not None else 0)
                ws.write_formula(last, j, f"=SUM({col}2:{col}{n + 1})", cf, cached)
            elif v is not None and not (isinstance(v, float) and v != v) and c.kind in NUMBER_FORMATS:
                ws.write_number(last, j, _value(c, v), cf)
            else:
                ws.write_blank(last, j, None, cf)
    if t.note:
        ws.write_string(last + 2, 0, t.note, fmt["note"])
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, max(n, 1), len(cols) - 1)


def _write_cover(wb, report: Report, fmt: dict) -> None:
    ws = wb.add_worksheet("封面")
    ws.set_column(0, 0, 18)
    ws.set_column(1, 1, 100)
    ws.set_row(0, 30)
    ws.write_string(0, 0, report.title, fmt["title"])
    r = 2
    for k, v in report.cover:
        ws.write_string(r, 0, k, fmt["header"])
        ws.write_string(r, 1, v)
        r += 1
    if report.headline:
        r += 1
        ws.write_string(r, 0, "主要指标", fmt["section"])
        r += 1
        for k, v in report.headline:
            ws.write_string(r, 0, k, fmt["header"])
            ws.write_string(r, 1, v)
            r += 1
    r += 1
    ws.write_string(r, 0, "正文", fmt["section"])
    r += 1
    for p in report.paragraphs:
        ws.write_string(r, 1, p, fmt["para"])
        ws.set_row(r, 15 * max(1, -(-_display_len(p) // 95)))  # wrapped lines of ~95 units at width 100
        r += 1
    if report.tables:
        r += 1
        ws.write_string(r, 0, "附表", fmt["section"])
        r += 1
        for t in report.tables:
            ws.write_url(r, 0, f"internal:'{t.title}'!A1", string=t.title)
            ws.write_string(r, 1, f"{len(t.rows)} 项" + (f"；{t.note}" if t.note else ""), fmt["para"])
            r += 1
    for note in report.notes:
        r += 1
        ws.write_string(r, 1, note, fmt["note"])


def write_xlsx(report: Report, path: str | Path) -> Path:
    import xlsxwriter

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(str(path))
    wb.set_properties({"title": f"{report.title}（{report.period}）", "subject": report.policy_label,
                       "author": "jicai", "comments": f"policy {report.policy_version}; as of {report.as_of}"})
    fmt: dict[str, Any] = {k: wb.add_format({"num_format": v}) for k, v in NUMBER_FORMATS.items()}
    fmt["header"] = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True,
                                   "valign": "vcenter"})
    fmt["total"] = wb.add_format({"bold": True, "bg_color": "#F2F2F2", "top": 1})
    for k, v in NUMBER_FORMATS.items():
        fmt[f"total_{k}"] = wb.add_format({"bold": True, "bg_color": "#F2F2F2", "top": 1, "num_format": v})
    fmt["title"] = wb.add_format({"bold": True, "font_size": 16})
    fmt["section"] = wb.add_format({"bold": True, "font_size": 12, "font_color": "#1F4E79"})
    fmt["para"] = wb.add_format({"text_wrap": True, "valign": "top"})
    fmt["note"] = wb.add_format({"italic": True, "font_color": "#595959"})
    _write_cover(wb, report, fmt)
    for t in report.tables:
        _write_table(wb, t, fmt)
    wb.close()
    return path
