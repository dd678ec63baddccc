"""The 报量 assistant's back-test on the simulated province: forecast a cycle year from the months before it,
then compare with what was used in it.

``python -m jicai.analytics.forecast_backtest --institutions 300 --months 36 --seed 1`` simulates the province
(:func:`jicai.simulate.simulate`; the drug batch starts with the data), loads it into an in-memory DuckDB
warehouse and runs :func:`jicai.analytics.forecast.volume_forecast` for cycle years of the drug batch that lie
wholly inside the data: k = 2 as of 2024-06-30 (6 months of history: the ``run_rate`` rule) and as of 2024-12-31
(12 months: ``last_year``), k = 3 as of 2025-12-31 (24 months: ``seasonal``), and sets each institution × variety's ``forecast_volume`` against
its accepted use in the 12 months of the cycle (the same aggregation, :func:`~jicai.analytics.forecast.monthly_use`).

Printed per variety and run: the pairs compared (actual use > 0), the rules the forecasts used, the MAPE (mean
of |forecast − actual| / actual over the pairs, in %), the same for the naive rule a report is audited against
today (12 × the mean month of the last 12 months of history: 上年实际, annualised when shorter), and the error of
the variety's province total (forecast total − actual total, in % of the actual). The
figures in docs/rules.md come from this command.
"""

from __future__ import annotations

import argparse
import tempfile
from collections import Counter, defaultdict
from datetime import date, timedelta
from pathlib import Path

import pyarrow.parquet as pq

from jicai.analytics.forecast import monthly_use, volume_forecast
from jicai.calendar import add_years, shift_month
from jicai.policy import load_policy
from jicai.simulate import simulate
from jicai.simulate.catalogue import BATCHES, DRUG_BATCH
from jicai.store import Warehouse, connect


def load(out_dir: Path) -> Warehouse:
    wh = connect("duckdb://")
    for path in sorted(out_dir.glob("*.parquet")):
        wh.write_table(path.stem, pq.read_table(path))
    return wh


def _sums(wh: Warehouse, batch: str, first: date, end: date) -> dict[tuple[str, str], float]:
    out: dict[tuple[str, str], float] = defaultdict(float)
    for r in monthly_use(wh, batch, first, end).to_pyarrow().to_pylist():
        out[(r["institution_code"], r["variety_id"])] += float(r["volume"] or 0.0)
    return out


def backtest(wh: Warehouse, batch: str, start: date, k: int, as_of: date | None = None) -> list[dict]:
    """One row per variety: the forecast of cycle year ``k`` from the months known on ``as_of`` (default: the day
    before the cycle) against the use in the cycle's 12 months."""
    cycle = add_years(start, k - 1)
    first, end = shift_month(cycle, 0), shift_month(cycle, 12)
    as_of = as_of or cycle - timedelta(days=1)
    rows = volume_forecast(wh, batch, k, as_of).to_pyarrow().to_pylist()
    # the naive rule: 12 × the mean month of the last (at most) 12 months of history, which is the assistant's
    # prior_annual_use when it averages one year
    naive = {(r["institution_code"], r["variety_id"]): r["prior_annual_use"] for r in volume_forecast(
        wh, batch, k, as_of, load_policy().with_values(report_floor_years=1)).to_pyarrow().to_pylist()}
    actual = _sums(wh, batch, first, end)
    by_variety: dict[str, list[tuple[float, float, float, str]]] = defaultdict(list)
    for r in rows:
        key = (r["institution_code"], r["variety_id"])
        a = actual.get(key, 0.0)
        if r["forecast_volume"] is not None and a > 0:
            by_variety[r["variety_id"]].append((r["forecast_volume"], naive[key], a, r["method"]))
    out = []
    for v, pairs in sorted(by_variety.items()):
        f_total, n_total, a_total = (sum(p[i] for p in pairs) for i in range(3))
        out.append({
            "variety_id": v, "k": k, "history_end": as_of.isoformat(), "pairs": len(pairs),
            "methods": ", ".join(f"{m} {c}" for m, c in Counter(p[3] for p in pairs).most_common()),
            "mape": 100 * sum(abs(f - a) / a for f, _, a, _ in pairs) / len(pairs),
            "naive_mape": 100 * sum(abs(n - a) / a for _, n, a, _ in pairs) / len(pairs),
            "total_error": 100 * (f_total - a_total) / a_total,
            "naive_total_error": 100 * (n_total - a_total) / a_total,
        })
    return out


def table(rows: list[dict], names: dict[str, str]) -> str:
    """The rows as a Markdown table (the form docs/rules.md quotes)."""
    lines = ["| k | data to | variety | pairs | rule used | MAPE | naive MAPE | total error | naive total error |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['k']} | {r['history_end']} | {r['variety_id']} {names.get(r['variety_id'], '')} | {r['pairs']} | {r['methods']} "
                     f"| {r['mape']:.1f}% | {r['naive_mape']:.1f}% | {r['total_error']:+.1f}% "
                     f"| {r['naive_total_error']:+.1f}% |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="报量助手回测 / back-test of the volume forecast on the simulated province")
    ap.add_argument("--institutions", type=int, default=300)
    ap.add_argument("--months", type=int, default=36, help="months simulated (≥ 24: cycle year 2 needs 12 of history)")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    start = date(2024, 1, 1)
    with tempfile.TemporaryDirectory() as tmp:
        simulate(tmp, institutions=a.institutions, months=a.months, seed=a.seed, start=start)
        wh = load(Path(tmp))
    names = {r["variety_id"]: r["name"] for r in wh.table("varieties").to_pyarrow().to_pylist()}
    rows = []
    # cycle year 2 from half a year of data (the level rule) and from the whole first year (last_year); cycle
    # year 3 from two years (seasonal): every rule but the run rate of the first five months
    runs = [(2, shift_month(start, 6) - timedelta(days=1)), (2, None), (3, None)]
    for k, as_of in runs:
        if k <= BATCHES[DRUG_BATCH][2] and shift_month(add_years(start, k), 0) <= shift_month(start, a.months):
            rows += backtest(wh, DRUG_BATCH, start, k, as_of)
    print(f"simulate --institutions {a.institutions} --months {a.months} --seed {a.seed}; batch {DRUG_BATCH}")
    print(table(rows, names))


if __name__ == "__main__":
    main()
