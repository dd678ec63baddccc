"""The monitoring gives the same results on DuckDB, PostgreSQL and PySpark.

Scenarios: every file of tests/scenarios/monitor, loaded once per engine — each scenario's ids are
prefixed with its number (``s7:H1``), so one warehouse holds all of them and one query per (as-of,
policy, batch) serves every scenario that shares them (Spark is slow per query).
Random data: a small seeded dataset, each engine against DuckDB, rows sorted, floats within 1e-9
relative; the roll-ups too.
"""

from __future__ import annotations

import pandas as pd
import pytest
from tests.reference.random_data import AS_OFS, random_tables
from tests.scenarios.runner import combined_tables, run_combined_and_check, scenario_files
from tests.scenarios.runner import load as load_scenario
from tests.test_monitor_reference import assert_frames_equal

from jicai.measures.monitor import monitor, rollup
from jicai.policy import load_policy

ENGINES = ("duckdb", "postgres", "pyspark")


def load(engine_warehouse, engine: str, tables: dict):
    """A warehouse on ``engine`` holding ``tables``.

    On PySpark the tables become temporary views: managed tables leave directories under
    ./spark-warehouse that make the next Spark session fail with LOCATION_ALREADY_EXISTS.
    """
    if engine != "pyspark":
        return engine_warehouse(engine, tables)
    wh = engine_warehouse(engine, {})
    for name, data in tables.items():  # straight from Arrow: a pandas round trip turns null strings into "NaN"
        wh.con._session.createDataFrame(data).createOrReplaceTempView(name)
    return wh


@pytest.mark.parametrize("engine", ENGINES)
def test_scenarios_on_engine(engine, engine_warehouse):
    scenarios = [load_scenario(p) for p in scenario_files("monitor")]
    wh = load(engine_warehouse, engine, combined_tables(scenarios))
    failures = run_combined_and_check(scenarios, wh)
    assert not failures, "\n".join(failures)


@pytest.fixture(scope="module")
def small_random():
    return random_tables(seed=7, order_lines=300)


@pytest.mark.parametrize("engine", ENGINES)
def test_random_data_same_on_every_engine(engine, engine_warehouse, small_random):
    duck = engine_warehouse("duckdb", small_random)
    wh = duck if engine == "duckdb" else load(engine_warehouse, engine, small_random)
    variants = [load_policy(), load_policy().with_values(volume_basis="ordered", special_treatment="none")]
    for as_of, policy in [(AS_OFS[1], variants[0]), (AS_OFS[3], variants[0]), (AS_OFS[2], variants[1])]:
        exp = monitor(duck, as_of, policy=policy)
        got = monitor(wh, as_of, policy=policy)
        assert_frames_equal(got.to_pandas(), exp.to_pandas())
        if as_of == AS_OFS[1]:
            for by in ("institution", "region", "batch"):
                keys = {"institution": ["institution_code"], "region": ["city_code"], "batch": ["batch_id"]}[by]
                g = rollup(got, by).to_pandas().sort_values(keys).reset_index(drop=True)
                e = rollup(exp, by).to_pandas().sort_values(keys).reset_index(drop=True)
                assert list(g.columns) == list(e.columns)
                pd.testing.assert_frame_equal(g, e, check_dtype=False, rtol=1e-9)
