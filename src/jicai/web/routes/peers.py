"""Peer groups saved per user: the page ``/peers`` and ``/api/peer-groups``.

A user sees and changes only its own groups (another user's id is not found: ids do not leak); bureau and
auditor users also see the groups other bureau users share, read-only. Who may save which group and what is
checked: :mod:`jicai.workflow.peer_groups`. A group is used with ``?peers=NAME`` on ``/data/institution-deciles``
and ``/api/institution-deciles``, and on the cost-per-DDD savings (``ddd-savings``, ``-by-class``,
``-by-institution``, ``-by-region``); the page links each group to its deciles and its savings.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from jicai.contract.roles import Principal
from jicai.web.auth import api_principal, page_principal, require_csrf
from jicai.workflow import lookups
from jicai.workflow import peer_groups as pg

router = APIRouter()

Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
ApiPrincipal = Annotated[Principal, Depends(api_principal)]
PagePrincipal = Annotated[Principal, Depends(page_principal)]
USERS = ("admin", "bureau", "auditor", "institution")  # an enterprise sees no institution ranking
FORBIDDEN = {"zh": "无权使用对比组", "en": "peer groups are not for your role"}


class GroupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=200, description="对比组名称 / group name (1–40 characters)")
    # bounded far above MAX_MEMBERS so that a too long list gets jicai's own message, not a parser's
    members: list[Annotated[str, Field(max_length=200)]] | Annotated[str, Field(max_length=400_000)] = Field(
        max_length=20_000, description="机构编码 / institution codes (a list, or text separated by commas or lines)")
    shared: bool = Field(False, description="共享给其他医保局用户 / share with the other bureau users")


def _names(request: Request) -> dict[str, str]:
    return lookups.institution_names(request.app.state.data)


def _may_view(principal: Principal) -> None:
    if principal.role not in USERS:
        raise HTTPException(403, detail=FORBIDDEN)


def _refused(exc: pg.PeerGroupError) -> HTTPException:
    return HTTPException(404 if isinstance(exc, pg.PeerGroupNotFound) else 422, detail=exc.detail())


def _save(request: Request, principal: Principal, body: GroupIn, group_id: int | None) -> dict:
    if principal.role not in pg.CREATORS:
        raise HTTPException(403, detail={"zh": "只有医保局和医疗机构用户可以保存对比组",
                                         "en": "only bureau and institution users save peer groups"})
    try:
        with request.app.state.workflow.session() as s:
            g = pg.save(s, principal, body.name, body.members, _names(request), shared=body.shared, group_id=group_id)
            gid = g.id
            found = next(x for x in pg.listing(s, principal, _names(request)) if x["id"] == gid and x["mine"])
    except pg.PeerGroupError as exc:
        raise _refused(exc) from exc
    return found


@router.get("/api/peer-groups", tags=["workflow"], summary="对比组 / the user's peer groups (and shared ones)")
def api_list(request: Request, principal: ApiPrincipal) -> dict:
    _may_view(principal)
    with request.app.state.workflow.session() as s:
        return {"groups": pg.listing(s, principal, _names(request))}


@router.post("/api/peer-groups", tags=["workflow"], status_code=201, summary="保存对比组 / save a peer group")
def api_add(request: Request, body: GroupIn, principal: ApiPrincipal) -> dict:
    return _save(request, principal, body, None)


@router.put("/api/peer-groups/{group_id}", tags=["workflow"], summary="修改对比组 / replace one of your groups")
def api_update(request: Request, group_id: Id, body: GroupIn, principal: ApiPrincipal) -> dict:
    return _save(request, principal, body, group_id)


@router.delete("/api/peer-groups/{group_id}", tags=["workflow"], summary="删除对比组 / remove one of your groups")
def api_remove(request: Request, group_id: Id, principal: ApiPrincipal) -> dict:
    _may_view(principal)
    try:
        with request.app.state.workflow.session() as s:
            pg.remove(s, principal, pg.own(s, principal, group_id))
    except pg.PeerGroupError as exc:
        raise _refused(exc) from exc
    return {"id": group_id, "removed": True}


# -- the page -------------------------------------------------------------------------------------------
def _page_of(request: Request, principal: Principal, status_code: int = 200, error: dict | None = None,
             form: dict | None = None) -> Response:
    from jicai.web.routes.pages import _page

    if principal.role not in USERS:
        return _page(request, "error.html", principal, status_code=403, **FORBIDDEN)
    with request.app.state.workflow.session() as s:
        groups = pg.listing(s, principal, _names(request))
    return _page(request, "workflow/peers.html", principal, status_code=status_code, peer_groups=groups, error=error,
                 form=form or {}, creators=pg.CREATORS, sharers=pg.SHARERS, max_members=pg.MAX_MEMBERS,
                 min_others=pg.MIN_OTHERS_FOR_INSTITUTION)


@router.get("/peers", include_in_schema=False, response_class=HTMLResponse)
def peers_page(request: Request, principal: PagePrincipal) -> Response:
    return _page_of(request, principal)


def _form_save(request: Request, principal: Principal, group_id: int | None, name: str, members: str,
               shared: str, csrf_token: str) -> Response:
    require_csrf(request, csrf_token)
    form = {"id": group_id, "name": name[:200], "members": members[:400_000], "shared": shared == "1"}
    if principal.role not in USERS:
        return _page_of(request, principal)
    try:
        with request.app.state.workflow.session() as s:
            pg.save(s, principal, name, members, _names(request), shared=shared == "1", group_id=group_id)
    except pg.PeerGroupError as exc:
        return _page_of(request, principal, 404 if isinstance(exc, pg.PeerGroupNotFound) else 422,
                        exc.detail(), form)
    return RedirectResponse("/peers", status_code=303)


@router.post("/peers", include_in_schema=False)
def add_form(request: Request, principal: PagePrincipal, name: Annotated[str, Form()] = "",
             members: Annotated[str, Form()] = "", shared: Annotated[str, Form()] = "",
             csrf_token: Annotated[str, Form()] = "") -> Response:
    return _form_save(request, principal, None, name, members, shared, csrf_token)


@router.post("/peers/{group_id}", include_in_schema=False)
def update_form(request: Request, group_id: Id, principal: PagePrincipal, name: Annotated[str, Form()] = "",
                members: Annotated[str, Form()] = "", shared: Annotated[str, Form()] = "",
                csrf_token: Annotated[str, Form()] = "") -> Response:
    return _form_save(request, principal, group_id, name, members, shared, csrf_token)


@router.post("/peers/{group_id}/delete", include_in_schema=False)
def remove_form(request: Request, group_id: Id, principal: PagePrincipal,
                csrf_token: Annotated[str, Form()] = "") -> Response:
    require_csrf(request, csrf_token)
    if principal.role not in USERS:
        return _page_of(request, principal)
    try:
        with request.app.state.workflow.session() as s:
            pg.remove(s, principal, pg.own(s, principal, group_id))
    except pg.PeerGroupError as exc:
        return _page_of(request, principal, 404, exc.detail())
    return RedirectResponse("/peers", status_code=303)
