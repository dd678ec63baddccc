"""The workflow's API and pages: supply-problem reports and their verification, special-variety exemptions,
supervision actions, the audit log.

The rules live in :mod:`jicai.workflow.decisions` (scope, who may decide, what is written into the
warehouse); this module turns requests into calls of it — JSON under ``/api`` (bearer token or session with
``X-CSRF-Token``), HTML forms with a CSRF token elsewhere — each in one workflow transaction with its audit row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field, create_model

from jicai import clock
from jicai.contract.roles import DECIDERS, Principal
from jicai.web.auth import api_principal, client_address, page_principal, require_csrf, require_roles
from jicai.web.query import PAGE_MAX
from jicai.workflow import decisions as wf
from jicai.workflow import lookups
from jicai.workflow.imported import imported_reports
from jicai.workflow.models import (
    ACTION_ZH,
    PROBLEM_ZH,
    SPECIAL_ZH,
    STATUS_ZH,
)

router = APIRouter()

Problem = Literal["shortage", "late", "selective", "other"]
Status = Literal["pending", "verified", "rejected"]
Special = Literal["shortage", "emergency", "seasonal", "demand_change"]
TargetKind = Literal["institution", "enterprise"]
Action = Literal["remind", "interview", "notice"]
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=2**31 - 1)]
# ids are database integers: anything outside 1 … 2³¹−1 is refused (422) before a query could overflow
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
# codes are letters, digits and - _ . (no control characters can reach a query)
CODE = r"^[0-9A-Za-z][0-9A-Za-z\-_.]{0,63}$"
ApiPrincipal = Annotated[Principal, Depends(api_principal)]
PagePrincipal = Annotated[Principal, Depends(page_principal)]
Deciders = Annotated[Principal, Depends(require_roles(*DECIDERS))]
AuditReaders = Annotated[Principal, Depends(require_roles(*wf.AUDIT_READERS))]
Text = Field(default="", max_length=2000)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReportIn(_In):
    product_code: str = Field(min_length=1, max_length=32, pattern=CODE)
    problem: Problem
    description: str = Text
    start_date: date
    end_date: date | None = None


class DecisionIn(_In):
    decision: Literal["verify", "reject"]
    start_date: date | None = Field(None, description="verified period; default: the requested one")
    end_date: date | None = None
    comment: str = Text


class ExemptionIn(_In):
    variety_id: str = Field(min_length=1, max_length=64, pattern=CODE)
    special: Special
    start_date: date
    end_date: date | None = None
    reason: str = Field(min_length=1, max_length=2000)


class ActionIn(_In):
    target_kind: TargetKind
    target_code: str = Field(min_length=1, max_length=32, pattern=CODE)
    action: Action
    reason: str = Field(min_length=1, max_length=2000)


def _form_of(body: type[BaseModel]) -> Any:
    """The HTML form of an API body: the same fields, each a raw string ("" when left out), and the CSRF token.
    The workflow checks the values, so that a bad one gets an error page rather than FastAPI's JSON 422."""
    return create_model(body.__name__.removesuffix("In") + "Form", csrf_token=(str, ""),
                        **{name: (str, "") for name in body.model_fields})


ReportForm = _form_of(ReportIn)
DecisionForm = _form_of(DecisionIn)
ExemptionForm = _form_of(ExemptionIn)
ActionForm = _form_of(ActionIn)


@contextmanager
def _context(request: Request, principal: Principal) -> Iterator[wf.Context]:
    """One workflow transaction; a refused request becomes its HTTP error (and rolls back)."""
    try:
        with request.app.state.workflow.session() as s:
            yield wf.Context(s, principal, request.app.state.data, client_address(request))
    except wf.WorkflowError as e:
        raise HTTPException(e.status, detail=e.detail()) from None


# each kind of record: how it is shown, and its columns holding a user id (shown as the user's name)
Kind = tuple[Callable[[Any, dict[int, str]], dict], str, ...]
REPORT: Kind = (wf.report_dict, "filed_by", "decided_by")
EXEMPTION: Kind = (wf.exemption_dict, "decided_by", "revoked_by")
ACTION: Kind = (wf.action_dict, "created_by")


def _shown(ctx: wf.Context, rows: list, kind: Kind) -> list[dict]:
    """Records as dicts, their users named (read in the records' own transaction)."""
    to_dict, *users = kind
    names = wf.user_names(ctx.session, {getattr(r, a) for r in rows for a in users})
    return [to_dict(r, names) for r in rows]


def _api_one(request: Request, principal: Principal, kind: Kind, act: Callable[[wf.Context], Any],
             decides: bool = False) -> dict:
    """One API call on one record (read, file or decide), in one transaction; the record as a dict. A decision
    is then delivered to the warehouse (:func:`delivered`)."""
    with _context(request, principal) as ctx:
        shown = _shown(ctx, [act(ctx)], kind)[0]
    if decides:
        delivered(request)
    return shown


def delivered(request: Request) -> None:
    """After a decision's commit: apply the warehouse writes it owes (and any earlier ones still owed)."""
    request.app.state.data.deliver(request.app.state.workflow)


def _page_rows(request: Request, principal: Principal, kind: Kind, read: Callable[[wf.Context], list]) -> list[dict]:
    """The records a page shows, read in one transaction (a read: no client address, no audit row)."""
    with request.app.state.workflow.session() as s:
        ctx = wf.Context(s, principal, request.app.state.data)
        return _shown(ctx, read(ctx), kind)


# == API ===================================================================================================
@router.get("/api/supply-reports", tags=["workflow"], summary="供应问题报告 / supply-problem reports in scope")
def api_reports(request: Request, principal: ApiPrincipal, status: Status | None = None, limit: Limit = 200,
                offset: Offset = 0) -> dict:
    with _context(request, principal) as ctx:
        return {"items": _shown(ctx, wf.list_reports(ctx, status, limit, offset), REPORT)}


@router.post("/api/supply-reports", tags=["workflow"], status_code=201,
             summary="医疗机构填报供应问题 / an institution files a supply-problem report")
def api_file_report(request: Request, body: ReportIn,
                    principal: Annotated[Principal, Depends(require_roles("institution"))]) -> dict:
    return _api_one(request, principal, REPORT, lambda ctx: wf.file_report(
        ctx, body.product_code, body.problem, body.start_date, body.end_date, body.description), decides=True)


@router.get("/api/supply-reports/{report_id}", tags=["workflow"], summary="一份报告 / one report (404 outside scope)")
def api_report(request: Request, report_id: Id, principal: ApiPrincipal) -> dict:
    return _api_one(request, principal, REPORT, lambda ctx: wf.get_report(ctx, report_id))


@router.post("/api/supply-reports/{report_id}/decision", tags=["workflow"],
             summary="核实或不予认定 / verify (with a period) or reject (with a comment)")
def api_decide(request: Request, report_id: Id, body: DecisionIn, principal: Deciders) -> dict:
    return _api_one(request, principal, REPORT, lambda ctx: wf.decide_report(
        ctx, report_id, body.decision, body.start_date, body.end_date, body.comment), decides=True)


@router.get("/api/exemptions", tags=["workflow"], summary="特殊品种认定 / special-variety exemptions")
def api_exemptions(request: Request, principal: ApiPrincipal, variety_id: str | None = None) -> dict:
    with _context(request, principal) as ctx:
        return {"items": _shown(ctx, wf.list_exemptions(ctx, variety_id), EXEMPTION)}


@router.post("/api/exemptions", tags=["workflow"], status_code=201,
             summary="认定特殊品种 / declare a variety special for a period (writes the varieties row)")
def api_add_exemption(request: Request, body: ExemptionIn, principal: Deciders) -> dict:
    return _api_one(request, principal, EXEMPTION, lambda ctx: wf.add_exemption(
        ctx, body.variety_id, body.special, body.start_date, body.end_date, body.reason), decides=True)


@router.post("/api/exemptions/{exemption_id}/revoke", tags=["workflow"], summary="撤销认定 / revoke an exemption")
def api_revoke_exemption(request: Request, exemption_id: Id, principal: Deciders) -> dict:
    return _api_one(request, principal, EXEMPTION, lambda ctx: wf.revoke_exemption(ctx, exemption_id), decides=True)


@router.get("/api/actions", tags=["workflow"], summary="监管措施 / supervision actions in scope")
def api_actions(request: Request, principal: ApiPrincipal, limit: Limit = 200, offset: Offset = 0) -> dict:
    with _context(request, principal) as ctx:
        return {"items": _shown(ctx, wf.list_actions(ctx, limit, offset), ACTION)}


@router.post("/api/actions", tags=["workflow"], status_code=201,
             summary="提醒/约谈/通报 / remind, interview or give notice to an institution or enterprise")
def api_add_action(request: Request, body: ActionIn, principal: Deciders) -> dict:
    return _api_one(request, principal, ACTION, lambda ctx: wf.add_action(
        ctx, body.target_kind, body.target_code, body.action, body.reason))


@router.get("/api/audit", tags=["workflow"], summary="审计日志 / the audit log (newest first)")
def api_audit(request: Request, principal: AuditReaders, action: str | None = None, limit: Limit = 200,
              offset: Offset = 0) -> dict:
    with _context(request, principal) as ctx:
        return {"items": [wf.audit_dict(e) for e in wf.list_audit(ctx, action, limit, offset)]}


# == pages =================================================================================================
LABELS = {"problem": PROBLEM_ZH, "status": STATUS_ZH, "special": SPECIAL_ZH, "action": ACTION_ZH}


def _page(request: Request, template: str, principal: Principal, status_code: int = 200, **ctx) -> HTMLResponse:
    from jicai.web.routes.pages import _page as layout

    return layout(request, template, principal, status_code=status_code, labels=LABELS, **ctx)


def _refused(request: Request, principal: Principal, e: wf.WorkflowError) -> HTMLResponse:
    return _page(request, "error.html", principal, status_code=e.status, **e.detail())


def _day(raw: str) -> date | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise wf.WorkflowError(422, f"日期格式应为 YYYY-MM-DD:{raw}", f"a date is YYYY-MM-DD: {raw}") from None


def _required_day(raw: str, zh: str, en: str) -> date:
    day = _day(raw)
    if day is None:
        raise wf.WorkflowError(422, f"请填写{zh}", f"{en} is required")
    return day


def _page_write(request: Request, principal: Principal, csrf_token: str, write, redirect: str) -> Response:
    """Run a form's write in one transaction; redirect after it (303) or show why it was refused."""
    require_csrf(request, csrf_token)
    try:
        with request.app.state.workflow.session() as s:
            result = write(wf.Context(s, principal, request.app.state.data, client_address(request)))
    except wf.WorkflowError as e:
        return _refused(request, principal, e)
    delivered(request)
    return RedirectResponse(redirect.format(id=getattr(result, "id", "")), status_code=303)


@router.get("/supply-reports", include_in_schema=False, response_class=HTMLResponse)
def reports_page(request: Request, principal: PagePrincipal, status: str = "") -> Response:
    status = status if status in STATUS_ZH else ("pending" if principal.decides else "")
    data = request.app.state.data
    reports = _page_rows(request, principal, REPORT, lambda ctx: wf.list_reports(ctx, status or None, 500))
    products = lookups.product_names(data)
    institutions = lookups.institution_names(data)
    imported = imported_reports(principal, data, status or None)  # the platform's, imported with the data
    return _page(request, "workflow/reports.html", principal, reports=reports, status=status, imported=imported,
                 product_names=products, institution_names=institutions, today=clock.today().isoformat())


@router.post("/supply-reports", include_in_schema=False)
def reports_file_form(request: Request, principal: PagePrincipal, f: Annotated[ReportForm, Form()]) -> Response:
    return _page_write(request, principal, f.csrf_token, lambda ctx: wf.file_report(
        ctx, f.product_code.strip(), f.problem, _required_day(f.start_date, "开始日期", "start_date"),
        _day(f.end_date), f.description[:2000]), "/supply-reports/{id}")


@router.get("/supply-reports/{report_id}", include_in_schema=False, response_class=HTMLResponse)
def report_page(request: Request, report_id: Id, principal: PagePrincipal) -> Response:
    data = request.app.state.data
    try:
        [report] = _page_rows(request, principal, REPORT, lambda ctx: [wf.get_report(ctx, report_id)])
    except wf.WorkflowError as e:
        return _refused(request, principal, e)
    return _page(request, "workflow/report.html", principal, r=report,
                 product_name=lookups.product_names(data).get(report["product_code"], ""),
                 institution_name=lookups.institution_names(data).get(report["institution_code"], ""))


@router.post("/supply-reports/{report_id}/decision", include_in_schema=False)
def report_decide_form(request: Request, report_id: Id, principal: PagePrincipal,
                       f: Annotated[DecisionForm, Form()]) -> Response:
    return _page_write(request, principal, f.csrf_token, lambda ctx: wf.decide_report(
        ctx, report_id, f.decision, _day(f.start_date), _day(f.end_date), f.comment[:2000]), "/supply-reports/{id}")


@router.get("/exemptions", include_in_schema=False, response_class=HTMLResponse)
def exemptions_page(request: Request, principal: PagePrincipal) -> Response:
    exemptions = _page_rows(request, principal, EXEMPTION, wf.list_exemptions)
    return _page(request, "workflow/exemptions.html", principal, exemptions=exemptions,
                 variety_names=lookups.variety_names(request.app.state.data))


@router.post("/exemptions", include_in_schema=False)
def exemptions_add_form(request: Request, principal: PagePrincipal, f: Annotated[ExemptionForm, Form()]) -> Response:
    return _page_write(request, principal, f.csrf_token, lambda ctx: wf.add_exemption(
        ctx, f.variety_id.strip(), f.special, _required_day(f.start_date, "开始日期", "start_date"),
        _day(f.end_date), f.reason[:2000]), "/exemptions")


@router.post("/exemptions/{exemption_id}/revoke", include_in_schema=False)
def exemptions_revoke_form(request: Request, exemption_id: Id, principal: PagePrincipal,
                           csrf_token: Annotated[str, Form()] = "") -> Response:
    return _page_write(request, principal, csrf_token, lambda ctx: wf.revoke_exemption(ctx, exemption_id),
                       "/exemptions")


@router.get("/actions", include_in_schema=False, response_class=HTMLResponse)
def actions_page(request: Request, principal: PagePrincipal) -> Response:
    data = request.app.state.data
    actions = _page_rows(request, principal, ACTION, lambda ctx: wf.list_actions(ctx, 500))
    return _page(request, "workflow/actions.html", principal, actions=actions,
                 institution_names=lookups.institution_names(data), enterprise_names=lookups.enterprise_names(data))


@router.post("/actions", include_in_schema=False)
def actions_add_form(request: Request, principal: PagePrincipal, f: Annotated[ActionForm, Form()]) -> Response:
    return _page_write(request, principal, f.csrf_token, lambda ctx: wf.add_action(
        ctx, f.target_kind, f.target_code.strip(), f.action, f.reason[:2000]), "/actions")


@router.get("/audit", include_in_schema=False, response_class=HTMLResponse)
def audit_page(request: Request, principal: PagePrincipal, action: str = "",
               page: Annotated[int, Query(ge=1, le=PAGE_MAX)] = 1) -> Response:
    size = 100
    try:
        with request.app.state.workflow.session() as s:
            ctx = wf.Context(s, principal, request.app.state.data)
            entries = [wf.audit_dict(e) for e in wf.list_audit(ctx, action or None, size + 1, (page - 1) * size)]
    except wf.WorkflowError as e:
        return _refused(request, principal, e)
    return _page(request, "workflow/audit.html", principal, entries=entries[:size], action=action, page=page,
                 more=len(entries) > size)
