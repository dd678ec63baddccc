"""The CUSUM of change detection (jicai.analytics.cusum) against tables computed by hand, and the measure's
refusal of parameters that cannot work together. The aggregation (monthly series per institution on every
engine) is tested by the scenario folders tests/scenarios/change and tests/scenarios/slow_adopters."""

from __future__ import annotations

from datetime import date

import pytest

from jicai.analytics.cusum import Event, cusum, events, reference

N = None


def test_cusum_step_by_step_against_a_hand_table():
    # window 5, at least 4 months of data in it, threshold 2 σ, allowance 0.5 σ, no floor.
    values = [10, N, 14, 10, 14, 14, 18, 18, N, 10, 10, 15]
    # t0–t4: no reference yet (monitoring starts at month window + 1 = t5).
    # t5: reference t0–t4 = 10, 14, 10, 14 (4 values ≥ 4): μ 12, σ 2 → h 4, k 1.
    #     up = 14 − 12 − 1 = 1; down = max(0, 12 − 1 − 14) = 0; the up run starts at t5.
    # t6: up = 1 + 18 − 13 = 6 > 4 → alarm, rose (+1).
    # t7: in alarm: μ moves to t2–t6 = (14 + 10 + 14 + 14 + 18) / 5 = 14; up = 6 + 18 − 14 − 1 = 9 > 6, still
    #     growing → goes on (h, k kept); down = max(0, 14 − 1 − 18) = 0.
    # t8: no value: skipped (state kept, no alarm).
    # t9: in alarm: moving reference t4–t8 = 14, 14, 18, 18 (4 values): μ 16; up would be 9 + 10 − 16 − 1 = 2,
    #     not above 9 → re-baseline: μ 16, σ 2, h 4, k 1, sums restart here: up = max(0, 10 − 17) = 0,
    #     down = 16 − 1 − 10 = 5 > 4 → alarm, fell (−1), run starts at t9.
    # t10: in alarm: μ moves to t5–t9 = (14 + 18 + 18 + 10) / 4 = 15; down = 5 + 15 − 1 − 10 = 9 > 5 → goes on.
    # t11: moving reference t6–t10 = 18, 18, 10, 10: μ 14, σ 4; down would be 9 + 14 − 1 − 15 = 7, not above 9 →
    #     re-baseline: μ 14, σ 4, h 8, k 2; up = max(0, 15 − 16) = 0, down = max(0, 14 − 2 − 15) = 0: in control.
    steps = cusum([None if v is None else float(v) for v in values], window=5, threshold_sd=2, allowance_sd=0.5,
                  min_months=4)
    table = [(s.mean, s.sd, s.threshold, s.up, s.down, s.alarm, s.since) for s in steps]
    none = (None, None, None, 0.0, 0.0, 0, None)
    assert table == [
        none, none, none, none, none,
        (12.0, 2.0, 4.0, 1.0, 0.0, 0, None),
        (12.0, 2.0, 4.0, 6.0, 0.0, 1, 5),
        (14.0, 2.0, 4.0, 9.0, 0.0, 1, 5),
        (14.0, 2.0, 4.0, 9.0, 0.0, 0, None),  # no value
        (16.0, 2.0, 4.0, 0.0, 5.0, -1, 9),
        (15.0, 2.0, 4.0, 0.0, 9.0, -1, 9),
        (14.0, 4.0, 8.0, 0.0, 0.0, 0, None),
    ]
    assert events(steps) == [
        Event(side=1, start=5, alarm=6, end=7, months=2, value=18.0, mean=12.0, sd=2.0, threshold=4.0, cusum=6.0),
        Event(side=-1, start=9, alarm=9, end=10, months=2, value=10.0, mean=16.0, sd=2.0, threshold=4.0, cusum=5.0),
    ]


def test_exactly_the_threshold_is_no_alarm_and_the_start_is_the_first_month_of_the_run():
    # reference 10, 14, 10, 14: μ 12, σ 2; threshold 2 σ = 4, allowance 1.
    # t4: up = 14 − 13 = 1; t5: 1 + 16 − 13 = 4 = h, no alarm; t6: 4 + 13 − 13 = 4, still none;
    # t7: 4 + 14 − 13 = 5 > 4 → alarm; the run of positive sums began at t4: the change started then.
    steps = cusum([10.0, 14.0, 10.0, 14.0, 14.0, 16.0, 13.0, 14.0], window=4, threshold_sd=2, allowance_sd=0.5,
                  min_months=4)
    assert [s.up for s in steps[4:]] == [1.0, 4.0, 4.0, 5.0]
    assert [s.alarm for s in steps] == [0] * 7 + [1]
    (e,) = events(steps)
    assert (e.start, e.alarm, e.end, e.value, e.cusum) == (4, 7, 7, 14.0, 5.0)


def test_a_flat_series_uses_the_floor():
    # 12 months at 0% (σ 0): with a floor of 1 point, h = 5, k = 0.5; 3% a month adds 2.5:
    # 2.5, 5.0 (= h, no alarm), 7.5 > 5 → alarm in the 3rd month, started in the 1st.
    steps = cusum([0.0] * 12 + [3.0, 3.0, 3.0], window=12, threshold_sd=5, allowance_sd=0.5, min_months=9,
                  sd_floor=1.0)
    assert [s.up for s in steps[12:]] == [2.5, 5.0, 7.5]
    (e,) = events(steps)
    assert (e.start, e.alarm, e.threshold, e.sd) == (12, 14, 5.0, 1.0)
    # without the floor, σ 0 makes any move an alarm: the first 3% already is one
    assert events(cusum([0.0] * 12 + [3.0], window=12, threshold_sd=5, allowance_sd=0.5, min_months=9))[0].alarm == 12


def test_a_reference_needs_min_months_of_data_and_slides_until_it_has_them():
    # window 4, at least 3 values in it. t4: window t0–t3 = 10, –, –, 14 (2 values): no test. t5: t1–t4 =
    # –, –, 14, 40 (2): no test. t6: t2–t5 = –, 14, 40, 12 (3): the first test, μ = 66 / 3 = 22.
    values = [10.0, N, N, 14.0, 40.0, 12.0, 13.0]
    steps = cusum(values, window=4, threshold_sd=5, allowance_sd=0.5, min_months=3)
    assert [s.mean is not None for s in steps] == [False] * 6 + [True]
    assert steps[6].mean == pytest.approx(22.0)
    assert reference([14.0, 40.0, 12.0], 3, 0.0).mean == pytest.approx(22.0)


def test_change_detection_refuses_a_minimum_above_the_window():
    from jicai.analytics.change import ChangeError, change_events
    from jicai.contract.arrow import empty
    from jicai.contract.tables import TABLES
    from jicai.policy import load_policy
    from jicai.store import connect

    wh = connect("duckdb://")
    for name in TABLES:
        wh.write_table(name, empty(name))
    policy = load_policy().with_values(change_window_months=6, change_min_months=9)
    with pytest.raises(ChangeError) as e:
        change_events(wh, date(2024, 6, 30), policy)
    assert "参考期" in e.value.zh and "change_min_months" in e.value.en


def test_a_third_series_plugs_in_by_one_declaration():
    """Cost per DDD came in this way (``SERIES``' third); any further series is one ``Series`` (its ``extend``
    joins its own monthly figures). Here another: each institution's monthly selected volume in thousands of units, joined
    from a table of its own — H1 bought 100 packs (1,000 units) a month in 2024, 50 in 2025: a fall of 0.5 against
    a flat reference (σ 0 → floor 0.1, h 0.5, k 0.05): 1 − 0.05 − 0.5 = 0.45 in 2025-01 (≤ 0.5), 0.9 in 2025-02
    (> 0.5) → one event started 2025-01, detected 2025-02, deteriorating (high is good)."""
    from pathlib import Path

    import ibis
    from tests.scenarios.runner import load

    from jicai.analytics.change import SERIES, Series, detect
    from jicai.store import connect

    s = load(Path(__file__).parent / "scenarios" / "change" / "01_percentile_swap_and_share_rise.toml")
    wh = connect("duckdb://")
    for name, table in s.tables.items():
        wh.write_table(name, table)

    def extend(wh, as_of, policy, t):
        own = t.select("institution_code", "month_first", thousands=t.selected_volume / 1000.0)
        return t.join(own, ["institution_code", "month_first"])

    volume = Series("selected_thousands", "中选采购量(千)", "selected volume (thousands)", low_is_good=False,
                    sd_floor=0.1, value=lambda t: ibis.ifelse(t.thousands > 0, t.thousands, ibis.null("float64")),
                    extend=extend)
    steps, found = detect(wh, s.args["as_of"], s.policy, (*SERIES, volume))
    mine = [e for e in found if e["series"] == "selected_thousands" and e["institution_code"] == "H1"]
    assert [(e["change_start"], e["alarm_month"], e["direction"]) for e in mine] == [("2025-01", "2025-02",
                                                                                      "deteriorating")]
    assert mine[0]["cusum"] == pytest.approx(0.9) and mine[0]["threshold"] == pytest.approx(0.5)
    # the declared series are unchanged by the extra one (this world's products have no ATC class: no
    # cost-per-DDD values, so no cost-per-DDD events)
    assert {e["series"] for e in found} == {"completion_percentile", "nonselected_share", "selected_thousands"}
