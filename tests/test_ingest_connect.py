"""``jicai import`` into a Spark Connect warehouse over a lake, each command a process of its own.

The same files are imported into DuckDB and into the Connect warehouse (``$JICAI_TEST_SPARK_URL``, else the
development server at sc://127.0.0.1:15002; the lake under ``$JICAI_TEST_SPARK_LAKE`` or pytest's tmp, which a
server on this machine reaches): the monitoring computed by another process must be the DuckDB one row by row,
a re-import must change nothing, a file with bad rows must quarantine the same problems, and a client killed
inside its import transaction must leave the previous manifest current.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from tests.conftest import kill_at_marker

from conftest import unavailable
from jicai.store import connect

pytestmark = [pytest.mark.spark, pytest.mark.slow]

URL = os.environ.get("JICAI_TEST_SPARK_URL", "").strip() or "sc://127.0.0.1:15002"
LAKE_ROOT = os.environ.get("JICAI_TEST_SPARK_LAKE", "").strip()
# what the monitoring reads (the other contract tables are created empty by the import)
FILES = ("regions", "institutions", "enterprises", "batches", "varieties", "products", "selected_products",
         "agreements", "orders", "deliveries", "payments", "supply_problems")
AS_OF = "2024-02-29"
CLI = [sys.executable, "-m", "jicai.cli"]


def _base_env() -> dict[str, str]:
    """This process's environment without a warehouse of its own; wide lines, so no message is wrapped."""
    env = {k: v for k, v in os.environ.items() if k not in ("JICAI_WAREHOUSE_URL", "JICAI_LAKE")}
    return {**env, "COLUMNS": "400"}


def _reachable() -> None:
    from jicai.store.spark_connect import split_url

    host, port, _ = split_url(URL)
    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError as exc:
        unavailable(f"Spark Connect not reachable at {URL}: {exc}")


def _run(env: dict[str, str], *args: str, timeout: float = 1800) -> subprocess.CompletedProcess:
    res = subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, f"jicai {' '.join(args)}: {res.returncode}\n{res.stdout}\n{res.stderr}"
    return res


class Places:
    """The two warehouses of this module: the environment of a command on each, and the lake."""

    def __init__(self, root: Path):
        self.root = root
        lake_root = Path(LAKE_ROOT) if LAKE_ROOT else root
        self.lake = str(lake_root / f"lake-{uuid.uuid4().hex[:8]}")
        base = _base_env()
        self.duck = {**base, "JICAI_DATA_DIR": str(root / "duck")}
        self.spark = {**base, "JICAI_DATA_DIR": str(root / "spark"), "JICAI_WAREHOUSE_URL": URL, "JICAI_LAKE": self.lake}

    def manifest(self):
        from jicai.store.lake import Lake

        return Lake(self.lake).current()


@pytest.fixture(scope="module")
def places(tmp_path_factory: pytest.TempPathFactory):
    """The demo province's monitoring files imported into both warehouses, one `jicai import` process each."""
    _reachable()
    root = tmp_path_factory.mktemp("connect-import")
    demo = root / "demo"
    _run({**_base_env(), "JICAI_DATA_DIR": str(root / "sim")}, "simulate", "-o", str(demo), "-n", "40", "-m", "2",
         "--format", "csv")
    files = root / "in"
    files.mkdir()
    for t in FILES:
        shutil.copy(demo / f"{t}.csv", files / f"{t}.csv")
    p = Places(root)
    _run(p.duck, "import", str(files))
    _run(p.spark, "import", str(files))
    yield p
    if not LAKE_ROOT:
        shutil.rmtree(p.lake, ignore_errors=True)


def _monitoring(env: dict[str, str], out: Path) -> list[dict]:
    _run(env, "monitor", "--as-of", AS_OF, "--format", "json", "--out", str(out))
    rows = json.loads(out.read_text(encoding="utf-8"))["rows"]
    return sorted(rows, key=lambda r: (r["institution_code"], r["batch_id"], r["variety_id"], r["cycle_year"]))


def _same(spark_row: dict, duck_row: dict) -> bool:
    if spark_row.keys() != duck_row.keys():
        return False
    # sums of doubles in another order differ in the last bits; everything else is exact
    return all(a == pytest.approx(b, rel=1e-9, abs=1e-9) if isinstance(b, float) else a == b
               for a, b in ((spark_row[k], duck_row[k]) for k in duck_row))


def test_import_in_one_process_monitor_in_another_gives_the_duckdb_rows(places: Places, tmp_path: Path):
    duck = _monitoring(places.duck, tmp_path / "duck.json")
    spark = _monitoring(places.spark, tmp_path / "spark.json")
    assert len(duck) > 100
    assert len(spark) == len(duck)
    differ = [(s, d) for s, d in zip(spark, duck, strict=True) if not _same(s, d)]
    assert not differ, differ[:3]
    # the import built the compact facts in Spark, in the same transactions: complete, not read from raw lines
    with connect(URL, "read", lake=places.lake) as wh:
        from jicai.ingest import facts

        assert facts.complete(wh)
        assert wh.table("_facts_ordered_month").count().execute() > 0


def test_the_facts_the_import_built_on_spark_are_the_duckdb_rows(places: Places):
    """Every compact fact, built by the cluster at import (two chains of facts side by side,
    ``SparkSink.fact_chains``), holds DuckDB's rows."""
    from jicai.ingest import facts
    from jicai.store.warehouse import default_url

    with connect(default_url(places.root / "duck"), "read") as duck, connect(URL, "read", lake=places.lake) as spark:
        for f in facts.FACTS:
            cols = duck.table(f.name).columns
            want = sorted(duck.table(f.name).to_pyarrow().to_pylist(), key=lambda r: [str(r[c]) for c in cols])
            got = sorted(spark.table(f.name).select(*cols).to_pyarrow().to_pylist(),
                         key=lambda r: [str(r[c]) for c in cols])
            assert len(want) > 0 and len(got) == len(want), f.name
            differ = [(g, w) for g, w in zip(got, want, strict=True) if not _same(g, w)]
            assert not differ, (f.name, differ[:3])


def test_the_same_file_again_changes_nothing(places: Places, tmp_path: Path):
    before = places.manifest()
    res = _run(places.spark, "import", str(places.root / "in" / "regions.csv"))
    assert "unchanged" in res.stdout
    assert places.manifest() == before  # not even a new manifest


def _supply_problems(root: Path, name: str, changes: list[dict[str, str]]) -> Path:
    """A supply-problem file of rows made from the demo's first one, each with ``changes``."""
    with (root / "in" / "supply_problems.csv").open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        first = next(reader)
        cols = reader.fieldnames
    path = root / name
    path.parent.mkdir(exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        w.writerows(first | c for c in changes)
    return path


def _bad_supply_problems(root: Path) -> Path:
    """A good row, an unknown institution, a bad date, a bad problem kind and a repeated key."""
    return _supply_problems(root, "bad/supply_problems_bad.csv", [
        {"report_id": "SPX-1"}, {"report_id": "SPX-2", "institution_code": "H99999999999"},
        {"report_id": "SPX-3", "reported_at": "2024-13-45"}, {"report_id": "SPX-4", "problem": "nonsense"},
        {"report_id": "SPX-1"}])


def _quarantine(env: dict[str, str]) -> list[tuple]:
    res = _run(env, "quarantine", "--table", "supply_problems", "--format", "json")
    rows = json.loads(res.stdout)
    return sorted((r["row"], r["column"], r["value"], r["reason_zh"], r["reason_en"]) for r in rows)


def test_bad_rows_are_quarantined_with_the_duckdb_problems(places: Places):
    bad = _bad_supply_problems(places.root)
    for env in (places.duck, places.spark):
        _run(env, "import", str(bad))
    duck, spark = _quarantine(places.duck), _quarantine(places.spark)
    assert len(duck) >= 4, duck
    assert spark == duck
    with connect(URL, "read", lake=places.lake) as wh:
        log = wh.table("_load_log").to_pyarrow().to_pylist()
        got = [r for r in log if r["file"].endswith("supply_problems_bad.csv")]
        assert [(r["status"], r["rows_read"], r["rows_loaded"], r["rows_quarantined"]) for r in got] == [("ok", 5, 1, 4)]
        ids = {r["report_id"] for r in wh.table("supply_problems").to_pyarrow().to_pylist()}
        assert "SPX-1" in ids and not {"SPX-2", "SPX-3", "SPX-4"} & ids


def test_a_client_killed_mid_import_leaves_the_previous_manifest(places: Places):
    late = _supply_problems(places.root, "late/supply_problems_late.csv", [{"report_id": "LATE-0"},
                                                                             {"report_id": "LATE-1"}])
    before = places.manifest()
    env = {**places.spark, "JICAI_TEST_PAUSE_IN_TRANSACTION": "300"}
    proc = subprocess.Popen([*CLI, "import", str(late)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    kill_at_marker(proc, "JICAI_PAUSED_IN_TRANSACTION", 900)  # printed after every write, before the commit
    assert proc.returncode == -signal.SIGKILL
    after = places.manifest()
    # one commit only, the "started" row of _load_log written before the file was read; every other table
    # is at the version it was, and no table appeared or went
    assert after.version == before.version + 1
    assert set(after.tables) == set(before.tables)
    assert {t: u for t, u in after.tables.items() if t != "_load_log"} == \
        {t: u for t, u in before.tables.items() if t != "_load_log"}
    with connect(URL, "read", lake=places.lake) as wh:
        ids = {r["report_id"] for r in wh.table("supply_problems").to_pyarrow().to_pylist()}
        assert not {"LATE-0", "LATE-1"} & ids
        assert [r["status"] for r in wh.table("_load_log").to_pyarrow().to_pylist()
                if r["file"].endswith("supply_problems_late.csv")] == ["started"]
    res = _run(places.spark, "import", str(late))
    assert "被中断" in res.stderr and "was interrupted" in res.stderr  # the notes go to stderr
    with connect(URL, "read", lake=places.lake) as wh:
        ids = {r["report_id"] for r in wh.table("supply_problems").to_pyarrow().to_pylist()}
        assert {"LATE-0", "LATE-1"} <= ids
        assert sorted(r["status"] for r in wh.table("_load_log").to_pyarrow().to_pylist()
                      if r["file"].endswith("supply_problems_late.csv")) == ["interrupted", "ok"]


def test_a_spark_error_mid_import_is_a_message_without_traceback(places: Places, tmp_path: Path):
    # a lake whose regions version folder was deleted behind jicai's back: Spark cannot read it
    from jicai.store.lake import Lake

    env = {**places.spark, "JICAI_LAKE": str(tmp_path / "lake"), "JICAI_DATA_DIR": str(tmp_path / "data")}
    _run(env, "import", str(places.root / "in" / "regions.csv"))
    lake = Lake(env["JICAI_LAKE"])
    shutil.rmtree(lake.current().tables["regions"].removeprefix("file://"))
    res = subprocess.run([*CLI, "import", str(places.root / "in" / "institutions.csv")], env=env,
                         capture_output=True, text=True, timeout=900)
    assert res.returncode != 0
    assert "数据仓库出错" in res.stderr and "the warehouse failed" in res.stderr
    assert "Traceback" not in res.stderr + res.stdout
