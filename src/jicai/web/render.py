"""Render a page: Jinja2 templates with the language, the principal and the CSRF token in context.

Chinese by default; ``?lang=en`` switches to English and is remembered in the ``lang`` cookie. Templates write
both texts side by side with ``t("中文", "English")`` so that a page cannot lose one language.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from jicai import clock

TEMPLATES = Path(__file__).with_name("templates")
_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                   trim_blocks=True, lstrip_blocks=True)


def lang_of(request: Request) -> str:
    q = request.query_params.get("lang")
    if q in ("zh", "en"):
        return q
    return "en" if request.cookies.get("lang") == "en" else "zh"


def _fmt_money(v: Any) -> str:
    from jicai.contract.display import show

    if isinstance(v, float) and abs(v) < 0.005:
        v = 0.0  # float residue of a sum (-0.001) is no debt: ¥0.00, not -¥0.00
    return show(v, "money") or "—"


def _fmt_pct(v: Any) -> str:
    from jicai.contract.display import show

    return show(v, "rate") or "—"


def _fmt_volume(v: Any) -> str:
    from jicai.contract.display import show

    return show(v, "volume") or "—"


def _fmt_price(v: Any) -> str:
    from jicai.contract.display import show

    return show(v, "price") or "—"


def _replace_page(params: Any, page: int) -> str:
    from urllib.parse import urlencode

    items = [(k, v) for k, v in params.multi_items() if k != "page"] if hasattr(params, "multi_items") else \
        [(k, v) for k, v in dict(params).items() if k != "page"]
    return urlencode([*items, ("page", str(page))])


def _minute(v: Any) -> str:
    """A time as every page and document shows it: Beijing time to the minute, ``YYYY-MM-DD HH:MM`` (also a time
    the API layer already wrote as ISO text, ``2024-07-05T10:30:12``).

    >>> from datetime import UTC
    >>> _minute("2024-07-05T10:30:12"), _minute(datetime(2024, 7, 5, 2, 30, tzinfo=UTC)), _minute("2024-07-05")
    ('2024-07-05 10:30', '2024-07-05 10:30', '2024-07-05')
    """
    if isinstance(v, str) and len(v) >= 16 and v[10] == "T":
        try:
            v = datetime.fromisoformat(v)
        except ValueError:
            return v
    if isinstance(v, datetime):
        return f"{clock.to_local(v):%Y-%m-%d %H:%M}"
    return "" if v is None else str(v)


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, datetime):
        return _minute(v)
    if isinstance(v, bool):
        return "是" if v else "否"
    if isinstance(v, float):
        return f"{v:,.4f}".rstrip("0").rstrip(".") if abs(v) < 10 else f"{v:,.2f}"
    return str(v)


_env.filters["replace_page"] = _replace_page
_env.filters["cell"] = _cell
_env.filters["minute"] = _minute
minute = _minute  # the same time format for a page's Python-side cells
_env.filters["money"] = _fmt_money
_env.filters["pct"] = _fmt_pct
_env.filters["volume"] = _fmt_volume
_env.filters["price"] = _fmt_price  # a price per unit or per DDD: ¥0.3167


def render_fragment(request: Request, template: str, **context: Any) -> str:
    """A part of a page without the per-session bits (CSRF token, user), so that it can be cached."""
    lang = lang_of(request)
    return _env.get_template(template).render({"request": request, "lang": lang,
                                               "t": (lambda zh, en: en if lang == "en" else zh), **context})


def _data_status(request: Request) -> dict | None:
    """Whether the figures are being recomputed and when their data were written (shown by base.html)."""
    data = getattr(request.app.state, "data", None)
    return data.status() if data is not None else None


def _scope_label(request: Request, principal: Any) -> str | None:
    """The name of the signed-in user's scope for the page header (its code when the name is not known)."""
    if principal is None or not principal.scope:
        return None
    try:
        from jicai.web.names import names_of, scope_name

        name = scope_name(names_of(request.app.state.data), principal.role, principal.regional, principal.scope)
    except Exception:  # no data yet (a first start): the header still renders, with the code
        name = None
    return name or principal.scope


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    from jicai.web.auth import csrf_token

    lang = lang_of(request)
    ctx = {
        "request": request,
        "lang": lang,
        "t": (lambda zh, en: en if lang == "en" else zh),
        "principal": getattr(request.state, "principal", None),
        "scope_label": _scope_label(request, getattr(request.state, "principal", None)),
        "csrf_token": csrf_token(request),
        "data_status": _data_status(request),
        **context,
    }
    resp = HTMLResponse(_env.get_template(template).render(ctx), status_code=status_code)
    if request.query_params.get("lang") in ("zh", "en"):
        resp.set_cookie("lang", lang, max_age=365 * 86400, samesite="lax", httponly=True)
    return resp
