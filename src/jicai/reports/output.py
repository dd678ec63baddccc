"""Write a :class:`~jicai.reports.documents.Report` in any format: the one door every command and page uses.

xlsx (a cover and one sheet per list, one style), html and pdf (the same layout, charts inline), csv (one
file per list) and json (one document). ``write`` takes one format and a path; ``write_report`` writes several
formats as ``<stem>.<fmt>`` in a folder.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from jicai.reports.documents import Report

FORMATS = ("xlsx", "html", "pdf")
ALL_FORMATS = ("xlsx", "csv", "json", "html", "pdf")


def _writers() -> dict[str, Callable[[Report, Path], Path]]:
    # imported here: pdf pulls in WeasyPrint, which only the pdf format needs
    from jicai.reports.html import write_html
    from jicai.reports.pdf import write_pdf
    from jicai.reports.tabular import write_csv, write_json
    from jicai.reports.xlsx import write_xlsx

    return {"xlsx": write_xlsx, "csv": write_csv, "json": write_json, "html": write_html, "pdf": write_pdf}


def write(report: Report, fmt: str, path: str | Path) -> Path:
    """``report`` as ``fmt`` at ``path``; raises ReportError (e.g. PdfUnavailable)."""
    return _writers()[fmt](report, Path(path))


def write_report(report: Report, folder: str | Path, stem: str, formats: Iterable[str] = FORMATS) -> list[Path]:
    """The files written, in the order of ``formats``; raises ReportError (e.g. PdfUnavailable)."""
    folder = Path(folder)
    return [write(report, f, folder / f"{stem}.{f}") for f in formats]
