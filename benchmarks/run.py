"""Benchmark of the monthly monitoring: `make bench` (1M order lines) or
`python benchmarks/run.py --order-lines 10000000`.

Steps: simulate a province with N order lines (cached under benchmarks/data/), import it into a DuckDB
warehouse with `jicai import` (timed once: rows/s over every table, peak RSS, warehouse size), then time —
each in its own process, median of --repeats runs — the Ibis monitoring on DuckDB from the compact facts
and from the raw lines, the assessment, the supply scorecard and the budget progress, the independent
pandas reference on the same data in memory, and a bare DuckDB group-by scan of the same order lines. Prints the ratios and peak memory, and writes
benchmarks/results/<N>.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
PY = sys.executable


def _run_phase(phase: str, wh: Path, as_of: date, repeats: int) -> dict:
    out = subprocess.run([PY, str(HERE / "phase.py"), phase, str(wh), as_of.isoformat(), str(repeats)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def prepare(n: int, institutions: int, months: int) -> tuple[Path, date]:
    from jicai.simulate import simulate

    data = HERE / "data" / f"{n}"
    wh = data / "jicai.duckdb"
    start = date(2024, 1, 1)
    if not (data / "dataset" / "manifest.json").exists():
        t0 = time.perf_counter()
        simulate(data / "dataset", institutions=institutions, months=months, seed=7, order_lines=n, start=start)
        print(f"simulated {n:,} order lines in {time.perf_counter() - t0:.1f} s")
    if not wh.exists():
        t0 = time.perf_counter()
        subprocess.run([str(Path(PY).with_name("jicai")), "--data-dir", str(data), "import", str(data / "dataset")],
                       check=True, stdout=subprocess.DEVNULL)
        seconds = time.perf_counter() - t0
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        # every row of every file is validated: order lines, deliveries, payments and the small tables
        rows = sum(json.loads((data / "dataset" / "manifest.json").read_text())["tables"].values())
        stats = {"seconds": seconds, "rows": rows, "rows_per_second": rows / seconds, "peak_rss_mb": peak,
                 "warehouse_mb": wh.stat().st_size / 2**20}
        (data / "import.json").write_text(json.dumps(stats, indent=2))
        print(f"imported {rows:,} rows in {seconds:.1f} s ({rows / seconds:,.0f} rows/s, "
              f"{n / seconds:,.0f} order lines/s; peak RSS {peak:.0f} MB, warehouse {stats['warehouse_mb']:,.0f} MB)")
    # as of the last day of the simulated year: every order line is in scope
    return wh, date(start.year, 12, 31)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--order-lines", type=int, default=1_000_000)
    ap.add_argument("--institutions", type=int, default=1000)
    ap.add_argument("--months", type=int, default=12)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--phases", default="scan,monitor,monitor-mid,monitor-lines,assess,supply,budget",
                    help="comma-separated phases besides pandas (at 10^8 leave out monitor-lines: the raw-line path "
                         "needs ~20 GB there)")
    ap.add_argument("--skip-pandas", action="store_true", help="at 10^8 lines the pandas reference does not fit in memory")
    args = ap.parse_args()

    wh, as_of = prepare(args.order_lines, args.institutions, args.months)
    phases = [p for p in args.phases.split(",") if p] + ([] if args.skip_pandas else ["pandas"])
    results = {p: _run_phase(p, wh, as_of, args.repeats) for p in phases}
    med = {p: statistics.median(r["seconds"]) for p, r in results.items()}

    print(f"\norder lines: {args.order_lines:,}   repeats: {args.repeats}   (median seconds, peak RSS of the phase's process)")
    for p in phases:
        r = results[p]
        print(f"  {p:8s} {med[p]:8.2f} s   runs {', '.join(f'{s:.2f}' for s in r['seconds'])}   "
              f"rows {r['rows']:,}   peak {r['peak_rss_mb']:.0f} MB")
    print(f"  monitor / bare scan : {med['monitor'] / med['scan']:.2f}")
    if "monitor-lines" in med:
        print(f"  monitor-lines / monitor (what the facts save): {med['monitor-lines'] / med['monitor']:.2f}")
    if "pandas" in med:
        print(f"  pandas / monitor    : {med['pandas'] / med['monitor']:.2f}")
    out = HERE / "results" / f"{args.order_lines}.json"
    out.parent.mkdir(exist_ok=True)
    imported = wh.parent / "import.json"  # written when this run imported (the warehouse is kept between runs)
    out.write_text(json.dumps({"order_lines": args.order_lines, "median_seconds": med, "phases": results,
                               "import": json.loads(imported.read_text()) if imported.exists() else None}, indent=2))


if __name__ == "__main__":
    main()
