"""Issue 14, findings 1 (web side) and 11: no argument and no implausible row takes a page or the API down.

* A warehouse written around the importer holds orders dated 9999-12-31 and 0001-01-01: every default page and
  API view still answers 200, as of the last plausible day (2024-04-30 in the small province).
* Every bad argument — a date outside 2000-01-01 … 2100-12-31, a page of 2^62 or 1e20, a cycle year of 10^20,
  a batch that is not one, a month 0000-01, an upload named ``..`` — is a 4xx whose body (JSON or page) says
  what was wrong in Chinese and in English, never a 500; and the OpenAPI document lists each such status.
"""

from __future__ import annotations

import html
import re
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from tests.web_fixtures import HA, bearer, csrf, login, make_app, world_rows

from jicai.contract.arrow import from_pylist

DEFAULT_AS_OF = "2024-04-30"  # the last order of the small province


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    rows = world_rows()
    line = rows["orders"][0]
    rows["orders"] += [{**line, "order_line_id": "LF", "order_id": "OF", "ordered_at": datetime(9999, 12, 31, 8)},
                       {**line, "order_line_id": "LA", "order_id": "OA", "ordered_at": datetime(1, 1, 1, 8)}]
    app = make_app(tmp_path_factory.mktemp("bad"), {n: from_pylist(n, r) for n, r in rows.items()})
    with TestClient(app, raise_server_exceptions=False) as c:
        login(c, "bureau")
        c.headers.update(bearer(c, "bureau"))
        yield c


DEFAULT_VIEWS = ["/", "/ranking", "/data/monitor", "/api/monitor", "/api/overview", "/api/overview/trend",
                 "/api/ranking", "/api/budget", "/api/supply-scorecard", f"/api/institutions/{HA}"]


@pytest.mark.parametrize("path", DEFAULT_VIEWS)
def test_implausible_orders_do_not_move_the_default_as_of(client, path):
    """Finding 1: the default as-of ignores 9999-12-31 and 0001-01-01 (no OverflowError, no year 9999)."""
    r = client.get(path)
    assert r.status_code == 200, r.text[:300]
    assert "9999" not in r.text
    if path.startswith("/api/") and path != "/api/overview/trend":
        body = r.json()
        as_of = body.get("as_of") or body.get("params", {}).get("as_of")
        month = body.get("params", {}).get("month")
        assert as_of == DEFAULT_AS_OF or month == DEFAULT_AS_OF[:7], body
    elif path == "/api/overview/trend":
        assert r.json() and max(p["as_of"] for p in r.json()) <= DEFAULT_AS_OF


_ERROR = re.compile(r'data-testid="error">([^<]*)<')


def bilingual(client, path, r) -> tuple[str, str]:
    """The Chinese and the English message of an error response: its JSON ``detail``, or the error page's
    message in Chinese and (asked again with ``lang=en``) in English."""
    if r.headers["content-type"].startswith("application/json"):
        d = r.json()["detail"]
        return d["zh"], d["en"]
    zh, en = (client.get(path + ("&" if "?" in path else "?") + f"lang={lang}") for lang in ("zh", "en"))
    assert zh.status_code == en.status_code == r.status_code
    [zh_said], [en_said] = _ERROR.findall(zh.text), _ERROR.findall(en.text)
    return html.unescape(zh_said), html.unescape(en_said)


BAD = [  # (path, status, a word the Chinese names, a word the English names)
    ("/api/monitor?as_of=9999-12-31", 422, "截至日期", "as_of"),
    ("/api/monitor?as_of=0001-01-01", 422, "2000-01-01", "2100-12-31"),
    ("/api/budget?as_of=9999-12-31", 422, "截至日期", "as_of"),
    ("/api/listing/export?as_of=9999-12-31", 422, "截至日期", "as_of"),
    ("/api/overview?as_of=9999-12-31", 422, "截至日期", "as_of"),
    ("/api/overview/trend?as_of=0001-01-01", 422, "截至日期", "as_of"),
    ("/api/ranking?as_of=9999-12-31", 422, "截至日期", "as_of"),
    (f"/api/institutions/{HA}?as_of=9999-12-31", 422, "截至日期", "as_of"),
    (f"/api/institutions/{HA}/order-lines?as_of=0001-01-01", 422, "截至日期", "as_of"),
    (f"/api/institutions/{HA}/order-lines?page=4611686018427387904", 422, "页码", "page"),
    ("/api/monitor?page=4611686018427387904", 422, "页码", "page"),
    ("/api/monitor?page=1e20", 422, "页码", "page"),
    ("/api/assessment?year=99999999999999999999", 422, "采购年度", "year"),
    ("/api/assessment?batch='", 422, "批次", "batch"),
    ("/api/pharmacy-violations?month=0000-01", 422, "月份", "month"),
    ("/api/pharmacy-risk?month=0000-01", 422, "月份", "month"),
    ("/api/pharmacy-risk/export?month=2024-13", 422, "月份", "month"),
    ("/api/capitation?period=9999", 422, "结算期", "period"),
    ("/?as_of=9999-12-31", 422, "截至日期", "as_of"),
    ("/ranking?as_of=0001-01-01", 422, "截至日期", "as_of"),
    ("/ranking?level=99999999999999999999", 422, "机构级别", "level"),
    ("/data/monitor?as_of=9999-12-31", 422, "截至日期", "as_of"),
    ("/data/monitor?page=4611686018427387904", 422, "页码", "page"),
    ("/data/monitor?page=1e20", 422, "页码", "page"),
    ("/data/assessment?year=99999999999999999999", 422, "采购年度", "year"),
    ("/data/pharmacy-violations?month=0000-01", 422, "月份", "month"),
    (f"/institutions/{HA}?as_of=9999-12-31", 422, "截至日期", "as_of"),
    (f"/institutions/{HA}/orders?page=4611686018427387904", 422, "页码", "page"),
    (f"/institutions/{HA}/orders?page=1e20", 422, "页码", "page"),
    ("/audit?page=4611686018427387904", 422, "页码", "page"),
    ("/audit?page=1e20", 422, "页码", "page"),
    ("/reports/annual.xlsx?batch='", 422, "批次", "batch"),
    ("/reports/annual.xlsx?year=99999999999999999999", 422, "采购年度", "year"),
    ("/reports/monthly.html?as_of=9999-12-31", 422, "截至日期", "as_of"),
    ("/reports/quarterly.html?as_of=0001-01-01", 422, "截至日期", "as_of"),
    ("/reports/monthly.xlsx?batch=nope", 422, "批次", "batch"),
    # a peer group the caller has not saved (tests/test_peer_groups.py: names, members, others' groups)
    ("/api/institution-deciles?peers=没有这个组", 422, "对比组", "peer group"),
    ("/api/institution-deciles/export?peers=%3Cscript%3E", 422, "对比组", "peer group"),
    ("/data/institution-deciles?peers=nope", 422, "对比组", "peer group"),
]


@pytest.mark.parametrize(("path", "status", "zh", "en"), BAD)
def test_a_bad_argument_is_a_bilingual_4xx(client, path, status, zh, en):
    """Finding 11: each was a 500 (or an English-only 422) before."""
    r = client.get(path)
    assert r.status_code == status, (r.status_code, r.text[:300])
    said_zh, said_en = bilingual(client, path, r)
    assert zh in said_zh and en in said_en, (said_zh[:300], said_en[:300])
    assert "Traceback" not in r.text and "SELECT" not in r.text


def test_fastapi_validation_errors_keep_their_list_and_speak_both_languages(client):
    r = client.get("/api/monitor", params={"page": "1e20", "page_size": "0"})
    assert r.status_code == 422
    d = r.json()["detail"]
    assert "页码" in d["zh"] and "每页行数" in d["zh"] and "page" in d["en"] and "page_size" in d["en"]
    assert [e["loc"] for e in d["errors"]] == [["query", "page"], ["query", "page_size"]]
    assert all("input" not in e for e in d["errors"])  # the value sent is not echoed back


@pytest.mark.parametrize("at", ["0001-01-01T00:46:01+11:46", "9999-12-31T23:59:59-12:00", "1999-12-31T12:00:00"])
def test_a_settlement_time_outside_the_window_is_a_422(client, at):
    """schemathesis found it: 0001-01-01T00:46:01+11:46 cannot be converted to Beijing time (OverflowError, 500)."""
    r = client.post("/api/pharmacy/settlement-check", json={"pharmacy_code": "0", "at": at})
    assert r.status_code == 422, r.text[:300]
    d = r.json()["detail"]
    assert "结算时间" in d["zh"] and "at is invalid" in d["en"]


def test_the_window_edges_are_accepted(client):
    for path in ("/api/monitor?as_of=2100-12-31", "/api/supply-scorecard?month=2100-12", "/api/monitor?page=1000000"):
        assert client.get(path).status_code == 200, path


def test_an_upload_named_dot_dot_is_refused_with_a_reason(client):
    """Finding 11: ``..`` named the temporary directory itself (IsADirectoryError, a 500)."""
    for name in ("..", ".", "a/..", "..\\.."):
        r = client.post("/import?lang=zh", data={"csrf_token": csrf(client), "table": ""},
                        files={"file": (name, b"order_line_id\nX\n", "text/csv")})
        assert r.status_code == 422, (name, r.status_code, r.text[:300])
        assert "导入失败" in r.text and "Traceback" not in r.text


def test_every_operation_documents_its_errors(client):
    """The OpenAPI document lists the statuses the routes raise themselves, with the bilingual error body
    (tests/test_web_schemathesis.py checks the responses against it)."""
    doc = client.get("/openapi.json").json()
    monitor = doc["paths"]["/api/monitor"]["get"]["responses"]
    assert {"200", "401", "403", "422", "503"} <= set(monitor)
    assert monitor["422"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    assert "404" in doc["paths"]["/api/institutions/{code}"]["get"]["responses"]
    assert "409" in doc["paths"]["/api/exemptions/{exemption_id}/revoke"]["post"]["responses"]
    assert "429" in doc["paths"]["/api/auth/token"]["post"]["responses"]
    assert "text/csv; charset=utf-8" in doc["paths"]["/api/monitor/export"]["get"]["responses"]["200"]["content"]
    assert "HTTPValidationError" not in doc["components"]["schemas"]
