"""A report as data files: csv (one file per list) and json (one document with every list).

These are the machine formats: values stay as the measure computed them — codes, not their Chinese names;
dates in ISO 8601; booleans ``true``/``false``; a missing value empty (csv) or ``null`` (json); floats with
at most 15 decimals, so binary noise (0.8470000000000001) does not reach a reader's spreadsheet. The first
list goes to the path asked for; each further list of a csv report to ``<stem>_<key>.csv`` beside it.

A csv text cell that a spreadsheet would read as a formula (it starts with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return) is led by a single quote, per OWASP's CSV-injection advice: a name such as
``=HYPERLINK(…)`` from an imported file must not run when a bureau opens the export in Excel. Only text is
quoted: a number, a negative one too, is written as the number it is.

>>> from jicai.reports.documents import Column, Table
>>> t = Table("rows", "清单", [Column("a", "甲", "a"), Column("ok", "是否", "ok", "bool")],
...           [{"a": 0.1 + 0.2, "ok": True}, {"a": None, "ok": False}])
>>> csv_text(t).splitlines()
['a,ok', '0.3,true', ',false']
"""

from __future__ import annotations

import csv
import json
import math
from datetime import date, datetime
from pathlib import Path
from typing import Any

from jicai.reports.documents import Report, Table


def plain(v: Any) -> Any:
    """A value as the machine formats hold it (see the module docstring)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, bool):
        return v
    if isinstance(v, float):
        return round(v, 15) + 0.0  # + 0.0: no "-0.0"
    if isinstance(v, datetime):
        return v.isoformat(sep=" ", timespec="seconds") if v.microsecond == 0 else v.isoformat(sep=" ")
    if isinstance(v, date):
        return v.isoformat()
    return v


# the leading characters that make Excel, LibreOffice and Google Sheets read a csv cell as a formula (OWASP)
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(text: str) -> str:
    """``text`` as a csv cell no spreadsheet runs: led by ``'`` when it starts like a formula.

    >>> csv_safe("=SUM(1+1)"), csv_safe("-2+3"), csv_safe("阿托伐他汀")
    ("'=SUM(1+1)", "'-2+3", '阿托伐他汀')
    """
    return "'" + text if text.startswith(FORMULA_LEADS) else text


def _csv_cell(v: Any) -> str:
    v = plain(v)
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return csv_safe(v)
    return str(v)  # a number (int, float, Decimal): never quoted, so -200.0 stays a number


class _Records(list):
    """The csv writer's output, one string per row (it writes each row whole)."""

    write = list.append


def csv_text(t: Table) -> str:
    # rows end in "\n", but the writer quotes only the characters of its own line terminator: written with
    # "\r\n", a text holding a lone CR (or LF) is quoted too instead of breaking its row in a reader's hands
    records = _Records()
    w = csv.writer(records, lineterminator="\r\n")
    names = [c.name for c in t.columns]
    w.writerow(names)
    for r in t.rows:
        w.writerow([_csv_cell(r.get(n)) for n in names])
    return "".join(f"{rec[:-2]}\n" for rec in records)


def csv_paths(report: Report, path: Path) -> list[Path]:
    return [path if i == 0 else path.with_name(f"{path.stem}_{t.key}.csv") for i, t in enumerate(report.tables)]


def write_csv(report: Report, path: str | Path) -> Path:
    """Every list of ``report`` as csv (UTF-8 with a BOM, so Excel opens Chinese text); returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for t, p in zip(report.tables, csv_paths(report, path), strict=True):
        p.write_text(csv_text(t), encoding="utf-8-sig")
    if not report.tables:
        path.write_text("", encoding="utf-8-sig")
    return path


def json_document(report: Report) -> dict[str, Any]:
    """The report's facts (its parameters, policy version, time of computation) and its lists' rows."""
    doc: dict[str, Any] = {"title": report.title, "period": report.period}
    doc.update({k: plain(v) for k, v in report.params.items()})
    doc["policy_version"] = report.policy_version
    doc["policy"] = report.policy_label
    doc["computed_at"] = plain(report.computed_at)
    for t in report.tables:
        names = [c.name for c in t.columns]
        doc["rows" if len(report.tables) == 1 else t.key] = [{n: plain(r.get(n)) for n in names} for r in t.rows]
        if t.totals is not None and len(report.tables) > 1:
            doc[f"{t.key}_totals"] = {k: plain(v) for k, v in t.totals.items()}
    return doc


def write_json(report: Report, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(json_document(report), ensure_ascii=False, indent=1), encoding="utf-8")
    return path
