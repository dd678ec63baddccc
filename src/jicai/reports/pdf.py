"""A report as PDF: the HTML of html.py printed by WeasyPrint, Chinese fonts embedded.

WeasyPrint needs Debian's pango (``scripts/setup.sh`` installs it and ``fonts-noto-cjk`` when missing);
when either is absent the caller gets :class:`PdfUnavailable` with a Chinese and English message
instead of a PDF of blank boxes.
"""

from __future__ import annotations

from pathlib import Path

from jicai.reports.documents import Report, ReportError
from jicai.reports.fonts import FontMissing, require_cjk_font
from jicai.reports.html import render_html


class PdfUnavailable(ReportError):
    """No PDF can be printed on this machine (WeasyPrint, pango or a Chinese font is missing)."""


def _weasyprint():
    try:
        import weasyprint
    except (ImportError, OSError) as exc:  # OSError: the library is there but pango is not
        raise PdfUnavailable(f"无法加载 WeasyPrint（请运行 scripts/setup.sh 安装 pango）：{exc}",
                             f"cannot load WeasyPrint (run scripts/setup.sh to install pango): {exc}") from exc
    return weasyprint


def render_pdf(report: Report) -> bytes:
    try:
        require_cjk_font()
    except FontMissing as exc:
        raise PdfUnavailable(exc.zh, exc.en) from exc
    weasyprint = _weasyprint()
    return weasyprint.HTML(string=render_html(report)).write_pdf()


def write_pdf(report: Report, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(render_pdf(report))
    return path
