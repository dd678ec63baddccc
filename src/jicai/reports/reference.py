"""Render the policy parameters and the measures' output columns as Markdown for docs/rules.md.

``python -m jicai.reports.reference`` rewrites the generated parts of docs/rules.md; tests/test_docs.py fails
when they are stale or when a parameter or output column is missing. It reads the columns of measures,
assessments and reports, so it sits in the reports layer, above all of them.
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

from jicai.contract.docs import splice_between
from jicai.policy import load_policy
from jicai.policy.display import in_force as in_force_text


def _esc(s: object) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def render_parameters() -> str:
    from jicai.policy.display import policy_rows
    from jicai.policy.registry import BUNDLED

    policy = load_policy()
    others = ", ".join(f"`{pid}` ({load_policy(path).label})" for pid, path in BUNDLED.items() if pid != policy.id)
    lines = [f"Bundled policy `{policy.id}` — {policy.label} / {policy.name_en}; also bundled: {others}.", "",
             "Documents cited (a source starts with one of these short names, then the clause):", "",
             "| short | document | issued | seed |", "|---|---|---|---|"]
    lines += [f"| {d.short} | {_esc(d.title)} | {d.issued or '—'} | {d.seed or '—'} |" for d in policy.document]
    lines += ["", "| parameter | 名称 | default | 取值 | 说明 | meaning | source | note | in force |",
              "|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(policy_rows(policy), key=lambda r: r.name):
        p = next(e for e in policy.parameter if e.name == r.name and in_force_text(e) == r.in_force)
        shown = "; ".join(f"{a} → {b}" for a, b in r.tiers) if r.tiers else r.value
        lines.append(f"| `{r.name}` | {r.zh} | `{p.value}` | {_esc(shown)} | {_esc(r.meaning_zh)} | {_esc(r.meaning_en)} "
                     f"| {_esc(r.source)} | {_esc(r.note)} | {r.in_force} |")
    return "\n".join(lines) + "\n"


def render_columns(columns) -> str:
    """A table of columns: a ``name -> (中文, meaning)`` dict, or vocabulary columns (``contract.columns.Col``)."""
    items = columns.items() if isinstance(columns, dict) else ((c.name, (c.zh, c.en)) for c in columns)
    lines = ["| column | 中文 | meaning |", "|---|---|---|"]
    lines += [f"| `{name}` | {zh} | {_esc(en)} |" for name, (zh, en) in items]
    return "\n".join(lines) + "\n"


def sections() -> dict[str, str]:
    from jicai.measures import monitor, onboarding_report
    from jicai.reports.lists import REPORT_COLUMNS

    return {
        "parameters": render_parameters(),
        "monitor-columns": render_columns(monitor.COLUMNS),
        "rollup-columns": render_columns(monitor.ROLLUP_COLUMNS),
        "onboarding-columns": render_columns(onboarding_report.COLUMNS),
        "onboarding-summary-columns": render_columns(onboarding_report.SUMMARY_COLUMNS),
        "report-columns": render_columns(REPORT_COLUMNS),
    }


# Column tables named by their marker: ``<!-- columns:jicai.measures.supply:SUPPLY_COLUMNS:start -->`` renders
# that dict of ``name -> (中文, meaning)``, so a new measure documents its columns without editing this module.
_COLUMNS_MARKER = re.compile(r"<!-- (columns:[\w.]+:\w+):start")

# Columns of a registered measure: ``<!-- measure-columns:supply-scorecard:start -->`` renders the columns the
# registry declares for it (jicai.measures.registry), the labels a page, an export and a workbook show.
_MEASURE_MARKER = re.compile(r"<!-- (measure-columns:[\w-]+):start")

# The documents holding rules: each rule's prose and its generated tables. Tests read them all.
RULE_DOCS = ("rules.md", "supply.md", "fund.md", "analytics.md")


def _columns_from_marker(name: str) -> dict[str, tuple[str, str]]:
    _, module, attr = name.split(":")
    return getattr(importlib.import_module(module), attr)


def _measure_columns(name: str) -> dict[str, tuple[str, str]]:
    from jicai.measures.registry import measure

    return {c.name: (c.zh, c.en) for c in measure(name).columns}


def render_into(text: str) -> str:
    named = sections()
    for name, body in named.items():
        if f"<!-- {name}:start" in text:
            text = splice_between(text, name, body)
    for name in _COLUMNS_MARKER.findall(text):
        text = splice_between(text, name, render_columns(_columns_from_marker(name)))
    for name in _MEASURE_MARKER.findall(text):
        text = splice_between(text, name, render_columns(_measure_columns(name.split(":", 1)[1])))
    return text


def main(*paths: str) -> None:
    docs = Path(__file__).resolve().parents[3] / "docs"
    for p in [Path(x) for x in paths] or [docs / n for n in RULE_DOCS if (docs / n).exists()]:
        p.write_text(render_into(p.read_text(encoding="utf-8")), encoding="utf-8")


if __name__ == "__main__":
    main(*sys.argv[1:])
