"""The 对码 page: a bureau confirms which national product each hospital's local code is (jicai.workflow.mapping).

``GET /mapping`` lists the local codes in the user's region with their proposals (regional roles only: a
hospital or an enterprise is refused); ``POST /mapping/confirm`` and ``POST /mapping/reject`` decide one code
(admin and bureau; a code outside the user's region is not found), each in one workflow transaction with its
audit row, then back to the list.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel

from jicai.contract.roles import DECIDERS, REGIONAL, Principal
from jicai.web.auth import client_address, require_csrf, require_roles
from jicai.workflow import lookups
from jicai.workflow import mapping as mp
from jicai.workflow.decisions import Context, WorkflowError

router = APIRouter()
PAGE = 200  # local codes shown (and proposals computed) per request; the CLI lists them all
Viewers = Annotated[Principal, Depends(require_roles(*REGIONAL, page=True))]
Deciders = Annotated[Principal, Depends(require_roles(*DECIDERS, page=True))]


class DecisionForm(BaseModel):
    csrf_token: str = ""
    scope: str = ""
    local_code: str = ""
    product_code: str = ""


def _page(request: Request, principal: Principal, status_code: int = 200, **ctx) -> HTMLResponse:
    from jicai.web.routes.pages import _page as layout

    return layout(request, "workflow/mapping.html", principal, status_code=status_code, **ctx)


@router.get("/mapping", include_in_schema=False, response_class=HTMLResponse)
def mapping_page(request: Request, principal: Viewers, status: str = "open") -> Response:
    status = status if status in mp.STATUS_ZH or status == "all" else "open"
    data = request.app.state.data
    codes = mp.local_codes(data, principal, None if status == "all" else status, limit=PAGE + 1)
    return _page(request, principal, codes=codes[:PAGE], more=len(codes) > PAGE, status=status, status_zh=mp.STATUS_ZH, method_zh=mp.METHOD_ZH,
                 institution_names=lookups.institution_names(data), product_names=lookups.product_names(data),
                 decides=principal.decides)


def _decide(request: Request, principal: Principal, f: DecisionForm, decide) -> Response:
    require_csrf(request, f.csrf_token)
    try:
        with request.app.state.workflow.session() as s:
            decide(Context(s, principal, request.app.state.data, client_address(request)))
    except WorkflowError as e:
        from jicai.web.routes.pages import _page as layout

        return layout(request, "error.html", principal, status_code=e.status, **e.detail())
    request.app.state.data.deliver(request.app.state.workflow)  # the decision's product_mappings rows
    return RedirectResponse("/mapping", status_code=303)


@router.post("/mapping/confirm", include_in_schema=False)
def mapping_confirm(request: Request, principal: Deciders, f: Annotated[DecisionForm, Form()]) -> Response:
    return _decide(request, principal, f, lambda ctx: mp.confirm(
        ctx, f.scope.strip(), f.local_code.strip(), f.product_code.strip()))


@router.post("/mapping/reject", include_in_schema=False)
def mapping_reject(request: Request, principal: Deciders, f: Annotated[DecisionForm, Form()]) -> Response:
    return _decide(request, principal, f, lambda ctx: mp.reject(ctx, f.scope.strip(), f.local_code.strip()))
