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


def _rule_docs() -> str:
    """All the documents holding rules (docs/rules.md, docs/supply.md, docs/fund.md) as one text."""
    from jicai.reports.reference import RULE_DOCS

    return "\n".join((DOCS / n).read_text(encoding="utf-8") for n in RULE_DOCS if (DOCS / n).exists())


def test_rules_generated_sections_are_current():
    from jicai.reports import reference as rules_docs

    for name in rules_docs.RULE_DOCS:
        if not (DOCS / name).exists():
            continue
        text = (DOCS / name).read_text(encoding="utf-8")
        assert rules_docs.render_into(text) == text, f"docs/{name} is stale: run `python -m jicai.reports.reference`"


def test_every_policy_parameter_and_output_column_is_documented():
    from jicai.measures import monitor, onboarding_report, volume_audit
    from jicai.policy import SPECS, load_policy

    text = _rule_docs()
    assert {p.name for p in load_policy().parameter} == set(SPECS)
    for name in SPECS:
        assert f"| `{name}` |" in text, f"policy parameter {name} is not documented in docs/rules.md"
        assert text.count(f"`{name}`") >= 2, f"policy parameter {name} is in the table but no rule names it"

    measured = [c.name for c in (*monitor.COLUMNS, *monitor.ROLLUP_COLUMNS, *volume_audit.COLUMNS,
                                 *onboarding_report.COLUMNS, *onboarding_report.SUMMARY_COLUMNS)]
    for name in [*measured, *volume_audit.FLAGS]:
        assert f"`{name}`" in text, f"output column or flag {name} is not documented in docs/rules.md"
    from jicai.assess.assessment import FAIL_ITEMS
    from jicai.measures.registry import measure

    for m in ("assessment", "assessment-by-region", "retention-trace", "prepayment", "prepayment-recovery",
              "prepayment-by-month"):
        assert f"<!-- measure-columns:{m}:start" in text, f"docs/rules.md has no column table of measure {m}"
    for name in [*measure("assessment").column_names, *FAIL_ITEMS]:
        assert f"`{name}`" in text, f"assessment column or fail item {name} is not documented in docs/rules.md"
    from jicai.reports.lists import REPORT_COLUMNS

    for name in REPORT_COLUMNS:
        assert f"| `{name}` |" in text, f"report column {name} is not documented in docs/rules.md"
