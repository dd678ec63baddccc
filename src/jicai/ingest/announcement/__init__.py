"""Import national VBP announcement workbooks (中选结果表, 约定采购量表).

workbook → canonical Arrow tables (:func:`parse_announcement`, pure) → selected products resolved
against the warehouse (:func:`resolve`) → deterministic Parquet files named ``<table>.parquet`` in a
temporary folder → :func:`jicai.ingest.import_paths`, so validation, quarantine, idempotency and
atomicity are the project importer's.

Batches and varieties already in the warehouse are left as they are (a bureau's own 执行日 and
special-variety periods win over the announcement's defaults).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from jicai.ingest.announcement.resolve import Resolution, Unresolved, resolve
from jicai.ingest.announcement.transform import Announcement, parse_announcement, variety_id
from jicai.store import Warehouse

__all__ = ["Announcement", "ImportReport", "Resolution", "Unresolved", "import_announcement", "parse_announcement",
           "resolve", "variety_id", "write_tables"]

LOAD_TABLES = ("batches", "varieties", "selected_products", "vbp_results", "vbp_agreed_volumes")


@dataclass
class ImportReport:
    announcement: Announcement
    resolution: Resolution
    tables: dict[str, pa.Table]  # what was handed to the importer
    kept_existing: dict[str, int] = field(default_factory=dict)
    loads: list = field(default_factory=list)  # jicai.ingest LoadResult objects


def write_tables(tables: dict[str, pa.Table], folder: Path) -> list[Path]:
    """One ``<table>.parquet`` per non-empty table; the same tables always give the same bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in LOAD_TABLES:
        t = tables.get(name)
        if t is None or t.num_rows == 0:
            continue
        p = folder / f"{name}.parquet"
        pq.write_table(t.replace_schema_metadata(None), p, compression="zstd", write_statistics=False)
        paths.append(p)
    return paths


def _drop_existing(wh: Warehouse, name: str, key: str, t: pa.Table) -> tuple[pa.Table, int]:
    if not wh.has_table(name) or t.num_rows == 0:
        return t, 0
    have = wh.table(name).select(key).to_pyarrow().column(key)
    mask = pc.is_in(t.column(key), value_set=have)
    kept = t.filter(pc.invert(mask))
    return kept, t.num_rows - kept.num_rows


def prepare(wh: Warehouse, paths: list[Path]) -> ImportReport:
    """Parse and resolve without loading (``--dry-run`` and the first half of :func:`import_announcement`)."""
    ann = parse_announcement([Path(p) for p in paths])
    res = resolve(wh, ann)
    tables = dict(ann.tables)
    tables["selected_products"] = res.selected_products
    kept = {}
    tables["batches"], kept["batches"] = _drop_existing(wh, "batches", "batch_id", tables["batches"])
    tables["varieties"], kept["varieties"] = _drop_existing(wh, "varieties", "variety_id", tables["varieties"])
    return ImportReport(ann, res, tables, kept)


def import_announcement(wh: Warehouse, paths: list[Path], *, strict: bool = False,
                        keep_dir: Path | None = None) -> ImportReport:
    """Parse, resolve and load announcement workbooks through :func:`jicai.ingest.import_paths`."""
    try:
        from jicai.ingest import import_paths
    except ImportError as exc:  # the shared importer is another module's job
        raise RuntimeError("jicai.ingest.import_paths 尚不可用 / the project importer (jicai.ingest.import_paths) "
                           "is not available yet") from exc
    report = prepare(wh, paths)
    with tempfile.TemporaryDirectory(prefix="jicai-announcement-") as tmp:
        folder = keep_dir or Path(tmp)
        files = write_tables(report.tables, folder)
        report.loads = list(import_paths(wh, files, strict=strict))
    return report
