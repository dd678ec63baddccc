"""Hand-computed scenarios of the monthly monitoring through the independent pandas reference, and the CLI.

The scenarios are files, ``tests/scenarios/monitor/*.toml`` (format: tests/scenarios/README.md), in the
world ``tests/scenarios/worlds/vbp.toml``: batch B1 starts 2024-01-01 (a leap year: 366 days), V1 with a
primary product per region, a backup and a non-selected product, V2 a special variety, batch B3 starting
on a leap day; 10 units per pack at 20 yuan per pack; 2024-07-01 is day 183 of 366 (time progress 0.5).

test_scenarios.py runs each file on every engine; here the pandas reference must agree with them too.
"""

from __future__ import annotations

import pandas as pd
import pytest
from tests.scenarios.runner import check, load, scenario_files

from jicai.policy import load_policy

FILES = scenario_files("monitor")


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_scenario_pandas_reference(path):
    """The independent pandas reference agrees with the hand-computed expectations too."""
    from tests.reference.monitor_pandas import monitor_reference

    s = load(path)
    frames = {name: t.to_pandas() for name, t in s.tables.items()}
    df = monitor_reference(frames, s.args["as_of"], s.args.get("batch_id"), s.policy)
    check(s, df.astype(object).where(df.notna(), None).to_dict("records"))


def test_cli_monitor_stores_and_writes(tmp_path):
    """`jicai monitor` stores monitor_results (replacing the same as-of/batch) and writes xlsx/csv/json."""
    import json

    import openpyxl
    from typer.testing import CliRunner

    from jicai.cli import app
    from jicai.store import connect

    data = tmp_path / "data"
    scenario = load(next(p for p in FILES if p.stem.startswith("02_behind")))
    wh = connect(f"duckdb:///{data / 'jicai.duckdb'}")
    for name, t in scenario.tables.items():
        wh.write_table(name, t)
    wh.close()
    run = CliRunner().invoke
    base = ["--data-dir", str(data), "monitor", "--as-of", "2024-07-01"]
    r = run(app, base + ["--format", "xlsx", "--out", str(tmp_path / "m.xlsx")])
    assert r.exit_code == 0, r.output
    assert "低于序时进度 1" in r.output
    wb = openpyxl.load_workbook(tmp_path / "m.xlsx")
    assert wb.sheetnames == ["封面", "监测明细", "按机构汇总", "按地市汇总", "按批次汇总"]
    ws = wb["监测明细"]
    header = [c.value for c in ws[1]]
    assert header[0] == "医疗机构编码" and "完成率" in header
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref
    assert ws.cell(2, header.index("完成率") + 1).number_format == "0.0%"
    assert ws.cell(2, header.index("进度状态") + 1).value == "低于序时进度"
    assert ws.cell(1, 1).comment.text.startswith("institution_code: ")  # the meaning behind each header
    rolled = wb["按批次汇总"]
    header = [c.value for c in rolled[1]]
    assert header[:3] == ["批次编号", "约定品种数", "机构数"] and "总体完成率" in header

    r = run(app, base + ["--format", "json", "--out", str(tmp_path / "m.json")])
    assert r.exit_code == 0, r.output
    doc = json.loads((tmp_path / "m.json").read_text(encoding="utf-8"))
    assert doc["rows"][0]["status"] == "behind" and doc["rows"][0]["nonselected_excess"] is False
    assert doc["policy_version"] == load_policy().version and doc["as_of"] == "2024-07-01"
    assert [r["batch_id"] for r in doc["by_batch"]] == ["B1"]
    r = run(app, base + ["--batch", "B1", "--format", "csv", "--out", str(tmp_path / "m.csv")])
    assert r.exit_code == 0, r.output
    assert pd.read_csv(tmp_path / "m.csv").status.tolist() == ["behind"]
    text = (tmp_path / "m.csv").read_text(encoding="utf-8-sig").splitlines()
    row = dict(zip(text[0].split(","), text[1].split(","), strict=True))
    assert (row["cycle_start"], row["nonselected_excess"], row["onboarded"]) == ("2024-01-01", "false", "true")
    assert pd.read_csv(tmp_path / "m_by_institution.csv").behind.tolist() == [1]

    wh = connect(f"duckdb:///{data / 'jicai.duckdb'}")
    stored = wh.table("monitor_results").to_pandas()
    wh.close()
    assert len(stored) == 1 and stored.policy_version.iloc[0] == load_policy().version
    assert {"as_of", "computed_at"} <= set(stored.columns)

    r = run(app, base[:-1] + ["2024-13-01"])
    assert r.exit_code == 2 and "YYYY-MM-DD" in r.output
