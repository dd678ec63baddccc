"""Prepayment ledger (预付台账) and year-end recovery: columns, errors, the pandas reference, the CLI.

Scenarios (run on every engine in test_scenarios.py): tests/scenarios/prepayment/*.toml (world ``vbp``:
batch B1 from 2024-01-01; V1 at 2 yuan per unit, 10 units and 20 yuan per pack; agreed 1000 units = 2000
yuan → prepayment 600). Random data: the monitoring's seeded province with regional
prices, signed dates and imported prepayments, against tests/reference/prepayment_pandas.py.
"""

from __future__ import annotations

import json
import math
import random
from datetime import date

import openpyxl
import pandas as pd
import pytest
from tests.reference.prepayment_pandas import LEDGER_MONEY, prepayment_reference
from tests.reference.random_data import random_rows
from tests.scenarios.runner import load, scenario_files
from typer.testing import CliRunner

from jicai.assess.period import AssessmentError
from jicai.assess.prepayment import (
    LEDGER,
    LEDGER_NAMES,
    RECOVERY,
    ledger_months,
    prepayment_ledger,
    recovery_list,
)
from jicai.cli import app
from jicai.contract.arrow import from_pylist
from jicai.policy import load_policy
from jicai.store import connect

FILES = scenario_files("prepayment")


def test_ledger_columns_and_months():
    s = load(FILES[0])
    wh = connect("duckdb://")
    for name, t in s.tables.items():
        wh.write_table(name, t)
    df = prepayment_ledger(wh, "B1", 1).to_pandas()
    assert list(df.columns) == list(LEDGER_NAMES)
    assert sorted(df.month) == [f"2024-{m:02d}" for m in range(1, 13)]
    assert list(recovery_list(prepayment_ledger(wh, "B1", 1)).to_pandas().columns) == [c.name for c in RECOVERY]
    assert [m["month"] for m in ledger_months(date(2024, 2, 29), date(2025, 2, 27))][::12] == ["2024-02", "2025-02"]


def test_bad_batch_year_and_as_of_are_explained():
    s = load(FILES[0])
    wh = connect("duckdb://")
    for name, t in s.tables.items():
        wh.write_table(name, t)
    with pytest.raises(AssessmentError, match="批次不存在"):
        prepayment_ledger(wh, "NOPE", 1)
    with pytest.raises(AssessmentError, match="cycle year 3"):
        prepayment_ledger(wh, "B1", 3)
    with pytest.raises(AssessmentError, match="早于"):
        prepayment_ledger(wh, "B1", 2, as_of=date(2024, 12, 31))
    # an as-of date after the cycle end gives the whole year
    assert len(prepayment_ledger(wh, "B1", 1, as_of=date(2025, 6, 1)).to_pandas()) == 12


def test_without_a_prepayments_table_every_prepayment_is_computed():
    s = load(next(p for p in FILES if p.stem.startswith("05_")))
    wh = connect("duckdb://")
    for name, t in s.tables.items():
        if name != "prepayments":
            wh.write_table(name, t)
    df = prepayment_ledger(wh, "B1", 1).to_pandas()
    assert set(df.institution_code) == {"H1", "H3"} and set(df.source) == {"computed"}
    assert (df.prepayment == 600.0).all()


# -- the pandas reference on a simulated province ------------------------------------------------------

def reference_rows(seed: int = 11) -> dict[str, list[dict]]:
    """The monitoring's random province with regional prices, signed dates and imported prepayments."""
    rows = random_rows(seed, order_lines=900)
    r = random.Random(seed)
    for s in rows["selected_products"]:
        s["unit_price"] = r.choice([0.35, 1.0, 2.4, 7.5])
    for a in rows["agreements"]:
        a["signed_date"] = r.choice([None, None, date(2023, 12, 20), date(2024, 3, 5), date(2024, 8, 1)])
    insts = [i["institution_code"] for i in rows["institutions"]]
    rows["prepayments"] = [
        {"batch_id": b, "cycle_year": k, "institution_code": r.choice(insts), "amount": float(r.randint(100, 5000)),
         "paid_at": date(2024, r.randint(1, 12), r.randint(1, 28))}
        for b, k in [("B1", 1), ("B1", 1), ("B2", 1), ("B2", 2), ("B2", 2), ("B3", 1)]
    ]
    return rows


@pytest.fixture(scope="module")
def province():
    return {name: from_pylist(name, r) for name, r in reference_rows().items()}


CASES = [("B1", 1, None, "default"), ("B2", 1, None, "default"), ("B2", 2, date(2024, 10, 20), "default"),
         ("B3", 1, None, "default"), ("B1", 1, date(2024, 9, 30), "ordered"), ("B2", 2, None, "no_backup")]


@pytest.mark.parametrize(("batch", "year", "as_of", "variant"), CASES, ids=lambda c: str(c))
def test_ledger_equals_pandas_reference(province, engine_warehouse, batch, year, as_of, variant):
    policy = load_policy()
    if variant == "ordered":
        policy = policy.with_values(volume_basis="ordered", prepay_ratio=0.5)
    elif variant == "no_backup":
        policy = policy.with_values(backup_substitution=False)
    wh = engine_warehouse("duckdb", province)
    got = prepayment_ledger(wh, batch, year, policy, as_of).to_pandas()
    exp = prepayment_reference({k: v.to_pandas() for k, v in province.items()}, batch, year, policy, as_of)
    got = got.sort_values(["institution_code", "month"]).reset_index(drop=True)
    assert len(got) == len(exp) > 20
    assert list(got.institution_code) == list(exp.institution_code) and list(got.month) == list(exp.month)
    assert (pd.to_datetime(got.month_end) == pd.to_datetime(exp.month_end)).all()
    for col in LEDGER_MONEY:
        for i, (a, b) in enumerate(zip(got[col], exp[col], strict=True)):
            if pd.isna(a) or pd.isna(b):
                assert pd.isna(a) and pd.isna(b), f"{col} row {i}: {a!r} vs {b!r}"
            else:
                assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-7), f"{col} row {i}: {a!r} vs {b!r}"
    if variant == "default" and as_of is None:  # the data exercises the interesting cases
        assert (got.source == "imported").any() and (got.source == "computed").any()
        assert (got.progress > 0).any() and (got.progress < 1).any() and (got.balance > 0).any()


def test_random_ledger_same_on_every_engine(province, engine_warehouse):
    duck = prepayment_ledger(engine_warehouse("duckdb", province), "B2", 2, as_of=date(2024, 10, 20)).to_pandas()
    wh = engine_warehouse("postgres", province)
    pg = prepayment_ledger(wh, "B2", 2, as_of=date(2024, 10, 20)).to_pandas()
    keys = ["institution_code", "month"]
    duck, pg = (d.sort_values(keys).reset_index(drop=True) for d in (duck, pg))
    pd.testing.assert_frame_equal(pg, duck, check_dtype=False, rtol=1e-9)


# -- the command ---------------------------------------------------------------------------------------

@pytest.fixture
def data_dir(tmp_path):
    s = load(next(p for p in FILES if p.stem.startswith("13_")))
    d = tmp_path / "data"
    wh = connect(f"duckdb:///{d / 'jicai.duckdb'}")
    for name, t in s.tables.items():
        wh.write_table(name, t)
    wh.close()
    return d


def _until_totals(ws) -> list[tuple]:
    """The data rows of a list sheet and its 合计 row (a note may follow)."""
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    return rows[: [r[0] for r in rows].index("合计") + 1]


def test_cli_xlsx_sheets_headers_and_totals(data_dir, tmp_path):
    out = tmp_path / "p.xlsx"
    r = CliRunner().invoke(app, ["--data-dir", str(data_dir), "prepayment", "--batch", "B1", "--year", "1",
                                 "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "预付台账" in r.output and "应收回 2 家" in r.output and "900.00" in r.output
    wb = openpyxl.load_workbook(out, data_only=True)
    assert wb.sheetnames == ["封面", "预付台账", "按月汇总", "年终清算"]
    ws = wb["预付台账"]
    header = [c.value for c in ws[1]]
    assert header == [c.zh for c in LEDGER]
    assert ws.freeze_panes == "A2"
    body = _until_totals(ws)
    assert len(body) == 3 * 12 + 1 and body[-1][0] == "合计"
    col = header.index("本月冲抵金额")
    wh = connect(f"duckdb:///{data_dir / 'jicai.duckdb'}")
    ledger = prepayment_ledger(wh, "B1", 1).to_pandas()
    recovery = recovery_list(prepayment_ledger(wh, "B1", 1)).to_pandas()
    wh.close()
    assert math.isclose(body[-1][col], ledger.offset_this_month.sum())
    assert math.isclose(sum(row[col] for row in body[:-1]), ledger.offset_this_month.sum())
    assert ws.cell(2, header.index("采购进度") + 1).number_format == "0.0%"

    rec = wb["年终清算"]
    rheader = [c.value for c in rec[1]]
    assert rheader == [c.zh for c in RECOVERY]
    rbody = _until_totals(rec)
    assert [row[0] for row in rbody] == ["B1", "B1", "合计"]
    total = rbody[-1][rheader.index("应收回金额")]
    assert math.isclose(total, recovery.recover_amount.sum()) and math.isclose(total, 900.0)

    month = wb["按月汇总"]
    mbody = _until_totals(month)[:-1]
    assert len(mbody) == 12 and mbody[-1][0] == "2024-12"
    mheader = [c.value for c in month[1]]
    assert math.isclose(mbody[-1][mheader.index("预付余额")], ledger[ledger.month == "2024-12"].balance.sum())
    cover = {r[0]: r[1] for r in wb["封面"].iter_rows(values_only=True) if r and r[0]}
    assert cover["执行政策"] == load_policy().label and cover["数据截至"] == "2024-12-31"


def test_cli_json_csv_and_errors(data_dir, tmp_path):
    run = CliRunner().invoke
    base = ["--data-dir", str(data_dir), "prepayment", "--batch", "B1", "--year", "1"]
    r = run(app, base + ["--as-of", "2024-06-30", "--format", "json", "--out", str(tmp_path / "p.json")])
    assert r.exit_code == 0, r.output
    doc = json.loads((tmp_path / "p.json").read_text(encoding="utf-8"))
    assert doc["policy_version"] == load_policy().version and doc["as_of"] == "2024-06-30"
    assert len(doc["ledger"]) == 3 * 6 and doc["ledger"][0]["month_end"] == "2024-01-31"
    assert {x["institution_code"] for x in doc["recovery"]} == {"H1", "H2", "H3"}
    assert all(x["final"] is False for x in doc["recovery"])
    r = run(app, base + ["--format", "csv", "--out", str(tmp_path / "p.csv")])
    assert r.exit_code == 0, r.output
    assert len(pd.read_csv(tmp_path / "p.csv")) == 36
    assert len(pd.read_csv(tmp_path / "p_recovery.csv")) == 2
    assert pd.read_csv(tmp_path / "p_recovery.csv", dtype=str).final.tolist() == ["true", "true"]
    assert len(pd.read_csv(tmp_path / "p_months.csv")) == 12

    r = run(app, base[:-1] + ["5"])
    assert r.exit_code == 2 and "第 5 采购年度" in r.output
    r = run(app, base + ["--as-of", "2024-02-30"])
    assert r.exit_code == 2 and "YYYY-MM-DD" in r.output
    r = run(app, base + ["--format", "pdf"])
    assert r.exit_code == 2 and "pdf" in r.output
