"""docs/web.md cannot drift: its datasets table is generated, and every API route is named in it."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.routing import APIRoute

DOC = Path(__file__).resolve().parents[1] / "docs" / "web.md"


def test_datasets_table_is_current():
    from jicai.web.docs import render_into

    text = DOC.read_text(encoding="utf-8")
    assert render_into(text) == text, "docs/web.md is stale: run `python -m jicai.web.docs`"


def _routes(app) -> list:
    """Every route of the app. FastAPI 0.165 keeps an included router as one entry of ``app.routes`` (its routes
    are reached through route contexts): iterating ``app.routes`` alone found no route, and checked nothing."""
    from fastapi import routing

    if not hasattr(routing, "iter_route_contexts"):  # FastAPI before 0.165
        return [r for r in app.routes if isinstance(r, APIRoute)]
    routes = [c for c in routing.iter_route_contexts(app.routes) if isinstance(c.original_route, APIRoute)]
    assert len(routes) > 50
    return routes


def test_every_api_route_is_documented(tmp_path):
    from tests.web_fixtures import make_app

    text = DOC.read_text(encoding="utf-8")
    app = make_app(tmp_path)
    missing = [r.path for r in _routes(app) if r.path.startswith("/api/") and r.path not in text]
    assert not missing, f"API routes not in docs/web.md: {missing}"


def test_every_page_is_documented(tmp_path):
    from tests.web_fixtures import make_app

    text = DOC.read_text(encoding="utf-8")
    app = make_app(tmp_path)
    pages = {re.sub(r"\{[^}]+\}", "<", r.path).split("<")[0].rstrip("/") or "/" for r in _routes(app)
             if not r.path.startswith("/api/") and r.path not in ("/login", "/logout")}
    missing = [p for p in pages if f"`{p}" not in text]
    assert not missing, f"pages not in docs/web.md: {missing}"


def test_every_reason_rule_is_documented():
    """Each dataset with a 判定依据 column and each status or flag it explains is named in docs/web.md."""
    from jicai.web.reasons import RULES

    text = DOC.read_text(encoding="utf-8")
    part = text[text.index("<!-- web-reasons:start -->"):text.index("<!-- web-reasons:end -->")]
    missing = [f"{name} {code}" for name, rules in RULES.items() for code, *_ in rules
               if f"`{name}`" not in part or (code.partition(":")[2] or code) not in part]
    assert not missing, f"reason rules not in docs/web.md: {missing}"
