"""Fund supervision (基金监管): capitation return, pharmacy checks, budget progress and the settlement gate.

Scenarios: tests/scenarios/{capitation,pharmacy,budget}/*.toml, run on every engine in test_scenarios.py.
Random data (seeded, with times on interval boundaries and amounts on tier edges
as often as chance allows) against the exact references in tests/reference/fund_pandas.py, and the same
data on every engine. The gate must allow exactly the settlements the monthly check does not flag.
"""

from __future__ import annotations

import math
import random
import threading
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
from tests.reference.fund_pandas import (
    budget_reference,
    capitation_reference,
    risk_reference,
    stock_reference,
    video_reference,
    violations_reference,
)
from tests.scenarios.runner import ROOT, load, scenario_files

from jicai.contract.arrow import from_pylist
from jicai.fund import FundError
from jicai.fund import budget as budget_module
from jicai.fund import capitation as capitation_module
from jicai.fund import pharmacy as pharmacy_module
from jicai.fund.budget import budget_consult, budget_progress, budget_totals
from jicai.fund.capitation import (
    capitation_return,
    capitation_tiers,
    capitation_totals,
    period_end,
    tier_labels,
)
from jicai.fund.gate import SettlementGate
from jicai.fund.pharmacy import (
    checked_settlements,
    month_bounds,
    pharmacy_risk,
    pharmacy_violations,
    stock_mismatches,
    video_violations,
)
from jicai.policy import load_policy
from jicai.store import connect

RULES = ("capitation", "pharmacy", "budget")
FILES = [p for rule in RULES for p in scenario_files(rule)]


def test_output_columns_and_errors():
    s = load(FILES[0])
    wh = connect("duckdb://")
    for name, t in s.tables.items():
        wh.write_table(name, t)
    def names(columns) -> list[str]:
        return [c.name for c in columns]

    assert list(capitation_return(wh, "2024").to_pandas().columns) == names(capitation_module.COLUMNS)
    assert capitation_totals(capitation_return(wh, "2024")).to_pandas().returned_amount.item() == pytest.approx(
        14700 + 13300 + 12600.01 + 11399.99)
    assert list(video_violations(wh, "2024-07").to_pandas().columns) == names(pharmacy_module.VIDEO)
    assert list(stock_mismatches(wh, "2024-07").to_pandas().columns) == names(pharmacy_module.STOCK)
    assert list(pharmacy_violations(wh, "2024-07").to_pandas().columns) == names(pharmacy_module.VIOLATIONS)
    assert list(pharmacy_risk(wh, "2024-07").to_pandas().columns) == names(pharmacy_module.RISK)
    assert list(budget_progress(wh, date(2024, 6, 30)).to_pandas().columns) == names(budget_module.COLUMNS)
    assert capitation_return(wh, "2099").to_pandas().empty
    for bad in ("2024-13", "24", "2024Q5", "上半年"):
        with pytest.raises(FundError, match="period"):
            period_end(bad)
    assert period_end("2024下半年") == date(2024, 12, 31) and period_end("2024-H1") == date(2024, 6, 30)
    for bad in ("2024-7", "2024-00", "2024/07"):
        with pytest.raises(FundError, match="YYYY-MM"):
            month_bounds(bad)
    assert tier_labels(load_policy(), date(2024, 1, 1)) == {1: "偏差≤5%", 2: "5%<偏差≤10%", 3: "10%<偏差≤20%",
                                                             4: "偏差>20%"}


def _warehouse(tables: dict[str, list[dict]]):
    wh = connect("duckdb://")
    for name, rows in tables.items():
        wh.write_table(name, from_pylist(name, rows))
    return wh


def test_tiers_list_every_tier_and_the_institutions_without_a_basis():
    """Scenario capitation/05: H1 (−10,500) and H3 (+4,000 → 2,800) in tier 1, H2 (+10,000 → 4,000) and H9
    (−23,000) in tier 4, H4 (−500) without a deviation basis; tiers 2 and 3 are listed empty."""
    s = load(ROOT / "capitation/05_zero_and_negative_reasonable_surplus.toml")
    wh = connect("duckdb://")
    for name, t in s.tables.items():
        wh.write_table(name, t)
    got = capitation_tiers(wh, "2024").to_pyarrow().to_pylist()
    got = sorted(got, key=lambda r: (r["tier"] is None, r["tier"] or 0))
    assert [(r["tier"], r["label"], r["return_rate"], r["institutions"], r["surplus"], r["returned_amount"])
            for r in got] == [(1, "偏差≤5%", 0.7, 2, -6500.0, 2800.0), (2, "5%<偏差≤10%", 0.6, 0, 0.0, 0.0),
                              (3, "10%<偏差≤20%", 0.5, 0, 0.0, 0.0), (4, "偏差>20%", 0.4, 2, -13000.0, 4000.0),
                              (None, "无偏差基数", None, 1, -500.0, 0.0)]
    assert capitation_tiers(wh, "2099").to_pyarrow().num_rows == 0  # a period without rows lists no tier


def test_consult_ranks_the_institutions_ahead_and_checked_counts_the_month():
    """As of 2024-03-31 time progress is 91/366 = 24.86%; budgets of 1,000,000: H2 spent 500,000 (25.14 points
    ahead), H1 and H5 400,000 (15.14, tied: by code), H3 300,000 (5.14: within the 10-point margin), H4 has no
    budget. Pharmacy scenario 06: 4 settlements of July by P1, P2 and P4, 2,500 + 40 + 80 + 40 yuan."""
    inst = [{"institution_code": f"H{i}", "name": f"医院{i}", "region_code": "350102", "level": 2,
             "kind": "hospital", "public": True, "sentinel": False} for i in range(1, 6)]
    budgets = [{"year": 2024, "institution_code": f"H{i}", "total_budget": 1_000_000.0} for i in (1, 2, 3, 5)]
    spent = {"H1": 400_000.0, "H2": 500_000.0, "H3": 300_000.0, "H4": 100.0, "H5": 400_000.0}
    spending = [{"month": "2024-03", "institution_code": k, "amount": v} for k, v in spent.items()]
    wh = _warehouse({"institutions": inst, "budgets": budgets, "fund_spending": spending})
    got = sorted(budget_consult(wh, date(2024, 3, 31)).to_pyarrow().to_pylist(), key=lambda r: r["rank"])
    assert [(r["rank"], r["institution_code"], r["status"]) for r in got] == [
        (1, "H2", "ahead"), (2, "H1", "ahead"), (3, "H5", "ahead")]
    assert [r["gap"] for r in got] == pytest.approx([0.5 - 91 / 366, 0.4 - 91 / 366, 0.4 - 91 / 366])

    s = load(ROOT / "pharmacy/06_risk_summary.toml")
    wh = connect("duckdb://")
    for name, t in s.tables.items():
        wh.write_table(name, t)
    assert checked_settlements(wh, "2024-07").to_pyarrow().to_pylist() == [
        {"month": "2024-07", "pharmacies": 3, "settlements": 4, "amount": 2660.0}]
    assert checked_settlements(wh, "2024-06").to_pyarrow().num_rows == 0


# -- random data against the exact references -----------------------------------------------------------

MONTH = "2024-07"


def random_fund(seed: int = 7) -> dict[str, list[dict]]:
    r = random.Random(seed)
    cap = []
    for period in ("2024", "2025"):
        for i in range(60):
            cap.append({"period": period, "institution_code": f"H{i:03d}",
                        "enrolled": r.choice([0, 1, 7, 500, 1000, 1234, 3000]) if i % 13 else 0,
                        "per_capita_standard": r.choice([70.0, 80.0, 97.4, 100.0, 120.5]),
                        "actual_spending": round(r.uniform(0, 400000), 2) if i % 17 else 0.0})
    t0 = datetime(2024, 7, 1)
    edges = [t0 + timedelta(hours=6 * k) for k in range(4 * 31 + 1)]
    video, settlements, stock = [], [], []
    pharmacies = [f"P{k}" for k in range(8)]
    for k, p in enumerate(pharmacies):
        if k == 7:
            continue  # no video rows at all
        t = datetime(2024, 6, 28)
        while t < datetime(2024, 8, 2):
            length = timedelta(hours=6 * r.randint(1, 16))
            status = "offline" if r.random() < 0.25 else "online"
            video.append({"pharmacy_code": p, "start_at": t, "end_at": t + length, "status": status})
            if r.random() < 0.2:  # an overlapping interval
                a = t + timedelta(hours=6 * r.randint(0, 3))
                video.append({"pharmacy_code": p, "start_at": a, "end_at": a + timedelta(hours=6),
                              "status": r.choice(["online", "offline"])})
            t += length + (timedelta(hours=6) if r.random() < 0.15 else timedelta(0))  # sometimes a gap
    products = ["X1", "X2", "X3", "X4"]
    for n in range(500):
        p = r.choice(pharmacies)
        at = r.choice(edges) + r.choice([timedelta(0), timedelta(seconds=-1), timedelta(seconds=1),
                                         timedelta(minutes=r.randint(0, 359))])
        proxy = r.random() < 0.1
        settlements.append({
            "settlement_id": f"S{n:04d}", "pharmacy_code": p, "settled_at": at, "product_code": r.choice(products),
            "quantity": float(r.randint(1, 40)), "amount": r.choice([2000.0, 2000.01, round(r.uniform(1, 2500), 2)]),
            "proxy": proxy, "proxy_registered": r.choice([True, False, None]) if proxy else None})
    sold: dict[tuple, float] = {}
    for s in settlements:
        if month_bounds(MONTH)[0] <= s["settled_at"] < month_bounds(MONTH)[1]:
            key = (s["pharmacy_code"], s["product_code"])
            sold[key] = sold.get(key, 0.0) + s["quantity"]
    for (p, prod), q in sorted(sold.items()):
        if r.random() < 0.1:
            continue  # settled without a stock row
        opening = float(r.randint(0, 100))
        closing = max(0.0, opening + 50 - q) + (r.choice([-3.0, 2.5]) if r.random() < 0.3 else 0.0)
        stock.append({"pharmacy_code": p, "product_code": prod, "period": MONTH, "opening": opening,
                      "purchased": 50.0, "closing": max(closing, 0.0)})
    stock.append({"pharmacy_code": "P1", "product_code": "X9", "period": MONTH, "opening": 3.0, "purchased": 0.0,
                  "closing": 1.0})
    cases = [{"case_id": f"C{n}", "pharmacy_code": r.choice(pharmacies), "found_at": date(2024, r.randint(1, 9), 1),
              "kind": "x", "action": r.choice(["notice", "suspend", "recover"]),
              "recovered_amount": r.choice([None, 100.0, 2500.5])} for n in range(10)]
    budgets, spending = [], []
    for i in range(40):
        code = f"H{i:03d}"
        if i % 9:
            budgets.append({"year": 2024, "institution_code": code,
                            "total_budget": 0.0 if i % 11 == 0 else float(r.choice([120000, 366000, 1000000]))})
        for m in range(1, 13):
            if r.random() < 0.9:
                spending.append({"month": f"2024-{m:02d}", "institution_code": code,
                                 "amount": r.choice([10000.0, 30500.0, round(r.uniform(5000, 130000), 2)])})
        spending.append({"month": "2023-12", "institution_code": code, "amount": 99999.0})
    return {"capitation": cap, "video_status": video, "pharmacy_settlements": settlements, "pharmacy_stock": stock,
            "violations": cases, "budgets": budgets, "fund_spending": spending, "institutions": []}


@pytest.fixture(scope="module")
def fund_rows():
    return random_fund()


@pytest.fixture(scope="module")
def fund_tables(fund_rows):
    return {name: from_pylist(name, rows) for name, rows in fund_rows.items()}


@pytest.fixture(scope="module")
def frames(fund_tables):
    return {name: t.to_pandas() for name, t in fund_tables.items()}


def _null(x) -> bool:
    return x is None or x is pd.NA or (isinstance(x, float) and math.isnan(x))


def _same(got: pd.DataFrame, exp: pd.DataFrame, cols: list[str]) -> None:
    """Column by column: nulls where the reference has None, text and flags equal, numbers to 1e-9."""
    assert len(got) == len(exp)
    for c in cols:
        for i, (a, b) in enumerate(zip(got[c], exp[c], strict=True)):
            if _null(b):
                assert _null(a), f"{c} row {i}: {a!r} vs {b!r}"
            elif isinstance(b, (bool, str)):
                assert a == b, f"{c} row {i}: {a!r} vs {b!r}"
            else:
                assert not _null(a) and math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9), \
                    f"{c} row {i}: {a!r} vs {b!r}"


def test_capitation_equals_exact_reference(fund_tables, frames, engine_warehouse):
    policy = load_policy()
    tiers = policy.value("capitation_return_tiers")
    wh = engine_warehouse("duckdb", fund_tables)
    for period in ("2024", "2025"):
        got = capitation_return(wh, period, policy).to_pandas().sort_values("institution_code").reset_index(drop=True)
        exp = capitation_reference(frames["capitation"], period, tiers, policy.value("capitation_return_rate_beyond"))
        assert list(got.institution_code) == list(exp.institution_code)
        _same(got, exp, ["package", "surplus", "reasonable_surplus", "deviation", "return_rate", "returned_amount",
                         "overall_per_capita"])
        tiers_of = [[None if _null(t) else int(t) for t in df.tier] for df in (got, exp)]
        assert tiers_of[0] == tiers_of[1]
        assert exp.tier.nunique() >= 3 and exp.tier.isna().any()


def test_pharmacy_checks_equal_reference(fund_tables, frames, engine_warehouse):
    policy = load_policy()
    wh = engine_warehouse("duckdb", fund_tables)
    s, v, st = frames["pharmacy_settlements"], frames["video_status"], frames["pharmacy_stock"]
    video = video_violations(wh, MONTH, policy).to_pandas()
    exp_video = video_reference(s, v, MONTH)
    assert dict(zip(video.settlement_id, video.kind, strict=True)) == exp_video
    assert {"video_offline", "video_missing"} <= set(exp_video.values())

    got = stock_mismatches(wh, MONTH, policy).to_pandas().sort_values(["pharmacy_code", "product_code"])
    exp = stock_reference(s, st, MONTH)
    assert list(zip(got.pharmacy_code, got.product_code, strict=False)) == list(zip(exp.pharmacy_code, exp.product_code, strict=False))
    _same(got.reset_index(drop=True), exp, ["difference", "settled_quantity", "unit_price", "amount"])
    assert list(got.stock_recorded) == list(exp.stock_recorded) and (~exp.stock_recorded).any()

    got = pharmacy_violations(wh, MONTH, policy).to_pandas()
    got["ref"] = got.settlement_id.where(got.settlement_id.notna(), got.product_code)
    got = got.sort_values(["pharmacy_code", "kind", "ref"]).reset_index(drop=True)
    exp = violations_reference(s, v, st, MONTH, policy.value("pharmacy_large_amount"))
    assert list(zip(got.pharmacy_code, got.kind, got.ref, strict=False)) == list(zip(exp.pharmacy_code, exp.kind, exp.ref, strict=False))
    _same(got, exp, ["amount"])
    assert set(exp.kind) == {"video_offline", "video_missing", "stock_mismatch", "large_amount", "proxy_unregistered"}

    got = pharmacy_risk(wh, MONTH, policy).to_pandas().sort_values("pharmacy_code").reset_index(drop=True)
    exp = risk_reference(s, v, st, frames["violations"], MONTH, policy.value("pharmacy_large_amount"))
    assert list(got.pharmacy_code) == list(exp.pharmacy_code)
    _same(got, exp, [c for c in exp.columns if c != "pharmacy_code"])


@pytest.mark.parametrize("as_of", [date(2024, 1, 1), date(2024, 3, 31), date(2024, 7, 15), date(2024, 12, 31)])
def test_budget_equals_exact_reference(fund_tables, frames, engine_warehouse, as_of):
    policy = load_policy().with_values(budget_ahead_margin=0.05)
    wh = engine_warehouse("duckdb", fund_tables)
    got = budget_progress(wh, as_of, policy).to_pandas().sort_values("institution_code").reset_index(drop=True)
    exp = budget_reference(frames["budgets"], frames["fund_spending"], as_of, 0.05)
    assert list(got.institution_code) == list(exp.institution_code)
    _same(got, exp, ["spending", "spending_progress", "over_budget", "status"])
    if as_of.month == 7:
        assert set(exp.status) == {"ahead", "normal", "no_budget"}
    totals = budget_totals(budget_progress(wh, as_of, policy)).to_pandas().iloc[0]
    assert totals.institutions == len(exp) and totals.ahead == (exp.status == "ahead").sum()


@pytest.mark.parametrize("engine", ["postgres", "pyspark"])
def test_random_data_same_on_every_engine(fund_tables, engine_warehouse, engine):
    duck = engine_warehouse("duckdb", fund_tables)
    other = engine_warehouse(engine, fund_tables)
    cases = [
        (lambda wh: capitation_return(wh, "2024"), ["institution_code"]),
        (lambda wh: pharmacy_violations(wh, MONTH), ["pharmacy_code", "kind", "settlement_id", "product_code"]),
        (lambda wh: pharmacy_risk(wh, MONTH), ["pharmacy_code"]),
        (lambda wh: budget_progress(wh, date(2024, 7, 15)), ["institution_code"]),
        (lambda wh: capitation_tiers(wh, "2024"), ["tier"]),
        (lambda wh: budget_consult(wh, date(2024, 7, 15), load_policy().with_values(budget_ahead_margin=0.05)),
         ["rank"]),
        (lambda wh: checked_settlements(wh, MONTH), ["month"]),
    ]
    for measure, keys in cases:
        a = measure(duck).to_pandas().sort_values(keys).reset_index(drop=True)
        b = measure(other).to_pandas().sort_values(keys).reset_index(drop=True)
        for df in (a, b):
            for c in df.columns:
                if str(df[c].dtype).startswith("datetime"):  # same instants; units (ns/us) differ by engine
                    df[c] = (df[c].dt.tz_localize(None) if df[c].dt.tz else df[c]).astype("datetime64[us]")
                elif df[c].isna().all():  # an all-null column: NaN on one engine, None on another
                    df[c] = pd.Series([None] * len(df), dtype=object)
        pd.testing.assert_frame_equal(b, a, check_dtype=False, rtol=1e-12)


# -- the settlement gate ---------------------------------------------------------------------------------

def test_gate_agrees_with_the_monthly_check(fund_tables, fund_rows, engine_warehouse):
    """Every settlement the gate allows is one the monthly check does not flag, and vice versa."""
    wh = engine_warehouse("duckdb", fund_tables)
    gate = SettlementGate.from_warehouse(wh)
    flagged = dict(zip(*(video_violations(wh, MONTH).to_pandas()[c] for c in ("settlement_id", "kind")), strict=True))
    lo, hi = month_bounds(MONTH)
    n = 0
    for s in fund_rows["pharmacy_settlements"]:
        if lo <= s["settled_at"] < hi:
            d = gate.check(s["pharmacy_code"], s["settled_at"])
            assert d.allowed == (s["settlement_id"] not in flagged), (s, d)
            if not d.allowed:
                expected = {"video_offline": {"offline"}, "video_missing": {"no_video", "unknown_pharmacy"}}
                assert d.reason in expected[flagged[s["settlement_id"]]]
            n += 1
    assert n > 400 and gate.pharmacies == 7


def test_gate_boundaries_reasons_and_times():
    t = datetime
    gate = SettlementGate.from_rows([
        ("P1", t(2024, 7, 1), t(2024, 7, 10, 9), "online"),
        ("P1", t(2024, 7, 10, 9), t(2024, 7, 10, 12), "offline"),
        ("P1", t(2024, 7, 10, 12), t(2024, 7, 20), "online"),
        ("P1", t(2024, 7, 20), t(2024, 7, 25), "online"),        # adjacent: one segment with the one before
        ("P1", t(2024, 7, 26), t(2024, 8, 1), "online"),         # a gap on 25 July
        ("P1", t(2024, 7, 28), t(2024, 7, 28, 1), "offline"),    # overlapping: offline wins
        ("P1", t(2024, 7, 29), t(2024, 7, 29), "offline"),       # empty: contains no instant
    ])
    cases = {
        t(2024, 7, 10, 8, 59, 59): (True, "online"),
        t(2024, 7, 10, 9): (False, "offline"),
        t(2024, 7, 10, 11, 59, 59): (False, "offline"),
        t(2024, 7, 10, 12): (True, "online"),
        t(2024, 7, 24, 23, 59, 59): (True, "online"),
        t(2024, 7, 25): (False, "no_video"),
        t(2024, 7, 28, 0, 30): (False, "offline"),
        t(2024, 7, 28, 1): (True, "online"),
        t(2024, 7, 29): (True, "online"),
        t(2024, 6, 30, 23, 59, 59): (False, "no_video"),
        t(2024, 8, 1): (False, "no_video"),
    }
    for at, (allowed, reason) in cases.items():
        d = gate.check("P1", at)
        assert (d.allowed, d.reason) == (allowed, reason), at
    d = gate.check("P1", t(2024, 7, 10, 10))
    assert (d.start, d.end, d.status) == (t(2024, 7, 10, 9), t(2024, 7, 10, 12), "offline")
    assert "暂停结算" in d.reason_zh and "suspended" in d.reason_en
    d = gate.check("P1", t(2024, 7, 15))
    assert (d.start, d.end) == (t(2024, 7, 10, 12), t(2024, 7, 25))  # merged online segment
    d = gate.check("P1", t(2024, 7, 25, 6))
    assert (d.status, d.start, d.end) == (None, t(2024, 7, 25), t(2024, 7, 26))  # the gap's bounds
    assert gate.check("P9", t(2024, 7, 1)).reason == "unknown_pharmacy"
    # an aware time is converted to local (Asia/Shanghai) time: 01:00 UTC = 09:00 local → offline
    assert gate.check("P1", t(2024, 7, 10, 1, tzinfo=UTC)).reason == "offline"
    doc = gate.check("P1", t(2024, 7, 10, 9)).to_dict()
    assert doc["allowed"] is False and doc["start"] == "2024-07-10T09:00:00" and doc["reason_zh"]


def test_gate_reload_swaps_the_index_while_checks_run():
    rows = [("P1", datetime(2024, 7, 1), datetime(2024, 8, 1), "online")]
    gate = SettlementGate(lambda: list(rows))
    at = datetime(2024, 7, 5)
    assert gate.check("P1", at).allowed
    stop, errors = threading.Event(), []

    def reader():
        while not stop.is_set():
            try:
                assert gate.check("P1", at).reason in ("online", "offline")
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for th in threads:
        th.start()
    for k in range(50):
        rows[:] = [("P1", datetime(2024, 7, 1), datetime(2024, 8, 1), "offline" if k % 2 else "online")]
        gate.reload()
    stop.set()
    for th in threads:
        th.join()
    assert not errors
    rows[:] = [("P1", datetime(2024, 7, 1), datetime(2024, 8, 1), "offline")]
    gate.reload()
    assert gate.check("P1", at).reason == "offline"
