"""Read announcement worksheets as they come from the field: title rows above the header, header cells
broken over two lines, merged cells, formulas without cached values, '-' for missing and float noise.

A :class:`Grid` is a sheet's values with merged ranges filled from their top-left cell and simple
formulas (``=B2``, ``=H3/7``, ``=I3/J3-1``) evaluated when the file carries no cached value. Header
detection and cell cleaning are pure functions so they can be tested on tiny workbooks.
"""

from __future__ import annotations

import ast
import math
import operator
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import openpyxl
from openpyxl.utils import column_index_from_string

PRECISION = 6  # decimal places kept of prices and volumes: 8.8571000000000009 → 8.8571
MISSING = frozenset({"", "-", "--", "—", "——", "－", "/", "无", "N/A", "NA", "n/a", "null", "None"})
# Placeholder the announcements put where a bid price is void ("99999").
SENTINELS = frozenset({99999.0, 999999.0})


@dataclass
class Grid:
    """One worksheet as a list of rows (1-based row numbers kept in ``row_numbers``)."""

    title: str
    rows: list[list[object]]
    merged: list[tuple[int, int, int, int]] = field(default_factory=list)  # min_row, min_col, max_row, max_col
    formulas_evaluated: int = 0
    formulas_failed: int = 0

    def value(self, row: int, col: int) -> object:
        """Value at 1-based (row, col); None outside the grid."""
        if 1 <= row <= len(self.rows) and 1 <= col <= len(self.rows[row - 1]):
            return self.rows[row - 1][col - 1]
        return None

    def in_merge_below(self, row: int, col: int) -> bool:
        """Whether (row, col) is a non-top cell of a vertical merge (its value was carried down)."""
        return any(r0 < row <= r1 and c0 <= col <= c1 for r0, c0, r1, c1 in self.merged)


# -- formulas ------------------------------------------------------------------------------------
_REF = re.compile(r"\$?([A-Z]{1,3})\$?(\d+)")
_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


def _eval_node(node: ast.AST, cell) -> object:
    if isinstance(node, ast.Expression):
        return _eval_node(node.body, cell)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return node.value
    if isinstance(node, ast.Name):
        m = _REF.fullmatch(node.id)
        if not m:
            raise ValueError(node.id)
        return cell(int(m.group(2)), column_index_from_string(m.group(1)))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_eval_node(node.operand, cell)  # type: ignore[operator]
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        left, right = _eval_node(node.left, cell), _eval_node(node.right, cell)
        return _OPS[type(node.op)](left, right)
    raise ValueError(ast.dump(node))


def evaluate_formula(formula: str, cell) -> object:
    """Evaluate a formula made of cell references, numbers and + - * / (``cell(row, col)`` gives values).

    >>> evaluate_formula("=H3/7", lambda r, c: 6.3 if (r, c) == (3, 8) else None)
    0.9
    >>> evaluate_formula("=B2", lambda r, c: "阿托伐他汀")
    '阿托伐他汀'
    """
    expr = formula.lstrip("=").replace("$", "")
    return _eval_node(ast.parse(expr, mode="eval"), cell)


def read_sheets(path: Path) -> list[Grid]:
    """Every worksheet of an .xlsx file, merged cells filled, formulas resolved; the archive is first held to the
    importer's limits (a zip bomb is refused before openpyxl inflates it, :func:`jicai.ingest.xlsx.survey`)."""
    from jicai.ingest.readers import FileInfo
    from jicai.ingest.xlsx import survey

    survey(FileInfo(Path(path), "xlsx", "", Path(path).stat().st_size))
    wb_f = openpyxl.load_workbook(path, data_only=False)
    wb_v = openpyxl.load_workbook(path, data_only=True)
    grids = []
    for ws_f, ws_v in zip(wb_f.worksheets, wb_v.worksheets, strict=True):
        grids.append(_grid(ws_f, ws_v))
    return grids


def _grid(ws_f, ws_v) -> Grid:
    n_rows, n_cols = ws_f.max_row, ws_f.max_column
    formulas: dict[tuple[int, int], str] = {}
    rows: list[list[object]] = []
    for r_f, r_v in zip(ws_f.iter_rows(max_row=n_rows, max_col=n_cols), ws_v.iter_rows(max_row=n_rows, max_col=n_cols),
                        strict=True):
        row = []
        for c_f, c_v in zip(r_f, r_v, strict=True):
            v = c_v.value
            if v is None and isinstance(c_f.value, str) and c_f.value.startswith("="):
                formulas[(c_f.row, c_f.column)] = c_f.value
            row.append(v)
        rows.append(row)
    grid = Grid(ws_f.title, rows)
    for rng in ws_f.merged_cells.ranges:
        grid.merged.append((rng.min_row, rng.min_col, rng.max_row, rng.max_col))
    _resolve_formulas(grid, formulas)
    for r0, c0, r1, c1 in grid.merged:
        top = grid.value(r0, c0)
        for r in range(r0, r1 + 1):
            for c in range(c0, c1 + 1):
                if (r, c) != (r0, c0) and r <= len(rows) and c <= n_cols:
                    rows[r - 1][c - 1] = top
    return grid


def _resolve_formulas(grid: Grid, formulas: dict[tuple[int, int], str]) -> None:
    done: dict[tuple[int, int], object] = {}

    def cell(r: int, c: int, depth: int = 0) -> object:
        if (r, c) in formulas:
            if (r, c) not in done:
                if depth > 50:
                    raise ValueError("formula chain too deep")
                done[(r, c)] = evaluate_formula(formulas[(r, c)], lambda rr, cc: cell(rr, cc, depth + 1))
            return done[(r, c)]
        return grid.value(r, c)

    for (r, c) in sorted(formulas):
        try:
            grid.rows[r - 1][c - 1] = cell(r, c)
            grid.formulas_evaluated += 1
        except (ValueError, TypeError, ZeroDivisionError, SyntaxError):
            grid.formulas_failed += 1


# -- header detection ----------------------------------------------------------------------------
def header_text(v: object) -> str:
    """Header cell as one comparable string: NFKC, no whitespace or line breaks.

    >>> header_text("中标前中位价\\n（最小规格）（元）")
    '中标前中位价(最小规格)(元)'
    """
    if v is None:
        return ""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(v)))


def find_header(grid: Grid, wanted: dict[str, tuple[str, ...]], *, min_hits: int = 2,
                scan: int = 20) -> tuple[int, dict[str, int]] | None:
    """The first row among the top ``scan`` rows that names at least ``min_hits`` of the wanted fields.

    ``wanted`` maps a field to header prefixes (compared after :func:`header_text`); returns the
    1-based header row and field → 1-based column (first column whose header starts with a prefix).
    """
    best: tuple[int, dict[str, int]] | None = None
    for r in range(1, min(scan, len(grid.rows)) + 1):
        cols: dict[str, int] = {}
        for c, v in enumerate(grid.rows[r - 1], start=1):
            h = header_text(v)
            if not h:
                continue
            for name, prefixes in wanted.items():
                if name not in cols and any(h.startswith(header_text(p)) for p in prefixes):
                    cols[name] = c
                    break
        if len(cols) >= min_hits and (best is None or len(cols) > len(best[1])):
            best = (r, cols)
            if len(cols) == len(wanted):
                break
    return best


def is_header_repeat(row: list[object], header: list[object]) -> bool:
    """A header line repeated inside the data (page breaks of a printed table)."""
    h = [header_text(v) for v in header if header_text(v)]
    r = [header_text(v) for v in row if header_text(v)]
    return bool(h) and r == h


# -- cell cleaning -------------------------------------------------------------------------------
def clean_text(v: object) -> str | None:
    """Stripped text with inner line breaks removed; '-' and friends → None."""
    if v is None:
        return None
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    s = str(v).replace("\r", "").replace("\n", "").strip()
    s = re.sub(r"[ \u3000]{2,}", " ", s)
    return None if s in MISSING else s


def clean_number(v: object, *, sentinels: bool = True) -> float | None:
    """A number rounded to :data:`PRECISION` decimals; '-', blanks and void placeholders → None.

    >>> clean_number(8.8571000000000009), clean_number("-"), clean_number(" 1,234.5 "), clean_number(99999)
    (8.8571, None, 1234.5, None)
    """
    if v is None or isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        x = float(v)
    else:
        s = unicodedata.normalize("NFKC", str(v)).strip().replace(",", "")
        if s in MISSING:
            return None
        try:
            x = float(s)
        except ValueError:
            return None
    if not math.isfinite(x) or (sentinels and x in SENTINELS):
        return None
    return round(x, PRECISION) + 0.0


def clean_bool(v: object) -> bool | None:
    s = clean_text(v)
    if s is None:
        return None
    if s in ("是", "Y", "y", "1", "true", "True", "中选", "中标"):
        return True
    if s in ("否", "N", "n", "0", "false", "False", "未中选", "未中标", "流标"):
        return False
    return None
