"""The supply risk score finds the simulator's planted shortage a month before anyone reports it, and flags little
else (issue 16 item 7). The province is the demo's (300 institutions, 12 months, seed 2024); the score reads only
the warehouse, the manifest grades it (tests/helpers_risk.py). The figures are in docs/supply.md."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest
from tests.helpers_risk import evaluate

from jicai.analytics.supply_risk import INPUT_TABLES
from jicai.simulate import simulate
from jicai.store import connect

pytestmark = pytest.mark.slow  # about 25 s: 25 as-of dates over a simulated province


@pytest.fixture(scope="module")
def evaluation(tmp_path_factory):
    out = tmp_path_factory.mktemp("risk-sim")
    m = simulate(out, institutions=300, months=12, seed=2024, chunk_rows=50_000)
    wh = connect("duckdb://")
    for name in INPUT_TABLES:  # what a bureau has: the tables, never the manifest
        wh.write_table(name, pq.read_table(out / f"{name}.parquet"))
    yield evaluate(wh, m)
    wh.close()


def test_the_planted_shortage_is_flagged_a_month_before_it_is_reported(evaluation):
    ev = evaluation
    assert ev.flagged_month_before and all(ev.flagged_month_before.values()), (ev.report, ev.lead_days)
    assert min(ev.lead_days.values()) >= 31, ev.lead_days


def test_few_false_positives_at_the_month_ends(evaluation):
    ev = evaluation
    assert ev.alerts > 0
    assert len(ev.false_positives) <= 0.2 * ev.alerts, ev.false_positives
