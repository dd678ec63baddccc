"""The JSON API: one endpoint per dataset plus the overview, ranking, institution detail and drill-down.

Every endpoint takes the principal from :func:`jicai.web.auth.api_principal` (bearer token or session) and
reads through :mod:`jicai.web.query`, which applies scope before anything else. Errors are JSON with a
Chinese and an English message: ``{"detail": {"zh": …, "en": …}}``.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import Response

from jicai.contract.roles import Principal
from jicai.errors import BilingualError
from jicai.web import query, units, views
from jicai.web.auth import api_principal
from jicai.web.datasets import DATASETS, PARAMS, Dataset, DatasetError
from jicai.web.query import MAX_PAGE_SIZE, PAGE_MAX, filtered, jsonable, page_of, resolve_params, scoped

router = APIRouter(prefix="/api", tags=["data"])

# no control characters in any text argument (they cannot be part of a code, and some engines choke on NUL)
TEXT = r"^[^\x00-\x1f\x7f]*$"
CODE = r"^[0-9A-Za-z][0-9A-Za-z\-_.]{0,63}$"
FILTERABLE = ("institution_code", "region_code", "level", "batch_id", "variety_id", "product_code", "status",
              "enterprise_code", "distributor_code", "month", "finding", "passed", "series")


def column_doc(ds: Dataset, name: str) -> dict:
    """A column as the API describes it: the page's and the workbook's labels, its kind (how to show a value:
    rate → %, money → ¥ …) and the names of its coded values."""
    out = {"name": name, "zh": ds.columns[name][0], "en": ds.columns[name][1]}
    if ds.measure is not None:
        col = ds.measure.column(name)
        out["kind"], out["unit"] = col.kind, col.unit
        labels = ds.measure.labels.get(name)
        if labels:
            out["labels"] = {k: {"zh": v[0], "en": v[1]} for k, v in labels.items()}
    return out


def bad(exc: BilingualError, status: int = 422) -> HTTPException:
    return HTTPException(status, detail=exc.detail())


def forbidden() -> HTTPException:
    return HTTPException(403, detail={"zh": "无权查看", "en": "not allowed for your role"})


def check_role(ds: Dataset, principal: Principal) -> None:
    if principal.role not in ds.roles:
        raise forbidden()


def dataset_response(request: Request, ds: Dataset, principal: Principal, raw: dict[str, Any],
                     filters: dict[str, str], sort: str | None, desc: bool, page: int, page_size: int,
                     unit: str | None = None) -> Response:
    """One page of a dataset as JSON bytes. Identical requests of principals with the same role and scope see
    the same rows, so the serialized page is kept until the data changes (``DataService.invalidate``).
    ``unit="ddd"``: the dataset's DDD view (:mod:`jicai.web.units`)."""
    data = request.app.state.data
    check_role(ds, principal)
    try:
        params = resolve_params(ds, raw, data, principal, request.app.state.workflow)
        ds, params = units.apply(ds, unit, params)
    except DatasetError as exc:
        raise bad(exc) from exc
    key = ("api", ds.name, principal.role, principal.scope, tuple(sorted((k, str(v)) for k, v in params.items())),
           tuple(sorted(filters.items())), sort, desc, page, page_size)

    def compute() -> bytes:
        t = filtered(scoped(ds, params, principal, data), ds, filters)
        pg = page_of(t, [k for k in ds.sort if k in t.columns], data, sort=sort, desc=desc, page=page,
                     page_size=page_size)
        return json_bytes({
            "dataset": ds.name,
            "title": {"zh": ds.title_zh, "en": ds.title_en},
            "params": {k: jsonable(v) for k, v in params.items()},
            "total": pg.total, "page": pg.page, "page_size": pg.page_size,
            "columns": [column_doc(ds, c) for c in pg.columns],
            "rows": [{k: jsonable(v) for k, v in r.items()} for r in pg.rows],
        })

    try:
        body = data.memo(key, compute)
    except DatasetError as exc:
        raise bad(exc) from exc
    return Response(with_status(body, data), media_type="application/json")


def json_bytes(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def with_status(body: bytes, data) -> bytes:
    """A JSON object's bytes with ``"data": {"updating", "data_at", "version"}`` first: whether these figures are
    being recomputed (new data arrived) and when their data were written. Spliced in, so that the cached body of
    the figures stays the same while the status changes."""
    if not body.startswith(b"{"):
        return body
    status = json_bytes({"data": data.status()})
    return status[:-1] + (b"," + body[1:] if body != b"{}" else b"}")


def view_of(request: Request, principal: Principal, view: Callable[..., Any], *args: Any,
            as_json: bool = False) -> Any:
    """``view(data, principal, *args)`` (as JSON bytes with ``as_json``), computed once per role, scope and
    arguments until the data changes: principals of one role and scope see the same rows. The pages share it."""
    data = request.app.state.data

    def compute() -> Any:
        result = view(data, principal, *args)
        return json_bytes(result) if as_json else result

    return data.memo((view.__name__, as_json, principal.role, principal.scope, *args), compute)


# an institution view is None for an institution the caller may not see: the same 404 as one that does not exist
NOT_IN_SCOPE = {"zh": "没有该机构或无权查看", "en": "no such institution in your scope"}


def _in_scope(compute: Callable[[], Any]) -> Any:
    try:
        result = compute()
    except DatasetError as exc:
        raise bad(exc) from exc
    if result is None:
        raise HTTPException(404, detail=NOT_IN_SCOPE)
    return result


def _json_view(request: Request, principal: Principal, view: Callable[..., Any], *args: Any) -> Response:
    try:
        body = view_of(request, principal, view, *args, as_json=True)
        return Response(with_status(body, request.app.state.data), media_type="application/json")
    except DatasetError as exc:
        raise bad(exc) from exc


AS_OF_DOC = f"截至日期 / as-of date, {query.DAY_MIN} … {query.DAY_MAX} (default: the last day with data)"
AsOf = Annotated[date | None, Query(description=AS_OF_DOC)]
Page = Annotated[int, Query(ge=1, le=PAGE_MAX)]


def _as_of(value: date | None) -> date | None:
    """``as_of`` within its window (query.day), or a 422."""
    try:
        return query.day(value)
    except DatasetError as exc:
        raise bad(exc) from exc


# the Python type of each dataset argument (FastAPI parses and documents the query parameter from it)
ARG_TYPES = {"as_of": date | None, "batch": str | None, "year": int | None, "month": str | None,
             "period": str | None, "peers": str | None}


def _param_query(name: str):
    """The Query of a dataset argument, bounded so that no value reaches a database out of range."""
    desc = " / ".join(PARAMS[name])
    if name == "year":
        return Query(None, ge=1, le=query.CYCLE_YEAR_MAX, description=desc)
    if name == "month":
        return Query(None, pattern=query.MONTH_PATTERN,
                     description=f"{desc}, {query.YEAR_MIN}-01 … {query.YEAR_MAX}-12")
    if name == "as_of":
        return Query(None, description=AS_OF_DOC)
    if name in ("batch", "period"):
        return Query(None, max_length=64, pattern=TEXT, description=desc)
    if name == "peers":  # a group name, or owner/name of a shared one (jicai.workflow.peer_groups)
        return Query(None, max_length=128, pattern=TEXT, description=desc)
    return Query(None, description=desc)


UNIT_DOC = ("计量单位 / unit: min = 最小单位 (minimum units, the default); ddd = 另加DDD数与每DDD费用列 (adds each "
            "volume in DDDs and the cost per DDD beside its amount, with ddd_per_unit and ddd_note; a roll-up across "
            "products converts each product before the sums and counts the units without DDDs apart)")


def _unit_param(ds: Dataset) -> list[inspect.Parameter]:
    """The ``unit`` query parameter of a dataset with a DDD view (:mod:`jicai.web.units`); none for the others."""
    if not units.switchable(ds):
        return []
    P = inspect.Parameter
    return [P("unit", P.KEYWORD_ONLY, annotation=str | None,
              default=Query(None, pattern="^(min|ddd)$", description=UNIT_DOC))]


def _dataset_endpoint(ds: Dataset):
    """An endpoint whose signature lists exactly this dataset's arguments and filters (for OpenAPI)."""
    filters = [c for c in FILTERABLE if c in ds.columns and c not in ds.params]

    def endpoint(request: Request, **kw):
        principal = kw.pop("principal")
        raw = {k: kw.pop(k) for k in ARG_TYPES if k in kw}
        flt = {c: kw.pop(c) for c in filters if kw.get(c) not in (None, "")}
        return dataset_response(request, ds, principal, raw, flt, kw.get("sort"), kw.get("desc", False),
                                kw.get("page", 1), kw.get("page_size", 100), kw.get("unit"))

    P = inspect.Parameter
    params = [P("request", P.POSITIONAL_OR_KEYWORD, annotation=Request)]
    for name in ds.params:
        params.append(P(name, P.KEYWORD_ONLY, annotation=ARG_TYPES[name], default=_param_query(name)))
    for c in filters:
        params.append(P(c, P.KEYWORD_ONLY, annotation=str | None,
                        default=Query(None, max_length=64, pattern=TEXT,
                                      description=f"{ds.columns[c][0]} = (region_code: prefix)")))
    params += _unit_param(ds)
    params += [
        P("sort", P.KEYWORD_ONLY, annotation=str | None, default=Query(None, max_length=64, pattern=TEXT)),
        P("desc", P.KEYWORD_ONLY, annotation=bool, default=Query(False)),
        P("page", P.KEYWORD_ONLY, annotation=int, default=Query(1, ge=1, le=PAGE_MAX)),
        P("page_size", P.KEYWORD_ONLY, annotation=int, default=Query(100, ge=1, le=MAX_PAGE_SIZE)),
        P("principal", P.KEYWORD_ONLY, annotation=Principal, default=Depends(api_principal)),
    ]
    endpoint.__signature__ = inspect.Signature(params)
    endpoint.__name__ = f"dataset_{ds.name.replace('-', '_')}"
    endpoint.__doc__ = f"{ds.title_zh} / {ds.title_en}. {ds.note_zh} {ds.note_en}".strip()
    return endpoint


def _export_endpoint(ds: Dataset):
    def endpoint(request: Request, **kw):
        principal = kw.pop("principal")
        fmt = kw.pop("format")
        raw = {k: kw.pop(k) for k in ARG_TYPES if k in kw}
        return export_dataset(request, ds, principal, raw, fmt, kw.get("unit"))

    P = inspect.Parameter
    params = [P("request", P.POSITIONAL_OR_KEYWORD, annotation=Request)]
    params += [P(n, P.KEYWORD_ONLY, annotation=ARG_TYPES[n], default=_param_query(n)) for n in ds.params]
    params += _unit_param(ds)
    params += [P("format", P.KEYWORD_ONLY, annotation=str, default=Query("xlsx", pattern="^(xlsx|csv)$")),
               P("principal", P.KEYWORD_ONLY, annotation=Principal, default=Depends(api_principal))]
    endpoint.__signature__ = inspect.Signature(params)
    endpoint.__name__ = f"export_{ds.name.replace('-', '_')}"
    endpoint.__doc__ = f"导出{ds.title_zh}(xlsx/csv,仅本人可见的行) / export {ds.title_en} (only the caller's rows)"
    return endpoint


def export_dataset(request: Request, ds: Dataset, principal: Principal, raw: dict, fmt: str,
                   unit: str | None = None) -> Response:
    from jicai.web.exports import export_rows

    data = request.app.state.data
    check_role(ds, principal)
    try:
        params = resolve_params(ds, raw, data, principal, request.app.state.workflow)
        ds, params = units.apply(ds, unit, params)
        t = scoped(ds, params, principal, data)
        rows = data.execute(t.order_by([k for k in ds.sort if k in t.columns]))
    except DatasetError as exc:
        raise bad(exc) from exc
    from jicai.web.dataset_page import row_reasons

    reasons = row_reasons(ds, rows.to_pylist(), params, data) if fmt == "xlsx" else None
    body, media, filename = export_rows(ds, rows, params, fmt, reasons)
    views.audit(request, principal, "export", ds.name, {"format": fmt, "rows": rows.num_rows,
                                                       **{k: jsonable(v) for k, v in params.items()}})
    return Response(body, media_type=media, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{filename}"})


for _ds in list(DATASETS.values()):
    router.add_api_route(f"/{_ds.name}", _dataset_endpoint(_ds), methods=["GET"],
                         summary=f"{_ds.title_zh} / {_ds.title_en}")
    router.add_api_route(f"/{_ds.name}/export", _export_endpoint(_ds), methods=["GET"],
                         summary=f"导出{_ds.title_zh} / export {_ds.title_en}", response_class=Response)


OVERVIEW_UNIT_DOC = ("计量单位 / unit: min = 最小单位 (minimum units, the default); ddd = 另加DDD合计、每DDD费用与未换算用量 "
                     "(adds the volumes in DDDs, each variety converted before the sums, the cost per DDD and the "
                     "volume of the rows without DDDs)")


@router.get("/overview", summary="总览 / overview KPIs")
def overview(request: Request, as_of: AsOf = None,
             unit: Annotated[str | None, Query(pattern="^(min|ddd)$", description=OVERVIEW_UNIT_DOC)] = None,
             principal: Principal = Depends(api_principal)) -> dict:
    """KPI cards, progress by batch, non-selected share by level and the monthly trend, over the caller's rows;
    ``unit=ddd``: the volumes also in DDDs (:mod:`jicai.analytics.ddd_rollups`)."""
    try:
        u = units.code(unit)
    except DatasetError as exc:
        raise bad(exc) from exc
    return _json_view(request, principal, views.overview, _as_of(as_of), u)


@router.get("/overview/trend", summary="月度趋势 / monthly trend")
def overview_trend(request: Request, as_of: AsOf = None,
                   principal: Principal = Depends(api_principal)) -> list[dict]:
    """Completion, non-selected share, payment rate at each month end of the last 12 months (caller's rows)."""
    return _json_view(request, principal, views.trend, _as_of(as_of))


@router.get("/ranking", summary="机构排名 / institution ranking")
def ranking(request: Request, as_of: AsOf = None, level: int | None = Query(None, ge=0, le=3),
            principal: Principal = Depends(api_principal)) -> dict:
    """Institutions by overall completion, with the decile band within their level (1 = top 10%)."""
    if principal.role == "enterprise":
        raise forbidden()
    return _json_view(request, principal, views.ranking, _as_of(as_of), level)


INSTITUTION_UNIT_DOC = ("计量单位 / unit: min = 最小单位 (minimum units, the default); ddd = 各品种另加DDD数与每DDD费用,"
                        "并给出机构的DDD合计 (adds each variety's volumes in DDDs and its cost per DDD, and `ddd`: the "
                        "institution's totals in DDDs, each variety converted before the sums, the rows without DDDs "
                        "apart)")


@router.get("/institutions/{code}", summary="机构详情 / institution detail")
def institution(request: Request, code: Annotated[str, Path(pattern=CODE)], as_of: AsOf = None,
                unit: Annotated[str | None, Query(pattern="^(min|ddd)$", description=INSTITUTION_UNIT_DOC)] = None,
                principal: Principal = Depends(api_principal)) -> dict:
    """One institution's monitoring rows (each variety's progress) — 404 outside the caller's scope;
    ``unit=ddd``: the volumes also in DDDs (:func:`jicai.web.views.institution_detail`)."""
    as_of = _as_of(as_of)
    try:
        u = units.code(unit)
    except DatasetError as exc:
        raise bad(exc) from exc
    d = _in_scope(lambda: view_of(request, principal, views.institution_detail, code, as_of, u))
    return {"data": request.app.state.data.status(), **d}


@router.get("/institutions/{code}/order-lines", summary="订单明细 / order lines (drill-down)")
def order_lines(request: Request, code: Annotated[str, Path(pattern=CODE)],
                variety_id: str | None = Query(None, max_length=64, pattern=CODE),
                as_of: AsOf = None, page: Page = 1, page_size: int = Query(100, ge=1, le=MAX_PAGE_SIZE),
                month_from: str | None = Query(None, pattern=query.MONTH_PATTERN,
                                               description="验收月份起 / first acceptance month (YYYY-MM)"),
                month_to: str | None = Query(None, pattern=query.MONTH_PATTERN,
                                             description="验收月份止 / last acceptance month (YYYY-MM)"),
                principal: Principal = Depends(api_principal)) -> dict:
    """The order lines behind an institution's figures, with acceptance and the product's class; with
    month_from / month_to, those accepted in those months (a change series' months)."""
    as_of = _as_of(as_of)
    try:
        months = [query.month(m) if m else None for m in (month_from, month_to)]
    except DatasetError as exc:
        raise bad(exc) from exc
    d = _in_scope(lambda: views.order_lines(request.app.state.data, principal, code, variety_id, as_of, page,
                                            page_size, *months))
    return {"data": request.app.state.data.status(), **d}


@router.get("/datasets", summary="数据集目录 / the datasets this caller may read")
def datasets(principal: Principal = Depends(api_principal)) -> list[dict]:
    return [{"name": d.name, "zh": d.title_zh, "en": d.title_en, "params": list(d.params), "group": d.group}
            for d in DATASETS.values() if principal.role in d.roles]
