"""Logging in and out: the login page (session cookie) and the OAuth2 password flow of the API (bearer token)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.security import OAuth2PasswordRequestForm

from jicai.contract.roles import ROLE_ZH, Principal
from jicai.web.auth import (
    LoginRefused,
    api_principal,
    check_csrf,
    client_address,
    end_session,
    issue_token,
    login,
    safe_next,
    session_principal,
    set_csrf_cookie,
    start_session,
)
from jicai.web.render import render
from jicai.workflow.audit import record

router = APIRouter()


def _login_page(request: Request, next_: str, status: int = 200, error: tuple[str, str] | None = None) -> Response:
    resp = render(request, "login.html", status_code=status, next=safe_next(next_), error=error, role_zh=ROLE_ZH)
    set_csrf_cookie(request, resp)
    return resp


@router.get("/login", include_in_schema=False)
def login_form(request: Request, next_: Annotated[str, Query(alias="next")] = "/") -> Response:
    return _login_page(request, next_)


@router.post("/login", include_in_schema=False)
def login_submit(
    request: Request,
    name: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    next_: Annotated[str, Form(alias="next")] = "/",
) -> Response:
    if not check_csrf(request, csrf_token):
        return _login_page(request, next_, 403, ("表单已过期,请重新登录", "the form has expired; please log in again"))
    try:
        user = login(request, name.strip(), password, "page")
    except LoginRefused as e:
        resp = _login_page(request, next_, e.status, (e.zh, e.en))
        if e.retry_after:
            resp.headers["Retry-After"] = str(e.retry_after)
        return resp
    resp = RedirectResponse(safe_next(next_), status_code=303)
    start_session(request, resp, user)
    return resp


@router.post("/logout", include_in_schema=False)
def logout(request: Request, csrf_token: Annotated[str, Form()] = "") -> Response:
    principal = session_principal(request)
    if principal is not None:
        if not check_csrf(request, csrf_token):
            return JSONResponse({"detail": {"zh": "CSRF 校验失败", "en": "CSRF check failed"}}, status_code=403)
        with request.app.state.workflow.session() as s:
            record(s, "logout", principal=principal, target=f"user:{principal.name}", client=client_address(request))
    resp = RedirectResponse("/login", status_code=303)
    end_session(request, resp)
    return resp


# a refused login's OAuth2 error (RFC 6749 §5.2 answers 400 for a bad grant or request) and HTTP status
_OAUTH_ERRORS = {401: ("invalid_grant", 400), 422: ("invalid_request", 400), 429: ("too_many_requests", 429),
                 503: ("temporarily_unavailable", 503)}


@router.post("/api/auth/token", tags=["auth"], summary="取得访问令牌 / get a bearer token (OAuth2 password flow)",
             responses={400: {"description": "wrong name or password, or either too long"},
                        429: {"description": "too many failures (Retry-After)"},
                        503: {"description": "too many logins at once (Retry-After)"}})
def token(request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> JSONResponse:
    try:
        user = login(request, form.username.strip(), form.password, "token")
    except LoginRefused as e:
        error, status = _OAUTH_ERRORS[e.status]
        body = {"error": error, "error_description": e.en, "detail": e.detail()}
        headers = {"Retry-After": str(e.retry_after)} if e.retry_after else None
        return JSONResponse(body, status_code=status, headers=headers)
    config = request.app.state.config
    return JSONResponse({"access_token": issue_token(config, user), "token_type": "bearer",
                         "expires_in": config.token_ttl}, headers={"Cache-Control": "no-store"})


@router.get("/api/auth/me", tags=["auth"], summary="当前用户 / the caller's role and scope")
def me(principal: Annotated[Principal, Depends(api_principal)]) -> dict:
    return {"user_id": principal.user_id, "name": principal.name, "role": principal.role,
            "role_zh": ROLE_ZH[principal.role], "scope": principal.scope}
