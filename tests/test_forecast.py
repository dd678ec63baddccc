"""The 报量 assistant beyond its scenarios (tests/scenarios/volume_forecast, every engine): the rules' fallbacks
when statsmodels cannot fit, the bound on the history, the floor's rounding, the reason a page shows, and the
generated command. Pure Python here, one DuckDB warehouse for the command."""

from __future__ import annotations

from datetime import date

import pytest
from tests.scenarios.runner import combined_tables, folder_settings, load, scenario_files
from typer.testing import CliRunner

from jicai.analytics import forecast_fit
from jicai.analytics.forecast import history_bounds
from jicai.analytics.forecast_fit import MAX_MONTHS, floor_volume, forecast_path, round_volume

PATTERN = [120.0, 100.0, 90.0, 80.0, 70.0, 60.0, 60.0, 70.0, 80.0, 90.0, 100.0, 120.0]


def test_each_rule_by_the_length_of_the_history():
    assert forecast_path([], 12).method == "no_history"
    assert forecast_path([10.0] * 5, 12).method == "run_rate"
    assert forecast_path([10.0] * 11, 12).method == "run_rate"
    assert forecast_path(PATTERN, 12).method == "last_year"
    assert forecast_path(PATTERN * 2, 12).method == "seasonal"


def test_a_purely_seasonal_series_continues_month_by_month():
    # two years of the same months, history ending in December: the next 14 months are January … February
    path = forecast_path(PATTERN * 2, 14)
    assert [round(x, 6) for x in path.months] == PATTERN + PATTERN[:2]
    # one year from October to September: the months ahead are October, November, December again
    rotated = PATTERN[9:] + PATTERN[:9]
    assert forecast_path(rotated, 3).months == PATTERN[9:] and forecast_path(rotated, 3).method == "last_year"


def test_an_additive_season_never_forecasts_below_zero():
    # a small user: 0 most months, 30 in January — the additive season dips below a low level elsewhere
    y = [30.0] + [0.0] * 11
    path = forecast_path(y * 3, 12)
    assert path.method == "seasonal" and min(path.months) >= 0.0


def test_when_statsmodels_cannot_fit_the_next_simpler_rule_runs_and_is_named(monkeypatch):
    monkeypatch.setattr(forecast_fit, "_fitted", lambda y, h: None)
    assert forecast_path(PATTERN * 2, 12).method == "last_year"
    assert forecast_path(PATTERN * 2, 12).months == PATTERN


def test_statsmodels_that_raises_is_caught(monkeypatch):
    import statsmodels.tsa.holtwinters as hw

    class Broken:
        def __init__(self, *a, **k):
            raise ValueError("cannot fit")

    monkeypatch.setattr(hw, "ExponentialSmoothing", Broken)
    assert forecast_path(PATTERN * 2, 12).method == "last_year"


def test_only_the_last_max_months_are_fitted():
    # 40 months at 5 then the last 60 of the pattern: the rule only sees the pattern, so it forecasts it exactly
    y = [5.0] * 40 + PATTERN * (MAX_MONTHS // 12)
    assert [round(x, 6) for x in forecast_path(y, 12).months] == PATTERN
    first, end = history_bounds(date(2026, 1, 1), date(2025, 12, 31))
    assert (end.year - first.year) * 12 + end.month - first.month == MAX_MONTHS


def test_rounding_of_the_forecast_and_the_floor():
    assert round_volume(1199.5) == 1200.0 and round_volume(1199.4999) == 1199.0
    assert floor_volume(0.8, 1250.0) == 1000.0  # 0.8 × 1,250 is 1,000, not 1,000.0000000000001 → 1,001
    assert floor_volume(0.8, 1200.0) == 960.0
    assert floor_volume(0.8, 2693.3333333333335) == 2155.0  # 2,154.67 → the next whole unit
    assert floor_volume(0.8, 0.0) == 0.0


def test_the_reason_names_the_floor_its_basis_and_what_to_add():
    from jicai.policy import load_policy
    from jicai.web.reasons import reason

    row = {"flags": "below_floor;below_forecast", "reported_volume": 959.0, "floor_volume": 960.0,
           "prior_annual_use": 1200.0, "recommended_volume": 1200.0, "report_gap": 241.0, "forecast_volume": 1200.0,
           "ratio": 959 / 1200}
    text = reason("volume-forecast", row, load_policy(), "片")
    assert text.startswith("报量 959 片 < 报量下限 960 片(近 2 年年均使用量 1,200 片 × 80.0%),建议报量 1,200 片,"
                           "需补报 241 片 或书面说明理由(依据:第十一批国采报量通知(2025-08))")
    assert "报量 959 片 为预测用量 1,200 片 的 79.9%,低于 1 − 20.0%(依据:泉州市医保局通知(2024-05-30) 一)" in text


@pytest.fixture
def scenario_warehouse():
    from jicai.settings import Settings

    # the scenarios computed as of 2024-12-31 (01–04 and 08: s0–s4 here); the others stop their history earlier
    files = [f for f in scenario_files("volume_forecast") if f.name[:2] in ("01", "02", "03", "04", "08")]
    wh = Settings.resolve().warehouse()
    for name, t in combined_tables([load(f) for f in files], tuple(folder_settings("volume_forecast")["prefixed"])).items():
        wh.write_table(name, t)
    wh.close()
    return files


def test_the_generated_command_writes_the_rows_and_counts_the_flags(scenario_warehouse, tmp_path):
    import json

    from jicai.cli import app

    out = tmp_path / "f.json"
    res = CliRunner().invoke(app, ["volume-forecast", "--batch", "B1", "--year", "2", "--as-of", "2024-12-31",
                                   "--format", "json", "--out", str(out)])
    assert res.exit_code == 0, res.output
    # as of 2024-12-31: scenario 01's H2 (both flags), 03's H2 and 08's H18 (below the floor)
    assert "报量低于下限 below_floor: 3" in res.output and "报量远低于预测 below_forecast: 1" in res.output
    rows = {r["institution_code"]: r for r in json.loads(out.read_text(encoding="utf-8"))["rows"]}
    assert rows["s0:H2"]["flags_zh"] == "报量低于下限;报量远低于预测" and rows["s0:H"]["forecast_volume"] == 1200.0
    assert rows["s4:H18"]["basis"] == "by_floor" and rows["s4:H18"]["recommended_volume"] == 2155.0
