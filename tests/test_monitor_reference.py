"""The Ibis monitoring on DuckDB equals the independent pandas reference on seeded random data."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from tests.reference.monitor_pandas import monitor_reference
from tests.reference.random_data import AS_OFS, random_tables

from jicai.ingest import facts
from jicai.measures.monitor import monitor
from jicai.policy import load_policy

SORT = ["institution_code", "batch_id", "variety_id", "cycle_year"]


def assert_frames_equal(got: pd.DataFrame, exp: pd.DataFrame, rel: float = 1e-9) -> None:
    """Same rows (sorted by key) and values; floats within ``rel`` relative tolerance, nulls equal."""
    assert sorted(got.columns) == sorted(exp.columns)
    got = got.sort_values(SORT).reset_index(drop=True)
    exp = exp.sort_values(SORT).reset_index(drop=True)[list(got.columns)]
    assert len(got) == len(exp)
    for col in got.columns:
        for i, (a, b) in enumerate(zip(got[col], exp[col], strict=True)):
            na, nb = pd.isna(a), pd.isna(b)
            if na or nb:
                assert na and nb, f"{col} row {i}: {a!r} vs {b!r}"
            elif isinstance(b, float) or isinstance(a, float):
                assert math.isclose(float(a), float(b), rel_tol=rel, abs_tol=1e-9), f"{col} row {i}: {a!r} vs {b!r}"
            elif isinstance(b, pd.Timestamp) or hasattr(b, "year"):
                assert pd.Timestamp(a) == pd.Timestamp(b), f"{col} row {i}"
            else:
                assert a == b, f"{col} row {i}: {a!r} vs {b!r}"


@pytest.fixture(scope="module")
def dataset():
    return random_tables(seed=20240601, order_lines=800)


def test_random_data_has_every_edge(dataset):
    o = dataset["orders"].to_pandas()
    d = dataset["deliveries"].to_pandas()
    assert len(o) >= 500
    assert d.accepted_at.isna().any() and (d.accepted_quantity < o.set_index("order_line_id").loc[d.order_line_id, "quantity"].values).any()
    sp = dataset["supply_problems"].to_pandas()
    assert (~sp.verified).any() and sp.end_date.isna().any() and sp.start_date.isna().any()


@pytest.mark.parametrize("source", ["lines", "facts"])
@pytest.mark.parametrize("as_of", AS_OFS, ids=str)
@pytest.mark.parametrize("variant", ["default", "ordered", "policy"])
def test_ibis_equals_pandas_reference(dataset, engine_warehouse, as_of, variant, source):
    """From the raw lines and from the compact facts kept at import (jicai.ingest.facts), the same rows."""
    policy = load_policy()
    if variant == "ordered":
        policy = policy.with_values(volume_basis="ordered", payment_due="end_of_month")
    elif variant == "policy":
        policy = policy.with_values(backup_substitution=False, supply_problem_exclusion=False,
                                    special_treatment="none", nonselected_share_max=0.3, onboarding_from_month=5)
    wh = engine_warehouse("duckdb", dataset)
    if source == "facts":
        facts.rebuild(wh)
        assert facts.complete(wh)
    got = monitor(wh, as_of, policy=policy, source=source).to_pandas()
    exp = monitor_reference({k: v.to_pandas() for k, v in dataset.items()}, as_of, policy=policy)
    assert len(got) > 20
    assert_frames_equal(got, exp)
    # the dataset exercises the interesting cases
    if variant == "default" and as_of == date_mid():
        assert set(got.status) == {"zero", "behind", "over", "normal"}
        assert got.backup_volume.gt(0).any() and got.nonselected_excess.any()
        assert (got.nonselected_counted_volume < got.nonselected_volume).any()


def date_mid():
    return AS_OFS[1]


def test_batch_filter_matches_reference(dataset, engine_warehouse):
    wh = engine_warehouse("duckdb", dataset)
    as_of = AS_OFS[2]
    got = monitor(wh, as_of, batch_id="B2").to_pandas()
    exp = monitor_reference({k: v.to_pandas() for k, v in dataset.items()}, as_of, batch_id="B2")
    assert set(got.batch_id) == {"B2"}
    assert_frames_equal(got, exp)
