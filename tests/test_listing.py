"""Listing governance (挂网价格管理): hand-computed scenarios on DuckDB, PostgreSQL and PySpark, and the CLI.

Every scenario has a variety of its own (``s<i>:V``) and products named ``s<i>:<name>``, so one query
on AS_OF = 2025-06-30 serves them all. Batch B1 starts 2024-01-01; batch B2 starts 2025-07-01 (not yet
started on AS_OF). Listings take effect 2024-01-01 unless stated. ``price_tolerance`` = 0.001 yuan,
``nonselected_price_multiple`` = 2.0.
"""

from __future__ import annotations

import math
from datetime import date

import pytest
from typer.testing import CliRunner

from jicai.contract.arrow import from_pylist
from jicai.measures.listing import LISTING_COLUMNS, listing_governance

ENGINES = ("duckdb", "postgres", "pyspark")
AS_OF = date(2025, 6, 30)
EARLY = "2024-01-01"
N = "not_listed_at_winning_price"
A = "above_winning_price"
S = "suspend_or_delist"

# selected: (product, role, winning price); other: non-selected products of the variety;
# listings: (product, price, status[, effective_date]); expect: product → (finding, listed, winning, multiple, status)
SCENARIOS = [
    dict(name="selected at exactly winning ± 0.001 is not flagged",
         selected=[("P", "primary", 10.0), ("Q", "backup", 9.5)],
         listings=[("P", 10.001, "listed"), ("Q", 9.499, "listed")],
         expect={}),
    dict(name="selected at winning ± 0.0011 is flagged",
         selected=[("P", "primary", 10.0), ("Q", "backup", 9.5)],
         listings=[("P", 10.0011, "listed"), ("Q", 9.4989, "listed")],
         expect={"P": (N, 10.0011, 10.0, 1.00011, "listed"), "Q": (N, 9.4989, 9.5, 0.94989, "listed")}),
    dict(name="selected without a listing is flagged",
         selected=[("P", "primary", 10.0)],
         expect={"P": (N, None, 10.0, None, None)}),
    dict(name="selected with a suspended or delisted listing is flagged",
         selected=[("P", "primary", 10.0), ("Q", "backup", 10.0)],
         listings=[("P", 10.0, "suspended"), ("Q", 10.0, "delisted")],
         expect={"P": (N, 10.0, 10.0, 1.0, "suspended"), "Q": (N, 10.0, 10.0, 1.0, "delisted")}),
    dict(name="as-of cut: a later listing is not yet in force; one effective on the day is",
         selected=[("P", "primary", 10.0), ("R", "backup", 10.0)],
         listings=[("P", 12.0, "listed", "2025-01-01"), ("P", 10.0, "listed", "2025-07-01"),
                   ("R", 12.0, "listed", "2025-01-01"), ("R", 10.0, "listed", "2025-06-30")],
         expect={"P": (N, 12.0, 10.0, 1.2, "listed")}),
    dict(name="non-selected at exactly the highest primary winning price (+ tolerance) is not flagged",
         selected=[("P1", "primary", 10.0), ("P2", "primary", 8.0), ("B", "backup", 12.0)],
         other=["N1", "N2", "N3"],
         listings=[("P1", 10.0, "listed"), ("P2", 8.0, "listed"), ("B", 12.0, "listed"),
                   ("N1", 10.0, "listed"), ("N2", 10.001, "listed"), ("N3", 10.0011, "listed")],
         expect={"N3": (A, 10.0011, 10.0, 1.00011, "listed")}),
    dict(name="exactly 2.0 × is above the winning price, 2.01 × is suspend/delist; not listed is no finding",
         selected=[("P", "primary", 10.0)],
         other=["N1", "N2", "N3", "N4"],
         listings=[("P", 10.0, "listed"), ("N1", 20.0, "listed"), ("N2", 20.1, "listed"),
                   ("N3", 30.0, "suspended")],
         expect={"N1": (A, 20.0, 10.0, 2.0, "listed"), "N2": (S, 20.1, 10.0, 2.01, "listed")}),
    dict(name="a batch not started yet has no findings", batch="B2",
         selected=[("P", "primary", 10.0)], other=["N"],
         listings=[("N", 50.0, "listed")],
         expect={}),
]


def tables(scenarios=SCENARIOS) -> dict:
    rows = {
        "batches": [
            {"batch_id": "B1", "name": "第一批", "category": "drug", "start_date": date(2024, 1, 1), "cycle_years": 3},
            {"batch_id": "B2", "name": "第二批", "category": "drug", "start_date": date(2025, 7, 1), "cycle_years": 3},
        ],
        "varieties": [], "selected_products": [], "listings": [],
        # a product of no variety is never a finding
        "products": [{"product_code": "X", "name": "X", "variety_id": None, "units_per_pack": 1.0, "category": "drug"}],
    }
    rows["listings"].append({"product_code": "X", "listed_unit_price": 999.0, "status": "listed",
                             "effective_date": date(2024, 1, 1)})
    for i, s in enumerate(scenarios):
        p, v, batch = f"s{i}:", f"s{i}:V", s.get("batch", "B1")
        rows["varieties"].append({"variety_id": v, "batch_id": batch, "name": v, "unit": "片"})
        for prod, role, price in s.get("selected", []):
            rows["selected_products"].append({"batch_id": batch, "variety_id": v, "product_code": p + prod,
                                              "enterprise_code": "91610000000000000X", "unit_price": price,
                                              "role": role})
        for prod in [x for x, _, _ in s.get("selected", [])] + s.get("other", []):
            rows["products"].append({"product_code": p + prod, "name": "名" + p + prod, "variety_id": v,
                                     "units_per_pack": 10.0, "category": "drug"})
        for prod, price, status, *eff in s.get("listings", []):
            rows["listings"].append({"product_code": p + prod, "listed_unit_price": price, "status": status,
                                     "effective_date": date.fromisoformat(eff[0] if eff else EARLY)})
    return {name: from_pylist(name, r) for name, r in rows.items()}


def _same(got, exp) -> bool:
    if exp is None:
        return got is None or (isinstance(got, float) and math.isnan(got))  # pandas: None or NaN
    if isinstance(exp, float):
        return got is not None and math.isclose(got, exp, rel_tol=1e-12)
    return got == exp


def check(df, scenarios=SCENARIOS) -> list[str]:
    errors = []
    assert not df.product_code.eq("X").any()
    for i, s in enumerate(scenarios):
        p = f"s{i}:"
        part = df[df.product_code.str.startswith(p)]
        got = {r.product_code.removeprefix(p): r for r in part.itertuples()}
        if len(got) != len(part):
            errors.append(f"{s['name']}: duplicate rows")
        if set(got) != set(s["expect"]):
            errors.append(f"{s['name']}: rows {sorted(got)} != {sorted(s['expect'])}")
        for prod, exp in s["expect"].items():
            r = got.get(prod)
            if r is None:
                continue
            actual = (r.finding, r.listed_unit_price, r.winning_price, r.multiple, r.status)
            if not all(_same(g, e) for g, e in zip(actual, exp, strict=True)):
                errors.append(f"{s['name']} {prod}: got {actual}, expected {exp}")
            if (r.variety_id, r.batch_id, r.product_name) != (f"{p}V", s.get("batch", "B1"), f"名{p}{prod}"):
                errors.append(f"{s['name']} {prod}: keys {(r.variety_id, r.batch_id, r.product_name)}")
    return errors


def load(engine_warehouse, engine: str, data: dict):
    """(warehouse, table-name map). On Spark: temp views from Arrow, named for this test only."""
    if engine != "pyspark":
        return engine_warehouse(engine, data), None
    wh = engine_warehouse(engine, {})
    names = {}
    for name, t in data.items():
        names[name] = f"test_listing_{name}"
        wh.con._session.createDataFrame(t).createOrReplaceTempView(names[name])
    return wh, names


@pytest.mark.parametrize("engine", ENGINES)
def test_scenarios_on_engine(engine, engine_warehouse):
    wh, names = load(engine_warehouse, engine, tables())
    df = listing_governance(wh, AS_OF, tables=names).to_pandas()
    assert list(df.columns) == list(LISTING_COLUMNS)
    errors = check(df)
    assert not errors, "\n".join(errors)


def test_finding_zh_and_policy_override():
    from jicai.policy import load_policy
    from jicai.store import connect

    wh = connect("duckdb://")
    for name, t in tables().items():
        wh.write_table(name, t)
    df = listing_governance(wh, "2025-06-30").to_pandas().set_index("product_code")
    assert df.loc["s1:P", "finding_zh"] == "未按中选价挂网"
    assert df.loc["s6:N1", "finding_zh"] == "高于中选价"
    assert df.loc["s6:N2", "finding_zh"] == "建议暂停采购/撤网"
    loose = load_policy().with_values(price_tolerance=0.002, nonselected_price_multiple=3.0)
    df = listing_governance(wh, AS_OF, loose).to_pandas().set_index("product_code")
    assert "s1:P" not in df.index and "s5:N3" not in df.index
    assert df.loc["s6:N2", "finding"] == "above_winning_price"
    # before the 2025 listings took effect, s4:P and s4:R had no listing in force
    df = listing_governance(wh, date(2024, 12, 31)).to_pandas().set_index("product_code")
    for prod in ("s4:P", "s4:R"):
        assert df.loc[prod, "finding"] == "not_listed_at_winning_price"
        assert math.isnan(df.loc[prod, "listed_unit_price"]) and _same(df.loc[prod, "status"], None)


def test_cli_listing(tmp_path):
    import json

    from jicai.cli import app
    from jicai.settings import Settings

    wh = Settings.resolve().warehouse()
    for name, t in tables().items():
        wh.write_table(name, t)
    wh.close()
    out = tmp_path / "l.json"
    res = CliRunner().invoke(app, ["listing", "--as-of", "2025-06-30", "--format", "json", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "未按中选价挂网 not_listed_at_winning_price: 6" in res.output
    assert "高于中选价 above_winning_price: 2" in res.output
    assert "建议暂停采购/撤网 suspend_or_delist: 1" in res.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["as_of"] == "2025-06-30" and len(doc["rows"]) == 9
    rows = {r["product_code"]: r for r in doc["rows"]}
    assert rows["s2:P"]["listed_unit_price"] is None and rows["s6:N2"]["finding"] == "suspend_or_delist"
    res = CliRunner().invoke(app, ["listing", "--as-of", "2025-06-30", "--out", str(tmp_path / "l.csv")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "l.csv").read_text(encoding="utf-8-sig").startswith("product_code,")
    res = CliRunner().invoke(app, ["listing", "--as-of", "2025-13-01"])
    assert res.exit_code != 0
