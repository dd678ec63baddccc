"""A dataset's rows as a file, written by the one output pipeline (:mod:`jicai.reports.output`): xlsx (the
report workbook: Chinese headers, formats by column kind, cover sheet) or csv (the canonical column names and
codes, UTF-8 with BOM so that Excel opens it) — the same files as the command line's."""

from __future__ import annotations

import tempfile
from pathlib import Path
from urllib.parse import quote

import pyarrow as pa

from jicai import clock
from jicai.web.datasets import Dataset


def export_rows(ds: Dataset, rows: pa.Table, params: dict, fmt: str,
                reasons: list[str] | None = None) -> tuple[bytes, str, str]:
    """``(body, media type, quoted file name)``: the caller's rows of a registered measure through the same
    writers as ``jicai <command> --format csv|xlsx`` (one style; csv keeps codes, xlsx shows their names).
    ``reasons`` (one per row) add the page's 判定依据 column to the workbook: a flag never travels without why."""
    from jicai.reports.documents import Column, Report, measure_table
    from jicai.reports.output import write

    m = ds.measure
    stem = "_".join([ds.name, *(str(v) for v in params.values())])
    report = Report(kind=m.name, title=m.title_zh, period=" ".join(str(v) for v in params.values()),
                    as_of=params.get("as_of") or clock.today(), batch_id=params.get("batch"), policy_version="",
                    computed_at=clock.stamp(), paragraphs=[p for p in (m.note_zh,) if p], params=dict(params))
    table = measure_table(m, rows.to_pylist(), names=rows.schema.names)
    if reasons is not None and fmt == "xlsx":
        table.columns.append(Column("reason_zh", "判定依据", "why: rule, threshold, value and policy clause", "text"))
        for row, why in zip(table.rows, reasons, strict=True):
            row["reason_zh"] = why
    report.tables = [table]
    with tempfile.TemporaryDirectory() as d:
        body = write(report, fmt, Path(d) / f"export.{fmt}").read_bytes()
    if fmt == "csv":
        return body, "text/csv; charset=utf-8", quote(f"{stem}.csv")
    return body, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", quote(f"{ds.title_zh}_{stem}.xlsx")
