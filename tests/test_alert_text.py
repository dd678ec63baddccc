"""The figures of the alert sentences (jicai.analytics.alert_text) and the alerts' stable key, on DuckDB
(the scenario folder tests/scenarios/alerts runs the sentences on every engine)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import ibis
import pytest
from tests.scenarios.runner import load

from jicai.analytics.alert_text import grouped, points, stake_text, up, yuan_text
from jicai.analytics.alerts import AlertError, alerts
from jicai.contract.arrow import from_pylist
from jicai.store import connect

HERE = Path(__file__).parent


def value(expr):
    return ibis.duckdb.connect().execute(expr)


@pytest.mark.parametrize(("n", "text"), [(0, "0"), (999, "999"), (1000, "1,000"), (1005, "1,005"), (12400, "12,400"),
                                         (1_000_000, "1,000,000"), (1_234_567_890, "1,234,567,890")])
def test_grouped(n, text):
    assert value(grouped(ibis.literal(n))) == text


@pytest.mark.parametrize(("x", "text"), [(0.01, "¥0.01"), (0.5, "¥0.50"), (0.995, "¥1"), (1.4, "¥1"),
                                         (48210.4, "¥48,210"), (1234.5, "¥1,235")])
def test_yuan_text(x, text):
    assert value(yuan_text(ibis.literal(x))) == text


@pytest.mark.parametrize(("x", "text"), [(0.01, "¥0.01"), (9999.4, "¥9,999"), (9999.5, "¥1.00 万"), (17890.0, "¥1.79 万"),
                                         (32000.0, "¥3.20 万"), (123_456_789.0, "¥12,345.68 万")])
def test_stake_text(x, text):
    assert value(stake_text(ibis.literal(x))) == text


@pytest.mark.parametrize(("x", "text"), [(70.0, "70"), (100.0, "100"), (62.5, "62.5"), (0.0, "0")])
def test_points(x, text):
    assert value(points(ibis.literal(x))) == text


@pytest.mark.parametrize(("x", "n"), [(12400.0000001, 12400), (330.6, 331), (1.0, 1)])
def test_up(x, n):
    assert value(up(ibis.literal(x))) == n


@pytest.fixture
def wh():
    s = load(HERE / "scenarios" / "alerts" / "02_payment_overdue_amount_and_days.toml")
    w = connect("duckdb://")
    for name, rows in s.rows.items():
        w.write_table(name, from_pylist(name, rows), overwrite=True)
    yield w
    w.close()


def test_the_key_is_the_same_on_every_rerun_of_the_month(wh):
    def keys(day: date) -> list[str]:
        return sorted(r["alert_key"] for r in alerts(wh, day, kinds=["payment_overdue"]).to_pyarrow().to_pylist())

    assert keys(date(2024, 4, 17)) == keys(date(2024, 4, 17)) == ["payment_overdue:2024-04:H1:D1:-",
                                                                  "payment_overdue:2024-04:H2:D1:-",
                                                                  "payment_overdue:2024-04:H3:D2:-"]
    assert keys(date(2024, 4, 30)) == keys(date(2024, 4, 17))  # later in the month: the same alerts
    assert keys(date(2024, 5, 2))[0].startswith("payment_overdue:2024-05:")  # next month: new ones


def test_an_unknown_kind_is_a_bilingual_error(wh):
    with pytest.raises(AlertError, match="unknown alert kinds"):
        alerts(wh, date(2024, 4, 17), kinds=["everything"])


def warehouse_of(name: str):
    s = load(HERE / "scenarios" / "alerts" / name)
    w = connect("duckdb://")
    for table, rows in s.rows.items():
        w.write_table(table, from_pylist(table, rows), overwrite=True)
    return w, s


@pytest.mark.parametrize(("name", "kind", "days", "expected"), [
    ("07_supply_risk_at_the_threshold.toml", "supply_risk_high", (date(2024, 6, 30), date(2024, 6, 29)),
     ["supply_risk_high:2024-06:350500:E1:P1"]),  # city : winning enterprise : product
    ("05_change_deteriorating_still_in_alarm.toml", "change_deteriorating", (date(2025, 2, 28), date(2025, 2, 27)),
     ["change_deteriorating:2025-02:H1:completion_percentile:2025-01",  # institution : series : change start
      "change_deteriorating:2025-02:H2:nonselected_share:2025-01"]),
])
def test_the_new_kinds_keys_are_stable_within_the_month(name, kind, days, expected):
    w, s = warehouse_of(name)
    try:
        for day in days:
            rows = alerts(w, day, s.policy, kinds=kind).to_pyarrow().to_pylist()
            assert sorted(r["alert_key"] for r in rows) == expected
    finally:
        w.close()
