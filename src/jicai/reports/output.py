"""Write one report in the formats asked for: ``<stem>.xlsx``, ``<stem>.html``, ``<stem>.pdf`` in a folder."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from jicai.reports.documents import Report

FORMATS = ("xlsx", "html", "pdf")


def write_report(report: Report, folder: str | Path, stem: str, formats: Iterable[str] = FORMATS) -> list[Path]:
    """The files written, in the order of ``formats``; raises ReportError (e.g. PdfUnavailable)."""
    from jicai.reports.html import write_html
    from jicai.reports.pdf import write_pdf
    from jicai.reports.xlsx import write_xlsx

    writers = {"xlsx": write_xlsx, "html": write_html, "pdf": write_pdf}
    folder = Path(folder)
    return [writers[f](report, folder / f"{stem}.{f}") for f in formats]
