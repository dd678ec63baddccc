"""Annual assessment (年度考核) and surplus retention (结余留用).

Hand-computed scenarios, ``tests/scenarios/assess/*.toml`` in the world ``worlds/vbp.toml`` (batch B1
from 2024-01-01, cycle year 1 = 2024, 10 units per pack at 20 yuan, baseline prices V1 5 and V2 4 yuan
per unit, V2 special in March 2024), run on every engine in test_scenarios.py. The pandas reference (tests/reference/assess_pandas.py, written from the rule text) agrees
with the hand-computed rows and with the measure on seeded random data. The CLI writes xlsx/csv/json
and stores assessment_results, through the common report writers.
"""

from __future__ import annotations

import json
import math
from datetime import date

import pandas as pd
import pytest
from tests.reference.assess_pandas import assess_reference
from tests.reference.random_data import random_rows
from tests.scenarios.runner import check, load, scenario_files

from jicai.assess.assessment import COLUMNS, NAMES, TOTALS_NAMES, assess, assess_totals
from jicai.assess.period import AssessmentError
from jicai.assess.retention import TRACE_COLUMNS, TRACE_NAMES, retention_trace
from jicai.contract.arrow import from_pylist
from jicai.policy import load_policy

FILES = scenario_files("assess")


@pytest.mark.parametrize("path", [p for p in FILES if load(p).measure.endswith(":assess")], ids=lambda p: p.stem)
def test_scenario_pandas_reference(path):
    """The reference agrees with the hand-computed rows on the columns it computes."""
    s = load(path)
    frames = {name: t.to_pandas() for name, t in s.tables.items()}
    df = assess_reference(frames, s.args["batch_id"], s.args["year"], s.policy, s.args.get("as_of"))
    s.expect = [{k: v for k, v in e.items() if k in df.columns} for e in s.expect]
    check(s, df.astype(object).where(df.notna(), None).to_dict("records"))


# -- random data against the pandas reference -------------------------------------------------------

COMPARED = ["passed", "failed_items", "completion", "nonselected_share", "payment_rate", "offline_share",
            "purchase_amount", "prior_amount", "cost_growth", "completion_points", "nonselected_points",
            "payment_points", "offline_points", "cost_growth_points", "score", "rank_in_level", "budget", "actual",
            "retention_base", "retention_ratio", "reward", "overspend", "overspend_shared"]


def random_with_prices(seed: int) -> dict:
    """The monitoring's random tables, with baseline prices on every variety but V3."""
    rows = random_rows(seed, order_lines=700)
    for i, v in enumerate(rows["varieties"]):
        if v["variety_id"] != "V3":
            v["baseline_unit_price"] = [0.5, 1.5, 3.0, 8.0][i % 4]
    return {name: from_pylist(name, r) for name, r in rows.items()}


@pytest.fixture(scope="module")
def random_data():
    return random_with_prices(20240901)


def _same(a, b) -> bool:
    if a is None or b is None or (isinstance(a, float) and math.isnan(a)) or (isinstance(b, float) and math.isnan(b)):
        return (a is None or (isinstance(a, float) and math.isnan(a))) and (b is None or (isinstance(b, float) and math.isnan(b)))
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    return a == b


CASES = [  # (batch, year, as_of, policy overrides)
    ("B1", 1, None, {}),
    ("B1", 1, date(2024, 8, 15), {}),
    ("B1", 1, None, {"min_completion": 0.0, "nonselected_share_max": 1.0, "overspend_share": 0.4,
                     "retention_tiers": [[40.0, 0.5], [10.0, 0.2]]}),
    ("B2", 1, None, {"overspend_share": 0.25, "min_completion": 0.5, "nonselected_share_max": 0.7}),
    ("B2", 2, date(2025, 2, 28), {"special_treatment": "none", "fund_payment_ratio": 0.7}),
    ("B3", 1, None, {"retention_tiers": [[50.0, 0.6], [20.0, 0.1]], "min_completion": 0.3,
                     "nonselected_share_max": 0.9, "overspend_share": 0.5}),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{c[1]}-{c[2]}-{len(c[3])}")
def test_measure_equals_pandas_reference(random_data, engine_warehouse, case):
    batch, year, as_of, overrides = case
    policy = load_policy().with_values(**overrides) if overrides else load_policy()
    wh = engine_warehouse("duckdb", random_data)
    got = assess(wh, batch, year, policy, as_of).to_pandas().set_index("institution_code").sort_index()
    exp = assess_reference({k: v.to_pandas() for k, v in random_data.items()}, batch, year, policy, as_of)
    exp = exp.set_index("institution_code").sort_index()
    assert list(got.index) == list(exp.index) and len(got) >= 8
    errors = [f"{inst} {col}: {got.at[inst, col]!r} vs {exp.at[inst, col]!r}"
              for inst in got.index for col in COMPARED if not _same(got.at[inst, col], exp.at[inst, col])]
    assert not errors, "\n".join(errors[:20])
    # the data reaches the interesting cases
    if case == CASES[0]:
        assert (~got.passed).all() and got.budget_missing_varieties.eq("品种3").any()
        assert (got.overspend > 0).any() and (got.retention_base > 0).any() and got.cost_growth.notna().any()
    if case == CASES[2]:
        assert got.passed.all() and (got.reward > 0).any() and (got.overspend_shared > 0).any()
        assert got.duplicated(["level", "score"]).any()  # ties share a rank
    if case == CASES[3]:
        assert got.passed.any() and (~got.passed).any() and got.exempt_varieties.ne("").any()


def test_random_data_same_on_postgres(random_data, engine_warehouse):
    duck = engine_warehouse("duckdb", random_data)
    pg = engine_warehouse("postgres", random_data)
    for batch, year, as_of, _ in CASES[:2]:
        a = assess(duck, batch, year, None, as_of).to_pandas().sort_values("institution_code").reset_index(drop=True)
        b = assess(pg, batch, year, None, as_of).to_pandas().sort_values("institution_code").reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b, check_dtype=False, rtol=1e-9)


# -- policy, totals, errors ---------------------------------------------------------------------------

def _scenario_warehouse(engine_warehouse, stem: str):
    s = load(next(p for p in FILES if p.stem.startswith(stem)))
    return s, engine_warehouse("duckdb", s.tables)


def test_output_columns(engine_warehouse):
    _s, wh = _scenario_warehouse(engine_warehouse, "01_")
    assert list(assess(wh, "B1", 1).columns) == list(NAMES)
    assert list(retention_trace(wh, "B1", 1).columns) == list(TRACE_NAMES)


def test_changing_a_policy_value_changes_the_result(engine_warehouse):
    _s, wh = _scenario_warehouse(engine_warehouse, "01_")
    base = assess(wh, "B1", 1).to_pandas().set_index("institution_code")
    assert not base.at["H3", "passed"] and base.at["H1", "reward"] == 1500.0
    lenient = load_policy().with_values(min_completion=0.999, retention_tiers=[[95.0, 0.8], [60.0, 0.1]])
    got = assess(wh, "B1", 1, lenient).to_pandas().set_index("institution_code")
    assert got.at["H3", "passed"] and got.at["H3", "reward"] == pytest.approx(30020.0 * 0.8)
    assert got.at["H1", "reward"] == pytest.approx(3000.0 * 0.8)
    weights = load_policy().with_values(score_weight_completion=30.0, score_weight_cost_growth=20.0)
    got = assess(wh, "B1", 1, weights).to_pandas().set_index("institution_code")
    assert got.at["H3", "completion_points"] == pytest.approx(29.85)
    assert got.at["H3", "score"] == pytest.approx(99.85)


def test_totals_are_sums_of_the_rows(random_data, engine_warehouse):
    wh = engine_warehouse("duckdb", random_data)
    rows = assess(wh, "B1", 1)
    df = rows.to_pandas()
    by_region = assess_totals(rows, "region").to_pandas()
    assert list(by_region.columns) == ["batch_id", "cycle_year", *TOTALS_NAMES]
    batch = assess_totals(rows, "batch").to_pandas()
    assert len(batch) == 1
    for col in ("budget", "actual", "retention_base", "reward", "overspend", "overspend_shared"):
        assert by_region[col].sum() == pytest.approx(df[col].sum())
        assert batch[col].iloc[0] == pytest.approx(df[col].sum())
    assert batch.institutions.iloc[0] == len(df) == batch.passed.iloc[0] + batch.failed.iloc[0]
    assert batch.passed.iloc[0] == df.passed.sum()
    trace = retention_trace(wh, "B1", 1).to_pandas()
    assert trace.budget_term.sum() == pytest.approx(df.budget.sum())
    assert trace.actual_term.sum() == pytest.approx(df.actual.sum())


@pytest.mark.parametrize("args, zh", [
    (("B9", 1, None), "批次不存在"),
    (("B1", 3, None), "没有第 3 采购年度"),
    (("B1", 0, None), "没有第 0 采购年度"),
    (("B1", 1, date(2025, 1, 1)), "不在批次 B1 第 1 采购年度内"),
])
def test_bad_arguments_raise_a_bilingual_error(engine_warehouse, args, zh):
    _s, wh = _scenario_warehouse(engine_warehouse, "01_")
    with pytest.raises(AssessmentError) as exc:
        assess(wh, args[0], args[1], as_of=args[2])
    assert zh in exc.value.zh and exc.value.en


def test_a_band_of_zero_width_is_a_policy_error(engine_warehouse):
    _s, wh = _scenario_warehouse(engine_warehouse, "01_")
    with pytest.raises(AssessmentError, match="score_payment_full"):
        assess(wh, "B1", 1, load_policy().with_values(score_payment_full=0.8))


# -- the command ----------------------------------------------------------------------------------------

def _list_sheet(ws) -> tuple[list, list[list], list]:
    """Header, data rows and the 合计 row of a list sheet (a note may follow the 合计 row)."""
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    end = next(i for i, r in enumerate(rows) if r[0] == "合计")
    return rows[0], rows[1:end], rows[end]


def test_cli_assess_writes_stores_and_summarises(tmp_path):
    import openpyxl
    from typer.testing import CliRunner

    from jicai.cli import app
    from jicai.store import connect

    data = tmp_path / "data"
    s = load(next(p for p in FILES if p.stem.startswith("07_")))
    wh = connect(f"duckdb:///{data / 'jicai.duckdb'}")
    for name, t in s.tables.items():
        wh.write_table(name, t)
    wh.close()
    run = CliRunner().invoke
    base = ["--data-dir", str(data), "assess", "--batch", "B1", "--year", "1"]

    r = run(app, [*base, "--out", str(tmp_path / "a.xlsx")])
    assert r.exit_code == 0, r.output
    assert "合格 3 家,不合格 0 家" in r.output and "结余留用奖励合计 2,700.00 元" in r.output
    wb = openpyxl.load_workbook(tmp_path / "a.xlsx", data_only=True)  # the cached values of the SUM formulas
    assert wb.sheetnames == ["封面", "考核结果", "分地区汇总", "结余留用明细"]
    ws = wb["考核结果"]
    header, detail, totals = _list_sheet(ws)
    assert header == [c.zh for c in COLUMNS]
    assert len(detail) == 3 and totals[0] == "合计"
    for col in ("budget", "actual", "retention_base", "reward", "overspend", "overspend_shared"):
        j = NAMES.index(col)
        assert totals[j] == pytest.approx(sum(row[j] for row in detail)), col
    assert totals[NAMES.index("reward")] == pytest.approx(2700.0)
    assert totals[NAMES.index("varieties")] is None  # counts of varieties do not add up over institutions
    assert {row[NAMES.index("passed")] for row in detail} == {"合格"}  # the measure's names for true/false
    assert ws.cell(2, NAMES.index("payment_rate") + 1).number_format == "0.0%"
    assert ws.freeze_panes == "A2"
    rheader, regions, rtotal = _list_sheet(wb["分地区汇总"])
    assert rheader[:3] == ["批次编号", "采购年度", "地市区划"]
    assert [r[2] for r in regions] == ["610100", "620100"] and rtotal[0] == "合计"
    k = rheader.index("结余留用奖励")
    assert rtotal[k] == pytest.approx(sum(r[k] for r in regions)) == pytest.approx(2700.0)
    k = rheader.index("合格数")
    assert [r[k] for r in regions] == [2, 1] and rtotal[k] == 3 and rtotal[1] is None
    theader, trace, ttotal = _list_sheet(wb["结余留用明细"])
    assert theader == [c.zh for c in TRACE_COLUMNS]
    assert ttotal[theader.index("预算金额")] == pytest.approx(5000 + 5000 + 3000)
    price = wb["结余留用明细"].cell(2, theader.index("集采前加权平均价") + 1)
    assert price.number_format == "#,##0.0000"  # a unit price, not rounded to the fen
    cover = [c for row in wb["封面"].iter_rows(values_only=True) for c in row if c]
    assert load_policy().label in cover and any("缺集采前价格" in str(c) for c in cover)

    r = run(app, [*base, "--format", "csv", "--out", str(tmp_path / "a.csv")])
    assert r.exit_code == 0, r.output
    csv = pd.read_csv(tmp_path / "a.csv", dtype=str, keep_default_na=False)
    assert list(csv.columns) == list(NAMES)
    assert set(csv.passed) == {"true"} and csv.as_of.tolist() == ["2024-12-31"] * 3
    regions_csv = pd.read_csv(tmp_path / "a_region_totals.csv", dtype=str)
    assert regions_csv.passed.tolist() == ["2", "1"]  # a count (it was written "true" before)
    assert len(pd.read_csv(tmp_path / "a_trace.csv")) == 3

    r = run(app, [*base, "--format", "json", "--out", str(tmp_path / "a.json"), "--as-of", "2024-12-31"])
    assert r.exit_code == 0, r.output
    doc = json.loads((tmp_path / "a.json").read_text(encoding="utf-8"))
    assert {"batch_id", "cycle_year", "as_of", "policy_version", "rows", "region_totals", "trace"} <= set(doc)
    assert doc["batch_id"] == "B1" and doc["cycle_year"] == 1 and doc["policy_version"] == load_policy().version
    assert list(doc["rows"][0]) == list(NAMES) and doc["rows"][0]["passed"] is True
    batch = doc["region_totals_totals"]  # the batch: the sum of its cities
    assert batch["reward"] == pytest.approx(2700.0) and batch["institutions"] == 3 and batch["passed"] == 3

    wh = connect(f"duckdb:///{data / 'jicai.duckdb'}")
    stored = wh.table("assessment_results").to_pandas()
    wh.close()
    assert len(stored) == 3  # three runs of the same batch and year replaced each other
    assert set(stored.policy_version) == {load_policy().version} and "computed_at" in stored.columns

    r = run(app, [*base, "--as-of", "2025-02-01"])
    assert r.exit_code == 2 and "不在批次 B1 第 1 采购年度内" in r.output
    r = run(app, [*base[:-1], "7"])
    assert r.exit_code == 2 and "no cycle year 7" in r.output
    r = run(app, [*base, "--format", "pdf"])
    assert r.exit_code == 2
