"""Values decided in the workflow that win over what a reference file says: a special-variety exemption.

A bureau declares a variety special in the web (:mod:`jicai.workflow.decisions`); the decision reaches the
warehouse as a row of ``_variety_exemptions`` (the exemption standing on the variety) *and* as the variety's
``special``/``special_start``/``special_end`` — the columns every measure reads. Re-importing ``varieties``
replaces those rows with the file's, so the importer puts the standing exemptions back over them in the
same transaction (:func:`reapply`): no reader ever sees the re-imported table without the exemptions, and
the measures keep reading one table. Revoking the last exemption deletes the override row and restores the
values the variety had before it (kept by the workflow).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from jicai.ingest.sql import q

EXEMPTIONS = "_variety_exemptions"


@dataclass(frozen=True)
class Override:
    table: str  # the contract table whose columns are overridden
    source: str  # the warehouse table holding the overriding values
    key: tuple[str, ...]
    columns: tuple[str, ...]


OVERRIDES = {
    "varieties": Override("varieties", EXEMPTIONS, ("variety_id",), ("special", "special_start", "special_end")),
}

SCHEMAS: dict[str, pa.Schema] = {
    EXEMPTIONS: pa.schema([("variety_id", pa.string()), ("special", pa.string()), ("special_start", pa.date32()),
                           ("special_end", pa.date32()), ("exemption_id", pa.int64())]),
}


def patch_sql(table: str, key: list[str], columns: list[str]) -> str:
    """``UPDATE`` of ``columns`` of the row of ``table`` with ``key`` (parameters: the columns, then the key)."""
    sets = ", ".join(f"{q(c)} = ?" for c in columns)
    return f"UPDATE {q(table)} SET {sets} WHERE " + " AND ".join(f"{q(k)} = ?" for k in key)


def reapply_sql(table: str) -> str | None:
    """The statement that puts the overrides of ``table`` back over its rows (None: nothing overrides it)."""
    o = OVERRIDES.get(table)
    if o is None:
        return None
    sets = ", ".join(f"{q(c)} = o.{q(c)}" for c in o.columns)
    cond = " AND ".join(f"{q(table)}.{q(k)} = o.{q(k)}" for k in o.key)
    return f"UPDATE {q(table)} SET {sets} FROM {q(o.source)} o WHERE {cond}"
