"""The 未进院 list (进院排查): the list is the monitoring's flag, the CLI.

Scenarios (run on every engine in test_scenarios.py): tests/scenarios/onboarding/*.toml in the world ``vbp`` (batch B1 from 2024-01-01: checked from
2024-03-01; batch B3 from 2024-02-29: checked from 2024-04-29). The list is built on the monitoring's
``not_onboarded`` flag; these scenarios check the cut-over day, what was bought instead, backups and the
summary per city and batch.
"""

from __future__ import annotations

import json
import math

import openpyxl
import pytest
from tests.scenarios.runner import from_dict, load, scenario_files
from typer.testing import CliRunner

from jicai.cli import app
from jicai.measures.monitor import monitor
from jicai.measures.onboarding_report import COLUMNS, SUMMARY_COLUMNS, onboarding_report
from jicai.policy import load_policy
from jicai.store import connect

FILES = scenario_files("onboarding")


def test_list_is_the_monitoring_flag(engine_warehouse):
    """Every not_onboarded row of the monitoring is listed, nothing else (no second computation)."""
    s = load(next(p for p in FILES if p.stem.startswith("04_")))
    wh = engine_warehouse("duckdb", s.tables)
    as_of = s.args["as_of"]
    m = monitor(wh, as_of).to_pandas()
    got = onboarding_report(wh, as_of).to_pandas()
    assert list(got.columns) == [c.name for c in COLUMNS]
    flagged = m[m.not_onboarded]
    def pairs(df):
        return sorted(zip(df.institution_code, df.variety_id, strict=True))

    assert pairs(got) == pairs(flagged) and len(got) == 2
    merged = got.merge(flagged, on=["institution_code", "variety_id"], suffixes=("", "_m"))
    assert (merged.nonselected_volume == merged.nonselected_volume_m).all()


# -- the command ---------------------------------------------------------------------------------------

@pytest.fixture
def data_dir(tmp_path):
    s = load(next(p for p in FILES if p.stem.startswith("08_")))
    # plus: H1 bought the non-selected product instead (the worst case comes first)
    from jicai.contract.arrow import from_pylist

    extra = from_dict({"description": "x", "measure": "m:f", "expect": [],
                       "buys": [{"inst": "H1", "product": "P1N", "packs": 7, "accepted": "2024-02-03",
                                 "line": "LX", "order": "OX"}]})
    d = tmp_path / "data"
    wh = connect(f"duckdb:///{d / 'jicai.duckdb'}")
    for name, t in s.tables.items():
        if name in ("orders", "deliveries"):
            t = from_pylist(name, t.to_pylist() + extra.tables[name].to_pylist())
        wh.write_table(name, t)
    wh.close()
    return d


def _until_totals(ws) -> list[tuple]:
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    return rows[: [r[0] for r in rows].index("合计") + 1]


def test_cli_xlsx_sheets_headers_and_totals(data_dir, tmp_path):
    out = tmp_path / "o.xlsx"
    r = CliRunner().invoke(app, ["--data-dir", str(data_dir), "onboarding", "--as-of", "2024-04-28",
                                 "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "未进院 2 项(66.7%)" in r.output and "采购非中选产品替代 1 项" in r.output
    assert "批次 B3" in r.output and "2024-04-29 起排查" in r.output
    wb = openpyxl.load_workbook(out, data_only=True)
    assert wb.sheetnames == ["封面", "未进院名单", "按地市汇总", "排查时间"]
    ws = wb["未进院名单"]
    header = [c.value for c in ws[1]]
    assert header == [c.zh for c in COLUMNS]
    body = _until_totals(ws)
    assert [row[0] for row in body] == ["H1", "H2", "合计"]  # the non-selected buyer first
    assert body[0][header.index("医院等级")] == "三级"
    nonsel = header.index("非中选产品采购量")
    wh = connect(f"duckdb:///{data_dir / 'jicai.duckdb'}")
    from datetime import date

    exp = onboarding_report(wh, date(2024, 4, 28)).to_pandas()
    wh.close()
    assert math.isclose(body[-1][nonsel], exp.nonselected_volume.sum()) and body[-1][nonsel] == 70.0
    assert math.isclose(body[-1][header.index("约定采购量")], exp.agreed_volume.sum())

    ss = wb["按地市汇总"]
    assert [c.value for c in ss[1]] == [c.zh for c in SUMMARY_COLUMNS]
    sbody = _until_totals(ss)
    assert [row[:4] for row in sbody[:-1]] == [("610100", "B1", 2, 1), ("620100", "B1", 1, 1)]
    assert sbody[-1][2:] == (3, 2, pytest.approx(2 / 3))
    assert ss.cell(2, 5).number_format == "0.0%"
    sched = list(wb["排查时间"].iter_rows(min_row=2, max_row=3, values_only=True))
    assert [(r[0], r[2].date().isoformat(), r[3]) for r in sched] == [("B1", "2024-03-01", "是"),
                                                                        ("B3", "2024-04-29", "否")]


def test_cli_empty_list_says_why_and_json_csv(data_dir, tmp_path):
    run = CliRunner().invoke
    base = ["--data-dir", str(data_dir), "onboarding"]
    r = run(app, base + ["--as-of", "2024-02-29", "--format", "json", "--out", str(tmp_path / "o.json")])
    assert r.exit_code == 0, r.output
    assert "未进院名单为空:没有已到排查期的批次" in r.output
    assert "批次 B1(执行日 2024-01-01)自 2024-03-01 起排查" in r.output
    doc = json.loads((tmp_path / "o.json").read_text(encoding="utf-8"))
    assert doc["rows"] == [] and doc["summary"] == [] and doc["policy_version"] == load_policy().version
    assert {b["batch_id"]: b["checked"] for b in doc["batches"]} == {"B1": False, "B3": False}

    r = run(app, base + ["--as-of", "2024-05-01", "--batch", "B3", "--format", "csv", "--out", str(tmp_path / "o.csv")])
    assert r.exit_code == 0, r.output
    import pandas as pd

    listed = pd.read_csv(tmp_path / "o.csv")
    assert list(listed.institution_code) == ["H1"] and list(listed.batch_id) == ["B3"]
    assert pd.read_csv(tmp_path / "o_summary.csv").not_onboarded_rate.tolist() == [1.0]
    assert (tmp_path / "o_batches.csv").read_text(encoding="utf-8-sig").splitlines() == [
        "batch_id,batch_start,check_from,checked", "B3,2024-02-29,2024-04-29,true"]

    r = run(app, base + ["--as-of", "2024-05-01", "--batch", "B9"])
    assert r.exit_code == 2 and "批次不存在" in r.output
    r = run(app, base + ["--as-of", "2024-13-01"])
    assert r.exit_code == 2 and "YYYY-MM-DD" in r.output
