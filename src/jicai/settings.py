"""Where jicai keeps its data, resolved once for the CLI and the library.

Order: the ``--data-dir`` option, else ``$JICAI_DATA_DIR``, else ``./jicai-data``. The warehouse URL
is ``$JICAI_WAREHOUSE_URL`` if set, else a DuckDB file inside the data directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from jicai.store import Warehouse, connect, default_url


@dataclass
class Settings:
    data_dir: Path
    warehouse_url: str

    @classmethod
    def resolve(cls, data_dir: Path | None = None, warehouse_url: str | None = None) -> Settings:
        d = Path(data_dir or os.environ.get("JICAI_DATA_DIR") or "jicai-data")
        url = warehouse_url or os.environ.get("JICAI_WAREHOUSE_URL") or default_url(d)
        return cls(data_dir=d, warehouse_url=url)

    def warehouse(self, mode: str = "write") -> Warehouse:
        """The warehouse opened to ``mode`` it: "read" for commands that only compute (many at once, beside
        ``jicai serve``), "write" for those that change it (one at a time; see :mod:`jicai.store.locking`)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return connect(self.warehouse_url, mode)
