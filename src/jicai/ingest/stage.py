"""The staging area of one import: where a file is read, typed and checked before anything reaches the warehouse.

Staging is DuckDB SQL over the tables of ``jicai_stage``, a compressed in-memory database attached for the
import (compressed like a database file, so ten million staged rows take a few hundred MB instead of
gigabytes, at the same CPU cost; beyond ``JICAI_STAGE_MEMORY``, default 1GB, DuckDB spills to disk, so memory
does not grow with the file). Staging SQL names its tables unqualified: the search path puts ``jicai_stage``
first, so they are created there and the warehouse tables (references) are found after it.

For a DuckDB warehouse the staging database is attached to the warehouse's own connection (:func:`shared`):
the typed rows then move into the warehouse table by one ``INSERT … SELECT`` with no copy through Python,
and references are checked by anti-joins against the warehouse tables. A transaction may read both
databases but write only one, so staging writes happen before the warehouse transaction and the warehouse
transaction only reads them; :meth:`Stage.writing` puts the warehouse first in the search path for it (what
that transaction creates lands in the warehouse) and queries over staged rows name ``jicai_stage`` (:func:`t`).
Any other warehouse (PostgreSQL) stages in a private DuckDB (:func:`private`) and receives the rows as Arrow
batches. Staged rows are passed around as :class:`Staged`: a query plus the warehouse types of its columns.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

MEMORY_ENV = "JICAI_STAGE_MEMORY"
BATCH = 100_000  # rows per Arrow batch when rows leave DuckDB
DB = "jicai_stage"

# Settings an import changes on a shared connection, restored afterwards. DuckDB's progress bar must be
# enabled for query_progress() to report (the CLI draws its own bar; DuckDB's is never printed); a CSV
# file's row numbers are the rowids of its staged copy, in file order only while insertion order is kept.
_SETTINGS = ("search_path", "memory_limit", "enable_progress_bar", "enable_progress_bar_print",
             "preserve_insertion_order")


def t(name: str) -> str:
    """A staging table named so that it is found whatever the search path (in the warehouse transaction)."""
    return f"{DB}.main.{name}"


@dataclass(frozen=True)
class Staged:
    """Rows in the staging area: a query over its tables whose columns are named and typed as ``schema``."""

    con: duckdb.DuckDBPyConnection
    sql: str
    schema: pa.Schema

    def reader(self, batch: int = BATCH) -> pa.RecordBatchReader:
        """The rows as a stream of Arrow batches cast to ``schema`` (for a warehouse on another connection)."""
        reader = self.con.execute(self.sql).to_arrow_reader(batch)
        return pa.RecordBatchReader.from_batches(self.schema, (b.cast(self.schema) for b in reader))

    def table(self) -> pa.Table:
        return self.reader().read_all()


class Stage:
    """A staging connection for one import; :meth:`close` it after the warehouse transaction has ended (a
    failed statement aborts a DuckDB transaction: nothing can be undone on the connection before ROLLBACK)."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con
        self.home = con.execute("SELECT current_database()").fetchone()[0]
        con.execute(f"DETACH DATABASE IF EXISTS {DB}")
        con.execute(f"ATTACH ':memory:' AS {DB} (COMPRESS)")
        con.execute(f"SET memory_limit = '{os.environ.get(MEMORY_ENV, '1GB')}'")
        con.execute("SET enable_progress_bar = true")
        con.execute("SET enable_progress_bar_print = false")
        con.execute("SET preserve_insertion_order = true")
        self.staging()

    def staging(self) -> None:
        """Unqualified names create and find staging tables first (readers, checks)."""
        self.con.execute(f"SET search_path = '{DB}.main,{self.home}.main'")

    def writing(self) -> None:
        """Unqualified names are the warehouse's again (the warehouse transaction); staged rows are named by t().
        Insertion order no longer matters (rows are numbered by then), and keeping it would buffer the rows
        that leave the anti-join against the problem rows."""
        self.con.execute(f"SET search_path = '{self.home}.main,{DB}.main'")
        self.con.execute("SET preserve_insertion_order = false")

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Stage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Shared(Stage):
    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.settings = {k: con.execute("SELECT current_setting(?)", [k]).fetchone()[0] for k in _SETTINGS}
        super().__init__(con)

    def close(self) -> None:
        """Restore the settings the import changed (the search path first: the staging database may not be
        detached while it is the default), then drop the staging database."""
        for k, v in self.settings.items():
            self.con.execute(f"SET {k} = '{v}'" if isinstance(v, str) else f"SET {k} = {v}")
        self.con.execute(f"DETACH DATABASE IF EXISTS {DB}")


class _Private(Stage):
    def close(self) -> None:
        self.con.close()


def shared(con: duckdb.DuckDBPyConnection) -> Stage:
    """Stage on the warehouse's own DuckDB connection."""
    return _Shared(con)


def private(tmpdir: Path) -> Stage:
    """A private DuckDB that spills to ``tmpdir`` (for a warehouse that is not DuckDB)."""
    return _Private(duckdb.connect(":memory:", config={"temp_directory": str(tmpdir / "spill")}))
