"""Security headers and the API documentation (issue 14, finding 10).

Every route of the app — each method, as an anonymous visitor and as a logged-in bureau user, whatever it answers
(a page, JSON, a redirect, a refusal) — sends the strict Content-Security-Policy, frame protection, nosniff, a
Referrer-Policy and ``Cache-Control: no-store``; static files send the same but may be cached. No template and
no page holds an inline script or an inline style, which the policy would block. ``/docs`` (Swagger UI) and
``/redoc`` (ReDoc) answer only a logged-in admin, bureau or auditor user and load nothing but ``/static/``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.web_fixtures import HA, login, make_app, routes_of

from jicai.web.security import CSP, DOCS_CSP

TEMPLATES = Path(__file__).resolve().parents[1] / "src" / "jicai" / "web" / "templates"
# a value for each path parameter: a real one where a page is worth rendering, else anything (a 404 has headers)
SAMPLE = {"code": HA, "name": "monitor", "report_id": "1", "exemption_id": "1", "kind": "nope", "fmt": "csv", "item_id": "1", "group_id": "1"}
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
JSON_SCRIPT = re.compile(r"<script[^>]*type=\"application/json\"[^>]*>.*?</script>", re.I | re.S)
INLINE_STYLE = re.compile(r"<[^>]+\sstyle\s*=|<style[\s>]", re.I)
HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=|javascript:", re.I)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return make_app(tmp_path_factory.mktemp("headers"))


@pytest.fixture(scope="module")
def clients(app):
    with TestClient(app) as anonymous, TestClient(app) as bureau:
        yield {"anonymous": anonymous, "bureau": login(bureau, "bureau")}


def _requests(app) -> list[tuple[str, str]]:
    out = []
    for r in routes_of(app):
        path = getattr(r, "path", "")
        if path == "/static":  # the mount: one file stands for all
            out.append(("GET", "/static/jicai.css"))
            continue
        path = re.sub(r"\{(\w+)\}", lambda m: SAMPLE[m.group(1)], path)
        out += [(m, path) for m in sorted(getattr(r, "methods", None) or ()) if m != "HEAD"]
    return out


def assert_secure(r, path: str) -> None:
    h = r.headers
    csp = h.get("content-security-policy", "")
    assert csp == (DOCS_CSP if path in ("/docs", "/redoc") else CSP), (path, r.status_code, csp)
    assert "script-src 'self';" in csp and "unsafe" not in csp.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in csp and h.get("x-frame-options") == "DENY", path
    assert h.get("x-content-type-options") == "nosniff", path
    assert h.get("referrer-policy") in ("same-origin", "no-referrer"), path
    if path.startswith("/static/"):
        assert "no-store" not in h.get("cache-control", ""), path  # the same for everyone: may be cached
    else:
        assert h.get("cache-control") == "no-store", (path, r.status_code, h.get("cache-control"))


def assert_no_inline_code(html: str, where: str) -> None:
    html = JSON_SCRIPT.sub("", html)  # data, not code: the policy lets it be
    for pattern in (INLINE_SCRIPT, INLINE_STYLE, HANDLER):
        m = pattern.search(html)
        assert m is None, f"{where}: {html[max(0, m.start() - 80):m.end() + 80]!r}"


@pytest.mark.parametrize("who", ["anonymous", "bureau"])
def test_every_route_sends_the_security_headers(app, clients, who):
    client = clients[who]
    requests = _requests(app)
    assert len(requests) > 80  # every route of every router, not just the app's own few
    pages = 0
    for method, path in requests:
        r = client.request(method, path, follow_redirects=False)
        assert r.status_code < 500, (who, method, path, r.status_code, r.text[:300])
        assert_secure(r, path)
        if r.headers.get("content-type", "").startswith("text/html") and path not in ("/docs", "/redoc"):
            assert_no_inline_code(r.text, f"{who} {method} {path}")
            pages += r.status_code == 200
    if who == "bureau":
        assert pages >= 12  # the checks above saw the pages themselves, not only their redirects


def test_the_pages_with_charts_and_bars_have_no_inline_code(clients):
    bureau = clients["bureau"]
    for path in ("/", f"/institutions/{HA}", "/data/monitor?as_of=2024-06-30", "/ranking", "/policy"):
        r = bureau.get(path)
        assert r.status_code == 200, (path, r.status_code)
        assert_no_inline_code(r.text, path)
    ov = bureau.get("/").text
    assert '<script src="/static/charts.js"></script>' in ov and 'type="application/json"' in ov
    assert "<svg" in bureau.get("/data/monitor?as_of=2024-06-30").text  # the completion bars: SVG, no style


def test_an_error_and_an_unknown_path_send_the_headers_too(clients):
    for who, client in clients.items():
        for path in ("/nope", "/api/nope", "/data/nope", "/api/monitor?as_of=2024-13-01"):
            r = client.get(path, follow_redirects=False)
            assert r.status_code in (303, 401, 404, 422), (who, path, r.status_code)
            assert_secure(r, path)


def test_no_template_holds_an_inline_script_or_style():
    files = sorted(TEMPLATES.rglob("*.html"))
    assert len(files) > 20
    for f in files:
        assert_no_inline_code(f.read_text(encoding="utf-8"), str(f.relative_to(TEMPLATES)))


# -- /docs and /redoc ------------------------------------------------------------------------------------------
DOCS = ("/docs", "/redoc")
REF = re.compile(r"""\b(?:src|href|spec-url)\s*=\s*["']([^"']+)["']""", re.I)


@pytest.mark.parametrize("path", DOCS)
def test_docs_send_an_anonymous_visitor_to_the_login(clients, path):
    r = clients["anonymous"].get(path, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/login?next={path.replace('/', '%2F')}"
    assert "swagger" not in r.text.lower() and "redoc" not in r.text.lower()


@pytest.mark.parametrize("path", DOCS)
@pytest.mark.parametrize("user", ["institution", "enterprise"])
def test_docs_refuse_the_roles_below_the_bureau(app, path, user):
    with TestClient(app) as c:
        r = login(c, user).get(path, follow_redirects=False)
        en = c.get(path + "?lang=en", follow_redirects=False)
    assert r.status_code == en.status_code == 403, (user, path, r.status_code)
    assert "API 文档仅对医保局" in r.text and "open to bureau, admin and auditor users only" in en.text


@pytest.mark.parametrize("path", DOCS)
@pytest.mark.parametrize("user", ["admin", "bureau", "auditor"])
def test_docs_load_only_local_files(app, path, user):
    with TestClient(app) as c:
        r = login(c, user).get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert_secure(r, path)
        assert INLINE_SCRIPT.search(JSON_SCRIPT.sub("", r.text)) is None, r.text
        refs = REF.findall(r.text)
        assert refs and all(u.startswith("/static/") or u == "/openapi.json" for u in refs), refs
        assert not re.search(r"https?://|//cdn|fonts\.googleapis", r.text), r.text
        for u in refs:
            if u.startswith("/static/vendor/") and not (TEMPLATES.parent / u.removeprefix("/")).exists():
                from tests.conftest import unavailable

                unavailable(f"{u} is not installed (scripts/web_assets.sh copies it from npm)")
            assert c.get(u).status_code == 200, u


def test_the_vendored_redoc_draws_no_logo_from_its_makers_site():
    """scripts/web_assets.sh removes the one address of another site from ReDoc's bundle (its menu's logo)."""
    bundle = TEMPLATES.parent / "static" / "vendor" / "redoc.standalone.js"
    if not bundle.exists():
        from tests.conftest import unavailable

        unavailable(f"{bundle.name} is not installed (scripts/web_assets.sh copies it from npm)")
    text = bundle.read_text(encoding="utf-8")
    assert "Redoc" in text and "cdn.redoc.ly" not in text
