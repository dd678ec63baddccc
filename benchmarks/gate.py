"""Latency of the real-time settlement gate (jicai.fund.gate.SettlementGate.check), per call.

Usage: python benchmarks/gate.py [--calls 100000] [--pharmacies 10000] [--intervals 100] [--seed 1]

Two video tables:
- **demo** — the demo province's ``video_status`` (300 institutions × 12 months, simulated here), loaded
  through a DuckDB warehouse with ``SettlementGate.from_warehouse`` as the web API will;
- **large** — a synthetic table of ``--pharmacies`` pharmacies × about ``--intervals`` intervals each (online
  stretches, offline outages, gaps and overlaps), given to ``SettlementGate.from_rows``.

Each call is timed alone with ``time.perf_counter_ns`` (the timer's own cost, ~0.1 µs, is included); the
(pharmacy, time) pairs are drawn beforehand — 95% known pharmacies at uniform times, 5% unknown codes.
Prints one line per table: rows, build time, median / p99 / p99.9 per call, and calls per second.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

START = datetime(2024, 1, 1)


def synthetic_rows(pharmacies: int, intervals: int, seed: int) -> list[tuple]:
    r = random.Random(seed)
    rows = []
    for k in range(pharmacies):
        code = f"P{k:07d}"
        t = START
        for _ in range(intervals):
            length = timedelta(minutes=r.randint(30, 8 * 24 * 60))
            status = "offline" if r.random() < 0.2 else "online"
            rows.append((code, t, t + length, status))
            if r.random() < 0.05:  # an overlapping outage inside the interval
                a = t + timedelta(minutes=r.randint(0, 20))
                rows.append((code, a, a + timedelta(minutes=15), "offline"))
            t += length + (timedelta(hours=r.randint(1, 12)) if r.random() < 0.1 else timedelta(0))
    return rows


def demo_warehouse(tmp: Path):
    from jicai.simulate import simulate
    from jicai.store import connect

    simulate(tmp / "demo", institutions=300, months=12, seed=2024)
    wh = connect("duckdb://")
    wh.con.raw_sql(f"CREATE TABLE video_status AS SELECT * FROM read_parquet('{tmp / 'demo' / 'video_status.parquet'}')")
    return wh


def queries(codes: list[str], span: tuple[datetime, datetime], calls: int, seed: int) -> list[tuple[str, datetime]]:
    r = random.Random(seed)
    seconds = int((span[1] - span[0]).total_seconds())
    out = []
    for _ in range(calls):
        code = r.choice(codes) if r.random() < 0.95 else f"UNKNOWN{r.randint(0, 999)}"
        out.append((code, span[0] + timedelta(seconds=r.randint(0, seconds))))
    return out


def measure(gate, qs: list[tuple[str, datetime]]) -> dict:
    check = gate.check
    for code, at in qs[:1000]:  # warm-up
        check(code, at)
    ns = []
    clock = time.perf_counter_ns
    allowed = 0
    for code, at in qs:
        t0 = clock()
        d = check(code, at)
        ns.append(clock() - t0)
        allowed += d.allowed
    ns.sort()
    n = len(ns)
    return {"median_us": ns[n // 2] / 1000, "p99_us": ns[int(n * 0.99)] / 1000, "p999_us": ns[int(n * 0.999)] / 1000,
            "mean_us": statistics.fmean(ns) / 1000, "allowed": allowed / n, "calls_per_s": 1e9 / statistics.fmean(ns)}


def report(name: str, rows: int, pharmacies: int, build_s: float, m: dict) -> None:
    print(f"{name:6s} {rows:>10,} rows {pharmacies:>7,} pharmacies  build {build_s:6.2f} s  "
          f"median {m['median_us']:5.2f} µs  p99 {m['p99_us']:6.2f} µs  p99.9 {m['p999_us']:6.2f} µs  "
          f"{m['calls_per_s']:,.0f} calls/s  ({m['allowed']:.0%} allowed)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=100_000)
    ap.add_argument("--pharmacies", type=int, default=10_000)
    ap.add_argument("--intervals", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()

    from jicai.fund.gate import SettlementGate

    with tempfile.TemporaryDirectory() as tmp:
        wh = demo_warehouse(Path(tmp))
        t0 = time.perf_counter()
        gate = SettlementGate.from_warehouse(wh)
        build = time.perf_counter() - t0
        v = wh.table("video_status").to_pandas()
        codes = sorted(v.pharmacy_code.unique())
        qs = queries(codes, (v.start_at.min().to_pydatetime(), v.end_at.max().to_pydatetime()), a.calls, a.seed)
        report("demo", len(v), len(codes), build, measure(gate, qs))
        wh.close()

    rows = synthetic_rows(a.pharmacies, a.intervals, a.seed)
    t0 = time.perf_counter()
    gate = SettlementGate.from_rows(rows)
    build = time.perf_counter() - t0
    codes = sorted({r[0] for r in rows})
    end = max(r[2] for r in rows)
    report("large", len(rows), len(codes), build, measure(gate, queries(codes, (START, end), a.calls, a.seed)))


if __name__ == "__main__":
    main()
