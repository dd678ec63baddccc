"""Each changed parameter's part of a what-if's change (jicai.analytics.whatif_apportion) beyond the hand-computed
scenario (tests/scenarios/what_if/05_, on every engine): the parts add up to the change for every figure, per city
and in total, on random games and on the scenario world; the one-at-a-time path and its interaction line, worked
out by hand; a combination that cannot be computed leaves the parts unavailable, not the what-if; the command
line says the parts."""

from __future__ import annotations

import random
import re
from fractions import Fraction
from pathlib import Path

import pytest
from tests.scenarios.runner import load
from typer.testing import CliRunner

from jicai.analytics import whatif_apportion as ap
from jicai.analytics.whatif import alternative_of, compare
from jicai.policy import load_policy

SCENARIO = Path(__file__).parent / "scenarios" / "what_if" / "05_two_changes_apportioned_by_shapley_values.toml"
TWO = "min_completion = 0.999\nretention_tiers = [[90.0, 0.6], [80.0, 0.4], [70.0, 0.3], [60.0, 0.2]]\n"


@pytest.fixture(scope="module")
def wh(tmp_path_factory):
    from jicai.store import connect, default_url

    w = connect(default_url(tmp_path_factory.mktemp("apportion")))
    for name, t in load(SCENARIO).tables.items():
        w.write_table(name, t)
    yield w
    w.close()


@pytest.fixture(scope="module")
def computed(wh):
    """The what-if of the two changes and the what-ifs of each change alone, computed once; each test apportions
    them (:func:`comparison_of`) as ``compare`` does."""
    from jicai.analytics.whatif import subsets_of, what_if
    from jicai.assess.period import assessment_period

    policy = load_policy()
    alt = alternative_of(policy, TWO)
    period = assessment_period(wh, "B1", 1)
    rows = what_if(wh, "B1", 1, policy, alt).to_pyarrow()
    return rows, subsets_of(wh, "B1", 1, policy, alt, period.as_of), period, policy, alt


def _apportioned(computed):
    from jicai.analytics.whatif import comparison_of

    rows, subsets, period, policy, alt = computed
    return comparison_of(rows, period, policy, alt, subsets=subsets)


def _by(lines):
    return {x.parameter: x.values for x in lines}


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_shapley_parts_add_up_to_the_change_and_a_dummy_gets_nothing(n):
    rng = random.Random(n)
    for _ in range(50):
        v = {0: 0, **{s: rng.randint(-10_000, 10_000) for s in range(1, 2 ** n)}}
        # the last parameter is a dummy: adding it never changes anything
        v = {s: v[s & ~(1 << (n - 1))] for s in v} if n > 1 else v
        parts = ap.shapley(v.__getitem__, n)
        assert sum(parts) == v[2 ** n - 1]
        if n > 1:
            assert parts[-1] == 0
        rounded = ap.largest_remainder(parts, v[2 ** n - 1])
        assert sum(rounded) == v[2 ** n - 1] and all(abs(r - p) < 1 for r, p in zip(rounded, parts, strict=True))


def test_a_flip_that_needs_three_changes_is_split_in_thirds_adding_up():
    # one institution flips and earns ¥400 only when all three change (a unanimity game): 1/3 each
    full = {"to_fail": 0, "to_pass": 1, "reward_change": 40_000, "overspend_shared_change": 0, "offset_change": 0,
            "balance_change": 0}
    totals = [{"subset": s, "city_code": "350100", **({k: 0 for k in full} if s != 7 else full)} for s in range(1, 8)]
    shown = [("甲", "1", "2"), ("乙", "1", "2"), ("丙", "1", "2")]
    a = ap.apportion(totals, ["a", "b", "c"], shown)
    assert a.method == "shapley"
    got = _by(a.total)
    # 40,000 fen / 3 = 13,333⅓ each: the one fen left goes to the first of the equal remainders
    assert [got[p]["reward_change"] for p in "abc"] == [133.34, 133.33, 133.33]
    assert [got[p]["to_pass"] for p in "abc"] == [0.4, 0.3, 0.3]  # tenths: 10 / 3 each, one tenth to the first
    assert sum(got[p]["to_pass"] for p in "abc") == pytest.approx(1.0)
    assert _by(a.regions["350100"]) == got


def test_the_two_changes_of_the_scenario_add_up_per_city_and_in_total(computed):
    c = _apportioned(computed)
    a = c.apportionment
    assert a is not None and a.method == "shapley" and [x.parameter for x in a.total] == [x.name for x in c.changes]
    for figure in ap.FIGURES:
        assert sum(x.values[figure] for x in a.total) == pytest.approx(c.total[figure], abs=1e-9), figure
        for r in c.regions:
            parts = a.regions[r["city_code"]]
            assert sum(x.values[figure] for x in parts) == pytest.approx(r[figure], abs=1e-9), (figure, r)
    assert _by(a.total)["min_completion"]["reward_change"] == 16511.0
    assert _by(a.total)["retention_tiers"]["reward_change"] == 1981.0
    assert "Shapley" in a.note_zh and "各项之和等于合计" in a.note_zh


def test_beyond_the_limit_each_change_alone_and_the_interaction_on_a_line_of_its_own(computed, monkeypatch):
    """The one-at-a-time path, forced at two parameters so that it is hand-computed: min_completion alone flips H3
    and earns 30020 × 50% = ¥15,010; the top tier alone gives H1 300 + H2 180 = ¥480; together ¥18,492, so ¥3,002
    (H3's extra 10%) belongs to neither and is its own line."""
    monkeypatch.setattr(ap, "MAX_EXACT", 1)
    assert ap.masks(2) == [1, 2]  # each alone: the same what-ifs as the exact method's at two parameters
    c = _apportioned(computed)
    a = c.apportionment
    assert a.method == "one_at_a_time" and [x.parameter for x in a.total] == ["min_completion", "retention_tiers", ""]
    got = _by(a.total)
    assert [got[p]["reward_change"] for p in ("min_completion", "retention_tiers", "")] == [15010.0, 480.0, 3002.0]
    assert [got[p]["to_pass"] for p in ("min_completion", "retention_tiers", "")] == [1.0, 0.0, 0.0]
    assert a.total[-1].zh == "交互作用(未分摊)"
    assert sum(x.values["reward_change"] for x in a.total) == c.total["reward_change"] == 18492.0
    assert "逐项测算" in a.note_zh and "超过 1 项" in a.note_zh


def test_a_combination_that_cannot_be_computed_leaves_the_parts_unavailable_not_the_what_if(wh):
    # both ends of the completion band move down by 20 points: valid together, but the full end alone (0.8)
    # meets the current zero end (0.8) — a band of zero width
    policy = load_policy()
    alt = alternative_of(policy, "score_completion_full = 0.8\nscore_completion_zero = 0.6\n")
    c = compare(wh, "B1", 1, policy, alt)
    assert len(c.rows) == 3 and len(c.changes) == 2
    a = c.apportionment
    assert a.method == "unavailable" and "score_completion_full" in a.reason_zh and a.total == []
    assert a.note_zh.startswith("无法分摊各项参数的影响") and a.reason_en


def test_the_command_says_each_parameters_part(wh, tmp_path):
    import json

    from jicai.cli import app as cli
    from jicai.policy.models import DEFAULT_PATH
    from jicai.store import connect, default_url

    data = tmp_path / "data"
    w = connect(default_url(data))
    for name, t in load(SCENARIO).tables.items():
        w.write_table(name, t)
    w.close()
    text = DEFAULT_PATH.read_text(encoding="utf-8")
    text = text.replace('name = "min_completion"\nvalue = ', 'name = "min_completion"\nvalue = 0.999\n# was ', 1)
    text = text.replace('name = "retention_tiers"\nvalue = [[90.0, 0.5]', 'name = "retention_tiers"\nvalue = [[90.0, 0.6]',
                        1)
    assert text.count("0.999") >= 1 and "[[90.0, 0.6]" in text
    alt = tmp_path / "alt.toml"
    alt.write_text(text.replace('id = "default"', 'id = "alt"'), encoding="utf-8")
    out = tmp_path / "w.json"
    r = CliRunner().invoke(cli, ["--data-dir", str(data), "what-if", "--batch", "B1", "--year", "1", "--policy",
                                 str(alt), "--out", str(out)])
    assert r.exit_code == 0, r.output
    flat = re.sub(r"\s+", "", r.output)
    assert "分项归因(Shapley值分摊(精确))" in flat
    assert "约定采购量最低完成率(100%→99.9%):转为不合格0家,转为合格+1家,奖励+16,511.00元" in flat
    assert "结余留用比例分档(90→50%、80→40%、70→30%、60→20%→90→60%、80→40%、70→30%、60→20%):" in flat
    assert "奖励+1,981.00元" in flat
    doc = json.loads(out.read_text(encoding="utf-8"))
    lines = {(x["city_code"], x["parameter"]): x for x in doc["apportionment"]}
    assert lines[("全部", "min_completion")]["reward_change"] == 16511.0
    assert lines[("620100", "retention_tiers")]["reward_change"] == 180.0
    r = CliRunner().invoke(cli, ["--data-dir", str(data), "what-if", "--batch", "B1", "--year", "1", "--policy",
                                 str(alt), "--no-apportion", "--format", "json", "--out", str(tmp_path / "n.json")])
    assert r.exit_code == 0 and "分项归因" not in r.output, r.output


def test_exact_fractions_stay_exact():
    assert ap.shapley(lambda s: {0: 0, 1: 1, 2: 1, 3: 1}[s], 2) == [Fraction(1, 2), Fraction(1, 2)]
