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
        assert r.status_code == 200 and "可节省金额" in r.text and "同级十分位" in r.text
