"""A report as one self-contained HTML file: styles inline, charts as inline SVG, no external URL.

The same HTML is what pdf.py prints, so the web page a bureau mails around and the PDF it files show the
same figures in the same layout. Templates: ``templates/report.html`` and ``templates/report.css``.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from importlib.resources import files
from pathlib import Path

import jinja2

from jicai.measures.monitor import STATUS
from jicai.reports.documents import LEVELS, Report, beijing_minute, fixed
from jicai.reports.fonts import FONT_STACK

NUMERIC = ("pct", "pp", "money", "price", "volume", "int", "rank", "score")


def cell(value, kind: str, blank: bool = False) -> str:
    """A value as a reader sees it in a table (``blank``: empty instead of — for a missing value)."""
    if value is None or (isinstance(value, float) and value != value):
        return "" if blank else "—"
    if kind in NUMERIC and (isinstance(value, bool) or not isinstance(value, (int, float))):
        return str(value)  # a figure given as text (a blank rank, a note): shown as it is
    if kind == "pct":
        return f"{fixed(value * 100, 1)}%"
    if kind == "pp":
        return fixed(value * 100, 1)
    if kind == "money":
        return fixed(value, 2, sep=True)
    if kind == "price":
        return fixed(value, 4, sep=True)
    if kind == "volume":
        return fixed(value, 0, sep=True)
    if kind in ("int", "rank"):
        return f"{int(value):,}"
    if kind == "score":
        return fixed(value, 1)
    if kind == "date":
        return value.date().isoformat() if isinstance(value, datetime) else str(value)
    if kind == "bool":  # named by the measure (合格/不合格) or 是/否
        return value if isinstance(value, str) else ("是" if value else "否")
    if kind == "level":
        return LEVELS.get(int(value), str(value)) if isinstance(value, int) else str(value)
    if kind == "status":
        return STATUS.get(value, (value,))[0]
    if isinstance(value, datetime):
        return beijing_minute(value)
    return str(value)


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("jicai.reports", "templates"),
                             autoescape=True, trim_blocks=False, lstrip_blocks=False,
                             undefined=jinja2.StrictUndefined)
    env.globals["cell"] = cell
    env.globals["beijing_minute"] = beijing_minute
    return env


def render_html(report: Report) -> str:
    css = (files("jicai.reports") / "templates" / "report.css").read_text(encoding="utf-8")
    css = css.replace("FONTS", FONT_STACK)
    return _environment().get_template("report.html").render(r=report, css=css)


def write_html(report: Report, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report), encoding="utf-8")
    return path


__all__ = ["cell", "render_html", "write_html"]
