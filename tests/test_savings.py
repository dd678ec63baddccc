"""Peers, deciles and savings (jicai.analytics.savings) beyond the hand-computed scenarios
(tests/scenarios/savings): on a simulated province, every row obeys the definitions when recomputed in Python
from the rows' own cost per DDD, and the three levels of sums agree; the pages and API are scoped."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from jicai.analytics.savings import ddd_savings, savings_by_institution, savings_by_region
from jicai.simulate import simulate
from jicai.store import connect


def test_a_simulated_province_obeys_the_definitions(tmp_path):
    m = simulate(tmp_path / "data", institutions=60, months=5, seed=5)
    wh = connect(f"duckdb:///{tmp_path / 'w.duckdb'}")
    for name, f in m.files.items():
        wh.write_table(name, pq.read_table(Path(tmp_path / "data" / f)))
    as_of = date.fromisoformat(m.as_of)
    rows = ddd_savings(wh, as_of).to_pyarrow().to_pylist()
    assert len(rows) > 20
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["level"], r["variety_id"]), []).append(r)
    assert any(len(g) > 10 for g in groups.values())  # a p10 that is not simply the cheapest is exercised
    for g in groups.values():
        costs = sorted(r["cost_per_ddd"] for r in g)
        n = len(costs)
        p10 = costs[math.ceil(n / 10) - 1]
        for r in g:
            rank = 1 + sum(c < r["cost_per_ddd"] for c in costs)
            assert (r["peers"], r["rank_in_level"]) == (n, rank)
            assert r["decile"] == (None if n < 2 else min(10, 10 * (rank - 1) // (n - 1) + 1))
            assert r["peer_p10_cost_per_ddd"] == pytest.approx(p10)
            assert r["saving"] == pytest.approx(max(0.0, r["ddd"] * (r["cost_per_ddd"] - p10)), abs=1e-6)
    total = sum(r["saving"] for r in rows)
    assert total > 0
    inst = savings_by_institution(wh, as_of).to_pyarrow().to_pylist()
    region = savings_by_region(wh, as_of).to_pyarrow().to_pylist()
    assert sum(r["saving"] for r in inst) == pytest.approx(total)
    assert sum(r["saving"] for r in region) == pytest.approx(total)
    top = min(inst, key=lambda r: r["rank"])
    assert top["rank"] == 1 and top["saving"] == pytest.approx(max(r["saving"] for r in inst))


def test_the_savings_have_pages_and_api_scoped_to_the_user(tmp_path):
    import pyarrow as pa
    from fastapi.testclient import TestClient
    from tests.web_fixtures import HA, bearer, login, make_app, world_tables

    tables = world_tables()
    p = tables["products"]  # the fixture's products have no strength: give them 20 mg, so they have DDDs
    tables["products"] = p.set_column(p.schema.get_field_index("strength"), "strength",
                                      pa.array(["20mg"] * p.num_rows, p.schema.field("strength").type))
    with TestClient(make_app(tmp_path, tables)) as c:
        bureau = bearer(c, "bureau")
        for name in ("ddd-savings", "ddd-savings-by-class", "ddd-savings-by-institution", "ddd-savings-by-region"):
            r = c.get(f"/api/{name}?as_of=2024-06-30", headers=bureau)
            assert r.status_code == 200, (name, r.text[:300])
            assert "saving" in {col["name"] for col in r.json()["columns"]}, name
        rows = c.get("/api/ddd-savings?as_of=2024-06-30", headers=bureau).json()["rows"]
        assert HA in {r["institution_code"] for r in rows}
        mine = c.get("/api/ddd-savings?as_of=2024-06-30", headers=bearer(c, "institution")).json()["rows"]
        assert mine and {r["institution_code"] for r in mine} == {HA}
        login(c, "bureau")
        r = c.get("/data/ddd-savings?as_of=2024-06-30")
        assert r.status_code == 200 and "可节省金额" in r.text and "十分位" in r.text and "比较范围" in r.text


def _ddd_tables():
    """The web fixture's world with every contract table (the CLI reads the warehouse as an import leaves it) and
    six more Gulou hospitals (a group an institution user may save); its products given 20 mg (DDDs)."""
    import pyarrow as pa
    from tests.test_peer_groups import tables

    tables = tables()
    p = tables["products"]
    tables["products"] = p.set_column(p.schema.get_field_index("strength"), "strength",
                                      pa.array(["20mg"] * p.num_rows, p.schema.field("strength").type))
    return tables


def test_the_savings_take_a_users_saved_peer_group_on_the_api_the_page_and_the_cli(tmp_path):
    import json

    from fastapi.testclient import TestClient
    from tests.test_peer_groups import EXTRA
    from tests.web_fixtures import HA, HB, HC, bearer, login, make_app
    from typer.testing import CliRunner

    from jicai.cli import app as cli

    app = make_app(tmp_path, _ddd_tables())
    with TestClient(app) as c:
        bureau = bearer(c, "bureau")
        assert c.post("/api/peer-groups", headers=bureau, json={"name": "甲乙丙", "members": [HA, HB, HC]}).status_code == 201
        level = c.get("/api/ddd-savings?as_of=2024-06-30", headers=bureau).json()["rows"]
        assert level and {r["peer_basis"] for r in level} == {"level"} and {r["peer_group"] for r in level} == {""}
        r = c.get("/api/ddd-savings?as_of=2024-06-30&peers=甲乙丙", headers=bureau)
        assert r.status_code == 200, r.text[:300]
        rows = r.json()["rows"]
        assert rows and {x["institution_code"] for x in rows} <= {HA, HB, HC}
        assert {(x["peer_basis"], x["peer_group"]) for x in rows} == {("group", "甲乙丙")}
        # three members at most: no p10 and no saving (it would be one named member's cost)
        assert all(x["peers"] <= 3 and x["peer_p10_cost_per_ddd"] is None and x["saving"] is None for x in rows)
        for name in ("ddd-savings-by-class", "ddd-savings-by-institution", "ddd-savings-by-region"):
            g = c.get(f"/api/{name}?as_of=2024-06-30&peers=甲乙丙", headers=bureau)
            assert g.status_code == 200, (name, g.text[:300])
            assert {x["peer_basis"] for x in g.json()["rows"]} == {"group"}, name
        # a user sees only its own groups: another user's name is a 422, not the bureau's figures
        me = bearer(c, "institution")
        assert c.get("/api/ddd-savings?as_of=2024-06-30&peers=甲乙丙", headers=me).status_code == 422
        assert c.post("/api/peer-groups", headers=me, json={"name": "鼓楼同级", "members": EXTRA}).status_code == 201
        mine = c.get("/api/ddd-savings?as_of=2024-06-30&peers=鼓楼同级", headers=me)
        assert mine.status_code == 200 and {x["institution_code"] for x in mine.json()["rows"]} == {HA}
        assert not any(code in mine.text for code in (*EXTRA, HB, HC))
        login(c, "bureau")
        page = c.get("/data/ddd-savings?as_of=2024-06-30&peers=甲乙丙")
        assert page.status_code == 200 and "自选对比组" in page.text and "比较范围P10每DDD费用" in page.text
        assert "/data/ddd-savings?peers=%E7%94%B2" in c.get("/peers").text  # each group links to its savings
    cfg = app.state.config
    env = {"JICAI_DATA_DIR": str(cfg.data_dir), "JICAI_WAREHOUSE_URL": cfg.warehouse_url,
           "JICAI_WORKFLOW_URL": cfg.workflow_url}
    out = tmp_path / "s.json"
    run = CliRunner().invoke
    r = run(cli, ["ddd-savings-by-institution", "--as-of", "2024-06-30", "--peers", "甲乙丙", "--user", "bureau",
                  "--format", "json", "--out", str(out)], env=env)
    assert r.exit_code == 0 and "比较范围:对比组 甲乙丙(3 家)" in r.output, r.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert "甲乙丙" in json.dumps(doc, ensure_ascii=False) and HA in json.dumps(doc)
    r = run(cli, ["ddd-savings", "--as-of", "2024-06-30", "--peers", "甲乙丙"], env=env)
    assert r.exit_code != 0 and "--user" in r.output
    r = run(cli, ["ddd-savings", "--as-of", "2024-06-30", "--peers", "甲乙丙", "--user", "institution"], env=env)
    assert r.exit_code != 0 and "没有名为 甲乙丙 的对比组" in r.output
    r = run(cli, ["ddd-savings", "--as-of", "2024-06-30", "--format", "json", "--out", str(tmp_path / "l.json")],
            env=env)
    assert r.exit_code == 0 and "比较范围:同级机构" in r.output, r.output
