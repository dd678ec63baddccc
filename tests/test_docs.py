"""Docs that cannot drift: the contract reference is generated and must be current; every column,
policy parameter and output column must appear in the docs."""

from __future__ import annotations

import re
from pathlib import Path

from jicai.contract import docs as contract_docs
from jicai.contract.tables import TABLES

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_contract_reference_is_current():
    text = (DOCS / "data-contract.md").read_text(encoding="utf-8")
    assert contract_docs.splice(text, contract_docs.render()) == text, (
        "docs/data-contract.md is stale: run `python -m jicai.contract.docs`"
    )


def test_every_contract_column_is_documented_in_its_table_section():
    text = (DOCS / "data-contract.md").read_text(encoding="utf-8")
    sections = dict(re.findall(r"### `(\w+)` — [^\n]*\n(.*?)(?=\n### |\Z)", text, flags=re.S))
    for name, table in TABLES.items():
        assert name in sections, f"table {name} has no section in docs/data-contract.md"
        for col in table.columns:
            assert f"| `{col.name}` |" in sections[name], f"{name}.{col.name} is not documented"
