"""Importing platform exports into the warehouse: read, normalize, validate, quarantine, load atomically.

>>> import tempfile
>>> from pathlib import Path
>>> from jicai.store import connect
>>> regions = "region_code,name,parent_code\\n350000,福建省,\\n"
>>> with tempfile.TemporaryDirectory() as exports:
...     _ = (Path(exports) / "regions.csv").write_text(regions, encoding="utf-8")
...     results = import_paths(connect("duckdb://"), [Path(exports)])
>>> [(r.table, r.status, r.rows_loaded) for r in results]
[('regions', 'loaded', 1)]
"""

from jicai.ingest.loader import LoadResult, Problem, import_file, import_paths, table_for
from jicai.ingest.schema import LOAD_LOG, QUARANTINE, ensure_schema

__all__ = ["LOAD_LOG", "QUARANTINE", "LoadResult", "Problem", "ensure_schema", "import_file", "import_paths", "table_for"]
