"""Volume audit (报量审核): hand-computed scenarios on DuckDB, PostgreSQL and PySpark, and the CLI.

The world: batch B1 starts 2024-01-01 (three cycle years; k = 2 starts 2025-01-01); variety V1 has
P1 (10 units per pack) and the non-selected P1N (5 units per pack); V2 (P2) belongs to batch B2. Each
scenario uses institutions of its own (prefixed ``s<i>:`` when all are loaded together), so one query
per cycle year serves every scenario. Reports are made at 2024-11-15 10:00 unless stated: their window
is [2023-11-15 00:00, 2024-11-15 10:00); a missing report for k = 2 looks at [2024-01-01, 2025-01-01).
"""

from __future__ import annotations

import math
from datetime import date, datetime

import pytest
from typer.testing import CliRunner

from jicai.contract.arrow import from_pylist
from jicai.measures.volume_audit import VOLUME_AUDIT_COLUMNS, volume_audit

ENGINES = ("duckdb", "postgres", "pyspark")
REPORTED = "2024-11-15T10:00"

BASE = {
    "batches": [
        {"batch_id": "B1", "name": "第一批", "category": "drug", "start_date": date(2024, 1, 1), "cycle_years": 3},
        {"batch_id": "B2", "name": "第二批", "category": "drug", "start_date": date(2024, 1, 1), "cycle_years": 3},
    ],
    "varieties": [
        {"variety_id": "V1", "batch_id": "B1", "name": "品种一", "unit": "片"},
        {"variety_id": "V2", "batch_id": "B2", "name": "品种二", "unit": "片"},
    ],
    "products": [
        {"product_code": "P1", "name": "P1", "variety_id": "V1", "units_per_pack": 10.0, "category": "drug"},
        {"product_code": "P1N", "name": "P1N", "variety_id": "V1", "units_per_pack": 5.0, "category": "drug"},
        {"product_code": "P2", "name": "P2", "variety_id": "V2", "units_per_pack": 10.0, "category": "drug"},
    ],
}

# buys: (institution, product, packs, accepted_at or None); reports: (institution, volume[, reported_at]);
# prior: (institution, agreed volume of k − 1); expect: institution → (last, reported, prior, flags, ratio);
# ``rows`` is the exact set of institutions with a row.
SCENARIOS = [
    dict(name="exactly 20% lower is not flagged", k=2,
         buys=[("H", "P1", 100, "2024-06-01")], reports=[("H", 800)],
         expect={"H": (1000.0, 800.0, None, "", 0.8)}),
    dict(name="20.01% lower is flagged", k=2,
         buys=[("H", "P1", 1000, "2024-06-01")], reports=[("H", 7999)],
         expect={"H": (10000.0, 7999.0, None, "under_report", 0.7999)}),
    dict(name="missing report with use: 用而不报", k=2,
         buys=[("H", "P1", 100, "2024-06-01")],
         expect={"H": (1000.0, None, None, "used_not_reported", None)}),
    dict(name="zero report with use", k=2,
         buys=[("H", "P1", 100, "2024-06-01")], reports=[("H", 0)],
         expect={"H": (1000.0, 0.0, None, "under_report;used_not_reported", 0.0)}),
    dict(name="renewal below prior in k = 2; equal to prior is not", k=2,
         buys=[("H", "P1", 100, "2024-06-01"), ("G", "P1", 100, "2024-06-01")],
         reports=[("H", 900), ("G", 1000)], prior=[("H", 1000), ("G", 1000)],
         expect={"H": (1000.0, 900.0, 1000.0, "renewal_below_prior", 0.9),
                 "G": (1000.0, 1000.0, 1000.0, "", 1.0)}),
    dict(name="over-report at exactly 1.5 not flagged, above flagged", k=2,
         buys=[("H", "P1", 100, "2024-06-01"), ("G", "P1", 100, "2024-06-01")],
         reports=[("H", 1500), ("G", 1501)],
         expect={"H": (1000.0, 1500.0, None, "", 1.5), "G": (1000.0, 1501.0, None, "over_report", 1.501)}),
    dict(name="report window edges; all products of the variety; unaccepted and other batches left out", k=2,
         buys=[("H", "P1", 10, "2023-11-15T00:00"), ("H", "P1", 10, "2023-11-14T23:59:59"),
               ("H", "P1", 10, "2024-11-15T09:59:59"), ("H", "P1", 10, "2024-11-15T10:00"),
               ("H", "P1N", 20, "2024-03-01"), ("H", "P1", 50, None), ("H", "P2", 50, "2024-03-01")],
         reports=[("H", 300)],
         expect={"H": (300.0, 300.0, None, "", 1.0)}),
    dict(name="missing-report window edges: the 12 months before the start of k", k=2,
         buys=[("H", "P1", 10, "2024-01-01T00:00"), ("H", "P1", 10, "2023-12-31T23:59:59"),
               ("H", "P1", 10, "2024-12-31T23:59:59"), ("H", "P1", 10, "2025-01-01T00:00")],
         expect={"H": (200.0, None, None, "used_not_reported", None)}),
    dict(name="rows: prior agreement only; report without use; use only outside the window has no row", k=2,
         buys=[("U", "P1", 10, "2023-06-01")], reports=[("R", 500)], prior=[("A", 700)],
         rows={"A", "R"},
         expect={"A": (0.0, None, 700.0, "", None), "R": (0.0, 500.0, None, "", None)}),
    dict(name="k = 1: no renewal check; report in December before the batch", k=1,
         buys=[("H", "P1", 100, "2023-03-01")], reports=[("H", 1600, "2023-12-01T09:00")],
         expect={"H": (1000.0, 1600.0, None, "over_report", 1.6)}),
]


def _ts(v: str) -> datetime:
    return datetime.fromisoformat(v) if "T" in v else datetime.fromisoformat(v + "T10:00")


def tables(scenarios=SCENARIOS, prefixed: bool = True) -> dict:
    rows = {k: list(v) for k, v in BASE.items()}
    rows.update(orders=[], deliveries=[], volume_reports=[], agreements=[])
    for i, s in enumerate(scenarios):
        p = f"s{i}:" if prefixed else ""
        for j, (inst, prod, packs, acc) in enumerate(s.get("buys", [])):
            line = f"{p}L{j}"
            rows["orders"].append({"order_line_id": line, "order_id": line, "institution_code": p + inst,
                                   "product_code": prod, "distributor_code": "D1", "quantity": float(packs),
                                   "pack_price": 20.0, "ordered_at": datetime(2023, 1, 1), "channel": "platform"})
            rows["deliveries"].append({"order_line_id": line, "accepted_at": _ts(acc) if acc else None,
                                       "accepted_quantity": float(packs) if acc else None})
        for inst, vol, *at in s.get("reports", []):
            rows["volume_reports"].append({"batch_id": "B1", "cycle_year": s["k"], "institution_code": p + inst,
                                           "variety_id": "V1", "reported_volume": float(vol),
                                           "reported_at": _ts(at[0] if at else REPORTED)})
        for inst, vol in s.get("prior", []):
            rows["agreements"].append({"batch_id": "B1", "cycle_year": s["k"] - 1, "institution_code": p + inst,
                                       "variety_id": "V1", "agreed_volume": float(vol)})
    # a report of another batch never makes a row
    rows["volume_reports"].append({"batch_id": "B2", "cycle_year": 2, "institution_code": "Z", "variety_id": "V2",
                                   "reported_volume": 1.0, "reported_at": _ts(REPORTED)})
    return {name: from_pylist(name, r) for name, r in rows.items()}


def _same(got, exp) -> bool:
    if exp is None:
        return got is None or (isinstance(got, float) and math.isnan(got))
    if isinstance(exp, float):
        return got is not None and math.isclose(got, exp, rel_tol=1e-12)
    return got == exp


def check(df, i: int, s: dict, prefix: str) -> list[str]:
    part = df[df.institution_code.str.startswith(prefix)] if prefix else df
    got = {r.institution_code.removeprefix(prefix): r for r in part.itertuples()}
    errors = []
    want_rows = s.get("rows", set(s["expect"]))
    if set(got) != set(want_rows):
        errors.append(f"{s['name']}: rows {sorted(got)} != {sorted(want_rows)}")
    for inst, (last, rep, prior, flags, ratio) in s["expect"].items():
        r = got.get(inst)
        if r is None:
            continue
        actual = (r.last_year_actual, r.reported_volume, r.prior_agreed, r.flags, r.ratio)
        if not all(_same(g, e) for g, e in zip(actual, (last, rep, prior, flags, ratio), strict=True)):
            errors.append(f"{s['name']} {inst}: got {actual}, expected {(last, rep, prior, flags, ratio)}")
        if (r.batch_id, r.variety_id, r.cycle_year) != ("B1", "V1", s["k"]):
            errors.append(f"{s['name']} {inst}: keys {(r.batch_id, r.variety_id, r.cycle_year)}")
    return errors


def load(engine_warehouse, engine: str, data: dict):
    """(warehouse, table-name map). On Spark: temp views from Arrow, named for this test only."""
    if engine != "pyspark":
        return engine_warehouse(engine, data), None
    wh = engine_warehouse(engine, {})
    names = {}
    for name, t in data.items():
        names[name] = f"test_volume_audit_{name}"
        wh.con._session.createDataFrame(t).createOrReplaceTempView(names[name])
    return wh, names


@pytest.mark.parametrize("engine", ENGINES)
def test_scenarios_on_engine(engine, engine_warehouse):
    wh, names = load(engine_warehouse, engine, tables())
    errors = []
    for k in sorted({s["k"] for s in SCENARIOS}):
        df = volume_audit(wh, "B1", k, tables=names).to_pandas()
        assert list(df.columns) == list(VOLUME_AUDIT_COLUMNS)
        assert not df.institution_code.eq("Z").any()
        for i, s in enumerate(SCENARIOS):
            if s["k"] == k:
                errors += check(df, i, s, f"s{i}:")
    assert not errors, "\n".join(errors)


def test_flags_zh_and_policy_override():
    from jicai.policy import load_policy
    from jicai.store import connect

    wh = connect("duckdb://")
    for name, t in tables([SCENARIOS[3], SCENARIOS[1]], prefixed=True).items():
        wh.write_table(name, t)
    df = volume_audit(wh, "B1", 2).to_pandas().set_index("institution_code")
    assert df.loc["s0:H", "flags_zh"] == "报量偏低;用而不报"
    assert df.loc["s1:H", "flags_zh"] == "报量偏低"
    loose = load_policy().with_values(under_report_ratio=0.25)
    df = volume_audit(wh, "B1", 2, loose).to_pandas().set_index("institution_code")
    assert df.loc["s1:H", "flags"] == ""
    assert df.loc["s0:H", "flags"] == "under_report;used_not_reported"


def test_cli_audit_volume(tmp_path):
    import json

    from jicai.cli import app
    from jicai.settings import Settings

    wh = Settings.resolve().warehouse()
    for name, t in tables().items():
        wh.write_table(name, t)
    wh.close()
    out = tmp_path / "a.json"
    res = CliRunner().invoke(app, ["audit-volume", "--batch", "B1", "--year", "2", "--format", "json",
                                   "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "用而不报 used_not_reported: 3" in res.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["batch_id"] == "B1" and doc["cycle_year"] == 2
    rows = {r["institution_code"]: r for r in doc["rows"]}
    assert rows["s1:H"]["flags"] == "under_report" and rows["s1:H"]["flags_zh"] == "报量偏低"
    assert rows["s2:H"]["reported_volume"] is None
    res = CliRunner().invoke(app, ["audit-volume", "--batch", "B1", "--year", "2", "--out", str(tmp_path / "a.csv")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "a.csv").read_text(encoding="utf-8-sig").startswith("institution_code,")
