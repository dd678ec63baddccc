"""The FastAPI application: ``create_app(config)`` wires the workflow database, the warehouse and the routers.

Every route module under :mod:`jicai.web.routes` exposes ``router``; pages render Jinja2 templates from
``web/templates`` and static files (ECharts, htmx — installed from npm by scripts/setup.sh) come from
``web/static``. The OpenAPI schema lists the JSON API only (``/api/…``).
"""

from __future__ import annotations

import importlib
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from jicai.web.config import WebConfig

HERE = Path(__file__).parent
ROUTES = ("auth", "workflow", "mapping", "api", "pharmacy", "pages")


def create_app(config: WebConfig) -> FastAPI:
    from jicai.web.data import DataService
    from jicai.web.warmup import warm
    from jicai.workflow.db import Workflow

    workflow = Workflow.open(config.workflow_url)
    data = DataService(config.warehouse_url, config.data_dir, cache_mb=config.cache_mb,
                       memo_entries=config.memo_entries, wait=config.wait, workers=config.workers,
                       warm=warm if config.warm else None)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        data.start()  # the default figures, computed in the background: first views are warm
        yield
        data.close()
        workflow.close()

    app = FastAPI(title="jicai 集采", version="0.1.0", lifespan=lifespan,
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

    app.add_middleware(QueryLimit)  # outermost: an over-long query string reaches no route (414)
    return app


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
        if principal is None:
            resp = render(request, "error.html", status_code=503, zh=zh, en=en)
        else:
            from jicai.web.routes.pages import _page

            request.state.principal = principal
            resp = _page(request, "error.html", principal, status_code=503, zh=zh, en=en)
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
    """A refused or missing page is a page (error.html), not JSON; the API keeps its JSON errors."""
    from fastapi import Request
    from fastapi.exception_handlers import http_exception_handler
    from starlette.exceptions import HTTPException

    @app.exception_handler(HTTPException)
    async def _handler(request: Request, exc: HTTPException):
        if request.url.path.startswith(("/api/", "/static/")) or exc.status_code not in (403, 404, 422, 429):
            return await http_exception_handler(request, exc)
        from jicai.web.auth import session_principal
        from jicai.web.render import render

        detail = exc.detail if isinstance(exc.detail, dict) else {}
        zh = detail.get("zh") or {403: "无权查看", 404: "页面不存在", 422: "参数无效", 429: "尝试次数过多"}[exc.status_code]
        en = detail.get("en") or {403: "not allowed", 404: "not found", 422: "invalid argument",
                                  429: "too many attempts"}[exc.status_code]
        principal = getattr(request.state, "principal", None) or session_principal(request)
        if principal is None:
            return render(request, "error.html", status_code=exc.status_code, zh=zh, en=en)
        from jicai.web.routes.pages import _page

        request.state.principal = principal
        return _page(request, "error.html", principal, status_code=exc.status_code, zh=zh, en=en)


def app_from_env() -> FastAPI:
    """The application from the environment (``JICAI_DATA_DIR``, ``JICAI_WAREHOUSE_URL``, …): uvicorn's
    factory for several worker processes."""
    from jicai.settings import Settings

    return create_app(WebConfig.resolve(Settings.resolve()))
