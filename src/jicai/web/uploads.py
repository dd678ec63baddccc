"""An uploaded file through the same validating importer as ``jicai import``.

The upload is written to a temporary file under its own name (the importer reads the table from the file's
stem, or from the form's table field), imported into the warehouse in one transaction with its quarantine
rows, and the result — rows loaded, rows quarantined with file/row/column/reason in both languages — is
returned for the page. Results of measures are invalidated afterwards.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from jicai.web.data import DataService

MAX_BYTES = 200 * 1024 * 1024
SHOWN_PROBLEMS = 200


def _safe_name(name: str) -> str:
    """The upload's file name without folders or leading dots: ``..``, ``.`` or ``a/..`` would name the
    temporary directory itself (IsADirectoryError), a hidden file is no table."""
    base = Path(name.replace("\\", "/")).name
    base = re.sub(r"[^\w.\-\u4e00-\u9fff]", "_", base)[:120].lstrip(".")
    return base or "upload.csv"


# the importer's advice names the command's option; on the page it is the form's checkbox
CLI_ADVICE = (("请加 --hidden-sheets", "请勾选“导入隐藏的工作表”"), ("add --hidden-sheets", "tick \"import hidden sheets\""))


def _for_the_page(message: str) -> str:
    for cli, form in CLI_ADVICE:
        message = message.replace(cli, form)
    return message


def import_upload(data: DataService, filename: str, body: bytes, table: str | None, *,
                  hidden_sheets: bool = False) -> dict:
    """Import one uploaded file; ``hidden_sheets`` reads an Excel workbook's hidden sheets too (the form's
    checkbox, as ``jicai import --hidden-sheets``; the result says which were read)."""
    from jicai.contract.tables import TABLES
    from jicai.ingest import QUARANTINE, import_paths

    if table and table not in TABLES:
        return {"ok": False, "table": table, "file": filename, "status": "failed", "rows_read": 0,
                "rows_loaded": 0, "rows_quarantined": 0, "messages": [f"未知的表:{table} / unknown table: {table}"],
                "quarantine": []}
    if len(body) > MAX_BYTES:
        return {"ok": False, "table": table, "file": filename, "status": "failed", "rows_read": 0,
                "rows_loaded": 0, "rows_quarantined": 0, "quarantine": [],
                "messages": ["文件超过 200 MB,请用命令行 jicai import / file over 200 MB: use jicai import"]}
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / _safe_name(filename)
        path.write_bytes(body)

        def run(wh):
            try:
                [res] = import_paths(wh, [path], table, hidden_sheets=hidden_sheets)
            except ValueError as exc:
                return None, _for_the_page(str(exc))
            rows = []
            if res.load_id and res.rows_quarantined:
                q = wh.table(QUARANTINE)
                q = q.filter(q.batch_id == res.load_id).order_by(["row", "column"])
                q = q.select("sheet", "row", "column", "value", "reason_zh", "reason_en")
                rows = q.limit(SHOWN_PROBLEMS).to_pyarrow().to_pylist()
            return res, rows

        res, rows = data.write(run)  # the write lock for the import only; the figures are recomputed after
    if res is None:
        return {"ok": False, "table": table, "file": filename, "status": "failed", "rows_read": 0, "rows_loaded": 0,
                "rows_quarantined": 0, "messages": [rows], "quarantine": []}
    problems = rows or [{"sheet": p.sheet, "row": p.row, "column": p.column, "value": p.value,
                         "reason_zh": p.reason_zh, "reason_en": p.reason_en} for p in res.problems]
    problems = [{**p, "reason_zh": _for_the_page(p["reason_zh"] or ""), "reason_en": _for_the_page(p["reason_en"] or "")}
                for p in problems]
    return {"ok": res.status != "failed", "table": res.table, "file": filename, "status": res.status,
            "rows_read": res.rows_read, "rows_loaded": res.rows_loaded, "rows_quarantined": res.rows_quarantined,
            "messages": [_for_the_page(m) for m in res.messages], "quarantine": problems}
