"""The datasets table of docs/web.md, generated from the registry so that the docs cannot drift.

``python -m jicai.web.docs`` rewrites the part between ``<!-- web-datasets:start -->`` and its end marker;
tests/test_web_docs.py fails when it is stale or when an API route is missing from docs/web.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

from jicai.contract.docs import splice_between

DOC = Path(__file__).resolve().parents[3] / "docs" / "web.md"


def render_datasets() -> str:
    from jicai.web.datasets import DATASETS, PARAMS

    lines = ["| dataset | 中文 | arguments | roles | scope by | page | API |", "|---|---|---|---|---|---|---|"]
    for d in DATASETS.values():
        dims = ", ".join(f"{k}=`{v}`" if isinstance(v, str) else f"{k}=" + "/".join(f"`{x}`" for x in v)
                         for k, v in vars(d.dims).items() if v)
        args = ", ".join(f"`{p}` ({PARAMS[p][0]})" for p in d.params)
        lines.append(f"| `{d.name}` | {d.title_zh} | {args} | {', '.join(d.roles)} | {dims} | `/data/{d.name}` | "
                     f"`GET /api/{d.name}`, `GET /api/{d.name}/export` |")
    return "\n".join(lines) + "\n"


def render_into(text: str) -> str:
    return splice_between(text, "web-datasets", render_datasets())


def main(path: str | None = None) -> None:
    p = Path(path) if path else DOC
    p.write_text(render_into(p.read_text(encoding="utf-8")), encoding="utf-8")


if __name__ == "__main__":
    main(*sys.argv[1:])
