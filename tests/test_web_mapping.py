"""The 对码 page: who sees which local codes, who may confirm, and what a confirmation writes.

The small province of web_fixtures: HA (Fuzhou 350102) and HC (Quanzhou 350502); products P1/P1B/P1N are
阿托伐他汀钙片 of 甲/乙/丙制药, 10 per pack, no strength stated; P2 is 氨氯地平片 of 乙制药. Scores by hand
(jicai.ingest.matching, parts both sides state): HA-001 (阿托伐他汀钙片, 10 per pack, 甲制药) vs P1: name,
pack and maker 100 → 100.0, fuzzy (the strength is missing, so not exact); vs P1B and P1N: maker 甲/乙 share
nothing → (40×100 + 10×100 + 20×0) / 70 = 71.43 → 71.4.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.web_fixtures import HA, HC, P1, P1B, P1N, P2, csrf, login, make_app, world_tables

from jicai.contract.arrow import from_pylist
from jicai.store import connect
from jicai.workflow.models import AuditEntry

LOCAL = [
    {"scope": HA, "local_code": "HA-001", "name": "阿托伐他汀钙片", "units_per_pack": 10.0, "manufacturer": "甲制药"},
    {"scope": HC, "local_code": "HC-001", "name": "氨氯地平片", "units_per_pack": 10.0, "manufacturer": "乙制药"},
    {"scope": "platform", "local_code": "PT-001", "name": "阿托伐他汀钙片", "units_per_pack": 10.0},
]


@pytest.fixture
def app(tmp_path):
    tables = world_tables()
    tables["local_products"] = from_pylist("local_products", LOCAL)
    return make_app(tmp_path, tables)


@pytest.fixture
def client(app):
    with TestClient(app) as c:
        yield c


def _confirm(client, scope, local_code, product_code):
    return client.post("/mapping/confirm", data={"csrf_token": csrf(client), "scope": scope, "local_code": local_code,
                                                 "product_code": product_code}, follow_redirects=False)


def test_bureau_sees_every_code_with_ranked_candidates(client):
    page = login(client, "bureau").get("/mapping")
    assert page.status_code == 200
    text = page.text
    for code in ("HA-001", "HC-001", "PT-001"):
        assert code in text
    assert "鼓楼医院甲" in text and "鲤城医院丙" in text and "平台编码" in text
    ha = text[text.index("HA-001"):text.index("HC-001")]
    assert [ha.index(P1), ha.index(P1B), ha.index(P1N)] == sorted([ha.index(P1), ha.index(P1B), ha.index(P1N)])
    assert "100.0分 · 模糊匹配" in ha and "71.4分 · 模糊匹配" in ha
    assert ">确认<" in ha


@pytest.mark.parametrize("user", ["institution", "enterprise"])
def test_a_hospital_or_an_enterprise_may_neither_see_nor_confirm(client, user):
    login(client, user)
    assert client.get("/mapping").status_code == 403
    assert _confirm(client, HA, "HA-001", P1).status_code == 403


def test_an_auditor_reads_but_may_not_confirm(client):
    login(client, "auditor")
    page = client.get("/mapping")
    assert page.status_code == 200 and "HA-001" in page.text and ">确认<" not in page.text
    assert _confirm(client, HA, "HA-001", P1).status_code == 403


def test_a_district_bureau_sees_and_decides_only_its_region(client, app):
    login(client, "district")  # Quanzhou, 3505
    text = client.get("/mapping").text
    assert "HC-001" in text and "HA-001" not in text and "PT-001" not in text  # platform codes are province-wide
    assert _confirm(client, HA, "HA-001", P1).status_code == 404
    assert _confirm(client, "platform", "PT-001", P1).status_code == 404
    r = _confirm(client, HC, "HC-001", P2)
    assert r.status_code == 303 and r.headers["location"] == "/mapping"
    wh = connect(app.state.config.warehouse_url, "read")
    try:
        rows = wh.table("product_mappings").to_pyarrow().to_pylist()
    finally:
        wh.close()
    # HC-001 vs P2: name, pack and maker (乙 ⊂ 乙) 100 → 100.0 fuzzy (no strength on either side)
    assert [(r["scope"], r["local_code"], r["product_code"], r["status"], r["score"], r["method"], r["decided_by"])
            for r in rows] == [(HC, "HC-001", P2, "confirmed", 100.0, "fuzzy", "district")]
    with app.state.workflow.session() as s:
        audit = s.scalars(select(AuditEntry).where(AuditEntry.action == "mapping.confirm")).all()
        assert [(a.user_name, a.target, a.region_code) for a in audit] == [("district", f"local_code:{HC}/HC-001", "350502")]
    assert "已对码" in client.get("/mapping?status=confirmed").text
    assert "HC-001" not in client.get("/mapping").text  # no longer open


def test_a_rejection_and_a_write_without_the_token(client, app):
    login(client, "bureau")
    r = client.post("/mapping/reject", data={"scope": "platform", "local_code": "PT-001"}, follow_redirects=False)
    assert r.status_code == 403  # no CSRF token
    r = client.post("/mapping/reject", data={"csrf_token": csrf(client), "scope": "platform", "local_code": "PT-001"},
                    follow_redirects=False)
    assert r.status_code == 303
    assert "无对应医保产品" in client.get("/mapping?status=rejected").text


def test_the_page_shows_a_page_of_codes_and_says_there_are_more(client, monkeypatch):
    from jicai.web.routes import mapping as route

    monkeypatch.setattr(route, "PAGE", 2)
    text = login(client, "bureau").get("/mapping").text
    # ordered by scope then code: H35010200001 (HA) and H35050200001 (HC) come before "platform"
    assert "HA-001" in text and "HC-001" in text and "PT-001" not in text
    assert 'data-testid="more"' in text
