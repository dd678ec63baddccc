"""A dataset's rows as a file: xlsx (the report workbook: Chinese headers, formats, cover sheet) or csv (the
canonical column names, UTF-8 with BOM so that Excel opens it), like the command line's outputs."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from urllib.parse import quote

import pyarrow as pa
import pyarrow.types as pat

from jicai import clock
from jicai.web.datasets import Dataset


def _kind(name: str, typ: pa.DataType, default: dict[str, str]) -> str:
    if name in default:
        return default[name]
    if pat.is_boolean(typ):
        return "bool"
    if pat.is_integer(typ):
        return "int"
    if pat.is_floating(typ):
        return "money" if "amount" in name or name.endswith("price") else "volume"
    if pat.is_date(typ) or pat.is_timestamp(typ):
        return "date"
    return "text"


def export_rows(ds: Dataset, rows: pa.Table, params: dict, fmt: str) -> tuple[bytes, str, str]:
    """``(body, media type, quoted file name)``."""
    stem = "_".join([ds.name, *(str(v) for v in params.values())])
    if fmt == "csv":
        import pyarrow.csv as pacsv

        buf = io.BytesIO()
        buf.write("\ufeff".encode())
        pacsv.write_csv(rows, buf)
        return buf.getvalue(), "text/csv; charset=utf-8", quote(f"{stem}.csv")
    from jicai.reports.documents import DEFAULT_KINDS, Column, Report, Table
    from jicai.reports.xlsx import write_xlsx

    if ds.measure is not None:  # a registered measure: kinds and the names of coded values from its declaration
        m = ds.measure
        cols = [Column.of(m.column(n), labels=m.labels.get(n)) for n in rows.schema.names]
    else:
        cols = [Column(n, ds.columns[n][0], ds.columns[n][1], _kind(n, rows.schema.field(n).type, DEFAULT_KINDS))
                for n in rows.schema.names]
    as_of = params.get("as_of") or clock.today()
    report = Report(kind=ds.name, title=ds.title_zh, period=" ".join(str(v) for v in params.values()),
                    as_of=as_of, batch_id=params.get("batch"), policy_version="",
                    computed_at=clock.stamp(),
                    paragraphs=[p for p in (ds.note_zh,) if p])
    report.tables = [Table(ds.name, ds.title_zh[:31], cols, rows.to_pylist())]
    with tempfile.TemporaryDirectory() as d:
        path = write_xlsx(report, Path(d) / "export.xlsx")
        body = path.read_bytes()
    return body, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", quote(f"{ds.title_zh}_{stem}.xlsx")
