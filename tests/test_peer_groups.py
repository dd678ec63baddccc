"""Peer groups saved per user (jicai.workflow.peer_groups) and the institution deciles computed against them:
who sees and changes which group, what an institution user learns of its peers (its own rows, never another
institution's name or value), every bad input refused in both languages (never a 500), and the CLI."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from tests.web_fixtures import HA, HB, HC, bearer, csrf, login, make_app, world_rows
from typer.testing import CliRunner

from jicai.contract.arrow import from_pylist
from jicai.contract.tables import TABLES

# six more level-3 hospitals of Fuzhou Gulou with V1 agreements and no purchase (completion 0): with HA they make a
# group an institution user may save (itself and at least five others)
EXTRA = [f"H350102000{n:02d}" for n in range(3, 9)]


def tables():
    rows = world_rows()
    rows["institutions"] += [{"institution_code": c, "name": f"鼓楼医院{c[-1]}号", "region_code": "350102", "level": 3,
                              "kind": "hospital", "public": True, "sentinel": False} for c in EXTRA]
    rows["agreements"] += [{"batch_id": "B1", "cycle_year": 1, "institution_code": c, "variety_id": "V1",
                            "agreed_volume": 1000.0 * (i + 1)} for i, c in enumerate(EXTRA)]
    out = {name: from_pylist(name, r) for name, r in rows.items()}
    # the CLI reads the warehouse as an import leaves it: every contract table, empty ones included
    return {**{name: from_pylist(name, []) for name in TABLES}, **out}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return make_app(tmp_path_factory.mktemp("peers"), tables())


@pytest.fixture(scope="module")
def c(app):
    return TestClient(app)


def test_an_institution_user_sees_its_own_ranks_in_its_group_and_nothing_of_the_others(c):
    me = bearer(c, "institution")  # HA: bought 200 of its 1,000 tablets of V1 (P1) by 2024-06-30 → 20%
    assert c.post("/api/peer-groups", headers=me, json={"name": "鼓楼同级", "members": EXTRA}).status_code == 201
    listed = c.get("/api/peer-groups", headers=me).json()["groups"]
    assert [g["name"] for g in listed] == ["鼓楼同级"] and listed[0]["size"] == 7  # its own institution added
    r = c.get("/api/institution-deciles?as_of=2024-06-30&peers=鼓楼同级", headers=me)
    assert r.status_code == 200, r.text
    rows = r.json()["rows"]
    assert rows and {x["institution_code"] for x in rows} == {HA}
    completion = next(x for x in rows if x["metric"] == "completion")
    # 20% against six at 0%: first of seven, decile 1; the median (4th of 7) is 0; the best tenth (1st) its own
    assert (completion["peers"], completion["rank"], completion["decile"]) == (7, 1, 1)
    assert completion["value"] == pytest.approx(0.2) and completion["peer_median"] == pytest.approx(0.0)
    assert completion["peer_best_tenth"] == pytest.approx(0.2)
    assert completion["peer_basis"] == "group" and completion["peer_group"] == "鼓楼同级"
    for code in (*EXTRA, HB, HC):
        assert code not in r.text
    assert "号" not in r.text  # no other member's name either
    export = c.get("/api/institution-deciles/export?format=csv&as_of=2024-06-30&peers=鼓楼同级", headers=me)
    assert export.status_code == 200 and HA in export.text and not any(x in export.text for x in EXTRA)
    # the same figures without a group: HA is alone at level 3? no — HC and EXTRA are level 3 too (8 peers)
    level = c.get("/api/institution-deciles?as_of=2024-06-30", headers=me).json()["rows"]
    lc = next(x for x in level if x["metric"] == "completion")
    assert lc["peer_basis"] == "level" and lc["peers"] == 8 and {x["institution_code"] for x in level} == {HA}


def test_an_institution_group_needs_five_others_and_no_one_uses_another_users_group(c):
    me, other = bearer(c, "institution"), bearer(c, "institution_b")
    r = c.post("/api/peer-groups", headers=me, json={"name": "太小", "members": [HB, HC, EXTRA[0], EXTRA[1]]})
    assert r.status_code == 422 and "至少需要 5 家" in r.json()["detail"]["zh"] and "at least 5" in r.json()["detail"]["en"]
    gid = c.post("/api/peer-groups", headers=me, json={"name": "私有", "members": EXTRA[:5]}).json()["id"]
    # another user neither sees, uses, changes nor removes it (ids do not leak: 404)
    assert all(g["name"] != "私有" for g in c.get("/api/peer-groups", headers=other).json()["groups"])
    assert c.get("/api/institution-deciles?peers=私有", headers=other).status_code == 422
    assert c.put(f"/api/peer-groups/{gid}", headers=other, json={"name": "x", "members": EXTRA}).status_code == 404
    assert c.delete(f"/api/peer-groups/{gid}", headers=other).status_code == 404
    assert c.delete(f"/api/peer-groups/{gid}", headers=me).json() == {"id": gid, "removed": True}
    assert c.delete(f"/api/peer-groups/{gid}", headers=me).status_code == 404


def test_a_bureau_group_ranks_its_members_whatever_their_level_and_may_be_shared(c):
    bureau, district, auditor = bearer(c, "bureau"), bearer(c, "district"), bearer(c, "auditor")
    r = c.post("/api/peer-groups", headers=bureau, json={"name": "甲乙丙", "members": f"{HA}, {HB}\n{HC}", "shared": True})
    assert r.status_code == 201 and r.json()["size"] == 3
    rows = c.get("/api/institution-deciles?as_of=2024-06-30&peers=甲乙丙", headers=bureau).json()["rows"]
    comp = {x["institution_code"]: x for x in rows if x["metric"] == "completion"}
    # HA 20%, HB and HC 0% (HB is level 2: a group ignores the level); ranks 1, 2, 2 of 3; deciles 1, 6, 6
    assert {k: (v["rank"], v["decile"]) for k, v in comp.items()} == {HA: (1, 1), HB: (2, 6), HC: (2, 6)}
    assert all(v["peer_median"] is None for v in comp.values())  # fewer than six: no median
    # shared: the district bureau and the auditor use it by name (and see only their own region's rows)
    assert any(g["name"] == "甲乙丙" and not g["mine"] for g in c.get("/api/peer-groups", headers=auditor).json()["groups"])
    d = c.get("/api/institution-deciles?as_of=2024-06-30&peers=bureau/甲乙丙", headers=district).json()["rows"]
    assert {x["institution_code"] for x in d} == {HC}
    # an institution user may not share, an enterprise may not use groups at all, an auditor may not save one
    assert c.post("/api/peer-groups", headers=bearer(c, "institution_c"),
                  json={"name": "共享", "members": EXTRA, "shared": True}).status_code == 422
    assert c.get("/api/peer-groups", headers=bearer(c, "enterprise")).status_code == 403
    assert c.post("/api/peer-groups", headers=auditor, json={"name": "审计", "members": [HA]}).status_code == 403


BAD = [
    ({"name": "", "members": [HA]}, "名称不能为空"),
    ({"name": "名" * 41, "members": [HA]}, "最多 40 个字符"),
    ({"name": "a/b", "members": [HA]}, "只能包含"),
    ({"name": "<script>", "members": [HA]}, "只能包含"),
    ({"name": "tab\there", "members": [HA]}, "只能包含"),
    ({"name": "空组", "members": []}, "至少需要一家"),
    ({"name": "空组", "members": " ,; \n"}, "至少需要一家"),
    ({"name": "未知", "members": [HA, "H35999900001"]}, "没有这些机构:H35999900001"),
    ({"name": "乱码", "members": [HA, "H1'; drop table"]}, "格式不正确"),
    ({"name": "太大", "members": [f"H{n:011d}" for n in range(10_000)]}, "最多 1000 家"),
]


@pytest.mark.parametrize(("body", "zh"), BAD, ids=[b[1] for b in BAD])
def test_bad_groups_are_refused_in_both_languages(c, body, zh):
    r = c.post("/api/peer-groups", headers=bearer(c, "bureau"), json=body)
    assert r.status_code == 422, r.text[:300]
    detail = r.json()["detail"]
    assert zh in detail["zh"] and detail["en"]


def test_a_duplicate_name_and_bad_peers_arguments(c):
    b = bearer(c, "bureau")
    assert c.post("/api/peer-groups", headers=b, json={"name": "重复", "members": [HA]}).status_code == 201
    r = c.post("/api/peer-groups", headers=b, json={"name": "重复", "members": [HB]})
    assert r.status_code == 422 and "已有同名" in r.json()["detail"]["zh"]
    for peers in ("没有这个组", "x" * 129, "a\x00b"):
        r = c.get("/api/institution-deciles", params={"peers": peers}, headers=b)
        assert r.status_code == 422 and r.json()["detail"]["zh"] and r.json()["detail"]["en"], peers


def test_the_page_creates_edits_and_deletes_ones_own_groups(app):
    with TestClient(app) as client:
        login(client, "bureau")
        token = csrf(client)
        r = client.post("/peers", data={"name": "页面组", "members": f"{HA}\n{HC}", "csrf_token": token},
                        follow_redirects=False)
        assert r.status_code == 303
        page = client.get("/peers").text
        assert "页面组" in page and "鼓楼医院甲" in page
        r = client.post("/peers", data={"name": "页面组", "members": HA, "csrf_token": token})
        assert r.status_code == 422 and "已有同名对比组" in r.text and 'value="页面组"' in r.text
        r = client.post("/peers", data={"name": "坏", "members": "H35999900001", "csrf_token": token})
        assert r.status_code == 422 and "数据仓库中没有这些机构" in r.text
        gid = next(g["id"] for g in client.get("/api/peer-groups").json()["groups"] if g["name"] == "页面组")
        r = client.post(f"/peers/{gid}", data={"name": "页面组二", "members": HB, "csrf_token": token},
                        follow_redirects=False)
        assert r.status_code == 303 and "页面组二" in client.get("/peers").text
        r = client.get("/data/institution-deciles?as_of=2024-06-30&peers=页面组二")
        assert r.status_code == 200 and "对比组「页面组二」" in r.text
        assert client.post(f"/peers/{gid}/delete", data={"csrf_token": token}, follow_redirects=False).status_code == 303
        assert "页面组二" not in client.get("/peers").text
        assert client.post(f"/peers/{gid}/delete", data={"csrf_token": token}).status_code == 404


def test_the_cli_saves_lists_uses_and_removes_a_users_group(app, tmp_path):
    from jicai.cli import app as cli

    cfg = app.state.config
    env = {"JICAI_DATA_DIR": str(cfg.data_dir), "JICAI_WAREHOUSE_URL": cfg.warehouse_url,
           "JICAI_WORKFLOW_URL": cfg.workflow_url}
    run = CliRunner().invoke
    r = run(cli, ["peers", "add", "命令组", "--user", "bureau", "--members", f"{HA},{HB},{HC}"], env=env)
    assert r.exit_code == 0 and "已保存对比组 命令组(3 家机构" in r.output, r.output
    r = run(cli, ["peers", "add", "命令组", "--user", "bureau", "--members", "H35999900001"], env=env)
    assert r.exit_code != 0 and "数据仓库中没有这些机构" in r.output
    assert "命令组" in run(cli, ["peers", "list", "--user", "bureau"], env=env).output
    out = tmp_path / "d.json"
    r = run(cli, ["institution-deciles", "--as-of", "2024-06-30", "--peers", "命令组", "--user", "bureau",
                  "--format", "json", "--out", str(out)], env=env)
    assert r.exit_code == 0 and "对比组 命令组(3 家)" in r.output, r.output
    text = out.read_text(encoding="utf-8")
    assert "对比组「命令组」" in text and json.loads(text)
    r = run(cli, ["institution-deciles", "--as-of", "2024-06-30", "--peers", "命令组"], env=env)
    assert r.exit_code != 0 and "--user" in r.output
    assert run(cli, ["peers", "remove", "命令组", "--user", "bureau"], env=env).exit_code == 0
    r = run(cli, ["peers", "remove", "命令组", "--user", "bureau"], env=env)
    assert r.exit_code != 0 and "没有名为 命令组 的对比组" in r.output


def test_the_migration_adds_peer_groups_unique_per_owner_and_name(tmp_path):
    from sqlalchemy import inspect
    from sqlalchemy.exc import IntegrityError

    from jicai.workflow import Workflow
    from jicai.workflow.db import now
    from jicai.workflow.models import PeerGroupRow, User

    wf = Workflow.open(f"sqlite:///{tmp_path / 'wf.sqlite'}", upgrade=False)
    try:
        wf.upgrade("0004")
        with wf.session() as s:
            s.add(User(name="u1", password_hash="h", role="bureau", scope="", active=True, session_version=1,
                       created_at=now()))
        wf.upgrade()
        assert "peer_groups" in inspect(wf.engine).get_table_names()
        with wf.session() as s:
            uid = s.query(User).one().id
            s.add(PeerGroupRow(owner_id=uid, name="组", members=[HA], created_at=now(), updated_at=now()))
        with pytest.raises(IntegrityError), wf.session() as s:
            s.add(PeerGroupRow(owner_id=uid, name="组", members=[HB], created_at=now(), updated_at=now()))
        wf.downgrade("0004")
        assert "peer_groups" not in inspect(wf.engine).get_table_names()
    finally:
        wf.close()
