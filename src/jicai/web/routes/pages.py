"""The HTML pages: overview, ranking, institution detail with drill-down, every dataset, import, policy,
reports. Each page takes the principal from :func:`jicai.web.auth.page_principal` (a login redirect when
there is none) and reads through the same views and queries as the API, so scope is applied the same way."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from jicai.contract.roles import ROLE_ZH, Principal
from jicai.errors import BilingualError
from jicai.web import query, units, views
from jicai.web.auth import page_principal, require_csrf
from jicai.web.datasets import DATASETS, PARAMS, DatasetError
from jicai.web.query import filtered, jsonable, page_of, resolve_params, scoped, severity_first
from jicai.web.render import render
from jicai.web.routes.api import FILTERABLE, NOT_IN_SCOPE, Page, view_of

router = APIRouter(include_in_schema=False)

GROUPS = {"execution": ("执行监测", "Execution"), "assessment": ("考核与资金", "Assessment & funds"),
          "supply": ("供应保障", "Supply"), "fund": ("基金监管", "Fund supervision")}


def _page(request: Request, template: str, principal: Principal, status_code: int = 200, **ctx) -> HTMLResponse:
    menu = {g: [d for d in DATASETS.values() if d.group == g and principal.role in d.roles] for g in GROUPS}
    return render(request, template, status_code=status_code, role_zh=ROLE_ZH, menu=menu, groups=GROUPS, **ctx)


def _error(request: Request, principal: Principal, exc: BilingualError, status: int = 422) -> HTMLResponse:
    return _page(request, "error.html", principal, status_code=status, **exc.detail())


def _not_found(request: Request, principal: Principal) -> HTMLResponse:
    return _page(request, "error.html", principal, status_code=404, **NOT_IN_SCOPE)


def _namer(request: Request):
    """``name(column, code)``: the name a summary page shows beside a code (a region by its city, a batch by its
    title), None when it has none — the same names the dataset pages use (:mod:`jicai.web.names`)."""
    from jicai.contract.regions import parent_code, region_name
    from jicai.web.names import names_of

    names = names_of(request.app.state.data)

    def name(column: str, code) -> str | None:
        found = names.name(column, code)
        if found and column in ("region_code", "city_code"):
            parent = parent_code(str(code))
            up = region_name(parent, names.by_kind.get("region")) if parent and not parent.endswith("0000") else None
            return f"{up} {found}" if up else found
        return found

    return name


def _as_of(raw: str | None) -> date | None:
    return query.day(raw)  # within its window, or a QueryError (422)


@router.get("/", response_class=HTMLResponse)
def overview_page(request: Request, as_of: str | None = None, unit: str | None = None,
                  principal: Principal = Depends(page_principal)):
    if principal.role == "institution":  # a hospital's overview is its own detail page
        return institution_page(request, principal.scope, as_of, unit, principal)
    try:
        # 计量单位: the volume cards in DDDs with ?unit=ddd (each variety converted before the sums)
        ov = view_of(request, principal, views.overview, _as_of(as_of), units.code(unit))
    except DatasetError as exc:
        return _error(request, principal, exc)
    return _page(request, "overview.html", principal, ov=ov, name=_namer(request), unit_names=units.UNITS)


@router.get("/ranking", response_class=HTMLResponse)
def ranking_page(request: Request, as_of: str | None = None, level: int | None = Query(None, ge=0, le=3),
                 principal: Principal = Depends(page_principal)):
    if principal.role == "enterprise":
        return _page(request, "error.html", principal, status_code=403, zh="无权查看", en="not allowed for your role")
    try:
        r = view_of(request, principal, views.ranking, _as_of(as_of), level)
    except DatasetError as exc:
        return _error(request, principal, exc)
    from jicai.contract.display import LEVELS

    return _page(request, "ranking.html", principal, r=r, level=level, levels=LEVELS, name=_namer(request))


# the institution page's table of its varieties: the verdict and its reason first, then the figures
VARIETY_COLUMNS = ("variety_id", "batch_id", "status", "completion", "time_progress", "shortfall_volume",
                   "nonselected_share", "agreed_volume", "selected_volume", "backup_volume")
# their headers on the English page (the columns' own English is a description, too long for a header)
VARIETY_HEADERS_EN = {"variety_id": "Variety", "batch_id": "Batch", "status": "Status", "completion": "Completion",
                      "time_progress": "Time progress", "shortfall_volume": "Short of time progress",
                      "nonselected_share": "Non-selected share", "agreed_volume": "Agreed",
                      "selected_volume": "Selected", "backup_volume": "Backup counted as selected",
                      "reason_zh": "Why"}
# in DDDs (计量单位 DDD): each volume in DDDs, the cost per DDD of what was bought, and why a variety has none
VARIETY_COLUMNS_DDD = ("variety_id", "batch_id", "status", "completion", "time_progress", "shortfall_volume_ddd",
                       "nonselected_share", "agreed_volume_ddd", "selected_volume_ddd", "selected_cost_per_ddd",
                       "nonselected_cost_per_ddd", "ddd_note")
VARIETY_HEADERS_EN.update({"shortfall_volume_ddd": "Short of time progress (DDDs)", "agreed_volume_ddd": "Agreed (DDDs)",
                           "selected_volume_ddd": "Selected (DDDs)", "selected_cost_per_ddd": "Selected: cost per DDD",
                           "nonselected_cost_per_ddd": "Non-selected: cost per DDD", "ddd_note": "Why no DDDs"})


@router.get("/institutions/{code}", response_class=HTMLResponse)
def institution_page(request: Request, code: str, as_of: str | None = None, unit: str | None = None,
                     principal: Principal = Depends(page_principal)):
    try:
        # 计量单位: the volumes in DDDs with ?unit=ddd (the totals: each variety converted before the sums)
        u = units.code(unit)
        d = view_of(request, principal, views.institution_detail, code, _as_of(as_of), u)
    except DatasetError as exc:
        return _error(request, principal, exc)
    if d is None:
        return _not_found(request, principal)
    from jicai.contract.display import LEVELS
    from jicai.web.dataset_page import pick_table
    from jicai.web.render import lang_of

    ds, params = units.apply(DATASETS["monitor"], u, {"as_of": d["as_of"]})
    table = pick_table(ds, d["varieties"], VARIETY_COLUMNS_DDD if u == "ddd" else VARIETY_COLUMNS, params,
                       request.app.state.data, lang_of(request))
    return _page(request, "institution.html", principal, d=d, table=table, levels=LEVELS, name=_namer(request),
                 headers_en=VARIETY_HEADERS_EN, unit_names=units.UNITS)


ORDER_KINDS = {"ordered_at": "datetime", "accepted_at": "datetime", "quantity": "volume",
               "accepted_quantity": "volume", "units": "volume", "pack_price": "money"}


def _order_cells(request: Request, r: dict, lang: str) -> list[list[str]]:
    """The order lines as a reader reads them: times to the minute, prices in ¥, the product's class and the
    channel by name, the product and the distributor by name (the code stays in the product column)."""
    from datetime import datetime

    from jicai.contract.display import show
    from jicai.contract.enums import CHANNELS, SUPPLY_ROLES
    from jicai.web.render import minute

    classes = {**SUPPLY_ROLES, "nonselected": ("非中选", "non-selected")}
    name = _namer(request)
    out = []
    for row in r["rows"]:
        cells = []
        for c in r["columns"]:
            k, v = c["name"], row.get(c["name"])
            if k in ("ordered_at", "accepted_at"):
                text = minute(datetime.fromisoformat(v)) if isinstance(v, str) and "T" in v else minute(v)
            elif k in ORDER_KINDS:
                text = show(v, ORDER_KINDS[k], lang)
            elif k == "product_class":
                text = show(v, "enum", lang, classes)
            elif k == "channel":
                text = show(v, "enum", lang, CHANNELS)
            elif k in ("distributor_code", "variety_id"):
                text = (name(k, v) or v or "") if v else ""
            else:
                text = "" if v is None else str(v)
            cells.append(text)
        out.append(cells)
    return out


@router.get("/institutions/{code}/orders", response_class=HTMLResponse)
def orders_page(request: Request, code: str, variety_id: str | None = None, as_of: str | None = None,
                page: Page = 1, month_from: str | None = None, month_to: str | None = None,
                unit: str | None = None, principal: Principal = Depends(page_principal)):
    """An institution's order lines (packs and minimum units, as ordered); ``unit`` is the institution page's
    计量单位, kept in the link back to it."""
    try:
        unit = units.code(unit)
        months = [query.month(m) if m else None for m in (month_from, month_to)]  # a bad month: 422
        r = views.order_lines(request.app.state.data, principal, code, variety_id, _as_of(as_of), page, 100,
                              *months)
    except DatasetError as exc:
        return _error(request, principal, exc)
    if r is None:
        return _not_found(request, principal)
    from jicai.web.render import lang_of

    return _page(request, "orders.html", principal, r=r, cells=_order_cells(request, r, lang_of(request)),
                 name=_namer(request), unit=unit)


@router.get("/data/{name}", response_class=HTMLResponse)
def dataset_page(request: Request, name: str, principal: Principal = Depends(page_principal)):
    ds = DATASETS.get(name)
    if ds is None:
        raise HTTPException(404)
    if principal.role not in ds.roles:
        return _page(request, "error.html", principal, status_code=403, zh="无权查看", en="not allowed for your role")
    q = request.query_params
    data = request.app.state.data
    filters = {c: q[c] for c in FILTERABLE if c in ds.columns and c not in ds.params and q.get(c)}
    try:
        page = query.page_number(q.get("page"))
        raw = {k: q.get(k) for k in ds.params if q.get(k)}
        params = resolve_params(ds, raw, data, principal, request.app.state.workflow)
        ds, params = units.apply(ds, q.get("unit"), params)  # 计量单位: the DDD view when ?unit=ddd
        sort, desc = q.get("sort") or None, q.get("desc") == "1"

        def compute():
            t = filtered(scoped(ds, params, principal, data), ds, filters)
            return page_of(t, severity_first(t, ds), data, sort=sort, desc=desc, page=page, page_size=50)

        key = ("page", ds.name, principal.role, principal.scope,
               tuple(sorted((k, str(v)) for k, v in params.items())), tuple(sorted(filters.items())), sort, desc,
               page)
        pg = data.memo(key, compute)
    except (DatasetError, ValueError) as exc:  # arguments are checked by jicai.web.query; any other ValueError
        if not isinstance(exc, DatasetError):  # of a computation is still the reader's 422, never a 500
            exc = DatasetError("参数无效", "invalid argument")
        return _error(request, principal, exc)
    from jicai.web.dataset_page import filter_controls, table_of
    from jicai.web.render import lang_of, render_fragment

    lang = lang_of(request)
    # keyed and linked by the validated arguments only: junk parameters neither add memo entries nor reach the
    # links (issue 14 finding 2: 1,500 views of ?z=<junk> grew the server by 600 MB)
    shown = {**{k: str(jsonable(params[k])) for k in (*raw, "unit") if k in params}, **filters}
    shown.update({"sort": sort} if sort else {})
    shown.update({"desc": "1"} if desc else {})
    table_html = data.memo(("page.html", lang, key),
                           lambda: render_fragment(request, "_dataset_rows.html", query=shown,
                                                   **table_of(ds, pg, params, principal, data, lang)))
    filterable = [c for c in FILTERABLE if c in ds.columns and c not in ds.params]
    return _page(request, "dataset.html", principal, ds=ds, pg=pg, table_html=table_html, params={k: jsonable(v) for k, v in params.items()},
                 filters=filters, controls=filter_controls(ds, filterable, principal, data, lang), param_labels=PARAMS,
                 batches=data.batches(), query=dict(q), unit_switch=units.switchable(ds.base or ds),
                 unit=ds.unit, unit_names=units.UNITS, unit_summed=units.summed(ds))


@router.get("/policy", response_class=HTMLResponse)
def policy_page(request: Request, principal: Principal = Depends(page_principal)):
    from jicai.policy.display import policy_rows
    from jicai.policy.registry import DEFAULT_ID, PolicyRegistry, batch_policy_ids

    data = request.app.state.data
    named = data.run(batch_policy_ids)  # batch → the policy it names; each policy named is shown with its batches
    registry = PolicyRegistry(data.data_dir)
    try:
        ids = sorted(set(named.values())) or [DEFAULT_ID]
        policies = [registry.get(pid) for pid in ids]
    except BilingualError as exc:  # a batch names a policy not installed, or an installed file is invalid
        return _error(request, principal, exc)
    names = {b["batch_id"]: b["name"] for b in data.batches()}
    items = [{"policy": p, "rows": policy_rows(p),
              "batches": [f"{names.get(b) or b}({b})" for b, pid in sorted(named.items()) if pid == p.id]}
             for p in policies]
    return _page(request, "policy.html", principal, policies=items)


# ---- import -----------------------------------------------------------------------------------------

IMPORTERS = ("admin", "bureau")
# the importer's outcome (jicai.ingest.loader.LoadResult.status) as a reader says it
IMPORT_STATUSES = {"loaded": ("已入库", "loaded"), "unchanged": ("未变化(同一文件已导入过)", "unchanged (imported before)"),
                   "failed": ("导入失败", "failed")}


@router.get("/import", response_class=HTMLResponse)
def import_page(request: Request, principal: Principal = Depends(page_principal)):
    if principal.role not in IMPORTERS or principal.scope:  # the same rule as the upload: no form it may not use
        return _page(request, "error.html", principal, status_code=403,
                     zh="只有全省权限的医保局用户可以导入数据", en="only province-wide bureau users may import data")
    from jicai.contract.tables import TABLES

    return _page(request, "import.html", principal, tables=TABLES, result=None)


@router.post("/import", response_class=HTMLResponse)
async def import_upload(request: Request, file: UploadFile = File(...), table: str = Form(""),
                        hidden_sheets: str = Form(""), csrf_token: str = Form(""),
                        principal: Principal = Depends(page_principal)):
    if principal.role not in IMPORTERS or principal.scope:
        return _page(request, "error.html", principal, status_code=403,
                     zh="只有全省权限的医保局用户可以导入数据", en="only province-wide bureau users may import data")
    require_csrf(request, csrf_token)
    from starlette.concurrency import run_in_threadpool

    from jicai.contract.tables import TABLES
    from jicai.web.uploads import import_upload as run_import

    body = await file.read()
    # on a worker thread: an import of minutes must not hold the event loop, which serves every other request
    # (issue 14 finding 3: reads waited 23.8 s during an upload)
    result = await run_in_threadpool(run_import, request.app.state.data, file.filename or "upload", body,
                                     table or None, hidden_sheets=bool(hidden_sheets))
    await run_in_threadpool(views.audit, request, principal, "import", result["table"] or (file.filename or ""),
                            {k: v for k, v in result.items() if k != "quarantine"})
    return _page(request, "import.html", principal, tables=TABLES, result=result, statuses=IMPORT_STATUSES,
                 status_code=200 if result["ok"] else 422)


# ---- reports --------------------------------------------------------------------------------------

REPORT_KINDS = {"monthly": ("月度监测通报", "Monthly monitoring"), "quarterly": ("季度通报", "Quarterly notice"),
                "annual": ("年度考核报告", "Annual assessment")}


@router.get("/reports", response_class=HTMLResponse)
def reports_page(request: Request, principal: Principal = Depends(page_principal)):
    data = request.app.state.data
    return _page(request, "reports.html", principal, kinds=REPORT_KINDS, batches=data.batches(),
                 as_of=data.data_end().isoformat(), allowed=principal.regional and not principal.scope)


@router.get("/reports/{kind}.{fmt}")
def report_download(request: Request, kind: str, fmt: str, as_of: str | None = None, batch: str | None = None,
                    year: str | None = None, principal: Principal = Depends(page_principal)):
    """The province's reports hold every institution: province-wide bureau, admin and auditor users only."""
    if not (principal.regional and not principal.scope):
        return _page(request, "error.html", principal, status_code=403, zh="报告含全省机构,仅限全省权限用户",
                     en="reports cover the whole province: province-wide users only")
    if kind not in REPORT_KINDS or fmt not in ("xlsx", "html", "pdf"):
        raise HTTPException(404)
    from jicai.web.reports import build_report_file

    data = request.app.state.data
    try:
        body, media, filename = build_report_file(data, kind, fmt, _as_of(as_of), batch, query.cycle_year(year))
    except DatasetError as exc:
        return _error(request, principal, exc)
    views.audit(request, principal, "export", f"report:{kind}", {"format": fmt, "as_of": as_of, "batch": batch,
                                                                 "year": year})
    # HTML and PDF open in the browser (a notice is read, then printed or saved); a workbook is downloaded
    disposition = "attachment" if fmt == "xlsx" else "inline"
    return Response(body, media_type=media, headers={"Content-Disposition": f"{disposition}; filename*=UTF-8''{filename}"})


SUMMARY_FORMATS = ("pdf", "html", "xlsx")


def _summary_file(request: Request, principal: Principal, kind: str, code: str, fmt: str, as_of: str | None):
    from jicai.web.reports import build_summary_file

    if fmt not in SUMMARY_FORMATS:
        raise HTTPException(404)
    data = request.app.state.data
    try:
        body, media, filename = build_summary_file(data, kind, code, fmt, _as_of(as_of))
    except DatasetError as exc:
        return _error(request, principal, exc)
    views.audit(request, principal, "export", f"summary:{kind}:{code}", {"format": fmt, "as_of": as_of})
    disposition = "attachment" if fmt == "xlsx" else "inline"
    return Response(body, media_type=media, headers={"Content-Disposition": f"{disposition}; filename*=UTF-8''{filename}"})


@router.get("/institutions/{code}/summary.{fmt}")
def institution_summary(request: Request, code: str, fmt: str, as_of: str | None = None,
                        principal: Principal = Depends(page_principal)):
    """一页摘要 of one institution (PDF, HTML or xlsx): the institution itself, or a bureau whose region holds it."""
    from jicai.web.scope import may_see_institution

    info = views.institution_info(request.app.state.data, code)
    if info is None or not may_see_institution(principal, code, info["region_code"]):
        return _not_found(request, principal)
    return _summary_file(request, principal, "institution", code, fmt, as_of)


@router.get("/regions/{code}/summary.{fmt}")
def region_summary(request: Request, code: str, fmt: str, as_of: str | None = None,
                   principal: Principal = Depends(page_principal)):
    """一页摘要 of one region (a 6-digit division code): bureau, admin and auditor users whose scope holds it."""
    from jicai.reports.summary import region_prefix

    if not principal.regional:
        return _page(request, "error.html", principal, status_code=403, zh="地区摘要仅限医保部门用户",
                     en="region summaries are for bureau users")
    if not (code.isdigit() and len(code) == 6) or not region_prefix(code).startswith(principal.scope or ""):
        return _not_found(request, principal)
    return _summary_file(request, principal, "region", code, fmt, as_of)
