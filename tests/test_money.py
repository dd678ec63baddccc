"""Exact money (jicai.measures.exact): the same fen on every engine, and rows that add up to their totals.

* The rounding helpers on hand-picked values whose binary doubles sit on the wrong side of a half fen
  (1.005 is 1.00499999999999989…, 3 × 0.335 is 1.0050000000000001), on DuckDB, PostgreSQL and PySpark.
* Σ rows = total, to the fen, for the retention reward, overspend and their totals (region, level,
  batch), the retention trace against each institution's budget and actual, and the prepayment ledger
  (monthly offsets add up to the cumulative offset, offset + balance = prepayment, the monthly sums and
  the recovery list) — on the scenario worlds and on a seeded random world, on every engine, with the
  money columns of PostgreSQL and PySpark identical to DuckDB's.
"""

from __future__ import annotations

import ibis
import pandas as pd
import pyarrow as pa
import pytest
from tests.scenarios.runner import combined_tables, folder_settings, load, scenario_files
from tests.test_assess import random_with_prices
from tests.test_prepayment import reference_rows

from jicai.assess.assessment import MONEY_TOTALS, assess, assess_totals
from jicai.assess.prepayment import ledger_by_month, prepayment_ledger, recovery_list
from jicai.assess.retention import retention_trace
from jicai.contract.arrow import from_pylist
from jicai.measures.exact import fen, micro, round_yuan, scaled_share, to_fen, yuan
from jicai.policy import load_policy

ENGINES = ["duckdb", "postgres", "pyspark"]
# ids prefixed per scenario when the scenarios of a folder share one warehouse (tests/scenarios/<folder>/_combine.toml)
SHARED_BATCH = tuple(folder_settings("assess")["prefixed"])
PREFIXED = tuple(folder_settings("prepayment")["prefixed"])

# (yuan, fen half up by hand). The last two show the one allowance: 0.0049995 is within half a
# micro-yuan of half a fen and counts as half a fen; 0.0049994 does not.
CASES = [(0.125, 13), (2.675, 268), (1.005, 101), (1.015, 102), (3 * 0.335, 101), (0.285, 29),
         (1234.57 * 0.5, 61729), (1234.55 * 0.3, 37037), (0.1 + 0.2, 30), (-1.005, -101), (-0.125, -13),
         (12345678.905, 1234567891), (0.0, 0), (0.0049995, 1), (0.0049994, 0)]


@pytest.mark.parametrize("engine", ENGINES)
def test_rounding_helpers_give_the_hand_computed_fen_on_every_engine(engine, engine_warehouse):
    t = pa.table({"i": list(range(len(CASES))), "x": [x for x, _ in CASES],
                  "base": [2654_57, 1234_55, 1, 3, 5, 7, 0, 1, 2, 4, 6, 8, 9, 10, 11]})
    wh = engine_warehouse(engine, {"probe": t})
    p = wh.table("probe")
    got = p.select("i", fen=fen(p.x), micro=micro(p.x), back=yuan(fen(p.x)),
                   half=scaled_share(p.base.cast("int64"), 5000),
                   third=scaled_share(p.base.cast("int64"), 3000)).to_pandas().sort_values("i")
    assert [int(v) for v in got.fen] == [f for _, f in CASES]
    assert [int(v) for v in got.fen] == [to_fen(x) for x, _ in CASES]  # the Python mirror agrees
    assert list(got.back) == [f / 100 for _, f in CASES]
    assert int(got.micro.iloc[2]) == 1_005_000 and int(got.micro.iloc[4]) == 1_005_000
    # 2654.57 × 0.5 = 1327.285 → 1327.29; 1234.55 × 0.3 = 370.365 → 370.37; 0.03 × 0.5 = 0.015 → 0.02
    assert [int(v) for v in got.half.iloc[:4]] == [132729, 61728, 1, 2]
    assert int(got.third.iloc[1]) == 37037
    assert round_yuan(2654.57 * 0.5) == 1327.29


# -- Σ rows = total ---------------------------------------------------------------------------------------

def _fen(x: float) -> int:
    """A float64 money value as integer fen, asserting it holds whole fen (fen / 100 exactly)."""
    f = round(x * 100)
    assert f / 100 == x, f"{x!r} is not a whole number of fen"
    return f


def _assess_world(name: str) -> tuple[dict[str, pa.Table], list[tuple[str, int, dict]]]:
    if name == "scenarios":
        scenarios = [load(p) for p in scenario_files("assess")]
        return combined_tables(scenarios, SHARED_BATCH), [
            ("B1", 1, {}), ("B1", 1, {"overspend_share": 0.3, "fund_payment_ratio": 0.7})]
    return random_with_prices(20240901), [
        ("B1", 1, {"min_completion": 0.0, "nonselected_share_max": 1.0, "overspend_share": 0.33,
                   "retention_tiers": [[40.0, 0.55], [10.0, 0.15]], "fund_payment_ratio": 0.77}),
        ("B2", 1, {"overspend_share": 0.25, "min_completion": 0.5, "nonselected_share_max": 0.7})]


def _prepayment_world(name: str) -> tuple[dict[str, pa.Table], list[tuple[str, int, dict]]]:
    if name == "scenarios":
        scenarios = [load(p) for p in scenario_files("prepayment")]
        return combined_tables(scenarios, PREFIXED), [("B1", 1, {}), ("B15", 1, {"prepay_ratio": 0.35})]
    tables = {n: from_pylist(n, r) for n, r in reference_rows().items()}
    return tables, [("B1", 1, {"prepay_ratio": 0.33}), ("B2", 1, {})]


def _once(engine: str, rows, keys) -> tuple:
    """``rows`` computed once on the engine: (an expression over those rows, them as a sorted frame). Spark
    computes an expression again at every use — the assessment took half a minute on each of the five sums
    taken of it — so on Spark the sums below read the fetched rows, and one sum per run (the caller's) reads
    the engine's own expression; DuckDB and PostgreSQL compute them all from the engine's expression."""
    table = rows.to_pyarrow()
    df = table.to_pandas().sort_values(keys).reset_index(drop=True)
    return (ibis.memtable(table) if engine == "pyspark" else rows), df


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("world", ["scenarios", "random"])
def test_retention_rows_add_up_to_their_totals(world, engine, engine_warehouse):
    tables, runs = _assess_world(world)
    wh = engine_warehouse(engine, tables)
    duck = engine_warehouse("duckdb", tables) if engine != "duckdb" else None
    rounded_somewhere = False
    for batch, year, overrides in runs:
        policy = load_policy().with_values(**overrides) if overrides else load_policy()
        live = assess(wh, batch, year, policy)
        rows, df = _once(engine, live, "institution_code")
        assert len(df) >= 3
        fen_rows = {c: [_fen(x) for x in df[c]] for c in MONEY_TOTALS}
        for by in ("batch", "region", "level"):
            totals = assess_totals(rows, by).to_pandas()
            for c in MONEY_TOTALS:
                assert sum(_fen(x) for x in totals[c]) == sum(fen_rows[c]), (by, c)
        batch_total = assess_totals(live, "batch").to_pandas()  # once over the engine's own expression
        for c in MONEY_TOTALS:
            assert batch_total[c].iloc[0] == sum(fen_rows[c]) / 100, c
        # each row: base − overspend = budget − actual; the trace adds up to budget and actual
        for b, a, r, o in zip(fen_rows["budget"], fen_rows["actual"], fen_rows["retention_base"],
                              fen_rows["overspend"], strict=True):
            assert r - o == b - a and min(r, o) == 0
        trace = retention_trace(wh, batch, year, policy).to_pandas()
        terms = trace.assign(b=trace.budget_term.map(lambda x: 0 if pd.isna(x) else _fen(x)),
                             a=trace.actual_term.map(lambda x: 0 if pd.isna(x) else _fen(x)))
        per_inst = terms.groupby("institution_code")[["b", "a"]].sum()
        for inst, b, a in zip(df.institution_code, fen_rows["budget"], fen_rows["actual"], strict=True):
            assert (per_inst.at[inst, "b"], per_inst.at[inst, "a"]) == (b, a), inst
        # the shares are rounded from the exact products, not from floats (so some land on a fen)
        for base, ratio, reward in zip(fen_rows["retention_base"], df.retention_ratio, fen_rows["reward"],
                                       strict=True):
            exact = base * round(ratio * 10_000)  # in 1/10 000 fen
            assert reward == (exact + 5000) // 10_000
            rounded_somewhere |= exact % 10_000 != 0
        if duck is not None:
            same = assess(duck, batch, year, policy).to_pandas().sort_values("institution_code")
            for c in (*MONEY_TOTALS, "purchase_amount", "prior_amount"):
                assert list(same[c]) == list(df[c]), f"{c} differs from DuckDB on {engine}"
    assert rounded_somewhere  # the worlds reach a reward that needed rounding


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("world", ["scenarios", "random"])
def test_prepayment_ledger_adds_up_to_the_fen(world, engine, engine_warehouse):
    tables, runs = _prepayment_world(world)
    money = ["agreed_amount", "prepayment", "cumulative_selected_amount", "offset_this_month",
             "cumulative_offset", "balance"]
    keys = ["institution_code", "month"]
    wh = engine_warehouse(engine, tables)
    duck = engine_warehouse("duckdb", tables) if engine != "duckdb" else None
    for batch, year, overrides in runs:
        policy = load_policy().with_values(**overrides) if overrides else load_policy()
        live = prepayment_ledger(wh, batch, year, policy)
        led, df = _once(engine, live, keys)
        assert len(df) >= 12
        if duck is not None:
            same = prepayment_ledger(duck, batch, year, policy).to_pandas().sort_values(keys)
            assert list(same.month) == list(df.month)
            for c in money:
                assert list(same[c]) == list(df[c]), f"{c} differs from DuckDB on {engine}"
        f = {c: [_fen(x) for x in df[c]] for c in money}
        for p, o, b in zip(f["prepayment"], f["cumulative_offset"], f["balance"], strict=True):
            assert o + b == p
        df = df.assign(**{f"{c}_fen": f[c] for c in money})
        for inst, g in df.groupby("institution_code"):
            assert g.offset_this_month_fen.sum() == g.cumulative_offset_fen.iloc[-1], inst
            assert g.cumulative_offset_fen.is_monotonic_increasing, inst
        # the fund's monthly view and the recovery list are sums of these rows, to the fen
        months = ledger_by_month(led).to_pandas().set_index("month")
        for c in money:
            for m, total in df.groupby("month")[f"{c}_fen"].sum().items():
                assert _fen(months.at[m, c]) == total, (m, c)
        recovery = recovery_list(live).to_pandas()  # once over the engine's own expression
        last = df[df.month == df.month.max()]
        assert sum(_fen(x) for x in recovery.recover_amount) == last.balance_fen[last.balance_fen > 0].sum()
