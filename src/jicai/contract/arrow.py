"""Physical types of the contract: the Arrow schema every engine's tables are created from.

Money and quantities are float64 (DOUBLE everywhere); times are naive local timestamps
(Asia/Shanghai) at microsecond precision; ``month`` is ``YYYY-MM`` text.
"""

from __future__ import annotations

import pyarrow as pa

from jicai.contract.tables import TABLES

ARROW_TYPES: dict[str, pa.DataType] = {
    "str": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "date": pa.date32(),
    "datetime": pa.timestamp("us"),
    "bool": pa.bool_(),
    "month": pa.string(),
}


def schema(table: str) -> pa.Schema:
    """The Arrow schema of a contract table.

    >>> schema("regions").names
    ['region_code', 'name', 'parent_code']
    """
    t = TABLES[table]
    return pa.schema([pa.field(c.name, ARROW_TYPES[c.type], nullable=not c.required or c.name not in t.key)
                      for c in t.columns])


def empty(table: str) -> pa.Table:
    return schema(table).empty_table()


def from_pylist(table: str, rows: list[dict]) -> pa.Table:
    """Typed table from dicts (missing optional columns become null) — handy in tests and scenarios."""
    s = schema(table)
    return pa.Table.from_pylist([{n: r.get(n) for n in s.names} for r in rows], schema=s)
