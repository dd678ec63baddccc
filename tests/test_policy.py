"""Policy files: validation, effective dates, citations, and results that follow the file, not the code."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from pydantic import ValidationError
from tests.scenarios.runner import from_dict

from jicai.measures.monitor import monitor
from jicai.policy import SPECS, load_policy
from jicai.policy.models import DEFAULT_PATH

SCENARIO = from_dict(dict(
    description="half of the purchases non-selected", world="vbp", measure="jicai.measures.monitor:monitor",
    args={"as_of": date(2024, 7, 1)}, expect=[],
    agreements=[{"inst": "H1", "agreed": 1000}],
    buys=[{"product": "P1", "packs": 30, "accepted": "2024-05-01"},
          {"product": "P1N", "packs": 30, "accepted": "2024-05-01"}],
))
AS_OF = SCENARIO.args["as_of"]


def test_default_policy_has_every_parameter_with_citation():
    p = load_policy()
    assert {e.name for e in p.parameter} == set(SPECS)
    for e in p.parameter:
        assert e.zh and e.en and e.source, e.name
    assert p.value("volume_basis") == "accepted"
    assert p.value("nonselected_share_max") == 0.5
    assert p.value("payment_due") == "end_of_next_month"
    assert p.value("onboarding_from_month") == 3
    assert p.entry("nonselected_share_max").source.startswith("陕西省医保局通知(2024-03-18) 四(三)")


def test_version_follows_content():
    a, b = load_policy(), load_policy()
    assert a.version == b.version
    assert a.with_values(nonselected_share_max=0.4).version != a.version


def _edited(tmp_path: Path, old: str, new: str) -> Path:
    text = DEFAULT_PATH.read_text(encoding="utf-8")
    assert old in text
    f = tmp_path / "bureau.toml"
    f.write_text(text.replace(old, new, 1), encoding="utf-8")
    return f


def test_changing_the_toml_changes_results_without_code_changes(tmp_path, engine_warehouse):
    wh = engine_warehouse("duckdb", SCENARIO.tables)
    base = monitor(wh, AS_OF).to_pandas().iloc[0]
    assert base.nonselected_share == 0.5 and not base.nonselected_excess

    stricter = load_policy(_edited(tmp_path, "value = 0.5", "value = 0.45"))
    row = monitor(wh, AS_OF, policy=stricter).to_pandas().iloc[0]
    assert row.nonselected_excess

    ordered = load_policy(_edited(tmp_path, 'value = "accepted"', 'value = "ordered"'))
    assert ordered.version != load_policy().version


def test_effective_dates_pick_the_entry_in_force(tmp_path, engine_warehouse):
    text = DEFAULT_PATH.read_text(encoding="utf-8")
    text = text.replace('value = 0.5\nunit = "ratio"', 'value = 0.5\nunit = "ratio"\neffective_to = 2024-06-30', 1)
    text += '''
[[parameter]]
name = "nonselected_share_max"
value = 0.3
unit = "ratio"
zh = "自2024年7月起收紧"
en = "tightened from July 2024"
source = "医保发〔2024〕31号 监测考核"
effective_from = 2024-07-01
'''
    f = tmp_path / "dated.toml"
    f.write_text(text, encoding="utf-8")
    p = load_policy(f)
    assert p.value("nonselected_share_max", on=date(2024, 6, 30)) == 0.5
    assert p.value("nonselected_share_max", on=date(2024, 7, 1)) == 0.3
    wh = engine_warehouse("duckdb", SCENARIO.tables)
    assert monitor(wh, date(2024, 7, 1), policy=p).to_pandas().iloc[0].nonselected_excess
    assert not monitor(wh, date(2024, 6, 30), policy=p).to_pandas().iloc[0].nonselected_excess


@pytest.mark.parametrize("old,new,message", [
    ('value = "accepted"', 'value = "invoiced"', "not one of"),
    ("value = 0.5", "value = 1.5", "> 1.0"),
    ("value = 3", 'value = "three"', "expected int"),
    ('name = "price_tolerance"', 'name = "price_tolerence"', "unknown policy parameter"),
    ('source = "陕西省医保局通知(2024-03-18) 四(四)(交货验收合格)"', 'source = " "', "source"),
])
def test_bad_values_fail_with_a_clear_message(tmp_path, old, new, message):
    with pytest.raises(ValidationError, match=message.replace("(", r"\(")):
        load_policy(_edited(tmp_path, old, new))


def test_missing_parameter_and_overlapping_dates_fail(tmp_path):
    text = DEFAULT_PATH.read_text(encoding="utf-8")
    cut = text.index('[[parameter]]\nname = "price_tolerance"')
    f = tmp_path / "short.toml"
    f.write_text(text[:cut], encoding="utf-8")
    with pytest.raises(ValidationError, match="lacks parameters: .*price_tolerance"):
        load_policy(f)
    f.write_text(text + text[cut:], encoding="utf-8")
    with pytest.raises(ValidationError, match="overlapping"):
        load_policy(f)
    with pytest.raises(FileNotFoundError, match="policy file not found"):
        load_policy(tmp_path / "none.toml")


def test_capitation_tiers_must_ascend_and_stay_in_range():
    from jicai.policy import load_policy

    p = load_policy()
    assert p.value("capitation_return_tiers") == [[0.05, 0.70], [0.10, 0.60], [0.20, 0.50]]
    for bad in ([[0.10, 0.6], [0.05, 0.7]], [[0.05, 0.7], [0.05, 0.6]], [[-0.01, 0.7]], [[0.05, 1.5]], []):
        with pytest.raises(ValueError, match="capitation_return_tiers"):
            p.with_values(capitation_return_tiers=bad)
    with pytest.raises(ValueError):  # not numbers: pydantic refuses the value's type first
        p.with_values(capitation_return_tiers=[["x", 1]])


def test_retention_tiers_must_descend_within_0_to_100_and_list_parameters_declare_tiers():
    from jicai.policy import ParameterSpec, load_policy
    from jicai.policy.models import Tiers

    p = load_policy()
    assert p.with_values(retention_tiers=[[100, 1], [0, 0]]).value("retention_tiers") == [[100.0, 1.0], [0.0, 0.0]]
    for bad, why in (([[80.0, 0.4], [90.0, 0.5]], "tier scores must be strictly descending"),
                     ([[90.0, 0.5], [90.0, 0.4]], "tier scores must be strictly descending"),
                     ([[100.5, 0.5]], r"tier \[100.5, 0.5\] outside score 0–100 / ratio 0–1"),
                     ([[90.0, 1.01]], "outside score 0–100"), ([], "at least one tier")):
        with pytest.raises(ValueError, match=why):
            p.with_values(retention_tiers=bad)
    with pytest.raises(ValueError, match="declares the shape of its tiers"):
        ParameterSpec(type=list)
    with pytest.raises(ValueError, match="declares the shape of its tiers"):
        ParameterSpec(type=float, tiers=Tiers(bound="b", noun="n", share="s"))
