"""The staging area of one import: where a file is read, typed and checked before anything reaches the warehouse.

Staging is DuckDB SQL over TEMP tables. For a DuckDB warehouse the staging connection is the warehouse's own
(:func:`shared`): the typed rows then move into the warehouse table by one ``INSERT … SELECT`` with no copy
through Python, references are checked by anti-joins against the warehouse tables, and TEMP tables may be
written in the same transaction as the warehouse (a transaction may write the ``temp`` catalog and one
database). Any other warehouse (PostgreSQL) stages in a private in-memory DuckDB (:func:`private`) and
receives the rows as Arrow batches.

Either way the DuckDB instance is capped at ``JICAI_STAGE_MEMORY`` (default 1GB) for the import and spills
to disk beyond it, so memory does not grow with the file; the setting is put back afterwards (a web server
importing an upload keeps its own limit). Rows in the staging area are passed around as :class:`Staged`: a
query plus the warehouse types of its columns.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

MEMORY_ENV = "JICAI_STAGE_MEMORY"
BATCH = 100_000  # rows per Arrow batch when rows leave DuckDB

# Settings an import changes on a shared connection, restored afterwards. DuckDB's progress bar must be
# enabled for query_progress() to report (the CLI draws its own bar; DuckDB's is never printed); a CSV
# file's row numbers are the rowids of its staged copy, in file order only while insertion order is kept.
_SETTINGS = ("memory_limit", "enable_progress_bar", "enable_progress_bar_print", "preserve_insertion_order")


@dataclass(frozen=True)
class Staged:
    """Rows in the staging area: a query over its TEMP tables whose columns are named and typed as ``schema``."""

    con: duckdb.DuckDBPyConnection
    sql: str
    schema: pa.Schema

    def reader(self, batch: int = BATCH) -> pa.RecordBatchReader:
        """The rows as a stream of Arrow batches cast to ``schema`` (for a warehouse on another connection)."""
        reader = self.con.execute(self.sql).to_arrow_reader(batch)
        return pa.RecordBatchReader.from_batches(self.schema, (b.cast(self.schema) for b in reader))

    def table(self) -> pa.Table:
        return self.reader().read_all()


def _configure(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"SET memory_limit = '{os.environ.get(MEMORY_ENV, '1GB')}'")
    con.execute("SET enable_progress_bar = true")
    con.execute("SET enable_progress_bar_print = false")
    con.execute("SET preserve_insertion_order = true")


def _temp_objects(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str]]:
    """TEMP tables and views (TEMP macros stay: they are the same for every import, replaced each time, and
    listing functions costs more than a small file's whole import)."""
    rows = con.execute(
        "SELECT 'TABLE', table_name FROM duckdb_tables() WHERE temporary "
        "UNION ALL SELECT 'VIEW', view_name FROM duckdb_views() WHERE temporary AND NOT internal").fetchall()
    return {(kind, name) for kind, name in rows}


class Stage:
    """A staging connection for one import; :meth:`close` it after the warehouse transaction has ended (a
    failed statement aborts a DuckDB transaction: nothing can be undone on the connection before ROLLBACK)."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Stage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Shared(Stage):
    def __init__(self, con: duckdb.DuckDBPyConnection):
        super().__init__(con)
        self.before = _temp_objects(con)
        self.settings = {k: con.execute("SELECT current_setting(?)", [k]).fetchone()[0] for k in _SETTINGS}
        _configure(con)

    def close(self) -> None:
        """Drop the TEMP objects this import made and restore the settings it changed."""
        for kind, name in _temp_objects(self.con) - self.before:
            self.con.execute(f'DROP {kind} IF EXISTS temp.main."{name}"')
        for k, v in self.settings.items():
            self.con.execute(f"SET {k} = '{v}'" if isinstance(v, str) else f"SET {k} = {v}")


class _Private(Stage):
    def close(self) -> None:
        self.con.close()


def shared(con: duckdb.DuckDBPyConnection) -> Stage:
    """Stage on the warehouse's own DuckDB connection."""
    return _Shared(con)


def private(tmpdir: Path) -> Stage:
    """A private in-memory DuckDB that spills to ``tmpdir`` (for a warehouse that is not DuckDB)."""
    con = duckdb.connect(":memory:", config={"temp_directory": str(tmpdir / "spill")})
    _configure(con)
    return _Private(con)
