"""One timed phase of the benchmark, run in its own process so its peak memory is its own.

Phases: scan (bare DuckDB group-by of the raw lines), monitor (from the compact facts), monitor-lines (from
the raw lines), pandas (the independent reference), assess, supply, budget.

Usage: python benchmarks/phase.py PHASE WAREHOUSE AS_OF REPEATS
WAREHOUSE is a DuckDB file's path, or a warehouse URL (``sc://host:port`` with ``$JICAI_LAKE``, benchmarks/spark.py):
the measures' phases run on any engine, scan and pandas read a DuckDB file.
Prints one JSON line: {"phase", "seconds": [...], "rows", "peak_rss_mb"}.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.reference (the independent pandas reference)

# Tables the monitoring reads; the pandas reference gets them as DataFrames.
MONITOR_INPUTS = ("batches", "varieties", "products", "selected_products", "agreements", "institutions",
                  "orders", "deliveries", "payments", "supply_problems")


def _url(wh_path: str) -> str:
    return wh_path if "://" in wh_path else f"duckdb:///{wh_path}"


def _rows_of(wh_path: str, compute) -> int:
    """Open the warehouse to read (as the CLI and the server do), materialise ``compute(wh)``, close."""
    from jicai.store import connect

    wh = connect(_url(wh_path), "read")
    try:
        return compute(wh).to_pyarrow().num_rows
    finally:
        wh.close()


def _monitor(wh_path: str, as_of: date, source: str = "auto") -> int:
    """The monitoring: from the compact facts (``auto``), or from the raw order lines (``lines``, the reference
    path the facts replace)."""
    from jicai.measures.monitor import monitor

    return _rows_of(wh_path, lambda wh: monitor(wh, as_of, source=source))


def _monitor_mid(wh_path: str, as_of: date) -> int:
    """The monitoring as of the middle of a month (the 15th, six months before): the facts of that month are
    read by day, the others by month."""
    return _monitor(wh_path, date(as_of.year, max(1, as_of.month - 6), 15))


def _assess(wh_path: str, as_of: date) -> int:
    """The year-end assessment of every batch's cycle year containing ``as_of`` (one query per batch)."""
    from jicai.assess.assessment import assess
    from jicai.measures.cycles import cycle_calendar
    from jicai.store import connect

    wh = connect(_url(wh_path), "read")
    try:
        years = cycle_calendar(wh.table("batches"), as_of).select("batch_id", "cycle_year").to_pyarrow().to_pylist()
        return sum(assess(wh, y["batch_id"], y["cycle_year"], as_of=as_of).to_pyarrow().num_rows for y in years)
    finally:
        wh.close()


def _supply(wh_path: str, as_of: date) -> int:
    """The supply scorecard of the as-of month."""
    from jicai.measures.supply import supply_scorecard

    return _rows_of(wh_path, lambda wh: supply_scorecard(wh, as_of.replace(day=1)))


def _budget(wh_path: str, as_of: date) -> int:
    from jicai.fund.budget import budget_progress

    return _rows_of(wh_path, lambda wh: budget_progress(wh, as_of))


def _bare_scan(wh_path: str, as_of: date) -> int:
    """What any engine must at least do: one group-by pass over the order lines joined to their deliveries."""
    import duckdb

    con = duckdb.connect(wh_path, read_only=True)
    rows = con.execute(
        """SELECT o.institution_code, o.product_code, sum(d.accepted_quantity), sum(o.quantity * o.pack_price), count(*)
           FROM orders o JOIN deliveries d USING (order_line_id)
           WHERE d.accepted_at < ? + INTERVAL 1 DAY GROUP BY 1, 2""",
        [as_of],
    ).fetchall()
    con.close()
    return len(rows)


def _load_frames(wh_path: str) -> dict:
    import duckdb

    con = duckdb.connect(wh_path, read_only=True)
    frames = {t: con.table(t).df() for t in MONITOR_INPUTS}
    con.close()
    return frames


PHASES = {"monitor-mid": _monitor_mid, "monitor-lines": lambda path, day: _monitor(path, day, "lines"),
          "assess": _assess, "supply": _supply, "budget": _budget}


def main() -> None:
    phase, wh_path, as_of_s, repeats = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    as_of = date.fromisoformat(as_of_s)
    seconds: list[float] = []
    rows = 0
    if phase == "pandas":
        from tests.reference.monitor_pandas import monitor_reference

        frames = _load_frames(wh_path)  # loading is not timed: the reference is timed on data in memory
        run = lambda: len(monitor_reference(frames, as_of))  # noqa: E731
    elif phase == "monitor":
        run = lambda: _monitor(wh_path, as_of)  # noqa: E731
    elif phase == "scan":
        run = lambda: _bare_scan(wh_path, as_of)  # noqa: E731
    elif phase in PHASES:
        run = lambda: PHASES[phase](wh_path, as_of)  # noqa: E731
    else:
        raise SystemExit(f"unknown phase {phase}")
    for _ in range(repeats):
        t0 = time.perf_counter()
        rows = run()
        seconds.append(time.perf_counter() - t0)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"phase": phase, "seconds": seconds, "rows": rows, "peak_rss_mb": round(peak_mb, 1)}))


if __name__ == "__main__":
    main()
