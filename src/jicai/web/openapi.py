"""The OpenAPI document as the API behaves: every status an operation can return, each error with its body.

FastAPI documents a route's 200 and, when it has parameters, a 422 of its own validation-error shape; what the
routes raise themselves (401 without a login, 403 for a role or a failed CSRF check, 404 outside scope, 409 for
a decision already taken, 503 while figures are computed or the warehouse is being written) it cannot see. So
the document is completed here, from what each route depends on, rather than route by route:

* every error is the bilingual body ``{"detail": {"zh", "en", …}}`` (:data:`ERROR`), FastAPI's 422 included
  (:mod:`jicai.web.invalid`);
* a dataset's page and a dataset's export have their own 200 schemas and media types (xlsx or csv).

tests/test_web_schemathesis.py checks the document against the responses (status codes, schemas, media types).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

ERROR = {
    "title": "Error",
    "type": "object",
    "required": ["detail"],
    "properties": {"detail": {
        "type": "object", "required": ["zh", "en"],
        "properties": {"zh": {"type": "string", "description": "中文说明"},
                       "en": {"type": "string", "description": "the reason in English"},
                       "errors": {"type": "array", "items": {"type": "object"},
                                  "description": "FastAPI's validation errors (type, loc, msg), for programs"}}}},
}
REF = {"$ref": "#/components/schemas/Error"}
WHY = {
    400: "用户名或密码错误 / wrong name or password (OAuth2 error body, with the bilingual detail)",
    401: "未登录或令牌无效 / not logged in, or the token is invalid or expired",
    403: "角色无权,或会话调用缺少 X-CSRF-Token / the role may not, or a session call without X-CSRF-Token",
    404: "不存在或不在权限范围内 / not found, or outside the caller's scope (the two are not told apart)",
    409: "与现有记录冲突(如已撤销) / conflicts with the record's state (e.g. already revoked)",
    422: "参数无效(说明哪个参数、应为何值) / an invalid argument (which one, and what it must be)",
    429: "失败次数过多,稍后再试 / too many failures: retry after Retry-After seconds",
    503: "正在计算或数据正在写入,稍后重试 / figures being computed or the warehouse being written: retry",
}
DATASET_PAGE = {
    "title": "DatasetPage",
    "type": "object",
    "required": ["data", "dataset", "title", "params", "total", "page", "page_size", "columns", "rows"],
    "properties": {
        "data": {"type": "object", "description": "whether the figures are being updated, and as of when"},
        "dataset": {"type": "string"},
        "title": {"type": "object", "properties": {"zh": {"type": "string"}, "en": {"type": "string"}}},
        "params": {"type": "object", "description": "the arguments used, defaults filled in"},
        "total": {"type": "integer", "minimum": 0},
        "page": {"type": "integer", "minimum": 1},
        "page_size": {"type": "integer", "minimum": 1},
        "columns": {"type": "array", "items": {"type": "object", "required": ["name", "zh", "en"]}},
        "rows": {"type": "array", "items": {"type": "object"}},
    },
}
EXPORT_MEDIA = ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "text/csv; charset=utf-8")


def _calls(route: Any) -> set[str]:
    """The names of every function the route depends on (its principal, its role check …)."""
    names, todo = set(), [route.dependant]
    while todo:
        d = todo.pop()
        if d.call is not None:
            names.add(getattr(d.call, "__qualname__", ""))
        todo += d.dependencies
    return names


def statuses(route: Any) -> set[int]:
    """The error statuses ``route`` can answer with."""
    calls = _calls(route)
    path, post = route.path_format, "POST" in route.methods
    out: set[int] = set()
    if path.startswith("/api/auth/token"):
        return {400, 422, 429}
    if any(c == "api_principal" or c.startswith("require_roles") for c in calls):
        out |= {401, 403}
    if route.dependant.query_params or route.dependant.path_params or route.dependant.body_params:
        out.add(422)
    if path.startswith("/api/auth/"):
        return out
    out.add(503)  # every other operation reads the warehouse's figures or lookups, or writes it
    if route.dependant.path_params or path == "/api/pharmacy/settlement-check":
        out.add(404)
    if post and "workflow" in route.tags:
        out |= {404, 409, 422}  # a decision on a record (or a code) that is not there, or already decided
    return out


def complete(schema: dict[str, Any], routes: list[Any]) -> dict[str, Any]:
    """``schema`` (FastAPI's document) with every operation's error statuses and the datasets' 200 bodies."""
    from jicai.web.datasets import DATASETS

    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR
    components["DatasetPage"] = DATASET_PAGE
    datasets = {f"/api/{name}" for name in DATASETS}
    for route in routes:
        for method in route.methods:
            op = schema["paths"].get(route.path_format, {}).get(method.lower())
            if op is None:
                continue
            responses = op.setdefault("responses", {})
            for status in sorted(statuses(route)):
                entry = responses.setdefault(str(status), {})
                entry["description"] = WHY[status]
                entry["content"] = {"application/json": {"schema": REF}}
            if "422" in responses:  # FastAPI's own (a dependency's header, a form): the bilingual body too
                responses["422"] = {"description": WHY[422], "content": {"application/json": {"schema": REF}}}
            ok = responses.get("200")
            if ok is not None and route.path_format in datasets:
                ok["content"] = {"application/json": {"schema": {"$ref": "#/components/schemas/DatasetPage"}}}
            elif ok is not None and route.path_format.removesuffix("/export") in datasets:
                ok["description"] = "xlsx(带中文表头)或 csv(规范列名) / xlsx (Chinese headers) or csv (column names)"
                ok["content"] = {m: {"schema": {"type": "string", "format": "binary"}} for m in EXPORT_MEDIA}
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)  # replaced by Error everywhere
    return schema


def api_routes(app: FastAPI) -> list[Any]:
    """The app's API routes in the document, each with its full path (FastAPI ≥ 0.165 keeps an included router
    as one entry of ``app.routes``: its routes are reached through route contexts)."""
    from fastapi import routing

    if hasattr(routing, "iter_route_contexts"):
        routes = [c for c in routing.iter_route_contexts(app.routes) if isinstance(c.original_route, APIRoute)]
    else:  # pragma: no cover - FastAPI before 0.165
        routes = [r for r in app.routes if isinstance(r, APIRoute)]
    return [r for r in routes if r.include_in_schema]


def install(app: FastAPI) -> None:
    """Serve the completed document at /openapi.json (built once, on the first request)."""
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes)
            app.openapi_schema = complete(schema, api_routes(app))
        return app.openapi_schema

    app.openapi = openapi
