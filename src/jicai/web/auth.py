"""Who may ask: page sessions, CSRF tokens, the login rate limit, API bearer tokens, and the FastAPI
dependencies that turn a request into a :class:`~jicai.contract.roles.Principal`.

- **Sessions** (pages): the signed cookie ``jicai_session`` holds the user id, the user's session version and
  a random session id, signed with the secret key (itsdangerous) and refused after ``session_max_age``
  seconds. HttpOnly, SameSite=Lax, Secure in production. Disabling a user or changing a password bumps the
  session version, so every older cookie and token stops working at once.
- **CSRF**: every form carries ``csrf_token``, an HMAC of the session id (after login) or of the random
  ``jicai_csrf`` cookie (before login: the login form). Cookie-authenticated API calls that change
  something send the same token in the ``X-CSRF-Token`` header; bearer-token calls need none.
- **Rate limit**: ``login_attempts`` failed logins per (name, client address) within ``login_window``
  seconds → 429 until the oldest failure leaves the window. Counted in memory per process.
- **API tokens**: ``POST /api/auth/token`` (OAuth2 password flow) returns a signed bearer token that
  expires after ``token_ttl`` seconds.

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
from collections import deque
from collections.abc import Callable
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request, Response
from fastapi.security import OAuth2PasswordBearer
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from jicai.contract.roles import Principal
from jicai.errors import BilingualError
from jicai.web.config import WebConfig
from jicai.workflow.audit import record
from jicai.workflow.models import User
from jicai.workflow.users import active_user, authenticate, principal_of

SESSION_COOKIE = "jicai_session"
CSRF_COOKIE = "jicai_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_NONCE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")


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
    response.set_cookie(SESSION_COOKIE, _serializer(config, "jicai-session").dumps(payload),
                        **_cookie_options(config, config.session_max_age))


def end_session(request: Request, response: Response) -> None:
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


def _principal_for(request: Request, user_id: object, version: object) -> Principal | None:
    if not isinstance(user_id, int) or not isinstance(version, int):
        return None
    with request.app.state.workflow.session() as s:
        user = active_user(s, user_id, version)
        return principal_of(user) if user else None


def session_principal(request: Request) -> Principal | None:
    """The principal of the request's session cookie, or None (none, bad, expired, or the user re-keyed)."""
    payload = _session_payload(request)
    return _principal_for(request, payload["u"], payload["v"]) if payload else None


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


# -- login and its rate limit -------------------------------------------------------------------------
class LoginLimiter:
    """Failed logins per key within a sliding window, in memory, thread-safe."""

    def __init__(self, attempts: int, window: int) -> None:
        self.attempts, self.window = attempts, window
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        q = self._failures.get(key, deque())
        while q and q[0] <= now - self.window:
            q.popleft()
        if not q:
            self._failures.pop(key, None)
        return q

    def blocked(self, key: tuple[str, str]) -> bool:
        with self._lock:
            return len(self._recent(key, _now())) >= self.attempts

    def fail(self, key: tuple[str, str]) -> None:
        with self._lock:
            now = _now()
            if len(self._failures) > 100_000:  # keep memory bounded under a spray of names
                for k in list(self._failures):
                    self._recent(k, now)
            q = self._recent(key, now)
            q.append(now)
            self._failures[key] = q

    def reset(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._failures.pop(key, None)


_limiter_lock = threading.Lock()


def login_limiter(request: Request) -> LoginLimiter:
    state = request.app.state
    with _limiter_lock:
        if getattr(state, "login_limiter", None) is None:
            config = _config(request)
            state.login_limiter = LoginLimiter(config.login_attempts, config.login_window)
        return state.login_limiter


class LoginRefused(BilingualError):
    """A refused login (bad password, disabled user, too many attempts) with its HTTP status."""

    def __init__(self, status: int, zh: str, en: str) -> None:
        super().__init__(zh, en)
        self.status = status


def login(request: Request, name: str, password: str, how: str) -> User:
    """Check a name and password under the rate limit; audit the outcome. Raises :class:`LoginRefused`."""
    client = client_address(request)
    key = (name, client)
    limiter = login_limiter(request)
    workflow = request.app.state.workflow
    if limiter.blocked(key):
        with workflow.session() as s:
            record(s, "login.throttled", user_name=name, target=f"user:{name}", client=client, detail={"via": how})
        minutes = max(1, round(limiter.window / 60))
        raise LoginRefused(429, f"登录失败次数过多,请 {minutes} 分钟后再试",
                           f"too many failed logins; try again in {minutes} minutes")
    with workflow.session() as s:
        user = authenticate(workflow, s, name, password)
        if user is None:
            limiter.fail(key)
            record(s, "login.failed", user_name=name, target=f"user:{name}", client=client, detail={"via": how})
        else:
            limiter.reset(key)
            record(s, "login", user_name=user.name, role=user.role, target=f"user:{name}", client=client,
                   detail={"via": how})
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
