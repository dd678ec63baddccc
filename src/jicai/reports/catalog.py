"""docs/measures.md, generated from the measure registry: every measure with its command, page and API, its
parameters, input tables, roles, scope, the policy parameters it reads and its columns — and the policy
cross-reference (which measures read each parameter). Nothing here is written by hand, so the catalogue cannot
drift from the code.

``python -m jicai.reports.catalog`` rewrites the parts between the ``<!-- measures:start -->`` /
``<!-- policy-xref:start -->`` markers and their ends; tests/test_registry.py fails when they are stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

from jicai.contract.docs import splice_between
from jicai.measures.registry import GROUPS, PARAMS, Measure, measures

DOC = Path(__file__).resolve().parents[3] / "docs" / "measures.md"


def _esc(s: object) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def _dims(m: Measure) -> str:
    parts = []
    for k, v in vars(m.dims).items():
        if isinstance(v, str):
            parts.append(f"{k} `{v}`")
        elif v:
            parts.append(f"{k} " + "/".join(f"`{x}`" for x in v))
    return ", ".join(parts) or "—"


def _first_paragraph(doc: str) -> str:
    text = (doc or "").strip().split("\n\n", 1)[0]
    return " ".join(line.strip() for line in text.splitlines())


def render_measure(m: Measure) -> str:
    opts = " ".join(f"[{PARAMS[p].option} …]" if p in m.optional else f"{PARAMS[p].option} …" for p in m.params)
    lines = [f"### `{m.name}` — {m.title_zh} / {m.title_en}", ""]
    if m.note_zh or m.note_en:
        lines += [f"{m.note_zh} — {m.note_en}".strip(" —"), ""]
    if m.doc:
        lines += [_first_paragraph(m.doc), ""]
    where = []
    if m.command:
        where.append(f"command `jicai {m.command_name} {opts}`".rstrip())
    if m.web:
        where.append(f"page `/data/{m.name}`, API `GET /api/{m.name}` and `/api/{m.name}/export`")
    lines += [
        f"- **where**: {'; '.join(where) or 'a list inside other reports'}",
        f"- **parameters**: {', '.join(f'`{p}` ({PARAMS[p].zh})' for p in m.params) or '—'}",
        f"- **reads tables**: {', '.join(f'`{t}`' for t in m.inputs)}",
        f"- **policy parameters**: {', '.join(f'`{p}`' for p in m.policy) or '—'}",
        f"- **roles**: {', '.join(m.roles)}; **scope by**: {_dims(m)}; **default order**: "
        f"{', '.join(f'`{s}`' for s in m.sort) or '—'}; **menu**: {GROUPS[m.group][0]}",
        "",
        "| column | 中文 | kind | unit | meaning |",
        "|---|---|---|---|---|",
    ]
    for c in m.columns:
        meaning = c.en
        if c.name in m.labels:
            meaning += " — " + ", ".join(f"`{k}` {zh}" for k, (zh, _) in m.labels[c.name].items())
        lines.append(f"| `{c.name}` | {_esc(c.zh)} | {c.kind} | {c.unit} | {_esc(meaning)} |")
    return "\n".join(lines) + "\n"


def render_measures() -> str:
    out = []
    for group, (zh, en) in GROUPS.items():
        ms = [m for m in measures().values() if m.group == group]
        if ms:
            out.append(f"## {zh} / {en}\n")
            out += [render_measure(m) for m in ms]
    return "\n".join(out)


def render_policy_xref() -> str:
    from jicai.policy import load_policy

    policy = load_policy()
    readers: dict[str, list[str]] = {}
    for m in measures().values():
        for p in m.policy:
            readers.setdefault(p, []).append(m.name)
    lines = ["| parameter | 说明 | read by |", "|---|---|---|"]
    seen = set()
    for p in sorted(policy.parameter, key=lambda p: p.name):
        if p.name in seen:
            continue
        seen.add(p.name)
        names = ", ".join(f"`{n}`" for n in readers.get(p.name, [])) or "—"
        lines.append(f"| `{p.name}` | {_esc(p.zh)} | {names} |")
    return "\n".join(lines) + "\n"


def render_into(text: str) -> str:
    text = splice_between(text, "measures", render_measures())
    return splice_between(text, "policy-xref", render_policy_xref())


def main(path: str | None = None) -> None:
    p = Path(path) if path else DOC
    p.write_text(render_into(p.read_text(encoding="utf-8")), encoding="utf-8")


if __name__ == "__main__":
    main(*sys.argv[1:])
