"""The FastAPI application: ``create_app(config)`` wires the workflow database, the warehouse and the routers.

Every route module under :mod:`jicai.web.routes` exposes ``router``; pages render Jinja2 templates from
``web/templates`` and static files (ECharts, htmx — installed from npm by scripts/setup.sh) come from
``web/static``. The OpenAPI schema lists the JSON API only (``/api/…``); its browsable documentation (``/docs``,
``/redoc``) is a route module too, behind login. Every response carries the security headers of
:mod:`jicai.web.security`.
"""

from __future__ import annotations

import importlib
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from jicai.web.config import WebConfig

HERE = Path(__file__).parent
ROUTES = ("auth", "workflow", "alerts", "peers", "mapping", "api", "pharmacy", "whatif", "pages", "apidocs")


def create_app(config: WebConfig) -> FastAPI:
    from jicai.web.data import DataService
    from jicai.web.security import SecurityHeaders
    from jicai.web.warmup import warm
    from jicai.workflow.db import Workflow
    from jicai.workflow.outbox import apply_pending

    workflow = Workflow.open(config.workflow_url)
    data = DataService(config.warehouse_url, config.data_dir, cache_mb=config.cache_mb,
                       memo_entries=config.memo_entries, wait=config.wait, workers=config.workers,
                       warm=warm if config.warm else None)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # warehouse writes decisions still owe (the server stopped, or the warehouse failed, before they were
        # applied): applied first, so that the first figures include them (a failure is logged and retried)
        apply_pending(workflow, data.write)
        data.start()  # the default figures, computed in the background: first views are warm
        yield
        data.close()
        workflow.close()

    # docs_url/redoc_url None: FastAPI's own pages are public and load from a CDN (routes/apidocs.py replaces them)
    app = FastAPI(title="jicai 集采", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="集采执行监测与医保基金监管 / VBP execution monitoring and fund supervision. "
                              "Authenticate with POST /api/auth/token (OAuth2 password flow); every endpoint "
                              "returns only the rows the caller's role and scope allow.")
    app.state.config = config
    app.state.workflow = workflow
    app.state.data = data
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for name in ROUTES:
        app.include_router(importlib.import_module(f"jicai.web.routes.{name}").router)
    _page_errors(app)
    _busy(app)
    from jicai.web.limits import QueryLimit

    # the last added runs first: the proxy headers give the client's address, every response (a 414 too) gets
    # the security headers, and an over-long query string reaches no route (414)
    app.add_middleware(QueryLimit)
    app.add_middleware(SecurityHeaders)
    _proxies(app, config)
    from jicai.web.openapi import install

    install(app)  # the document lists every status each operation returns (jicai.web.openapi)
    return app


def _proxies(app: FastAPI, config: WebConfig) -> None:
    """Believe ``X-Forwarded-For`` from the configured proxies only (``JICAI_TRUSTED_PROXIES``); with none, the
    socket's peer is the client, in the login limits and the audit log. Done here, not by uvicorn, whose own
    default trusts 127.0.0.1 (``jicai serve`` turns that off)."""
    if config.trusted_proxies:
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(config.trusted_proxies))


def _busy(app: FastAPI) -> None:
    """Figures still being computed, or the warehouse held by a writer past the wait: 503 with a retry, a page
    or JSON — never a 500. Every response says whether the figures are being updated (a header; the JSON
    bodies of the data endpoints carry it as ``data``)."""
    from fastapi import Request
    from fastapi.responses import JSONResponse

    from jicai.store import LockTimeout
    from jicai.web.data import NotReady

    async def _handler(request: Request, exc: Exception):
        zh, en = exc.zh, exc.en  # both are BilingualErrors
        headers = {"Retry-After": "5"}
        if request.url.path.startswith(("/api/", "/static/")):
            return JSONResponse({"detail": {"zh": zh, "en": en}}, status_code=503, headers=headers)
        from jicai.web.auth import session_principal
        from jicai.web.render import render

        principal = getattr(request.state, "principal", None) or session_principal(request)
        # not an error: the figures are on their way, and the page says so from its title on
        wait = dict(zh=zh, en=en, title_zh="请稍候", title_en="Please wait", waiting=True)
        if principal is None:
            resp = render(request, "error.html", status_code=503, **wait)
        else:
            from jicai.web.routes.pages import _page

            request.state.principal = principal
            resp = _page(request, "error.html", principal, status_code=503, **wait)
        resp.headers.update(headers)
        return resp

    app.add_exception_handler(NotReady, _handler)
    app.add_exception_handler(LockTimeout, _handler)

    @app.middleware("http")
    async def _data_status(request: Request, call_next):
        response = await call_next(request)
        if not request.url.path.startswith("/static/"):
            status = app.state.data.status()
            response.headers["X-Jicai-Data-Updating"] = "1" if status["updating"] else "0"
            if status["data_at"]:
                response.headers["X-Jicai-Data-At"] = status["data_at"]
        return response


def _page_errors(app: FastAPI) -> None:
    """A refused or missing page is a page (error.html), not JSON; the API keeps its JSON errors. A request
    FastAPI cannot validate (a page number of 10^20, a date that is no date) is a bilingual 422 either way."""
    from fastapi import Request
    from fastapi.exception_handlers import http_exception_handler
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException

    from jicai.web.invalid import detail as invalid_detail

    @app.exception_handler(HTTPException)
    async def _handler(request: Request, exc: HTTPException):
        if request.url.path.startswith(("/api/", "/static/")) or exc.status_code not in (403, 404, 422, 429):
            return await http_exception_handler(request, exc)
        detail = exc.detail if isinstance(exc.detail, dict) else {}
        zh = detail.get("zh") or {403: "无权查看", 404: "页面不存在", 422: "参数无效", 429: "尝试次数过多"}[exc.status_code]
        en = detail.get("en") or {403: "not allowed", 404: "not found", 422: "invalid argument",
                                  429: "too many attempts"}[exc.status_code]
        return _error_page(request, exc.status_code, zh, en)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        body = invalid_detail(exc.errors())
        if request.url.path.startswith(("/api/", "/static/")):
            return JSONResponse({"detail": body}, status_code=422)
        return _error_page(request, 422, body["zh"], body["en"])


def _error_page(request, status: int, zh: str, en: str):
    from jicai.web.auth import session_principal
    from jicai.web.render import render

    principal = getattr(request.state, "principal", None) or session_principal(request)
    if principal is None:
        return render(request, "error.html", status_code=status, zh=zh, en=en)
    from jicai.web.routes.pages import _page

    request.state.principal = principal
    return _page(request, "error.html", principal, status_code=status, zh=zh, en=en)


def app_from_env() -> FastAPI:
    """The application from the environment (``JICAI_DATA_DIR``, ``JICAI_WAREHOUSE_URL``, …): uvicorn's
    factory for several worker processes."""
    from jicai.settings import Settings

    return create_app(WebConfig.resolve(Settings.resolve()))
