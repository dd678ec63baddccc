"""Quoting for the SQL the importer writes: identifiers and string literals, the standard SQL way.

The importer builds SQL text from column names, file paths and the contract's code lists (parameters cannot
stand for a table, a path in ``read_csv`` or an array literal), so every such value goes through here.

>>> q('row'), lit("O'Brien.csv"), lit_list(["a", "b'c"])
('"row"', "'O''Brien.csv'", "['a', 'b''c']")
"""

from __future__ import annotations

from collections.abc import Iterable


def q(name: str) -> str:
    """A quoted identifier: ``"name"`` with any ``"`` doubled."""
    return '"' + name.replace('"', '""') + '"'


def lit(s: str) -> str:
    """A string literal: ``'s'`` with any ``'`` doubled."""
    return "'" + s.replace("'", "''") + "'"


def lit_list(xs: Iterable[str]) -> str:
    """A list literal of strings (DuckDB): ``['a', 'b']``."""
    return "[" + ", ".join(lit(x) for x in xs) + "]"
