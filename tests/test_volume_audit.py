"""Volume audit (报量审核): the scenario files of tests/scenarios/volume_audit on DuckDB, PostgreSQL and
PySpark, the Chinese flag labels, a policy override and the CLI.

The world (tests/scenarios/worlds/volume_audit.toml): batch B1 starts 2024-01-01 (k = 2 starts 2025-01-01);
V1 has P1 (10 units per pack) and the non-selected P1N (5 units per pack); V2 belongs to batch B2. Reports
are made at 2024-11-15 10:00 unless stated. On the engines all scenarios share one warehouse: institutions
and order lines are prefixed ``s<i>:``, the batch and products are shared, so one query per cycle year serves
every scenario.
"""

from __future__ import annotations

import pytest
from tests.scenarios.runner import (
    combined_tables,
    load,
    run_and_check,
    run_combined_and_check,
    scenario_files,
)
from typer.testing import CliRunner

from jicai.measures.volume_audit import COLUMNS, volume_audit

ENGINES = ("duckdb", "postgres", "pyspark")
FILES = scenario_files("volume_audit")
NAMES = [c.name for c in COLUMNS]
PREFIXED = ("institution_code", "order_line_id", "order_id", "payment_id", "report_id")


def tables(files=FILES) -> dict:
    return combined_tables([load(f) for f in files], PREFIXED)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_scenario_duckdb(path, engine_warehouse):
    s = load(path)
    rows = run_and_check(s, engine_warehouse("duckdb", s.tables))
    assert all(list(r) == NAMES for r in rows)


@pytest.mark.parametrize("engine", ENGINES)
def test_scenarios_on_engine(engine, engine_warehouse):
    scenarios = [load(f) for f in FILES]
    wh = engine_warehouse(engine, combined_tables(scenarios, PREFIXED))
    failures = run_combined_and_check(scenarios, wh, PREFIXED)
    assert not failures, "\n".join(failures)
    assert list(volume_audit(wh, "B1", 2).columns) == NAMES


def test_flags_zh_and_policy_override():
    from jicai.policy import load_policy
    from jicai.store import connect

    wh = connect("duckdb://")
    for name, t in tables([FILES[3], FILES[1]]).items():
        wh.write_table(name, t)
    df = volume_audit(wh, "B1", 2).to_pandas().set_index("institution_code")
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
    assert "用而不报 used_not_reported: 3" in res.output
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
