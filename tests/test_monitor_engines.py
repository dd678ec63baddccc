"""The monitoring gives the same results on DuckDB, PostgreSQL and PySpark.

Scenarios: every hand-computed scenario of test_monitor_scenarios, loaded once per engine — each
scenario's ids are prefixed with its number (``s7:H1``), so one warehouse holds all of them and one
query per (as-of, policy, batch) serves every scenario that shares them (Spark is slow per query).
Random data: a small seeded dataset, each engine against DuckDB, rows sorted, floats within 1e-9
relative; the roll-ups too.
"""

from __future__ import annotations

import pandas as pd
import pytest
from tests.reference.random_data import AS_OFS, random_tables
from tests.test_monitor_reference import assert_frames_equal
from tests.test_monitor_scenarios import SCENARIOS, build, check, policy_of

from jicai.measures.monitor import monitor, rollup
from jicai.policy import load_policy

ENGINES = ("duckdb", "postgres", "pyspark")
ID_COLUMNS = ("institution_code", "batch_id", "variety_id", "product_code", "order_line_id", "order_id",
              "payment_id", "report_id")


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


def _prefix(i: int) -> str:
    return f"s{i}:"


def combined_tables() -> dict:
    from jicai.contract.arrow import from_pylist

    merged: dict[str, list[dict]] = {}
    for i, s in enumerate(SCENARIOS):
        for name, rows in build(s).items():
            merged.setdefault(name, []).extend(
                {k: (_prefix(i) + v if k in ID_COLUMNS and isinstance(v, str) else v) for k, v in row.items()}
                for row in rows
            )
    return {name: from_pylist(name, rows) for name, rows in merged.items()}


def _groups() -> dict[tuple, list[int]]:
    g: dict[tuple, list[int]] = {}
    for i, s in enumerate(SCENARIOS):
        key = (s["as_of"], tuple(sorted(s.get("policy", {}).items())),
               _prefix(i) + s["batch"] if s.get("batch") else None)
        g.setdefault(key, []).append(i)
    return g


@pytest.mark.parametrize("engine", ENGINES)
def test_scenarios_on_engine(engine, engine_warehouse):
    wh = load(engine_warehouse, engine, combined_tables())
    failures = []
    for (as_of, _policy, batch), members in _groups().items():
        df = monitor(wh, as_of, batch, policy_of(SCENARIOS[members[0]])).to_pandas()
        for i in members:
            p = _prefix(i)
            part = df[df.institution_code.str.startswith(p)].copy()
            for c in ("institution_code", "batch_id", "variety_id"):
                part[c] = part[c].str.removeprefix(p)
            try:
                check(part, SCENARIOS[i])
            except AssertionError as exc:
                failures.append(f"{SCENARIOS[i]['name']}: {exc}")
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
