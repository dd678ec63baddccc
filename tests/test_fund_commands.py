"""The fund commands: jicai capitation, jicai pharmacy, jicai budget — workbooks, csv, json, errors.

Each runs on the warehouse of a hand-computed scenario (tests/scenarios/…), so every figure checked here
is one worked out in that file. The lists and their headers are the registered measures' (jicai.fund).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from tests.scenarios.runner import ROOT, load
from typer.testing import CliRunner

from jicai.cli import app
from jicai.measures.registry import measure
from jicai.policy import load_policy
from jicai.store import connect

run = CliRunner().invoke


def headers(name: str) -> list[str]:
    return [c.zh for c in measure(name).columns]


def names(name: str) -> list[str]:
    return measure(name).column_names


def data_dir(tmp_path: Path, scenario: str) -> Path:
    s = load(ROOT / scenario)
    d = tmp_path / "data"
    wh = connect(f"duckdb:///{d / 'jicai.duckdb'}")
    for name, t in s.tables.items():
        wh.write_table(name, t)
    wh.close()
    return d


def body(ws) -> list[tuple]:
    """The data rows of a list sheet and its 合计 row."""
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    return rows[: [r[0] for r in rows].index("合计") + 1]


def cover(wb) -> dict:
    return {r[0]: r[1] for r in wb["封面"].iter_rows(values_only=True) if r and r[0]}


def test_capitation_workbook_json_csv(tmp_path):
    d = data_dir(tmp_path, "capitation/05_zero_and_negative_reasonable_surplus.toml")
    out = tmp_path / "c.xlsx"
    r = run(app, ["--data-dir", str(d), "capitation", "--period", "2024", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "机构 5 家" in r.output and "返还 6,800.00 元" in r.output and "偏差≤5% 2 家" in r.output
    wb = openpyxl.load_workbook(out, data_only=True)
    assert wb.sheetnames == ["封面", "返还明细", "分档汇总", "合计"]
    ws = wb["返还明细"]
    header = [c.value for c in ws[1]]
    assert header == headers("capitation")
    rows = body(ws)
    assert [x[1] for x in rows[:-1]] == ["H1", "H2", "H3", "H4", "H9"]  # the csv's order: by institution
    tier = header.index("返还档次")
    assert [x[tier] for x in rows[:-1]] == ["偏差≤5%", "偏差>20%", "偏差≤5%", None, "偏差>20%"]  # H4: no basis
    assert [x[header.index("偏差基数")] for x in rows[:-1]] == ["合理余量", "合理余量", "包干总额(合理余量为0)", None,
                                                            "包干总额(合理余量为0)"]
    assert math.isclose(rows[-1][header.index("返还金额")], 6800.0)
    assert ws.cell(2, header.index("偏差") + 1).number_format == "0.0%"
    tiers = body(wb["分档汇总"])
    assert [x[:2] for x in tiers] == [(1, "偏差≤5%"), (2, "5%<偏差≤10%"), (3, "10%<偏差≤20%"), (4, "偏差>20%"),
                                      (None, "无偏差基数"), ("合计", None)]
    assert [x[3] for x in tiers] == [2, 0, 0, 2, 1, 5] and [x[5] for x in tiers] == [2800, 0, 0, 4000, 0, 6800]
    c = cover(wb)
    assert c["范围"] == "全部机构" and c["执行政策"] == load_policy().label and c["数据截至"] == "2024-12-31"

    r = run(app, ["--data-dir", str(d), "capitation", "--period", "2024", "--format", "json",
                  "--out", str(tmp_path / "c.json")])
    assert r.exit_code == 0, r.output
    doc = json.loads((tmp_path / "c.json").read_text(encoding="utf-8"))
    assert doc["period"] == "2024" and doc["policy_date"] == "2024-12-31"
    # returned 2,800 + 4,000 of the positive surpluses 4,000 (H3) + 10,000 (H2)
    (totals,) = doc["totals"]
    assert totals.pop("return_share") == pytest.approx(6800 / 14000)
    assert totals == {"period": "2024", "institutions": 5, "enrolled": 4000, "package": 300000.0,
                      "actual_spending": 320000.0, "surplus": -20000.0, "overall_per_capita": 80.0,
                      "returned_amount": 6800.0}
    assert [t["return_rate"] for t in doc["tiers"]] == [0.7, 0.6, 0.5, 0.4, None]
    h4 = next(x for x in doc["institutions"] if x["institution_code"] == "H4")
    assert h4["tier"] is None and h4["deviation"] is None and h4["deviation_basis"] is None
    r = run(app, ["--data-dir", str(d), "capitation", "--period", "2024", "--format", "csv",
                  "--out", str(tmp_path / "c.csv")])
    assert r.exit_code == 0 and list(pd.read_csv(tmp_path / "c.csv").columns) == names("capitation")
    assert list(pd.read_csv(tmp_path / "c_tiers.csv").institutions) == [2, 0, 0, 2, 1]


def test_capitation_errors_and_empty_period(tmp_path):
    d = data_dir(tmp_path, "capitation/01_tier_edge_5_percent_inclusive.toml")
    base = ["--data-dir", str(d), "capitation"]
    r = run(app, base + ["--period", "第一期"])
    assert r.exit_code == 2 and "无法识别结算期" in r.output and "--on" in r.output
    r = run(app, base + ["--period", "第一期", "--on", "2024-12-31", "--format", "json", "--out", str(tmp_path / "e.json")])
    assert r.exit_code == 0 and "没有按人头付费记录" in r.output
    r = run(app, base + ["--period", "2024", "--on", "2024-13-01"])
    assert r.exit_code == 2 and "YYYY-MM-DD" in r.output
    r = run(app, base + ["--period", "2024", "--format", "pdf"])
    assert r.exit_code == 2 and "pdf" in r.output
    r = run(app, base + ["--period", "2024", "--policy", str(tmp_path / "none.toml")])
    assert r.exit_code == 2 and "政策文件不存在" in r.output


def test_pharmacy_workbook_and_csv(tmp_path):
    d = data_dir(tmp_path, "pharmacy/06_risk_summary.toml")
    out = tmp_path / "p.xlsx"
    r = run(app, ["--data-dir", str(d), "pharmacy", "--month", "2024-07", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "检查 3 家药店、4 笔结算" in r.output and "违规 4 项" in r.output
    assert "本年查处 3 件,追回 1,000.00 元,暂停结算 1 家" in r.output
    wb = openpyxl.load_workbook(out, data_only=True)
    assert wb.sheetnames == ["封面", "违规明细", "药店风险汇总", "视频联动违规", "进销存不一致", "大额购药", "代购未登记",
                             "检查范围"]
    risk = wb["药店风险汇总"]
    header = [c.value for c in risk[1]]
    assert header == headers("pharmacy-risk")
    rows = body(risk)
    assert [x[1] for x in rows[:-1]] == ["P1", "P2", "P3"]
    assert rows[0][2] == "仁和大药房" and rows[-1][header.index("本年追回金额")] == 1000.0
    v = wb["违规明细"]
    vh = [c.value for c in v[1]]
    # by pharmacy, time, kind: P1's settlement S1 is large and was settled offline; P2's unregistered proxy
    # purchase S3, then its stock mismatch (no settlement time): 10 − 2 − 10 = −2 units at 40 yuan
    kinds = [x[vh.index("违规类型")] for x in body(v)[:-1]]
    assert kinds == ["大额购药", "视频离线期间结算", "代购未登记", "进销存不一致"]
    assert body(v)[-1][vh.index("涉及金额")] == 2500 + 2500 + 80 + 80
    assert body(v)[0][vh.index("结算时间")] == "2024-07-05 10:30"  # Beijing time to the minute
    assert next(wb["检查范围"].iter_rows(min_row=2, values_only=True)) == ("2024-07", 3, 4, 2660)
    c = cover(wb)
    assert c["报告期"] == "2024年7月" and c["数据截至"] == "2024-07-31"

    r = run(app, ["--data-dir", str(d), "pharmacy", "--month", "2024-07", "--format", "csv", "--out", str(tmp_path / "p.csv")])
    assert r.exit_code == 0, r.output
    assert list(pd.read_csv(tmp_path / "p.csv").columns) == names("pharmacy-violations")
    assert len(pd.read_csv(tmp_path / "p_risk.csv")) == 3
    assert list(pd.read_csv(tmp_path / "p_stock.csv")["difference"]) == [-2.0]
    r = run(app, ["--data-dir", str(d), "pharmacy", "--month", "2024-06", "--format", "json", "--out", str(tmp_path / "p.json")])
    assert r.exit_code == 0, r.output
    assert "检查 0 家药店、0 笔结算" in r.output
    doc = json.loads((tmp_path / "p.json").read_text(encoding="utf-8"))
    assert doc["month"] == "2024-06" and doc["violations"] == [] and doc["checked"] == []
    assert {x["pharmacy_code"] for x in doc["risk"]} == {"P2", "P3"}  # this year's cases up to June
    r = run(app, ["--data-dir", str(d), "pharmacy", "--month", "2024-7"])
    assert r.exit_code == 2 and "YYYY-MM" in r.output


def test_budget_quarterly_report(tmp_path):
    d = data_dir(tmp_path, "budget/02_months_counted_partial_month_and_no_budget.toml")
    out = tmp_path / "b.xlsx"
    r = run(app, ["--data-dir", str(d), "budget", "--quarter", "2024Q2", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "截至 2024-06-30" in r.output and "无预算 3 家" in r.output
    wb = openpyxl.load_workbook(out, data_only=True)
    assert wb.sheetnames == ["封面", "执行进度", "会商重点机构", "合计"]
    assert cover(wb)["报告"] == "2024年第2季度医保基金总额预算执行会商报告"
    ws = wb["执行进度"]
    header = [c.value for c in ws[1]]
    assert header == headers("budget")
    rows = body(ws)
    assert [x[header.index("医疗机构编码")] for x in rows[:-1]] == ["H1", "H2", "H3", "H4", "H5"]
    assert [x[header.index("状态")] for x in rows[:-1]] == ["正常", "无预算", "无预算", "正常", "无预算"]
    assert math.isclose(rows[-1][header.index("累计医保支出")], 600000 + 5000 + 100 + 100)
    assert [c.value for c in wb["会商重点机构"][1]] == ["排序", *headers("budget")]

    r = run(app, ["--data-dir", str(d), "budget", "--as-of", "2024-06-15", "--format", "json",
                  "--out", str(tmp_path / "b.json")])
    assert r.exit_code == 0, r.output
    doc = json.loads((tmp_path / "b.json").read_text(encoding="utf-8"))
    assert doc["as_of"] == "2024-06-15" and doc["margin"] == 0.1 and doc["totals"][0]["institutions"] == 5
    assert doc["consult"] == []
    assert next(x for x in doc["institutions"] if x["institution_code"] == "H1")["months_counted"] == 6
    r = run(app, ["--data-dir", str(d), "budget", "--as-of", "2024-06-15", "--format", "csv", "--out", str(tmp_path / "b.csv")])
    assert r.exit_code == 0 and len(pd.read_csv(tmp_path / "b.csv")) == 5
    assert (tmp_path / "b.csv").read_text(encoding="utf-8-sig").splitlines()[1].endswith(",false,normal")


def test_budget_ahead_list_and_errors(tmp_path):
    d = data_dir(tmp_path, "budget/01_exactly_10_points_ahead_is_not_flagged.toml")
    out = tmp_path / "b.xlsx"
    r = run(app, ["--data-dir", str(d), "budget", "--as-of", "2023-01-24", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "超序时进度(> 10 个百分点)的机构 1 家" in r.output and "(H2)" in r.output
    wb = openpyxl.load_workbook(out, data_only=True)
    assert cover(wb)["报告"] == "医保基金总额预算执行进度"
    ws = wb["会商重点机构"]
    header = [c.value for c in ws[1]]
    assert [x[header.index("医疗机构编码")] for x in body(ws)[:-1]] == ["H2"]
    base = ["--data-dir", str(d), "budget"]
    for args, text in ((["--quarter", "2024Q5"], "2024Q3"), ([], "--as-of"),
                       (["--as-of", "2024-01-01", "--quarter", "2024Q1"], "--quarter")):
        r = run(app, base + args)
        assert r.exit_code == 2 and text in r.output, r.output


@pytest.mark.parametrize(("command", "missing"), [(["capitation", "--period", "2024"], "capitation"),
                                                  (["pharmacy", "--month", "2024-07"], "pharmacy_settlements"),
                                                  (["budget", "--as-of", "2024-07-01"], "budgets")])
def test_missing_tables_are_named(tmp_path, command, missing):
    d = tmp_path / "empty"
    connect(f"duckdb:///{d / 'jicai.duckdb'}").close()
    r = run(app, ["--data-dir", str(d), *command])
    assert r.exit_code == 2 and missing in r.output


def test_the_capitation_document_names_its_codes_and_formats_its_figures():
    """Scenario capitation/01: H1 exactly 5% off its reasonable surplus → 70% of 21,000 = 14,700."""
    from datetime import date, datetime

    from jicai.fund.capitation import PeriodArgs, tier_labels
    from jicai.reports.fund import capitation_report
    from jicai.reports.html import cell

    s = load(ROOT / "capitation/01_tier_edge_5_percent_inclusive.toml")
    wh = connect("duckdb://")
    for name, t in s.tables.items():
        wh.write_table(name, t)
    policy, day = load_policy(), date(2024, 12, 31)
    args = PeriodArgs(policy, period="2024", on=day)
    rows, tiers, totals = (measure(n).rows(wh, args).to_pyarrow().to_pylist()
                           for n in ("capitation", "capitation-tiers", "capitation-totals"))
    report = capitation_report(rows, tiers, totals, period="2024", on=day, tier_labels=tier_labels(policy, day),
                               policy_version=policy.version, computed_at=datetime(2025, 1, 2, 9))
    t = report.table("institutions")
    h1 = next(r for r in t.rows if r["institution_code"] == "H1")
    shown = {c.zh: cell(c.show(h1.get(c.name)), c.kind) for c in t.columns}
    assert shown["医疗机构编码"] == "H1" and shown["返还比例"] == "70.0%" and shown["返还金额"] == "14,700.00"
    assert shown["偏差"] == "5.0%" and shown["返还档次"] == "偏差≤5%" and shown["偏差基数"] == "合理余量"
    assert shown["医疗机构名称"] == "—"
    assert [r["label"] for r in report.table("tiers").rows] == ["偏差≤5%", "5%<偏差≤10%", "10%<偏差≤20%", "偏差>20%"]
    assert report.headline[-1] == ("返还金额", f"{totals[0]['returned_amount']:,.2f} 元(占正结余 "
                                              f"{totals[0]['return_share'] * 100:.1f}%)")
