"""Importing platform exports into the warehouse: read, normalize, validate, quarantine, load atomically.

>>> from jicai.ingest import import_paths, ensure_schema, LoadResult  # doctest: +SKIP
>>> results = import_paths(wh, [Path("exports/")])                      # doctest: +SKIP
"""

from jicai.ingest.loader import LoadResult, Problem, import_file, import_paths, table_for
from jicai.ingest.schema import LOAD_LOG, QUARANTINE, ensure_schema

__all__ = ["LOAD_LOG", "QUARANTINE", "LoadResult", "Problem", "ensure_schema", "import_file", "import_paths", "table_for"]
