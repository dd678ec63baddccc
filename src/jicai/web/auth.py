"""Who may ask: page sessions, CSRF tokens, the login's limits, API bearer tokens, and the FastAPI
dependencies that turn a request into a :class:`~jicai.contract.roles.Principal`.

- **Sessions** (pages): the signed cookie ``jicai_session`` holds the user id, the user's session version and
  a random session id, signed with the secret key (itsdangerous) and refused after ``session_max_age``
  seconds. HttpOnly, SameSite=Lax, Secure in production. The session is also a row of the workflow database
  (:mod:`jicai.workflow.sessions`): a cookie whose row is gone — logout, a password change, a disabled user —
  is refused at once, on every server process, however good its signature.
- **CSRF**: every form carries ``csrf_token``, an HMAC of the session id (after login) or of the random
  ``jicai_csrf`` cookie (before login: the login form). Cookie-authenticated API calls that change
  something send the same token in the ``X-CSRF-Token`` header; bearer-token calls need none.
- **Login limits**, in the order they apply (each before any more costly work): a name longer than
  ``MAX_NAME`` or a password longer than ``MAX_PASSWORD`` characters → 422; a spent failure budget (per name
  and address, per address, platform-wide: :mod:`jicai.workflow.logins`, in the workflow database) → 429
  with ``Retry-After``; more than ``login_concurrency`` argon2 checks running in this process for longer than
  ``login_wait`` seconds → 503 with ``Retry-After`` (a flood costs at most that many × 64 MiB, and waits in
  no unbounded queue).
- **Client address**: the socket's peer. ``X-Forwarded-For`` is believed only from ``trusted_proxies``
  (``JICAI_TRUSTED_PROXIES``), by the proxy middleware :func:`jicai.web.app.create_app` adds then.
- **API tokens**: ``POST /api/auth/token`` (OAuth2 password flow) returns a signed bearer token that
  expires after ``token_ttl`` seconds. Tokens are not stored: a password change or disabling the user ends
  them (the session version), logout of a page session does not (they are not that session's).

Dependencies: :func:`page_principal` (no session → 303 to ``/login?next=…``), :func:`api_principal`
(no credentials → 401 with ``WWW-Authenticate: Bearer``), and :func:`require_roles` for either.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Callable
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request, Response
from fastapi.security import OAuth2PasswordBearer
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from jicai.contract.roles import Principal
from jicai.errors import BilingualError
from jicai.web.config import WebConfig
from jicai.workflow import logins, sessions
from jicai.workflow.audit import record
from jicai.workflow.models import User
from jicai.workflow.users import active_user, authenticate, could_be_name, principal_of

SESSION_COOKIE = "jicai_session"
CSRF_COOKIE = "jicai_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_NONCE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
MAX_NAME = 64  # the users table's name column; no real name is longer
MAX_PASSWORD = 1024  # argon2 takes any length, but nobody types more, and a megabyte is work for nothing


def _now() -> float:
    """The clock of sessions, tokens and the rate limit (tests move it). Epoch seconds, not jicai.clock: these
    are expiry ages and attempt windows, the same whatever the zone, and itsdangerous signs epoch seconds."""
    return time.time()


class _Signer(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(_now())


def _serializer(config: WebConfig, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(config.secret_key, salt=salt, signer=_Signer)


def api_error(status: int, zh: str, en: str, headers: dict[str, str] | None = None) -> HTTPException:
    """An HTTP error whose JSON body is ``{"detail": {"zh": …, "en": …}}``."""
    return HTTPException(status_code=status, detail={"zh": zh, "en": en}, headers=headers)


def client_address(request: Request) -> str:
    """The client's address: the socket's peer, or what a trusted proxy forwarded (the app's proxy middleware
    has rewritten ``request.client`` then; nobody else's ``X-Forwarded-For`` is read)."""
    return request.client.host if request.client else ""


def _config(request: Request) -> WebConfig:
    return request.app.state.config


# -- sessions ----------------------------------------------------------------------------------------
def _cookie_options(config: WebConfig, max_age: int) -> dict:
    return {"max_age": max_age, "httponly": True, "samesite": "lax", "secure": config.production, "path": "/"}


def start_session(request: Request, response: Response, user: User) -> None:
    """Set the session cookie for ``user`` on ``response``."""
    config = _config(request)
    payload = {"u": user.id, "v": user.session_version, "s": secrets.token_urlsafe(16)}
    with request.app.state.workflow.session() as s:
        sessions.open_session(s, user, payload["s"], _now(), config.session_max_age)
    response.set_cookie(SESSION_COOKIE, _serializer(config, "jicai-session").dumps(payload),
                        **_cookie_options(config, config.session_max_age))


def end_session(request: Request, response: Response) -> None:
    """End the request's session: its row goes (so copies of the cookie stop working) and the cookie too."""
    payload = _session_payload(request)
    if payload:
        with request.app.state.workflow.session() as s:
            sessions.close_session(s, str(payload["s"]))
    config = _config(request)
    response.delete_cookie(SESSION_COOKIE, path="/", secure=config.production, httponly=True, samesite="lax")


def _session_payload(request: Request) -> dict | None:
    """The session cookie's payload if its signature and age are good (not yet checked against the user)."""
    cached = getattr(request.state, "_jicai_session", False)
    if cached is not False:
        return cached
    payload = None
    raw = request.cookies.get(SESSION_COOKIE)
    if raw:
        config = _config(request)
        try:
            data = _serializer(config, "jicai-session").loads(raw, max_age=config.session_max_age)
            if isinstance(data, dict) and {"u", "v", "s"} <= set(data):
                payload = data
        except BadSignature:
            payload = None
    request.state._jicai_session = payload
    return payload


def _principal_for(request: Request, user_id: object, version: object, sid: object = None) -> Principal | None:
    """The principal of user ``user_id`` if still active at ``version`` — and, for a page session (``sid``),
    if the session's row is still open."""
    if not isinstance(user_id, int) or not isinstance(version, int):
        return None
    with request.app.state.workflow.session() as s:
        user = active_user(s, user_id, version)
        if user is None or (sid is not None and not sessions.is_open(s, str(sid), user_id, _now())):
            return None
        return principal_of(user)


def session_principal(request: Request) -> Principal | None:
    """The principal of the request's session cookie, or None (none, bad, expired, ended, or the user
    re-keyed)."""
    payload = _session_payload(request)
    return _principal_for(request, payload["u"], payload["v"], payload["s"]) if payload else None


def page_principal(request: Request) -> Principal:
    """Dependency of pages: the logged-in principal, else a 303 redirect to the login page."""
    principal = session_principal(request)
    if principal is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise HTTPException(status_code=303, headers={"Location": f"/login?next={quote(target, safe='')}"})
    request.state.principal = principal
    return principal


# -- CSRF ----------------------------------------------------------------------------------------------
def _hmac(config: WebConfig, kind: str, value: str) -> str:
    return hmac.new(config.secret_key.encode(), f"csrf|{kind}|{value}".encode(), hashlib.sha256).hexdigest()


def _expected_csrf(request: Request, create: bool) -> str | None:
    config = _config(request)
    payload = _session_payload(request)
    if payload:
        return _hmac(config, "session", str(payload["s"]))
    nonce = getattr(request.state, "csrf_nonce", None) or request.cookies.get(CSRF_COOKIE)
    if not nonce or not _NONCE.match(nonce):
        if not create:
            return None
        nonce = request.state.csrf_nonce = secrets.token_urlsafe(32)
    return _hmac(config, "anon", nonce)


def csrf_token(request: Request) -> str:
    """The CSRF token forms of this request must send back (bound to the session, or before login to the
    ``jicai_csrf`` cookie — which :func:`set_csrf_cookie` puts on the response when it is new)."""
    return _expected_csrf(request, create=True) or ""


def set_csrf_cookie(request: Request, response: Response) -> None:
    nonce = getattr(request.state, "csrf_nonce", None)
    if nonce:
        config = _config(request)
        response.set_cookie(CSRF_COOKIE, nonce, **_cookie_options(config, config.session_max_age))


def check_csrf(request: Request, token: str | None) -> bool:
    expected = _expected_csrf(request, create=False)
    return bool(token and expected and hmac.compare_digest(token, expected))


def require_csrf(request: Request, token: str | None) -> None:
    if not check_csrf(request, token):
        raise api_error(403, "CSRF 校验失败,请刷新页面后重试", "CSRF check failed; reload the page and try again")


# -- API tokens ----------------------------------------------------------------------------------------
def issue_token(config: WebConfig, user: User) -> str:
    return _serializer(config, "jicai-api-token").dumps({"u": user.id, "v": user.session_version})


def _unauthorized(zh: str, en: str) -> HTTPException:
    return api_error(401, zh, en, headers={"WWW-Authenticate": "Bearer"})


def token_principal(request: Request, token: str) -> Principal:
    config = _config(request)
    try:
        data = _serializer(config, "jicai-api-token").loads(token, max_age=config.token_ttl)
    except SignatureExpired:
        raise _unauthorized("访问令牌已过期,请重新获取", "the access token has expired; request a new one") from None
    except BadSignature:
        raise _unauthorized("访问令牌无效", "invalid access token") from None
    principal = _principal_for(request, data.get("u"), data.get("v")) if isinstance(data, dict) else None
    if principal is None:
        raise _unauthorized("访问令牌已失效(用户已停用或密码已更改)",
                            "the access token is no longer valid (user disabled or password changed)")
    return principal


# declares the OAuth2 password flow in the OpenAPI schema; the header is read by api_principal itself
bearer_scheme = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)


def api_principal(request: Request, bearer: str | None = Depends(bearer_scheme)) -> Principal:
    """Dependency of the API: a bearer token, else the page session (then a request that changes something
    must carry the ``X-CSRF-Token`` header); neither → 401."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        principal = token_principal(request, token.strip())
    else:
        principal = session_principal(request)
        if principal is None:
            raise _unauthorized("请先登录或提供访问令牌", "authentication required: log in or send a bearer token")
        if request.method not in SAFE_METHODS and not check_csrf(request, request.headers.get(CSRF_HEADER)):
            raise api_error(403, "CSRF 校验失败:使用会话调用接口时须带 X-CSRF-Token 请求头",
                            "CSRF check failed: cookie-authenticated API calls must send the X-CSRF-Token header")
    request.state.principal = principal
    return principal


def require_roles(*roles: str, page: bool = False) -> Callable[..., Principal]:
    """Dependency factory: the principal (of a page when ``page``, else of the API) if its role is one of
    ``roles``, else 403."""
    base = page_principal if page else api_principal

    def dependency(principal: Principal = Depends(base)) -> Principal:
        if principal.role not in roles:
            raise api_error(403, "无权执行此操作", f"forbidden: needs role {' or '.join(roles)}")
        return principal

    return dependency


# -- login and its limits ------------------------------------------------------------------------------
class LoginRefused(BilingualError):
    """A refused login (too long, bad password, disabled user, a budget spent, busy) with its HTTP status and,
    when trying later may help, the seconds to wait."""

    def __init__(self, status: int, zh: str, en: str, retry_after: int | None = None) -> None:
        super().__init__(zh, en)
        self.status, self.retry_after = status, retry_after


_gate_lock = threading.Lock()


def argon2_gate(request: Request) -> threading.BoundedSemaphore:
    """This process's limit on argon2 checks at once (``login_concurrency``)."""
    state = request.app.state
    with _gate_lock:
        if getattr(state, "argon2_gate", None) is None:
            state.argon2_gate = threading.BoundedSemaphore(_config(request).login_concurrency)
        return state.argon2_gate


def _budgets(config: WebConfig) -> logins.Budgets:
    return logins.Budgets(name=config.login_attempts, address=config.login_address_failures,
                          platform=config.login_global_failures, window=config.login_window)


def _too_long(name: str, password: str) -> tuple[str, str] | None:
    if len(name) > MAX_NAME:
        return f"用户名过长(最多 {MAX_NAME} 个字符)", f"the user name is too long (at most {MAX_NAME} characters)"
    if len(password) > MAX_PASSWORD:
        return (f"密码过长(最多 {MAX_PASSWORD} 个字符)",
                f"the password is too long (at most {MAX_PASSWORD} characters)")
    return None


def _throttled(budget: str, window: int) -> LoginRefused:
    minutes = max(1, round(window / 60))
    zh, en = {
        "name": ("登录失败次数过多", "too many failed logins"),
        "address": ("此地址登录失败次数过多", "too many failed logins from this address"),
        "platform": ("全平台登录失败次数过多,新地址的登录已暂停", "too many failed logins across the platform; "
                                                  "logins from new addresses are paused"),
    }[budget]
    return LoginRefused(429, f"{zh},请 {minutes} 分钟后再试", f"{en}; try again in {minutes} minutes",
                        retry_after=window)


def _printable(name: str) -> str:
    """``name`` capped to ``MAX_NAME`` with its control characters replaced (NUL cannot be stored in PostgreSQL,
    and an escape sequence has no business in the audit log)."""
    return "".join(c if c.isprintable() else "\ufffd" for c in name[:MAX_NAME])


def login(request: Request, name: str, password: str, how: str) -> User:
    """Check a name and password under the login limits; audit the outcome. Raises :class:`LoginRefused`.

    Only a capped, printable name (:func:`_printable`) is ever written, to the audit log or the budgets' table.
    A name no user can have (:func:`jicai.workflow.users.could_be_name`) is refused like a wrong password but
    without an argon2 check: its timing tells only that it is malformed, which the form of names tells anyway."""
    config = _config(request)
    client = client_address(request)
    budgets = _budgets(config)
    workflow = request.app.state.workflow
    shown = _printable(name)
    audit = {"user_name": shown, "target": f"user:{shown}", "client": client}
    too_long = _too_long(name, password)
    malformed = False
    with workflow.session() as s:
        if too_long:  # counted as a failure: a flood of long names spends the address's budget too
            logins.note(s, shown, client, False, _now(), budgets)
            record(s, "login.refused", **audit, detail={"via": how, "why": "too long"})
            spent = None
        else:
            spent = logins.spent(s, shown, client, _now(), budgets)
            if spent:
                record(s, "login.throttled", **audit, detail={"via": how, "budget": spent})
            elif not could_be_name(name):
                malformed = True
                logins.note(s, shown, client, False, _now(), budgets)
                record(s, "login.failed", **audit, detail={"via": how})
    if too_long:
        raise LoginRefused(422, *too_long)
    if spent:
        raise _throttled(spent, config.login_window)
    if malformed:
        raise LoginRefused(401, "用户名或密码错误", "wrong user name or password")
    gate = argon2_gate(request)
    if not gate.acquire(timeout=config.login_wait):
        raise LoginRefused(503, "登录繁忙,请稍后再试", "too many logins at once; try again in a moment", retry_after=1)
    try:
        with workflow.session() as s:
            user = authenticate(workflow, s, name, password)
            logins.note(s, shown, client, user is not None, _now(), budgets)
            if user is None:
                record(s, "login.failed", **audit, detail={"via": how})
            else:
                record(s, "login", role=user.role, **audit, detail={"via": how})
    finally:
        gate.release()
    if user is None:
        raise LoginRefused(401, "用户名或密码错误", "wrong user name or password")
    return user


def safe_next(target: str | None) -> str:
    """``target`` if it is a path on this site, else ``/`` (no open redirect to another host)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    if any(c in target for c in "\\\r\n\t"):
        return "/"
    return target
