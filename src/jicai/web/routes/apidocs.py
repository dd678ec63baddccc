"""The API's browsable documentation: Swagger UI at ``/docs`` and ReDoc at ``/redoc``, for admin, bureau and
auditor users only (institutions and enterprises use the API through what docs/web.md describes).

FastAPI's own pages are public and load their scripts from a CDN; these load the same libraries from
``/static/vendor`` (installed from npm by scripts/web_assets.sh) and hold no inline script, so the strict
Content-Security-Policy of :mod:`jicai.web.security` holds here too (with inline styles allowed, see
``DOCS_CSP``). Swagger UI's "Try it out" calls the API with the page's session and its CSRF token.

``/openapi.json`` stays public: it describes the shape of the API, which is the same for every installation and
is published with the source; it holds no data and no name. An API client reads it before it has a token.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from jicai.contract.roles import REGIONAL, Principal
from jicai.web.auth import api_error, page_principal
from jicai.web.render import render

router = APIRouter(include_in_schema=False)


def docs_reader(principal: Principal = Depends(page_principal)) -> Principal:
    """A logged-in user of a province-reading role (admin, bureau, auditor), else 403 (no session: the login)."""
    if principal.role not in REGIONAL:
        raise api_error(403, "API 文档仅对医保局、系统管理员和审计用户开放",
                        "the API documentation is open to bureau, admin and auditor users only")
    return principal


@router.get("/docs")
def swagger_ui(request: Request, principal: Principal = Depends(docs_reader)) -> HTMLResponse:
    return render(request, "apidocs_swagger.html", principal=principal, spec_url=request.app.openapi_url)


@router.get("/redoc")
def redoc(request: Request, principal: Principal = Depends(docs_reader)) -> HTMLResponse:
    return render(request, "apidocs_redoc.html", principal=principal, spec_url=request.app.openapi_url)
