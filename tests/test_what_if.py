"""``jicai what-if``: the hand-computed world of tests/scenarios/what_if/01_ through the command line — one report
through the common pipeline (xlsx, csv, json), a Chinese summary naming the one institution that flips and the
¥ it gains — and an alternative policy file that does not validate, refused bilingually with the parameter named.
The figures themselves are the scenario files' (on every engine); here, what a user runs and reads."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
from tests.scenarios.runner import load
from typer.testing import CliRunner

from jicai.cli import app as cli
from jicai.policy import load_policy
from jicai.policy.checked import PolicyInvalid, load_checked, with_checked
from jicai.policy.models import DEFAULT_PATH

SCENARIO = Path(__file__).parent / "scenarios" / "what_if" / "01_min_completion_lowered_flips_one_institution_to_pass.toml"
DEFAULT = DEFAULT_PATH.read_text(encoding="utf-8")


def _policy_file(folder: Path, name: str, value: str, stem: str = "alt") -> Path:
    text = DEFAULT.replace(f'name = "{name}"\nvalue = ', f'name = "{name}"\nvalue = {value}\n# was ', 1)
    assert text != DEFAULT
    path = folder / f"{stem}.toml"
    path.write_text(text.replace('id = "default"', f'id = "{stem}"'), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    from jicai.store import connect, default_url

    d = tmp_path_factory.mktemp("what-if")
    wh = connect(default_url(d))
    try:
        for name, t in load(SCENARIO).tables.items():
            wh.write_table(name, t)
    finally:
        wh.close()
    return d


def _run(data_dir: Path, *args: str):
    return CliRunner().invoke(cli, ["--data-dir", str(data_dir), "what-if", "--batch", "B1", "--year", "1", *args])


def test_the_command_names_who_flips_and_the_money(data_dir, tmp_path):
    alt = _policy_file(tmp_path, "min_completion", "0.999")
    out = tmp_path / "w.json"
    r = _run(data_dir, "--policy", str(alt), "--out", str(out))
    assert r.exit_code == 0, r.output
    flat = re.sub(r"\s+", "", r.output)
    assert "约定采购量最低完成率由100%改为99.9%" in flat
    assert "由合格转为不合格0家,由不合格转为合格1家" in flat
    assert "医院三(H3)转为合格(现行政策下:完成率:品种一99.9%<100%),奖励+15,010.00元" in flat
    assert "结余留用奖励2,400.00元→17,410.00元(+15,010.00元)" in flat
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert [x["parameter"] for x in doc["parameters"]] == ["min_completion"]
    assert [(x["institution_code"], x["flip"], x["reward_change"]) for x in doc["changed"]] == [("H3", "to_pass", 15010.0)]
    regions = {x["city_code"]: x for x in doc["regions"]}
    assert (regions["610100"]["to_pass"], regions["610100"]["reward_change"]) == (1, 15010.0)
    assert (regions["620100"]["to_pass"], regions["620100"]["reward_change"]) == (0, 0.0)
    assert len(doc["rows"]) == 3


def test_the_workbook_has_the_lists_with_chinese_headers(data_dir, tmp_path):
    import openpyxl

    alt = _policy_file(tmp_path, "min_completion", "0.999")
    out = tmp_path / "w.xlsx"
    r = _run(data_dir, "--policy", str(alt), "--out", str(out))
    assert r.exit_code == 0, r.output
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["封面", "参数变化", "考核结果与金额变化", "分地区汇总", "全部机构"]
    cells = [c for row in wb["考核结果与金额变化"].iter_rows(values_only=True) for c in row if c is not None]
    assert "考核结果变化" in cells and "由不合格转为合格" in cells and "现行政策不合格原因" in cells
    assert "约定采购量最低完成率由 100% 改为 99.9%" in cells


def test_csv_writes_the_changed_rows_and_the_other_lists_beside(data_dir, tmp_path):
    alt = _policy_file(tmp_path, "min_completion", "0.999")
    out = tmp_path / "w.csv"
    r = _run(data_dir, "--policy", str(alt), "--out", str(out))
    assert r.exit_code == 0, r.output
    written = sorted(p.name for p in tmp_path.glob("w*.csv"))
    assert "w.csv" in written and len(written) >= 3, written


def test_html_shows_the_changes_and_the_flip(data_dir, tmp_path):
    alt = _policy_file(tmp_path, "min_completion", "0.999")
    out = tmp_path / "w.html"
    r = _run(data_dir, "--policy", str(alt), "--out", str(out))
    assert r.exit_code == 0, r.output
    html = out.read_text(encoding="utf-8")
    assert "约定采购量最低完成率由 100% 改为 99.9%" in html and "由不合格转为合格" in html and "医院三" in html


def test_the_same_policy_changes_nothing(data_dir, tmp_path):
    same = tmp_path / "same.toml"
    same.write_text(DEFAULT, encoding="utf-8")
    r = _run(data_dir, "--policy", str(same), "--base-policy", str(DEFAULT_PATH), "--format", "json",
             "--out", str(tmp_path / "s.json"))
    assert r.exit_code == 0, r.output
    assert "结果不变" in r.output
    doc = json.loads((tmp_path / "s.json").read_text(encoding="utf-8"))
    assert doc["changed"] == [] and all(x["flip"] == "same" for x in doc["rows"])


@pytest.mark.parametrize(("name", "value", "zh"), [
    ("min_completion", "2.5", "约定采购量最低完成率(min_completion)不得大于 200%"),
    ("prepay_ratio", "-0.1", "医保基金预付比例(prepay_ratio)不得小于 0%"),
    ("volume_basis", '"delivered"', "采购量统计口径(volume_basis)应为 accepted、ordered 之一"),
    ("retention_tiers", "[[80.0, 0.4], [90.0, 0.5]]", "结余留用比例分档(retention_tiers)应为分档表"),
])
def test_a_bad_alternative_file_is_refused_naming_the_parameter(data_dir, tmp_path, name, value, zh):
    bad = _policy_file(tmp_path, name, value)
    r = _run(data_dir, "--policy", str(bad))
    assert r.exit_code == 2, r.output
    assert zh in r.output and name in r.output and "Traceback" not in r.output
    assert "invalid policy file" in r.output  # and in English


def test_a_missing_or_broken_alternative_file_is_refused(data_dir, tmp_path):
    r = _run(data_dir, "--policy", str(tmp_path / "nope.toml"))
    assert r.exit_code == 2 and "政策文件不存在" in r.output and "policy file not found" in r.output
    broken = tmp_path / "broken.toml"
    broken.write_text("id = \n", encoding="utf-8")
    r = _run(data_dir, "--policy", str(broken))
    assert r.exit_code == 2 and "不是有效的 TOML" in r.output and "Traceback" not in r.output


def test_a_provisional_what_if_compares_up_to_the_as_of_date(data_dir, tmp_path):
    """As of 2024-06-30 every purchase of the world is in (accepted 2024-05-01): the same flip, the ledgers cut
    at that day, the report says it is provisional."""
    alt = _policy_file(tmp_path, "min_completion", "0.999")
    out = tmp_path / "p.json"
    r = _run(data_dir, "--policy", str(alt), "--as-of", "2024-06-30", "--out", str(out))
    assert r.exit_code == 0, r.output
    assert "截至 2024-06-30,预测算" in r.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    rows = {x["institution_code"]: x for x in doc["rows"]}
    assert {x["as_of"] for x in doc["rows"]} == {"2024-06-30"}
    assert (rows["H3"]["flip"], rows["H3"]["reward_change"], rows["H3"]["offset_current"]) == ("to_pass", 15010.0,
                                                                                                 5994.0)


def test_an_as_of_outside_the_cycle_year_is_refused(data_dir, tmp_path):
    alt = _policy_file(tmp_path, "min_completion", "0.999")
    r = _run(data_dir, "--policy", str(alt), "--as-of", "2026-01-01")
    assert r.exit_code == 2 and "不在批次 B1 第 1 采购年度内" in r.output


# -- the checks of a changed value (the page and the API use them) ---------------------------------------------

@pytest.mark.parametrize(("values", "zh"), [
    ({"min_completion": math.nan}, "应为有限的数字"),
    ({"min_completion": "0.9"}, "应为数值"),
    ({"backup_substitution": 1}, "应为是或否"),
    ({"no_such_thing": 1.0}, "未知政策参数"),
    ({"retention_tiers": [[90.0, 1.5]]}, "应为分档表"),
])
def test_with_checked_names_the_parameter(values, zh):
    with pytest.raises(PolicyInvalid) as e:
        with_checked(load_policy(), values)
    assert zh in e.value.zh and e.value.en


def test_with_checked_replaces_valid_values():
    p = with_checked(load_policy(), {"retention_tiers": [[90, 0.6], [0, 0.1]], "prepay_ratio": 0.4})
    assert p.value("retention_tiers") == [[90.0, 0.6], [0.0, 0.1]] and p.value("prepay_ratio") == 0.4
    assert p.version != load_policy().version


def test_load_checked_of_the_bundled_default():
    assert load_checked(DEFAULT_PATH).version == load_policy().version
