"""One file per contract table, written in chunks: Parquet row groups or appended CSV (UTF-8)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from jicai.contract.arrow import schema

FORMATS = ("parquet", "csv")


def _csv_ready(t: pa.Table) -> pa.Table:
    """Timestamps as ISO 8601 local times (``2024-01-05T08:13:00``), everything else as Arrow writes it."""
    cols = []
    for f, col in zip(t.schema, t.columns, strict=True):
        if pa.types.is_timestamp(f.type):
            col = pc.strftime(col.cast(pa.timestamp("s")), "%Y-%m-%dT%H:%M:%S")
        cols.append(col)
    return pa.Table.from_arrays(cols, names=t.column_names)


class TableSink:
    """Accepts Arrow tables of one contract table and appends them to its file."""

    def __init__(self, out_dir: Path, table: str, fmt: str = "parquet", compression: str = "zstd") -> None:
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}, not {fmt!r}")
        self.table, self.fmt = table, fmt
        self.schema = schema(table)
        self.path = Path(out_dir) / f"{table}.{fmt}"
        self.rows = 0
        self._csv: pacsv.CSVWriter | None = None
        self._pq = pq.ParquetWriter(self.path, self.schema, compression=compression) if fmt == "parquet" else None

    def write(self, t: pa.Table) -> None:
        if t.schema != self.schema:
            t = t.select(self.schema.names).cast(self.schema)
        self.rows += t.num_rows
        if self._pq is not None:
            if t.num_rows:
                self._pq.write_table(t, row_group_size=t.num_rows)
            return
        c = _csv_ready(t)
        if self._csv is None:
            self._csv = pacsv.CSVWriter(self.path, c.schema)
        self._csv.write_table(c)

    def close(self) -> None:
        if self._pq is not None:
            self._pq.close()
        else:
            if self._csv is None:
                self._csv = pacsv.CSVWriter(self.path, _csv_ready(self.schema.empty_table()).schema)
            self._csv.close()

    def __enter__(self) -> TableSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_table(out_dir: Path, table: str, data: pa.Table, fmt: str) -> int:
    with TableSink(out_dir, table, fmt) as s:
        s.write(data)
    return s.rows
