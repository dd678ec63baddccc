"""Volume audit (报量审核): the output columns, the Chinese flag labels, a policy override and the CLI. The
scenarios (tests/scenarios/volume_audit) run on every engine in test_scenarios.py.

The world (tests/scenarios/worlds/volume_audit.toml): batch B1 starts 2024-01-01 (k = 2 starts 2025-01-01);
V1 has P1 (10 units per pack) and the non-selected P1N (5 units per pack); V2 belongs to batch B2. Reports
are made at 2024-11-15 10:00 unless stated. Here scenarios share one warehouse: institutions and order
lines are prefixed ``s<i>:``, the batch and products are shared.
"""

from __future__ import annotations

from tests.scenarios.runner import combined_tables, folder_settings, load, scenario_files
from typer.testing import CliRunner

from jicai.measures.volume_audit import COLUMNS, volume_audit

FILES = scenario_files("volume_audit")
PREFIXED = tuple(folder_settings("volume_audit")["prefixed"])


def tables(files=FILES) -> dict:
    return combined_tables([load(f) for f in files], PREFIXED)


def test_columns_flags_zh_and_policy_override(engine_warehouse):
    from jicai.policy import load_policy

    wh = engine_warehouse("duckdb", tables([FILES[3], FILES[1]]))
    df = volume_audit(wh, "B1", 2).to_pandas()
    assert list(df.columns) == [c.name for c in COLUMNS]
    df = df.set_index("institution_code")
    assert df.loc["s0:H", "flags_zh"] == "报量偏低;用而不报"
    assert df.loc["s1:H", "flags_zh"] == "报量偏低"
    loose = load_policy().with_values(under_report_ratio=0.25)
    df = volume_audit(wh, "B1", 2, loose).to_pandas().set_index("institution_code")
    assert df.loc["s1:H", "flags"] == ""
    assert df.loc["s0:H", "flags"] == "under_report;used_not_reported"


def test_cli_audit_volume(tmp_path):
    import json

    from jicai.cli import app
    from jicai.settings import Settings

    wh = Settings.resolve().warehouse()
    for name, t in tables().items():
        wh.write_table(name, t)
    wh.close()
    out = tmp_path / "a.json"
    res = CliRunner().invoke(app, ["audit-volume", "--batch", "B1", "--year", "2", "--format", "json",
                                   "--out", str(out)])
    assert res.exit_code == 0, res.output
    # scenarios 03, 04 and 08 (one each), and 11: the private hospital with a prior agreement and the township centre
    assert "用而不报 used_not_reported: 5" in res.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["batch"] == "B1" and doc["year"] == 2
    rows = {r["institution_code"]: r for r in doc["rows"]}
    assert rows["s1:H"]["flags"] == "under_report" and rows["s1:H"]["flags_zh"] == "报量偏低"
    assert rows["s2:H"]["reported_volume"] is None
    res = CliRunner().invoke(app, ["audit-volume", "--batch", "B1", "--year", "2", "--out", str(tmp_path / "a.csv")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "a.csv").read_text(encoding="utf-8-sig").startswith("institution_code,")
    # the workbook, by default: flags by their Chinese names, a missing report left blank
    import openpyxl

    res = CliRunner().invoke(app, ["audit-volume", "--batch", "B1", "--year", "2", "--out", str(tmp_path / "a.xlsx")])
    assert res.exit_code == 0, res.output
    ws = openpyxl.load_workbook(tmp_path / "a.xlsx")["报量审核"]
    header = [c.value for c in ws[1]]
    assert header[:3] == ["医疗机构编码", "批次编号", "品种编号"] and "异常标识" in header
    by_inst = {r[0]: r for r in ws.iter_rows(min_row=2, values_only=True)}
    assert by_inst["s1:H"][header.index("异常标识")] == "报量偏低"
    assert by_inst["s2:H"][header.index("报送采购量")] is None
