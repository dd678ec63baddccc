"""The monitoring gives the same results on DuckDB, PostgreSQL and PySpark on random data (the
hand-computed scenarios run on every engine in test_scenarios.py).

A small seeded dataset, each engine against DuckDB, rows sorted, floats within 1e-9 relative; the roll-ups
too.
"""

from __future__ import annotations

import pandas as pd
import pytest
from tests.conftest import ENGINES
from tests.reference.random_data import AS_OFS, random_tables
from tests.test_monitor_reference import assert_frames_equal

from jicai.measures.monitor import monitor, rollup
from jicai.policy import load_policy


@pytest.fixture(scope="module")
def small_random():
    return random_tables(seed=7, order_lines=300)


@pytest.mark.parametrize("engine", ENGINES)
def test_random_data_same_on_every_engine(engine, engine_warehouse, small_random):
    duck = engine_warehouse("duckdb", small_random)
    wh = duck if engine == "duckdb" else engine_warehouse(engine, small_random)
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
