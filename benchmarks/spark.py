"""Spark Connect against DuckDB on the same machine: `python benchmarks/spark.py [--order-lines N]`.

The same simulated province (benchmarks/run.py's dataset, cached under benchmarks/data/N/) is imported with
`jicai import` into a fresh DuckDB file and into the Spark Connect warehouse at ``--url`` with a fresh lake
(``--import-repeats`` times each, alternating, median), then the monitoring runs on each (benchmarks/phase.py,
one process per phase, median of ``--repeats``).
Prints seconds, the ratios Spark / DuckDB, order lines per second per core, the client's peak RSS and the
cluster's JVMs' RSS after the runs; writes benchmarks/results/spark-N.json.

The cluster is the project's local one (scripts/spark_cluster.sh: a master, two 1-core workers, a Connect
server); ``--start-cluster`` starts it when it is not running. Run on a quiet machine: both engines share its
2 cores, and nothing else may.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PY = sys.executable
JICAI = str(Path(PY).with_name("jicai"))
sys.path.insert(0, str(HERE))

from run import _run_phase  # noqa: E402 - benchmarks/ is not a package

# A child's own peak RSS: RUSAGE_CHILDREN of a fresh wrapper, which waits for that child only.
_TIMED = ("import resource, subprocess, sys, time; t = time.perf_counter(); subprocess.run(sys.argv[1:], check=True, "
          "stdout=subprocess.DEVNULL); print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN)"
          ".ru_maxrss / 1024)")


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(seconds, peak RSS MB) of running ``cmd`` to completion."""
    out = subprocess.run([PY, "-c", _TIMED, *cmd], check=True, capture_output=True, text=True, env=env)
    seconds, peak = out.stdout.split()
    return float(seconds), float(peak)


def jvm_rss() -> dict[str, float]:
    """RSS (MB) of the local cluster's JVMs, by role, from the pid files of scripts/spark_cluster.sh."""
    found = {}
    state = Path(os.environ.get("JICAI_SPARK_STATE", ROOT / ".services" / "spark"))  # as the script reads it
    for pid_file in sorted((ROOT / state).glob("*.pid")):
        try:
            status = Path(f"/proc/{pid_file.read_text().strip()}/status").read_text()
        except (OSError, ValueError):
            continue
        kb = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
        found[pid_file.stem] = round(kb / 1024, 1)
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--order-lines", type=int, default=10_000_000)
    ap.add_argument("--institutions", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3, help="runs of the monitoring per engine (median)")
    ap.add_argument("--import-repeats", type=int, default=1,
                    help="imports per engine, each from scratch, DuckDB and Spark alternating (median; the last "
                         "ones' warehouses are monitored)")
    ap.add_argument("--url", default=os.environ.get("JICAI_TEST_SPARK_URL", "sc://127.0.0.1:15002"))
    ap.add_argument("--cores", type=int, default=2, help="the cluster's executor cores (the local cluster: 2 × 1)")
    ap.add_argument("--load", choices=("import", "copy"), default="import",
                    help="fill the lake with `jicai import` of the files (the default), or with `jicai warehouse copy` "
                         "of the DuckDB warehouse just imported (the bulk path: no per-file validation on the cluster)")
    ap.add_argument("--start-cluster", action="store_true", help="start scripts/spark_cluster.sh if it is not running")
    ap.add_argument("--monitor-only", action="store_true",
                    help="time the monitoring only, on the DuckDB file and the lake a previous run loaded "
                         "(data/N/bench-duckdb, data/N/bench-lake); the load figures are not measured again")
    args = ap.parse_args()
    n = args.order_lines

    if args.start_cluster:
        subprocess.run(["bash", str(ROOT / "scripts" / "spark_cluster.sh"), "start"], check=True)
    data = HERE / "data" / str(n)
    dataset = data / "dataset"
    if not (dataset / "manifest.json").exists():  # the same dataset as benchmarks/run.py's
        from jicai.simulate import simulate

        simulate(dataset, institutions=args.institutions, months=12, seed=7, order_lines=n, start=date(2024, 1, 1))
    as_of = date(2024, 12, 31)  # every simulated order line is in scope
    rows = sum(json.loads((dataset / "manifest.json").read_text())["tables"].values())

    duck_dir, lake = data / "bench-duckdb", data / "bench-lake"
    env = {**os.environ, "JICAI_DATA_DIR": str(duck_dir)}
    env.pop("JICAI_WAREHOUSE_URL", None)
    if args.monitor_only:
        if not (duck_dir / "jicai.duckdb").exists() or not lake.exists():
            raise SystemExit(f"--monitor-only needs {duck_dir}/jicai.duckdb and {lake} from a previous run")
        monitor_only(args, duck_dir, lake, date(2024, 12, 31))
        return
    # both imports from scratch in this run, so their figures compare; alternating, so that a cluster warming up
    # over the runs, or a busier minute, is not all on one side
    spark_env = {**os.environ, "JICAI_DATA_DIR": str(data / "bench-spark-data"), "JICAI_WAREHOUSE_URL": args.url,
                 "JICAI_LAKE": str(lake)}
    runs: dict[str, list[tuple[float, float]]] = {"duckdb": [], "spark": []}
    for _ in range(max(1, args.import_repeats)):
        for d in (duck_dir, lake, data / "bench-spark-data"):
            shutil.rmtree(d, ignore_errors=True)
        runs["duckdb"].append(timed([JICAI, "import", str(dataset)], env))
        print(f"DuckDB import: {runs['duckdb'][-1][0]:.1f} s, peak RSS {runs['duckdb'][-1][1]:.0f} MB", flush=True)
        if args.load == "import":
            runs["spark"].append(timed([JICAI, "import", str(dataset)], spark_env))
        else:
            runs["spark"].append(timed([JICAI, "--data-dir", str(duck_dir), "warehouse", "copy", "--to", args.url,
                                        "--to-lake", str(lake)], env))
        print(f"Spark load ({args.load}): {runs['spark'][-1][0]:.1f} s, client peak RSS {runs['spark'][-1][1]:.0f} MB",
              flush=True)
    duck_import = (statistics.median(r[0] for r in runs["duckdb"]), max(r[1] for r in runs["duckdb"]))
    spark_import = (statistics.median(r[0] for r in runs["spark"]), max(r[1] for r in runs["spark"]))

    duck_wh = str(duck_dir / "jicai.duckdb")
    os.environ["JICAI_LAKE"] = str(lake)  # phase.py's Spark runs read the lake from the environment
    monitor = {"duckdb": _run_phase("monitor", Path(duck_wh), as_of, args.repeats)}
    monitor["spark"] = _run_phase("monitor", args.url, as_of, args.repeats)  # type: ignore[arg-type]
    med = {k: statistics.median(v["seconds"]) for k, v in monitor.items()}
    if monitor["duckdb"]["rows"] != monitor["spark"]["rows"]:
        raise SystemExit(f"the engines disagree: {monitor['duckdb']['rows']} vs {monitor['spark']['rows']} rows")

    jvms = jvm_rss()
    lake_mb = sum(f.stat().st_size for f in lake.rglob("*") if f.is_file()) / 2**20
    duck_mb = Path(duck_wh).stat().st_size / 2**20
    res = {
        "order_lines": n, "rows_imported": rows, "spark_load": args.load, "repeats": args.repeats, "url": args.url, "cores": args.cores,
        "import": {"duckdb": {"seconds": duck_import[0], "peak_rss_mb": duck_import[1],
                              "runs": [r[0] for r in runs["duckdb"]]},
                   "spark": {"seconds": spark_import[0], "client_peak_rss_mb": spark_import[1],
                             "runs": [r[0] for r in runs["spark"]]}},
        "import_repeats": len(runs["spark"]),
        "monitor": monitor, "monitor_median": med,
        "ratios": {"import": spark_import[0] / duck_import[0], "monitor": med["spark"] / med["duckdb"]},
        "order_lines_per_core_second": {"duckdb": n / med["duckdb"] / 2, "spark": n / med["spark"] / args.cores},
        "cluster_jvm_rss_mb": jvms, "storage_mb": {"duckdb": duck_mb, "lake": lake_mb},
    }
    print(f"\norder lines: {n:,}   rows imported: {rows:,}   repeats: import {len(runs['spark'])}, monitor "
          f"{args.repeats}   (medians)")
    print(f"Spark's lake filled by: {args.load}")
    print(f"{'':10}{'import s':>10}{'monitor s':>11}{'lines/core·s':>14}")
    for k, imp in (("duckdb", duck_import[0]), ("spark", spark_import[0])):
        print(f"{k:10}{imp:>10.1f}{med[k]:>11.2f}{res['order_lines_per_core_second'][k]:>14,.0f}")
    print(f"Spark / DuckDB: import {res['ratios']['import']:.2f} ×, monitor {res['ratios']['monitor']:.2f} ×")
    print(f"monitor peak RSS of the client: DuckDB {monitor['duckdb']['peak_rss_mb']:.0f} MB, "
          f"Spark {monitor['spark']['peak_rss_mb']:.0f} MB; cluster JVMs: {jvms}")
    print(f"storage: DuckDB file {duck_mb:,.0f} MB, lake {lake_mb:,.0f} MB (every version it keeps)")
    out = HERE / "results" / f"spark-{n}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(res, indent=2))
    print(f"written {out.relative_to(ROOT)}")


def monitor_only(args: argparse.Namespace, duck_dir: Path, lake: Path, as_of: date) -> None:
    """The monitoring's medians on both engines, over data loaded before; prints and writes spark-N-monitor.json."""
    os.environ["JICAI_LAKE"] = str(lake)
    monitor = {"duckdb": _run_phase("monitor", duck_dir / "jicai.duckdb", as_of, args.repeats)}
    monitor["spark"] = _run_phase("monitor", args.url, as_of, args.repeats)  # type: ignore[arg-type]
    scan = _run_phase("scan", duck_dir / "jicai.duckdb", as_of, args.repeats)
    med = {k: statistics.median(v["seconds"]) for k, v in monitor.items()}
    if monitor["duckdb"]["rows"] != monitor["spark"]["rows"]:
        raise SystemExit(f"the engines disagree: {monitor['duckdb']['rows']} vs {monitor['spark']['rows']} rows")
    res = {"order_lines": args.order_lines, "repeats": args.repeats, "url": args.url, "cores": args.cores,
           "monitor": monitor, "monitor_median": med, "scan_median": statistics.median(scan["seconds"]),
           "ratio": med["spark"] / med["duckdb"], "cluster_jvm_rss_mb": jvm_rss()}
    print(f"order lines: {args.order_lines:,}   repeats: {args.repeats}   (medians)")
    print(f"monitor: DuckDB {med['duckdb']:.2f} s {monitor['duckdb']['seconds']}, "
          f"Spark {med['spark']:.2f} s {monitor['spark']['seconds']}, Spark / DuckDB {res['ratio']:.2f} ×")
    print(f"bare DuckDB scan of the lines: {res['scan_median']:.2f} s; client peak RSS: DuckDB "
          f"{monitor['duckdb']['peak_rss_mb']:.0f} MB, Spark {monitor['spark']['peak_rss_mb']:.0f} MB")
    out = HERE / "results" / f"spark-{args.order_lines}-monitor.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(res, indent=2))
    print(f"written {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
