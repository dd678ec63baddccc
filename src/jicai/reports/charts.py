"""Small inline SVG charts for the HTML and PDF reports: no library, no network, any CJK font.

Two charts a reader looks at rather than reads: completion against 序时进度 (a bar per city or level
with a tick at the time progress, bars behind it in red) and non-selected share (a bar per level with
the policy's limit as a dashed line). Each returns a complete ``<svg>`` element; WeasyPrint draws the same
SVG into the PDF.
"""

from __future__ import annotations

import math
import re
from html import escape

from jicai.reports.fonts import FONT_STACK

BLUE, RED, GREY, DARK, LIGHT = "#4472c4", "#c0504d", "#7f7f7f", "#262626", "#d9d9d9"
LABEL_W, BAR_W, VALUE_W, ROW_H, BOTTOM = 130, 380, 70, 22, 30
WIDTH = LABEL_W + BAR_W + VALUE_W
TITLE_SIZE, TITLE_LINE, LEGEND_SIZE, LEGEND_ROW = 13, 18, 10, 18


def text_width(s: str, size: float) -> float:
    """Width of ``s`` in pixels at font ``size``: a CJK character (or full-width punctuation) is one em, other
    characters about 0.6 em — wide enough for the Latin glyphs of Noto Sans CJK, so nothing is measured short.

    >>> text_width("完成率", 10), text_width("GJ-YP", 10)
    (30, 30.0)
    """
    return sum(size if ord(ch) > 0x2E7F else size * 0.6 for ch in s)


OPENING = "（(【[《“‘"


def wrap(text: str, width: float, size: float) -> list[str]:
    """``text`` broken into lines no wider than ``width`` (at a space or between CJK characters; a Latin word
    is not split unless it alone is too wide): a chart title is never cut, whatever its length.

    >>> wrap("各地市完成率与序时进度（第一批）", 100, 13)
    ['各地市完成率与', '序时进度（第一', '批）']
    >>> wrap("各地市完成率（GJ-YP-JX）", 100, 13)
    ['各地市完成率', '（GJ-YP-JX）']
    """
    lines, line = [], ""
    for token in re.findall(r"[A-Za-z0-9.\-_%]+|\s+|.", text):
        if line and text_width(line + token, size) > width:
            carry = ""
            while line and line[-1] in OPENING:  # an opening bracket goes down with what it opens
                line, carry = line[:-1], line[-1] + carry
            lines.append(line.rstrip())
            line = carry + token.lstrip()
        else:
            line += token
    return [*lines, line.rstrip()] if line.strip() else lines


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.1f}%"


def _scale_max(values: list[float | None]) -> float:
    """1.0 (100%), or the next quarter above the largest value when something exceeds it."""
    top = max([v for v in values if v is not None] + [1.0])
    return math.ceil(top * 4 - 1e-9) / 4


def _frame(title: str, n: int, legend: list[tuple[str, str]], axis) -> tuple[list[str], int]:
    """The chart's frame: the title wrapped over as many lines as it needs, the legend on its own row under it
    (so the two never overlap), then the axis; returns the parts and ``top``, the y of the first bar row."""
    lines = wrap(title, WIDTH, TITLE_SIZE)
    legend_y = 4 + TITLE_LINE * len(lines)
    top = legend_y + LEGEND_ROW + 8
    height = top + max(n, 1) * ROW_H + BOTTOM
    font = escape(FONT_STACK, quote=True)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" font-family="{font}" font-size="11" role="img" '
        f'aria-label="{escape(title, quote=True)}">',
        f"<title>{escape(title)}</title>",
        *(f'<text x="0" y="{14 + TITLE_LINE * i}" font-size="{TITLE_SIZE}" font-weight="bold" fill="{DARK}">'
          f"{escape(line)}</text>" for i, line in enumerate(lines)),
        _legend(legend, legend_y),
        axis(top),
    ]
    if n == 0:
        parts.append(f'<text x="{LABEL_W}" y="{top + 15}" fill="{GREY}">无数据</text>')
    return parts, top


def _axis(scale: float, n: int, top: int) -> str:
    """Gridlines every 25% from 0 to ``scale``, labelled under the bars."""
    y0, y1 = top - 4, top + max(n, 1) * ROW_H
    out = []
    steps = round(scale / 0.25)
    for i in range(steps + 1):
        v = i * 0.25
        x = LABEL_W + BAR_W * v / scale
        out.append(f'<line x1="{x:.1f}" y1="{y0}" x2="{x:.1f}" y2="{y1}" stroke="{LIGHT}" stroke-width="1"/>')
        out.append(f'<text x="{x:.1f}" y="{y1 + 14}" text-anchor="middle" fill="{GREY}" font-size="10">'
                   f"{v * 100:.0f}%</text>")
    return "".join(out)


def _legend(items: list[tuple[str, str]], y: int) -> str:
    """The legend's swatches and names in one row from the left edge of the bars, each name measured."""
    out, x = [], float(LABEL_W)
    for label, swatch in items:
        out.append(f'<g transform="translate({x:.0f},{y})">{swatch}<text x="14" y="9" fill="{DARK}" '
                   f'font-size="{LEGEND_SIZE}">{escape(label)}</text></g>')
        x += 14 + text_width(label, LEGEND_SIZE) + 16
    return "".join(out)


def progress_chart(title: str, items: list[tuple[str, float | None, float | None]]) -> str:
    """Bars of completion with a tick at 序时进度, one row per ``(label, completion, time_progress)``."""
    scale = _scale_max([v for _, c, t in items for v in (c, t)])
    legend = [("完成率", f'<rect width="10" height="10" fill="{BLUE}"/>'),
              ("低于序时进度", f'<rect width="10" height="10" fill="{RED}"/>'),
              ("序时进度", f'<rect x="4" width="2" height="10" fill="{DARK}"/>')]
    parts, top = _frame(title, len(items), legend, lambda top: _axis(scale, len(items), top))
    for i, (label, completion, progress) in enumerate(items):
        y = top + i * ROW_H
        behind = completion is not None and progress is not None and completion < progress
        parts.append(f'<text x="{LABEL_W - 6}" y="{y + 14}" text-anchor="end" fill="{DARK}">{escape(label)}</text>')
        if completion is not None:
            w = BAR_W * min(completion, scale) / scale
            parts.append(f'<rect x="{LABEL_W}" y="{y + 4}" width="{w:.1f}" height="{ROW_H - 8}" '
                         f'fill="{RED if behind else BLUE}"><title>{escape(label)} 完成率 {_pct(completion)}</title></rect>')
        if progress is not None:
            x = LABEL_W + BAR_W * min(progress, scale) / scale
            parts.append(f'<line x1="{x:.1f}" y1="{y + 1}" x2="{x:.1f}" y2="{y + ROW_H - 1}" stroke="{DARK}" '
                         f'stroke-width="2"><title>序时进度 {_pct(progress)}</title></line>')
        parts.append(f'<text x="{LABEL_W + BAR_W + 6}" y="{y + 14}" fill="{DARK}">{_pct(completion)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def share_chart(title: str, items: list[tuple[str, float | None]], limit: float | None,
                series: str = "非中选占比") -> str:
    """Bars of a share (0–100%), one row per ``(label, share)``; with ``limit``, a dashed line there and
    the bars above it in red."""
    scale = 1.0
    legend_items = [(series, f'<rect width="10" height="10" fill="{BLUE}"/>')]
    if limit is not None:
        legend_items += [("超过上限", f'<rect width="10" height="10" fill="{RED}"/>'),
                         (f"上限 {_pct(limit)}", f'<line x1="5" y1="0" x2="5" y2="10" stroke="{RED}" '
                                                f'stroke-dasharray="2,2" stroke-width="2"/>')]
    parts, top = _frame(title, len(items), legend_items, lambda top: _axis(scale, len(items), top))
    for i, (label, share) in enumerate(items):
        y = top + i * ROW_H
        parts.append(f'<text x="{LABEL_W - 6}" y="{y + 14}" text-anchor="end" fill="{DARK}">{escape(label)}</text>')
        if share is not None:
            w = BAR_W * min(share, scale) / scale
            color = RED if limit is not None and share > limit else BLUE
            parts.append(f'<rect x="{LABEL_W}" y="{y + 4}" width="{w:.1f}" height="{ROW_H - 8}" fill="{color}">'
                         f"<title>{escape(label)} {escape(series)} {_pct(share)}</title></rect>")
        parts.append(f'<text x="{LABEL_W + BAR_W + 6}" y="{y + 14}" fill="{DARK}">{_pct(share)}</text>')
    if limit is not None:
        x = LABEL_W + BAR_W * limit / scale
        parts.append(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{top + max(len(items), 1) * ROW_H}" '
                     f'stroke="{RED}" stroke-width="1.5" stroke-dasharray="4,3"/>')
    parts.append("</svg>")
    return "".join(parts)
