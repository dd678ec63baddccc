"""The command line's reports (``jicai report monthly|quarterly|annual|summary``) as downloads, cached per arguments
(the report's computed-at is that of the cached file)."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from urllib.parse import quote

from jicai import calendar, clock
from jicai.web import query
from jicai.web.data import DataService
from jicai.web.datasets import DatasetError

MEDIA = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         "html": "text/html; charset=utf-8", "pdf": "application/pdf"}


def build_report_file(data: DataService, kind: str, fmt: str, as_of: date | None, batch: str | None,
                      year: int | None) -> tuple[bytes, str, str]:
    from jicai.policy.registry import resolve_policy
    from jicai.reports.documents import ReportError
    from jicai.reports.output import write_report

    day = query.day(as_of) or data.data_end()  # within its window: no report of 9999 (a 422, not an overflow)
    if batch or kind == "annual":
        batch = query.batch(batch, data)  # a batch the warehouse holds, never an arbitrary string
    computed_at = clock.stamp()
    if kind == "monthly":
        from jicai.reports.monthly import monthly_report

        stem = f"月度监测_{day.isoformat()}"
        build = lambda wh, p: monthly_report(wh, day, batch, p, computed_at)  # noqa: E731
    elif kind == "quarterly":
        from jicai.reports.quarterly import quarterly_report

        q = calendar.quarter_of(day)
        stem = f"季度通报_{calendar.quarter_label(day.year, q)}"
        build = lambda wh, p: quarterly_report(wh, day.year, q, batch, p, computed_at)  # noqa: E731
    else:
        from jicai.reports.annual import annual_report

        year = query.cycle_year(year) or 1
        stem = f"年度考核_{batch}_第{year}年度"
        build = lambda wh, p: annual_report(wh, batch, year, p, None, computed_at)  # noqa: E731

    def make(wh) -> bytes:
        policy = resolve_policy(data.data_dir, wh, batch, None)
        report = build(wh, policy)
        with tempfile.TemporaryDirectory() as d:
            [path] = write_report(report, Path(d), stem, [fmt])
            return path.read_bytes()

    try:
        # computed in the background and kept until the data change: a retry after "computing" finds it
        body = data.value(("report", kind, fmt, day.isoformat(), batch, year), make)
    except ReportError as exc:
        raise DatasetError(exc.zh, exc.en) from exc
    return body, MEDIA[fmt], quote(f"{stem}.{fmt}")


def build_summary_file(data: DataService, kind: str, code: str, fmt: str, as_of: date | None) -> tuple[bytes, str, str]:
    """The one-page summary (:mod:`jicai.reports.summary`) of an institution (``kind="institution"``) or a region,
    cached per arguments like the reports; the caller has checked the principal may see it."""
    from jicai.policy.registry import resolve_policy
    from jicai.reports.documents import ReportError
    from jicai.reports.output import write_report
    from jicai.reports.summary import summary_report

    day = query.day(as_of) or data.data_end()
    computed_at = clock.stamp()
    stem = f"一页摘要_{code}_{day.isoformat()}"
    args = {"institution": code} if kind == "institution" else {"region": code}

    def make(wh) -> bytes:
        policy = resolve_policy(data.data_dir, wh, None, None)
        report = summary_report(wh, day, policy=policy, computed_at=computed_at, **args)
        with tempfile.TemporaryDirectory() as d:
            [path] = write_report(report, Path(d), stem, [fmt])
            return path.read_bytes()

    try:
        body = data.value(("summary", kind, code, fmt, day.isoformat()), make)
    except ReportError as exc:
        raise DatasetError(exc.zh, exc.en) from exc
    return body, MEDIA[fmt], quote(f"{stem}.{fmt}")
