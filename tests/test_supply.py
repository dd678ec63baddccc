"""Supply guarantee (seed 002): the scorecard against a pandas reference and the same on every engine on
random data, and the four commands.

Scenarios for every rule and edge (run on every engine in test_scenarios.py): tests/scenarios/supply
(scorecard and roll-up), supply_alerts (sentinel, surge), supply_continuity, supply_periods — world ``supply``.
"""

from __future__ import annotations

import csv
import json
import math
import random
from datetime import date, datetime, timedelta

import openpyxl
import pandas as pd
import pytest
from tests.reference.supply_pandas import KEYS, scorecard_reference
from tests.scenarios.runner import combined_tables, load, scenario_files
from typer.testing import CliRunner

from jicai.cli import app
from jicai.contract.arrow import from_pylist
from jicai.errors import BilingualError
from jicai.measures.registry import measure
from jicai.measures.supply import supply_rollup, supply_scorecard
from jicai.measures.supply_base import MonthError, month_window, window
from jicai.policy import load_policy
from jicai.store import connect


def test_months_are_checked():
    assert window("2024-03", "2024-01") == (date(2024, 1, 1), date(2024, 4, 1))
    with pytest.raises(MonthError, match="YYYY-MM"):
        window("2024/03")
    with pytest.raises(MonthError, match="after") as exc:
        window("2024-01", "2024-03")
    assert "晚于" in exc.value.zh
    assert month_window("2024-02", 3) == ("2024-02", "2023-12", date(2024, 3, 1))
    with pytest.raises(BilingualError, match="--months"):  # a command turns it into the bilingual exit
        month_window("2024-02", 0)


# -- the pandas reference on random data ---------------------------------------------------------------

def random_supply(seed: int = 7, n: int = 500) -> dict[str, list[dict]]:
    """Selected products with two enterprises, a backup, a non-selected product; integer-hour response
    times (many ties), lines never responded or shipped, shipments at exactly 72 h, reports with and
    without an earlier order of the reporter."""
    r = random.Random(seed)
    insts = [{"institution_code": f"H{i}", "name": f"医院{i}", "region_code": r.choice(["350502", "350203"]),
              "level": 2, "kind": "hospital", "public": True, "sentinel": False} for i in range(12)]
    products = [{"product_code": c, "name": c, "variety_id": "V1", "units_per_pack": u, "category": "drug"}
                for c, u in (("P1", 10.0), ("P2", 7.0), ("PB", 24.0), ("PN", 10.0))]
    selected = [{"batch_id": "B1", "variety_id": "V1", "product_code": p, "enterprise_code": e, "unit_price": 1.0,
                 "role": role, "regions": reg}
                for p, e, role, reg in (("P1", "E1", "primary", "3505"), ("P2", "E2", "primary", "3502"),
                                        ("PB", "E3", "backup", None), ("P1", "E1", "backup", "3502"))]
    orders, deliveries = [], []
    for i in range(n):
        at = datetime(2024, 3, 1, 8) + timedelta(hours=r.randint(0, 24 * 90))
        line = f"L{i:04d}"
        q = float(r.randint(1, 40))
        orders.append({"order_line_id": line, "order_id": f"O{i}", "institution_code": r.choice(insts)["institution_code"],
                       "product_code": r.choice(["P1", "P1", "P2", "PB", "PN"]), "distributor_code": r.choice(["D1", "D2", "D3"]),
                       "quantity": q, "pack_price": r.choice([12.5, 20.0, 33.3]), "ordered_at": at, "channel": "platform"})
        u = r.random()
        if u < 0.05:
            continue  # no delivery row at all
        resp = at + timedelta(hours=r.choice([1, 2, 6, 12, 24, 24, 30, 48]))
        ship_h = r.choice([10, 30, 72, 72, 73, 100, None])
        shipped = None if ship_h is None else at + timedelta(hours=ship_h)
        sq = None if shipped is None else (q if r.random() < 0.9 else float(math.floor(q / 2)))
        acc = None if shipped is None or r.random() < 0.2 else shipped + timedelta(hours=20)
        deliveries.append({"order_line_id": line, "responded_at": resp if u > 0.1 else None, "shipped_at": shipped,
                           "shipped_quantity": sq, "accepted_at": acc, "accepted_quantity": sq if acc else None})
    reports = [{"report_id": f"R{k}", "institution_code": r.choice(insts)["institution_code"],
                "product_code": r.choice(["P1", "P2", "PB", "PN"]), "problem": "late",
                "reported_at": datetime(2024, 3, 1) + timedelta(hours=r.randint(0, 24 * 90)), "verified": k % 2 == 0,
                "start_date": None, "end_date": None} for k in range(25)]
    ents = [{"enterprise_code": e, "name": e, "role": "both"} for e in ("E1", "E2", "E3", "D1", "D2", "D3")]
    return {"institutions": insts, "products": products, "selected_products": selected, "orders": orders,
            "deliveries": deliveries, "supply_problems": reports, "enterprises": ents,
            "varieties": [{"variety_id": "V1", "batch_id": "B1", "name": "品种", "unit": "片"}],
            "batches": [{"batch_id": "B1", "name": "一", "category": "drug", "start_date": date(2024, 3, 1),
                         "cycle_years": 2}]}


@pytest.fixture(scope="module")
def province():
    from jicai.contract.tables import TABLES

    rows = random_supply()
    return {name: from_pylist(name, rows.get(name, [])) for name in TABLES}


FIGURES = ["order_lines", "ordered_packs", "ordered_units", "ordered_amount", "shipped_packs", "shipped_amount",
           "accepted_packs", "accepted_amount", "on_time_packs", "responded_lines", "response_hours_median",
           "response_hours_p90", "ship_hours_median", "complaints", "delivery_rate"]


def _compare(got: pd.DataFrame, exp: pd.DataFrame, keys: list[str], cols: list[str], min_rows: int = 20) -> None:
    got = got.sort_values(keys, na_position="last").reset_index(drop=True)
    assert len(got) == len(exp) > min_rows
    for k in keys:
        assert [None if pd.isna(x) else x for x in got[k]] == [None if pd.isna(x) else x for x in exp[k]], k
    for col in cols:
        for i, (a, b) in enumerate(zip(got[col], exp[col], strict=True)):
            if pd.isna(b):
                assert pd.isna(a), f"{col} row {i}: {a!r} vs {b!r}"
            else:
                assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9), f"{col} row {i}: {a!r} vs {b!r}"


def _strip(flags: str) -> str:
    return ";".join(f for f in flags.split(";") if f and f not in ("sentinel_warning", "surge"))


def test_scorecard_equals_pandas_reference(province, engine_warehouse):
    policy = load_policy()
    wh = engine_warehouse("duckdb", province)
    got = supply_scorecard(wh, "2024-05", "2024-03", policy=policy).to_pandas()
    exp = scorecard_reference({k: v.to_pandas() for k, v in province.items()}, "2024-03", "2024-05", policy)
    _compare(got, exp, KEYS, FIGURES)
    got = got.sort_values(KEYS, na_position="last").reset_index(drop=True)
    assert [_strip(f) for f in got["flags"]] == list(exp["flags"])
    # the data exercises the cases: ties, unshipped lines, every flag the reference knows
    assert got.complaints.sum() > 0 and (got.responded_lines < got.order_lines).any()
    assert {"slow_response", "low_delivery_rate", "multi_institution_complaints"} <= set(";".join(got["flags"]).split(";"))


def test_distributor_rollup_equals_pandas_reference(province, engine_warehouse):
    policy = load_policy()
    wh = engine_warehouse("duckdb", province)
    got = supply_rollup(wh, "2024-05", "distributor", "2024-03", policy=policy).to_pandas()
    exp = scorecard_reference({k: v.to_pandas() for k, v in province.items()}, "2024-03", "2024-05", policy,
                              keys=["month", "distributor_code"])
    _compare(got, exp, ["month", "distributor_code"], FIGURES, min_rows=8)


@pytest.mark.parametrize("engine", ["postgres", "pyspark"])
def test_random_scorecard_same_on_every_engine(province, engine_warehouse, engine):
    duck = supply_scorecard(engine_warehouse("duckdb", province), "2024-05", "2024-03").to_pandas()
    other = supply_scorecard(engine_warehouse(engine, province), "2024-05", "2024-03").to_pandas()
    duck, other = (d.sort_values(KEYS, na_position="last").reset_index(drop=True) for d in (duck, other))
    pd.testing.assert_frame_equal(other, duck, check_dtype=False, rtol=1e-9)


def test_coded_values_are_named_by_the_measures_labels():
    """What the old commands translated by hand (_shown) now comes from the declarations: a workbook shows
    each flag, trigger, role, case and reason by its Chinese name."""
    from jicai.commands._runner import measure_table

    def column(name, col):
        return next(c for c in measure_table(measure(name), []).columns if c.name == col)

    assert column("supply-scorecard", "flags").show("slow_response;surge") == "响应不及时、需求激增"
    assert column("supply-scorecard", "role").show("backup") == "备供"
    assert column("supply-sentinel", "triggers").show("report;low_delivery_rate") == "哨点反映供应问题、哨点配送率低"
    assert column("supply-surge-suppliers", "role").show("primary") == "主供"
    assert column("supply-continuity", "case").show("replace") == "原供应厂家未中选,需替换"
    assert column("supply-period-reports", "reason").show("not_selected") == "非本地区中选产品"


def test_the_pages_show_the_supply_measures_of_the_registry():
    from jicai.contract.roles import ROLES
    from jicai.web.datasets import DATASETS

    shown = ["supply-scorecard", "supply-enterprises", "supply-distributors", "supply-sentinel", "supply-surge",
             "supply-periods"]
    for name in shown:
        assert DATASETS[name].measure is measure(name)
        assert DATASETS[name].roles == (ROLES if name == "supply-periods" else
                                        ("admin", "bureau", "auditor", "enterprise"))
    parts = ["supply-trend", "supply-distributor-trend", "supply-exposure", "supply-surge-suppliers",
             "supply-continuity", "supply-period-reports"]
    assert not any(name in DATASETS for name in parts)
    # each roll-up lists only its own code columns, and scope finds the enterprise in them
    assert "distributor_code" not in measure("supply-enterprises").column_names
    assert measure("supply-distributors").dims.enterprise == ("distributor_code",)


# -- the commands --------------------------------------------------------------------------------------

@pytest.fixture
def data_dir(tmp_path):
    """The scenario worlds of the sentinel report and of the periods, in one warehouse file."""
    scenarios = [load(p) for p in scenario_files("supply_alerts")[:1] + scenario_files("supply_periods")[:1]
                 + scenario_files("supply_continuity")[:1]]
    tables = combined_tables(scenarios, ("order_line_id", "order_id", "payment_id", "report_id"))
    d = tmp_path / "data"
    wh = connect(f"duckdb:///{d / 'jicai.duckdb'}")
    for name, t in tables.items():
        wh.write_table(name, t)
    wh.close()
    return d


def test_cli_supply_xlsx(data_dir, tmp_path):
    out = tmp_path / "s.xlsx"
    r = CliRunner().invoke(app, ["--data-dir", str(data_dir), "supply", "--month", "2024-05", "--months", "3",
                                 "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "供应保障评分卡 2024-05" in r.output and "哨点预警" in r.output
    wb = openpyxl.load_workbook(out, data_only=True)
    assert wb.sheetnames == ["封面", "评分卡", "按中选企业", "按配送企业", "月度趋势", "配送企业趋势"]
    ws = wb["评分卡"]
    header = [c.value for c in ws[1]]
    assert header == [c.zh for c in measure("supply-scorecard").columns]
    flags = [row[header.index("预警标记")] for row in ws.iter_rows(min_row=2, values_only=True)]
    assert any("哨点预警" in (f or "") for f in flags) and not any("sentinel_warning" in (f or "") for f in flags)
    trend = [row[0] for row in wb["月度趋势"].iter_rows(min_row=2, values_only=True) if row[0]]
    assert trend[:3] == ["2024-03", "2024-04", "2024-05"]


def test_cli_alerts_continuity_periods(data_dir, tmp_path):
    run = CliRunner().invoke
    base = ["--data-dir", str(data_dir)]
    r = run(app, base + ["supply-alerts", "--month", "2024-05", "--format", "json", "--out", str(tmp_path / "a.json")])
    assert r.exit_code == 0, r.output
    doc = json.loads((tmp_path / "a.json").read_text(encoding="utf-8"))
    assert [a["sentinel_code"] for a in doc["sentinel"]] == ["S1"]
    assert "哨点反映供应问题 1 次" in doc["sentinel"][0]["rule"] and "可能受影响机构 2 家" in doc["sentinel"][0]["rule"]
    assert {e["institution_code"] for e in doc["exposure"]} == {"H2", "H4"}

    r = run(app, base + ["supply-continuity", "--batch", "B2", "--format", "csv", "--out", str(tmp_path / "c.csv")])
    assert r.exit_code == 0, r.output
    assert "原供应厂家未中选 1 项" in r.output
    assert "原 原供药业" in r.output and "改由 中选药业 供应" in r.output  # the enterprises by name, not code
    assert list(pd.read_csv(tmp_path / "c.csv").institution_code) == ["H2"]
    r = run(app, base + ["supply-continuity", "--batch", "NOPE"])
    assert r.exit_code == 2 and "批次不存在" in r.output

    r = run(app, base + ["supply-periods", "--as-of", "2024-06-30", "--out", str(tmp_path / "p.csv")])
    assert r.exit_code == 0, r.output  # the format from the --out suffix; the second list beside the first
    periods = list(csv.DictReader((tmp_path / "p.csv").read_text(encoding="utf-8-sig").splitlines()))
    assert {p["counts"] for p in periods} == {"true", "false"}  # booleans as the json has them; codes as codes
    assert {p["reason"] for p in periods} <= {"counts", "unverified", "not_selected", "not_started"}
    assert (tmp_path / "p_effects.csv").exists()
    r = run(app, base + ["supply-periods", "--as-of", "2024-06-30", "--out", str(tmp_path / "p.xlsx")])
    assert r.exit_code == 0, r.output
    assert "完成率 31.0% → 41.0%" in r.output
    wb = openpyxl.load_workbook(tmp_path / "p.xlsx", data_only=True)
    assert wb.sheetnames == ["封面", "供应问题期间", "对监测的影响"]
    r = run(app, base + ["supply", "--month", "2024-13"])
    assert r.exit_code == 2 and "YYYY-MM" in r.output
    r = run(app, base + ["supply-periods", "--as-of", "2024-06-30", "--format", "pdf"])
    assert r.exit_code == 2 and "pdf" in r.output
