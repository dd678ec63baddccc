"""Security headers on every response (issue 14, finding 10): what a browser may load and run for a jicai page.

- ``Content-Security-Policy``: scripts, styles, images, fonts and requests from jicai's own origin only, no inline
  script and no inline style (a page's data travels in ``<script type="application/json">`` elements, which run
  nothing, and is drawn by ``/static/*.js``); no plug-ins, no ``<base>``, forms post to jicai only, and no other
  site may frame a page (``frame-ancestors 'none'``; ``X-Frame-Options: DENY`` says the same to old browsers).
  The API documentation (``/docs``: Swagger UI, ``/redoc``: ReDoc) gets :data:`DOCS_CSP`: the same, except that
  those libraries set inline styles and ReDoc runs its search in a worker it makes from a ``blob:`` URL.
- ``X-Content-Type-Options: nosniff``: a file is what its media type says (an upload echoed back is never a script).
- ``Referrer-Policy: same-origin``: a link out of jicai does not carry the page's address (its query names
  institutions and filters).
- ``Cache-Control: no-store`` on everything but ``/static/``: pages, the API and exports hold what one user may
  see; no browser or proxy keeps them for the next user of the machine. Static files are the same for everyone
  and may be cached.

A pure ASGI middleware (not ``BaseHTTPMiddleware``): it only adds headers to ``http.response.start``, so an
export streams as before.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",  # ECharts' and Swagger UI's small icons are data: URLs
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def _csp(**changes: str) -> str:
    return "; ".join(f"{k} {v}" for k, v in {**_POLICY, **{k.replace("_", "-"): v for k, v in changes.items()}}.items())


CSP = _csp()
# Swagger UI and ReDoc write inline styles (React's style props, styled-components' <style> elements) and ReDoc
# builds its search worker from a blob: URL. Scripts stay 'self' only: the pages that load them have no inline
# script either.
DOCS_CSP = _csp(style_src="'self' 'unsafe-inline'", worker_src="'self' blob:")
DOCS_PATHS = ("/docs", "/redoc")

_COMMON = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
           (b"referrer-policy", b"same-origin")]


def headers_for(path: str) -> list[tuple[bytes, bytes]]:
    """The security headers of a response to ``path`` (see the module docstring)."""
    csp = DOCS_CSP if path in DOCS_PATHS else CSP
    out = [(b"content-security-policy", csp.encode()), *_COMMON]
    if not path.startswith("/static/"):
        out.append((b"cache-control", b"no-store"))
    return out


class SecurityHeaders:
    """Add :func:`headers_for` to every HTTP response; a header the response already set is replaced (a route's
    own ``Cache-Control`` cannot weaken ``no-store``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = headers_for(scope.get("path", ""))
        names = {k for k, _ in extra}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": kept + extra}
            await send(message)

        await self.app(scope, receive, send_with_headers)
