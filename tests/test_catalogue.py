"""``jicai catalogue``: the 集采目录清单 of a batch, its editions and what changed since the last one.

The small province of web_fixtures: batch B1 (第一批, from 2024-01-01, 2 cycle years → until 2025-12-31);
V1 阿托伐他汀钙片: P1 of 甲制药 primary, P1B of 乙制药 backup; V2 氨氯地平片: P2 of 乙制药 primary; every price
¥2.0000 per tablet, 10 per pack → ¥20.00 per pack, every region.
"""

from __future__ import annotations

from datetime import date

import openpyxl
from tests.web_fixtures import EB, EC, P1, P1B, P1N, P2, world_tables
from typer.testing import CliRunner

from jicai.cli import app
from jicai.contract.arrow import from_pylist
from jicai.store import connect

START, END = date(2024, 1, 1), date(2025, 12, 31)
FIRST = [
    ("阿托伐他汀钙片", "阿托伐他汀钙片(甲)", 10, "甲制药", "主供", 2.0, 20.0, "全部地区", "未挂网", P1),
    ("阿托伐他汀钙片", "阿托伐他汀钙片(乙)", 10, "乙制药", "备供", 2.0, 20.0, "全部地区", "未挂网", P1B),
    ("氨氯地平片", "氨氯地平片(乙)", 10, "乙制药", "主供", 2.0, 20.0, "全部地区", "未挂网", P2),
]


def _cli(data, *args):
    res = CliRunner().invoke(app, ["--data-dir", str(data), *args])
    assert res.exit_code == 0, res.output
    return res.output


def _warehouse(data, tables):
    data.mkdir(parents=True, exist_ok=True)
    wh = connect(f"duckdb:///{data / 'jicai.duckdb'}")
    try:
        for name, t in tables.items():
            wh.write_table(name, t, overwrite=True)
    finally:
        wh.close()


def _sheet(path, title):
    ws = openpyxl.load_workbook(path, data_only=True)[title]
    rows = list(ws.iter_rows(values_only=True))
    return rows[0], [r for r in rows[1:] if r[0] and r[1]]


def _catalogue_rows(path):
    header, rows = _sheet(path, "目录清单")
    assert header == ("品种", "产品名称", "规格", "转换比", "中选企业", "供应角色", "中选价(元/最小单位)", "每包装价格(元)",
                      "供应地区", "执行日", "执行截止日", "挂网状态", "医保编码")
    for r in rows:
        assert (r[9].date(), r[10].date()) == (START, END)
    return [(r[0], r[1], r[3], r[4], r[5], r[6], r[7], r[8], r[11], r[12]) for r in rows]


def test_first_edition_then_changes_then_no_new_edition(tmp_path):
    data, out = tmp_path / "data", tmp_path / "out"
    tables = world_tables()
    _warehouse(data, tables)
    text = _cli(data, "catalogue", "--batch", "B1", "--as-of", "2024-06-30", "--out", str(out))
    assert "第一批集采目录清单(第1版)" in text and "首次发布" in text
    assert "中选产品:3 个(主供 2、备供 1)" in text
    xlsx = out / "集采目录清单_B1_2024-06-30.xlsx"
    assert _catalogue_rows(xlsx) == FIRST
    assert "变更情况" not in openpyxl.load_workbook(xlsx).sheetnames
    assert (out / "集采目录清单_B1_2024-06-30.pdf").read_bytes()[:4] == b"%PDF"

    # the bureau's next edition: P1 cheaper and for Quanzhou only, P1B dropped, P1N (丙制药) the new backup,
    # P2's listing suspended from 2024-06-01
    selected = [r for r in tables["selected_products"].to_pylist() if r["product_code"] != P1B]
    selected[0].update(unit_price=1.8, regions="3505")
    selected.append({"batch_id": "B1", "variety_id": "V1", "product_code": P1N, "enterprise_code": EC,
                     "unit_price": 2.1, "role": "backup", "regions": None})
    _warehouse(data, {"selected_products": from_pylist("selected_products", selected),
                      "listings": from_pylist("listings", [{"product_code": P2, "listed_unit_price": 2.0,
                                                            "status": "suspended", "effective_date": date(2024, 6, 1)}])})
    text = _cli(data, "catalogue", "--batch", "B1", "--as-of", "2024-07-01", "--out", str(out), "--format", "xlsx")
    assert "(第2版)" in text and "新增 1、移除 1、变更 2" in text
    xlsx = out / "集采目录清单_B1_2024-07-01.xlsx"
    assert _catalogue_rows(xlsx) == [
        ("阿托伐他汀钙片", "阿托伐他汀钙片(甲)", 10, "甲制药", "主供", 1.8, 18.0, "泉州市", "未挂网", P1),
        ("阿托伐他汀钙片", "阿托伐他汀钙片(丙)", 10, "丙制药", "备供", 2.1, 21.0, "全部地区", "未挂网", P1N),
        ("氨氯地平片", "氨氯地平片(乙)", 10, "乙制药", "主供", 2.0, 20.0, "全部地区", "暂停挂网", P2),
    ]
    header, changes = _sheet(xlsx, "变更情况")
    assert header == ("变更类型", "品种", "产品名称", "中选企业", "变更内容")
    assert changes == [
        ("新增", "阿托伐他汀钙片", "阿托伐他汀钙片(丙)", "丙制药", "备供,中选价 ¥2.1000,全部地区"),
        ("移除", "阿托伐他汀钙片", "阿托伐他汀钙片(乙)", "乙制药", "不再列入本批次中选产品"),
        ("变更", "阿托伐他汀钙片", "阿托伐他汀钙片(甲)", "甲制药", "中选价 ¥2.0000 → ¥1.8000;供应地区 全部地区 → 泉州市"),
        ("变更", "氨氯地平片", "氨氯地平片(乙)", "乙制药", "挂网状态 未挂网 → 暂停挂网"),
    ]

    # nothing changed since: the second edition stands, no third is recorded
    text = _cli(data, "catalogue", "--batch", "B1", "--as-of", "2024-07-01", "--out", str(out), "--format", "xlsx")
    assert "(第2版)" in text and "与第2版相同,未发新版" in text
    assert sorted(p.name for p in (data / "catalogue" / "B1").iterdir()) == ["edition-001.json", "edition-002.json"]
    # a draft compares with the latest edition and records nothing
    text = _cli(data, "catalogue", "--batch", "B1", "--as-of", "2024-07-01", "--draft", "--out", str(out),
                "--format", "xlsx")
    assert "(草稿)" in text and "较第2版" in text
    assert len(list((data / "catalogue" / "B1").iterdir())) == 2
    assert EB not in text  # names, never credit codes


def test_unknown_batch_is_a_bilingual_error(tmp_path):
    data = tmp_path / "data"
    _warehouse(data, world_tables())
    res = CliRunner().invoke(app, ["--data-dir", str(data), "catalogue", "--batch", "B9", "--as-of", "2024-06-30",
                                   "--out", str(tmp_path / "out")])
    assert res.exit_code != 0 and "批次 B9 不存在" in res.output and "batch B9 does not exist" in res.output
