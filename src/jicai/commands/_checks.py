"""Checks the commands share before they compute (a module with ``_``: not a command of its own)."""

from __future__ import annotations

from collections.abc import Iterable

from jicai.console import fail


def require_tables(wh, tables: Iterable[str]) -> None:
    """Exit with a bilingual message naming the input tables the warehouse lacks."""
    missing = [t for t in tables if not wh.has_table(t)]
    if missing:
        fail(f"数据仓库缺少表:{', '.join(missing)}(请先 jicai import)",
             f"warehouse lacks tables: {', '.join(missing)} (run jicai import first)")
