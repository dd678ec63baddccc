"""Every hand-computed scenario (tests/scenarios/<folder>/*.toml) on every engine.

Each scenario file is one test on DuckDB. On each engine (DuckDB too, which checks the combining itself) a
folder's scenarios share one warehouse — their ids prefixed ``s<i>:`` — so one query per
(measure, arguments, policy) serves all that share them: Spark pays seconds per query and per table. A
folder's ``_combine.toml`` and a scenario's ``[combine]`` say how they share it (tests/scenarios/README.md).
A new folder of scenarios is picked up here without any change to this file.
"""

from __future__ import annotations

import pytest
from tests.conftest import ENGINES
from tests.scenarios.runner import combinations, folders, load, run_and_check, scenario_files

from jicai.ingest import facts

FILES = [p for folder in folders() for p in scenario_files(folder)]
# the folders whose measures read the compact facts when the warehouse keeps them (jicai.ingest.facts):
# their scenarios run a second time with the facts built, and must give the same hand-computed rows
FACT_FOLDERS = ("monitor", "assess", "prepayment", "onboarding", "supply", "supply_alerts")


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_scenario(path, engine_warehouse):
    s = load(path)
    run_and_check(s, engine_warehouse("duckdb", s.tables))


# From the facts, a folder's scenarios share one warehouse on every engine (DuckDB included, in the fast tier):
# a test per file from the facts as well checked the same rows again, one warehouse each: 340 s of the suite.
@pytest.mark.parametrize("folder", FACT_FOLDERS)
@pytest.mark.parametrize("engine", [pytest.param(e, marks=pytest.mark.slow) if e == "pyspark" else e for e in ENGINES])
def test_folder_from_facts_on_engine(engine, folder, engine_warehouse):
    failures = []
    for combination in combinations(folder):
        wh = engine_warehouse(engine, combination.tables())
        facts.rebuild(wh)
        failures += combination.check(wh)
    assert not failures, "\n".join(failures)


def _on_engine(engine: str, folder: str):
    """A folder on an engine; on DuckDB this checks the combining itself (each file already ran above): the
    slow tier's."""
    return pytest.param(engine, folder, marks=[pytest.mark.slow] if engine == "duckdb" else [], id=f"{engine}-{folder}")


# Spark runs the folders of FACT_FOLDERS from their facts only (test_folder_from_facts_on_engine): a Spark
# warehouse is filled by the importer, which always builds them, so that is the path a Spark bureau takes. The
# raw-line forms of those measures run here on DuckDB and PostgreSQL, and on Spark on random data in
# test_monitor_engines (monitoring) and test_money (assessment, retention, prepayment) — the supply and
# onboarding measures' raw-line forms are not run on Spark at all. Each of those six folders from raw lines on
# Spark cost CI one to one and a half minutes.
@pytest.mark.parametrize(("engine", "folder"), [_on_engine(e, f) for f in folders() for e in ENGINES
                                                if not (e == "pyspark" and f in FACT_FOLDERS)])
def test_folder_on_engine(engine, folder, engine_warehouse):
    failures = []
    for combination in combinations(folder):
        wh = engine_warehouse(engine, combination.tables())
        failures += combination.check(wh)
    assert not failures, "\n".join(failures)


def test_every_folder_is_found():
    """The discovery finds the folders of the rules (a typo in a glob would silently run nothing)."""
    assert {"monitor", "assess", "prepayment", "capitation", "supply_continuity"} <= set(folders())
    assert "worlds" not in folders()
    assert not [p for p in FILES if p.name.startswith("_")]  # _combine.toml holds settings, not a scenario
