"""The alerts' inbox: the page ``/alerts`` and ``/api/alert-inbox`` — the user's alerts, read/unread per user.

Filled by ``jicai alerts send`` (:mod:`jicai.workflow.alert_inbox`); what a user sees follows the scope
rules of the measures (a hospital only its own). An alert outside the scope is not found, like a record.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from jicai.contract.roles import Principal
from jicai.web.auth import api_principal, page_principal, require_csrf
from jicai.workflow import alert_inbox

router = APIRouter()

Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
Month = Annotated[str, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]
ApiPrincipal = Annotated[Principal, Depends(api_principal)]
PagePrincipal = Annotated[Principal, Depends(page_principal)]
NOT_FOUND = {"zh": "预警不存在或不在您的权限范围内", "en": "no such alert in your scope"}


@router.get("/api/alert-inbox", tags=["workflow"], summary="预警收件箱 / the user's alerts (read/unread)")
def api_inbox(request: Request, principal: ApiPrincipal, month: Month | None = None, unread: bool = False,
              limit: Annotated[int, Query(ge=1, le=1000)] = 200,
              offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0) -> dict:
    with request.app.state.workflow.session() as s:
        items = alert_inbox.inbox(s, principal, month, unread, limit, offset)
        return {"items": items, "unread": alert_inbox.unread_count(s, principal)}


@router.post("/api/alert-inbox/{item_id}/read", tags=["workflow"], summary="标为已读 / mark an alert read")
def api_read(request: Request, item_id: Id, principal: ApiPrincipal) -> dict:
    with request.app.state.workflow.session() as s:
        if not alert_inbox.mark_read(s, principal, item_id):
            raise HTTPException(404, detail=NOT_FOUND)
    return {"id": item_id, "read": True}


@router.get("/alerts", include_in_schema=False, response_class=HTMLResponse)
def inbox_page(request: Request, principal: PagePrincipal, month: str = "", unread: str = "") -> Response:
    from jicai.web.routes.pages import _page

    month = month if alert_inbox.MONTH.match(month) else ""
    with request.app.state.workflow.session() as s:
        items = alert_inbox.inbox(s, principal, month or None, unread == "1")
        count = alert_inbox.unread_count(s, principal)
    return _page(request, "workflow/alerts.html", principal, items=items, month=month, unread=unread == "1",
                 unread_count=count)


@router.post("/alerts/{item_id}/read", include_in_schema=False)
def read_form(request: Request, item_id: Id, principal: PagePrincipal,
              csrf_token: Annotated[str, Form()] = "") -> Response:
    from jicai.web.routes.pages import _page

    require_csrf(request, csrf_token)
    with request.app.state.workflow.session() as s:
        found = alert_inbox.mark_read(s, principal, item_id)
    if not found:
        return _page(request, "error.html", principal, status_code=404, **NOT_FOUND)
    return RedirectResponse("/alerts", status_code=303)
