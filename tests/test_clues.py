"""The clues of 医保发〔2024〕31号 (issue 16 item 8) against the simulator's planted ones: a small simulated province
(120 institutions, 12 months, DuckDB), the measures read only the warehouse, the manifest grades them. Recall 100%
(every planted kickback institution with its product — of a VBP variety and, the non-VBP same-class variant, of an
ATC class — and the planted selective distributor) and precision ≥ 80% (of the clue rows, those the manifest
plants)."""

from __future__ import annotations

from datetime import date

import ibis
import pyarrow.parquet as pq
import pytest

from jicai.analytics import clue_actions, kickback_clues, selective_delivery
from jicai.analytics.ddd import product_ddd_rows
from jicai.calendar import month_label, shift_month
from jicai.policy import load_policy
from jicai.simulate import simulate
from jicai.store import connect

PRECISION_MIN = 0.8


@pytest.fixture(scope="module")
def province(tmp_path_factory):
    out = tmp_path_factory.mktemp("clues-sim")
    m = simulate(out, institutions=120, months=12, seed=7, chunk_rows=20_000)
    wh = connect("duckdb://")
    names = set(kickback_clues.INPUT_TABLES) | set(selective_delivery.INPUT_TABLES)
    for name in names:  # what a bureau has: the tables, never the manifest
        wh.write_table(name, pq.read_table(out / f"{name}.parquet"))
    yield wh, m
    wh.close()


def test_kickback_clues_find_every_planted_institution_and_little_else(province):
    wh, m = province
    plant = m.one("kickback")
    every = kickback_clues.kickback_clues(wh, m.as_of).to_pyarrow().to_pylist()
    assert [r["rank"] for r in every] == list(range(1, len(every) + 1))
    # the rows of the VBP varieties' products; those of a class's non-VBP products are graded in the next test
    rows = [r for r in every if r["variety_id"] is not None]
    planted = {(i, plant.product_codes[0]) for i in plant.institution_codes}
    found = {(r["institution_code"], r["product_code"]) for r in rows if "peer_overuse" in r["clue_factors"]}
    assert planted <= found, (planted, rows)
    # a clue is right when the manifest plants non-selected use there: the kickback itself, or an institution buying
    # the variety's non-selected products instead of the selected one (nonselected_overuse, zero_purchase) — 31号 asks
    # for those too ("无故不按规定优先使用中选药品"); anything else (a lagging hospital, noise) is a false clue
    other = {(c, v) for p in m.planted if p.kind in ("nonselected_overuse", "zero_purchase")
             for c in p.institution_codes for v in p.variety_ids}
    true = [r for r in rows if (r["institution_code"], r["product_code"]) in planted
            or (r["institution_code"], r["variety_id"]) in other]
    assert len(true) >= PRECISION_MIN * len(rows), [(r["institution_code"], r["product_code"], r["clue_factors"])
                                                    for r in rows]
    assert all(r["enterprise_code"] == plant.enterprise_codes[0] for r in rows if r["product_code"] in plant.product_codes)


def test_class_kickback_clues_find_every_planted_hospital_and_little_else(province):
    """The non-VBP same-class variant (class_overuse): the simulator plants one maker's non-VBP PPI rising to half
    of the class's DDDs at a few hospitals (simulate/class_kickback.py) while every hospital buys it at 5%."""
    wh, m = province
    plant = m.one("class_kickback")
    product = plant.product_codes[0]
    rows = kickback_clues.kickback_clues(wh, m.as_of).to_pyarrow().to_pylist()
    planted = {(i, product) for i in plant.institution_codes}
    mine = [r for r in rows if r["variety_id"] is None]  # a class's non-VBP products: class_overuse is their signal
    assert all(r["clue_factors"] == "class_overuse" for r in mine), mine
    found = {(r["institution_code"], r["product_code"]) for r in mine}
    assert len(planted) >= 2 and planted <= found, (planted, mine)
    # a class clue is right when the manifest plants this non-VBP product's use at this institution: the class
    # kickback, or a planted substitution (its alternative, far above the peers too); anything else is a false clue
    subst = {(c, p) for s in m.of_kind("substitution") for c in s.institution_codes for p in s.product_codes}
    true = [r for r in mine if (r["institution_code"], r["product_code"]) in planted | subst]
    assert len(true) >= PRECISION_MIN * len(mine), [(r["institution_code"], r["product_code"]) for r in mine]
    for r in mine:  # the row names the class, not a variety, and the maker of the product
        assert (r["atc4"], r["variety_id"]) == (plant.expected["atc4"], None)
    assert {r["enterprise_code"] for r in mine if r["product_code"] == product} == set(plant.enterprise_codes)
    # the precision has something to refuse: the unplanted hospitals buy the product on enough lines to be
    # candidates (clue_min_lines in the recent window), and none of them is a clue
    as_of = date.fromisoformat(m.as_of)
    pol = load_policy()
    lo = shift_month(as_of, -(int(pol.value("clue_window_months", on=as_of)) - 1))
    o = wh.table("orders")
    o = o.filter((o.product_code == product) & (o.ordered_at >= ibis.literal(lo).cast("timestamp")))
    lines = o.group_by("institution_code").agg(n=o.count()).to_pyarrow().to_pylist()
    candidates = {r["institution_code"] for r in lines if r["n"] >= int(pol.value("clue_min_lines", on=as_of))}
    assert len(candidates - set(plant.institution_codes)) >= 10, candidates
    # the product has DDDs in its class (else the clue could not count it)
    ddd = {r["product_code"]: r for r in product_ddd_rows(wh)}[product]
    assert (ddd["atc4"], ddd["ddd_per_unit"]) == (plant.expected["atc4"], 0.5)


def test_selective_delivery_finds_the_planted_distributor_and_little_else(province):
    wh, m = province
    plant = m.one("selective_delivery")
    first = date.fromisoformat(m.start)
    rows, months_found = [], set()
    for k in range(12):
        month = month_label(shift_month(first, k))
        got = selective_delivery.selective_delivery(wh, month).to_pyarrow().to_pylist()
        rows += got
        months_found |= {month for r in got if r["distributor_code"] in plant.enterprise_codes}
    assert len(months_found) == 12, months_found  # every month of the data shows it
    true = [r for r in rows if r["distributor_code"] in plant.enterprise_codes]
    assert len(true) >= PRECISION_MIN * len(rows), [(r["month"], r["distributor_code"], r["product_code"],
                                                    r["clue_factors"]) for r in rows if r not in true]


def test_clue_actions_are_the_workflows():
    from jicai.workflow.models import ACTION_ZH, ACTIONS

    assert set(clue_actions.ACTIONS) == set(ACTIONS)
    assert {k: v[0][:2] for k, v in clue_actions.ACTIONS.items()} == {k: v[:2] for k, v in ACTION_ZH.items()}


def test_the_planted_clues_touch_no_other_plant(province):
    _, m = province
    kick = set(m.one("kickback").institution_codes)
    cls = set(m.one("class_kickback").institution_codes)
    assert cls and not kick & cls
    kick |= cls
    # fund-supervision plants (simulate/fund.py: budgets, capitation, pharmacies) change no order line, so they
    # cannot confound a clue; they are picked after the drug plants, among all institutions
    fund = {"budget_ahead", "capitation_deviation"} | {p.kind for p in m.planted if p.kind.startswith("pharmacy")}
    others = {c for p in m.planted if p.kind not in ("kickback", "class_kickback") and p.kind not in fund
              for c in p.institution_codes}
    assert kick and not kick & others
    assert m.one("selective_delivery").enterprise_codes != m.one("slow_distributor").enterprise_codes


def test_the_class_kickback_needs_two_windows_of_data(tmp_path):
    """Below 6 months the early and recent windows of the clue overlap: not planted, and the manifest says why;
    the product is still there, bought at its base share."""
    m = simulate(tmp_path, institutions=40, months=5, seed=7)
    assert m.of_kind("class_kickback") == []
    assert any(n.startswith("class kickback clue not planted") for n in m.notes), m.notes
    names = pq.read_table(tmp_path / "products.parquet").column("name").to_pylist()
    assert "雷贝拉唑钠肠溶片（10mg）" in names


def test_the_clue_pages_and_api_say_clues_not_verdicts(tmp_path):
    from fastapi.testclient import TestClient
    from tests.web_fixtures import bearer, login, make_app

    app = make_app(tmp_path)
    with TestClient(app) as c:
        for path, params in (("kickback-clues", {"as_of": "2024-06-30"}), ("selective-delivery", {"month": "2024-06"})):
            r = c.get(f"/api/{path}", params=params, headers=bearer(c, "bureau"))
            assert r.status_code == 200, r.text
            assert "items" in r.json() or "rows" in r.json(), r.json().keys()
        login(c, "bureau")
        page = c.get("/data/kickback-clues", params={"as_of": "2024-06-30"})
        assert page.status_code == 200 and "线索仅供核查,不作认定" in page.text
        assert '<a href="/actions">' in page.text  # every clue page links to where the action is recorded
