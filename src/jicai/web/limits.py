"""Limits on what a request may carry before any route sees it: a query string longer than ``MAX_QUERY`` bytes
is refused with 414 and a bilingual message (a page, or JSON under ``/api/``).

No argument of any page or endpoint needs more than a few hundred bytes; a longer query string is junk or an
attack, and every byte of it would otherwise be parsed, logged and carried into links (issue 14 finding 2).
"""

from __future__ import annotations

from typing import Any

MAX_QUERY = 4096  # bytes of the query string (the part after "?")
TOO_LONG = {"zh": f"请求参数过长(超过 {MAX_QUERY // 1024} KB)", "en": f"query string too long (over {MAX_QUERY // 1024} KB)"}


class QueryLimit:
    """ASGI middleware: 414 for an over-long query string, the rest passed through untouched."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or len(scope.get("query_string") or b"") <= MAX_QUERY:
            await self.app(scope, receive, send)
            return
        from starlette.requests import Request

        scope = {**scope, "query_string": b""}  # the error page's links and language come without the junk
        request = Request(scope, receive)
        if scope["path"].startswith(("/api/", "/static/")):
            from fastapi.responses import JSONResponse

            response = JSONResponse({"detail": TOO_LONG}, status_code=414)
        else:
            from jicai.web.render import render

            response = render(request, "error.html", status_code=414, **TOO_LONG)
        await response(scope, receive, send)
