"""National VBP announcement import: parsing helpers on small workbooks built here, the pure transform on
the real workbooks of ../shared/realdata (facts checked by hand against the sheets), resolution of
selected products against a warehouse, and the end-to-end load through the project importer."""

from __future__ import annotations

import math
from pathlib import Path

import openpyxl
import pyarrow as pa
import pytest
from tests.conftest import unavailable
from typer.testing import CliRunner

from jicai.contract.codes import make_uscc
from jicai.contract.provinces import PROVINCES, province_prefix, region_code, split_regions
from jicai.contract.tables import TABLES
from jicai.ingest.announcement import parse_announcement, prepare, resolve, write_tables
from jicai.ingest.announcement.names import batch_of_sheet, canonical_drug_name, name_from_4_7, spec_key
from jicai.ingest.announcement.workbook import clean_number, find_header, read_sheets
from jicai.store import connect

VBP = "realdata/vbp-national-drug-batches"
PROVINCE_CODES = {p[0] for p in PROVINCES}
CITY_CODES = {"210100", "210200", "350200", "440100", "440300", "510100", "610100"}


# -- helpers on synthetic workbooks ---------------------------------------------------------------
def _results_workbook(path: Path) -> Path:
    """A results sheet with a title row, a note row, two-line headers, a merged drug name, '-', mixed
    separators, a formula without a cached value, float noise and the name-mapping sheet."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "第二轮集采"
    ws.append(["全国药品集中采购中选品种表"])
    ws.append(["注：示例"])
    ws.append(["序号", "药品通用名", "是否中标多种规格", "规格包装", "生产企业-全称", "生产企业-简称", "是否原研", "是否外企",
               "是否中标", "最高限价", "中标前中位价\n（最小规格）（元）", "竞标价格\n（最小规格）（元）", "供应省份"])
    ws.append([1, "阿卡波糖口服常释剂型", "否", "50mg", "拜耳医药保健有限公司", "拜耳", "是", "是", "是", 0.8358, 2.14,
               0.1806666666666667, "北京，天津、山西;内蒙古 辽宁／湖 北"])
    ws.append(["=A4", None, "否", "50mg", "四川绿叶制药股份有限公司", "四川绿叶", "否", "否", "是", 0.8358, "-",
               0.32, "河北,吉林，新疆（含兵团）"])
    ws.append([None, None, "否", "50mg", "北京福元医药股份有限公司", "北京福元", "否", "否", "否", 0.8358, 1.48,
               8.8571000000000009, "-"])
    ws.merge_cells("B4:B6")
    ws.append([2, "甲硝唑口服常释剂型", "否", "0.2g", "远大医药（中国）有限公司", "远大医药", "否", "否", "是", 0.1, None,
               0.0507, "上海、火星"])
    m = wb.create_sheet("生产企业名称mapping")
    m.append([None])
    m.append(["生产企业-原始", "生产企业", "是否外企"])
    m.append(["拜耳医药保健有限公司", "拜耳", "是"])
    m.append(["Bayer AG（拜耳医药保健有限公司分包装 ）", "拜耳", "是"])
    rules = wb.create_sheet("规则摘要")
    rules.append([None])
    rules.append(["第二批入围规则"])
    wb.save(path)
    return path


def _volumes_workbook(path: Path) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "第二轮集采 by 省"
    ws.append(["地区", "品种", "规格", "首年约定采购量（万片/万支/万袋）"])
    ws.append(["北京", "阿卡波糖口服常释剂型", "50mg", 40.88])
    ws.append(["天津", "=B2", "50mg", 14.470000000000001])
    ws.append(["河北", None, "50mg", "-"])
    ws.append(["火星", "阿卡波糖口服常释剂型", "50mg", 1])
    wb.save(path)
    return path


def test_header_found_below_title_rows_with_two_line_cells(tmp_path):
    grid = read_sheets(_results_workbook(tmp_path / "r.xlsx"))[0]
    row, cols = find_header(grid, {"name": ("药品通用名",), "baseline": ("中标前中位价",), "price": ("竞标价格",)})
    assert row == 3
    assert cols == {"name": 2, "baseline": 11, "price": 12}


def test_merged_cells_and_formulas_carry_values(tmp_path):
    grid = read_sheets(_results_workbook(tmp_path / "r.xlsx"))[0]
    assert [grid.value(r, 2) for r in (4, 5, 6)] == ["阿卡波糖口服常释剂型"] * 3
    assert grid.value(5, 1) == 1  # "=A4" has no cached value in a file written by openpyxl
    assert grid.formulas_evaluated == 1 and grid.formulas_failed == 0


def test_cleaning_noise_missing_and_placeholders():
    assert clean_number(8.8571000000000009) == 8.8571
    assert clean_number(0.07200000000000001) == 0.072
    assert clean_number("-") is None and clean_number("—") is None and clean_number(None) is None
    assert clean_number(99999) is None
    assert clean_number("１２.５") == 12.5


def test_region_names_and_separators():
    assert region_code("北京市") == region_code("北京") == region_code("京") == "110000"
    assert region_code("内蒙古自治区") == region_code("内蒙古") == "150000"
    assert region_code("新疆（含兵团）") == region_code("新疆兵团") == region_code("新疆") == "650000"
    assert region_code("沈阳") == "210100" and region_code("西安市") == "610100"
    codes, unknown = split_regions("北京，天津、山西;内蒙古 辽宁／湖 北\n云南；西藏,甘肃/青海")
    assert codes == ["110000", "120000", "140000", "150000", "210000", "420000", "530000", "540000", "620000",
                     "630000"]
    assert unknown == []
    assert split_regions("上海、火星") == (["310000"], ["火星"])
    assert province_prefix("650000") == "65" and province_prefix("210100") == "2101"


def test_names_and_strengths():
    assert canonical_drug_name("坦洛新(坦索罗辛)缓释控释剂型") == "坦洛新（坦索罗辛）缓释控释剂型"
    assert canonical_drug_name("枸櫞酸西地那非片") == "枸橼酸西地那非片"
    assert canonical_drug_name("阿派沙班口服常释剂型") == "阿哌沙班口服常释剂型"
    assert name_from_4_7("硫酸氢氯吡格雷", "口服常释片剂") == "氯吡格雷口服常释剂型"
    assert name_from_4_7("培美曲塞二钠", "注射") == "培美曲塞注射剂"
    assert spec_key("0.25g") == spec_key("250mg") and spec_key("5ml:50mg") == spec_key("50mg/5ml")
    assert batch_of_sheet("第三批集采 完整") == "NVBP-3" and batch_of_sheet("4+7 by city") == "NVBP-1"


def test_synthetic_workbooks_to_tables(tmp_path):
    ann = parse_announcement([_results_workbook(tmp_path / "r.xlsx"), _volumes_workbook(tmp_path / "v.xlsx")])
    kinds = {s.sheet: s.kind for s in ann.summary.sheets}
    assert kinds == {"第二轮集采": "results", "生产企业名称mapping": "enterprise_names", "规则摘要": "skipped",
                     "第二轮集采 by 省": "volumes"}
    res = {r["enterprise_short_name"]: r for r in ann.tables["vbp_results"].to_pylist()}
    bayer = res["拜耳"]
    assert bayer["variety_id"] == "NVBP-2-阿卡波糖口服常释剂型"
    assert bayer["unit_price"] == 0.180667 and bayer["baseline_unit_price"] == 2.14 and bayer["originator"] is True
    assert bayer["supply_regions"] == "110000;120000;140000;150000;210000;420000"
    assert res["四川绿叶"]["baseline_unit_price"] is None  # '-'
    assert res["四川绿叶"]["supply_regions"] == "130000;220000;650000"
    assert res["北京福元"]["drug_name"] == "阿卡波糖口服常释剂型"  # merged cell carried down
    assert res["北京福元"]["won"] is False and res["北京福元"]["supply_regions"] is None
    assert res["北京福元"]["unit_price"] == 8.8571
    # the unknown region is reported, not dropped silently
    assert any("火星" in p.zh and p.level == "error" for p in ann.summary.problems)
    variety = ann.tables["varieties"].to_pylist()
    assert {v["name"] for v in variety} == {"阿卡波糖口服常释剂型", "甲硝唑口服常释剂型"}
    assert {v["unit"] for v in variety} == {"片"}
    vols = {r["region_code"]: r["volume"] for r in ann.tables["vbp_agreed_volumes"].to_pylist()}
    assert vols == {"110000": 408800.0, "120000": 144700.0}  # 万片 × 10000, '-' and 火星 reported
    assert sum("火星" in p.zh for p in ann.summary.problems) == 2
    assert ann.tables["batches"].column("batch_id").to_pylist() == ["NVBP-2"]


def test_write_tables_is_deterministic(tmp_path):
    ann = parse_announcement([_results_workbook(tmp_path / "r.xlsx")])
    a = write_tables(ann.tables, tmp_path / "a")
    b = write_tables(parse_announcement([_results_workbook(tmp_path / "r2.xlsx")]).tables, tmp_path / "b")
    assert [p.name for p in a] == ["batches.parquet", "varieties.parquet", "vbp_results.parquet"]
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]


# -- resolution against a warehouse ---------------------------------------------------------------
def _warehouse_with(enterprises: list[dict], products: list[dict]):
    from jicai.contract import arrow

    wh = connect("duckdb://")
    wh.write_table("enterprises", arrow.from_pylist("enterprises", enterprises))
    wh.write_table("products", arrow.from_pylist("products", products))
    return wh


def test_resolution_by_full_name_mapping_and_spec(tmp_path):
    ann = parse_announcement([_results_workbook(tmp_path / "r.xlsx")])
    bayer, lvye = make_uscc("91110000100000001"), make_uscc("91510000100000002")
    vid = "NVBP-2-阿卡波糖口服常释剂型"
    wh = _warehouse_with(
        [{"enterprise_code": bayer, "name": "Bayer AG(拜耳医药保健有限公司分包装)", "role": "manufacturer"},
         {"enterprise_code": lvye, "name": "四川绿叶制药股份有限公司", "role": "manufacturer"}],
        [{"product_code": "XA10BFA" + "0" * 15 + "1", "name": "阿卡波糖片", "variety_id": vid, "spec": "50mg*30片",
          "units_per_pack": 30, "manufacturer_code": bayer, "category": "drug"},
         {"product_code": "XA10BFA" + "0" * 15 + "2", "name": "阿卡波糖片", "variety_id": vid, "spec": "100mg*30片",
          "units_per_pack": 30, "manufacturer_code": bayer, "category": "drug"}])
    res = resolve(wh, ann)
    rows = res.selected_products.to_pylist()
    # Bayer found through the mapping sheet (another full name of the short name 拜耳); only the 50mg product
    assert rows == [{"batch_id": "NVBP-2", "variety_id": vid, "product_code": "XA10BFA" + "0" * 15 + "1",
                     "enterprise_code": bayer, "unit_price": 0.180667, "role": "primary",
                     "regions": "11;12;14;15;21;42"}]
    reasons = {u.enterprise_name: u.reason_en for u in res.unresolved}
    assert reasons == {"四川绿叶制药股份有限公司": "no product of this variety by this enterprise in the warehouse",
                       "远大医药（中国）有限公司": "enterprise not in the warehouse (neither full nor short name)"}
    assert res.winning_rows == 3


# -- the real national workbooks ------------------------------------------------------------------
_CACHE: dict[str, object] = {}


@pytest.fixture
def real(shared_dir):
    if "ann" not in _CACHE:
        d = shared_dir / VBP
        if not d.is_dir():
            unavailable(f"{d} not present (the national VBP workbooks of ../shared/realdata)")
        _CACHE["ann"] = parse_announcement([d / "vbp-batches-1-3.xlsx", d / "vbp_amount-batches-1-3.xlsx"])
    return _CACHE["ann"]


def _rows(ann, table: str) -> list[dict]:
    return ann.tables[table].to_pylist()


realdata = pytest.mark.realdata


@realdata
def test_real_every_sheet_parsed(real):
    kinds = {(s.file, s.sheet): s.kind for s in real.summary.sheets}
    assert kinds == {
        ("vbp-batches-1-3.xlsx", "第一轮集采4+7"): "results",
        ("vbp-batches-1-3.xlsx", "第一轮集采联盟地区"): "results",
        ("vbp-batches-1-3.xlsx", "第二轮集采"): "results",
        ("vbp-batches-1-3.xlsx", "第三批集采 完整"): "results",
        ("vbp-batches-1-3.xlsx", "第三轮集采"): "results",
        ("vbp-batches-1-3.xlsx", "规则摘要"): "skipped",  # section titles only
        ("vbp-batches-1-3.xlsx", "生产企业名称mapping"): "enterprise_names",
        ("vbp_amount-batches-1-3.xlsx", "4+7"): "volume_totals",
        ("vbp_amount-batches-1-3.xlsx", "4+7 by city"): "volumes",
        ("vbp_amount-batches-1-3.xlsx", "联盟地区 by 省"): "volumes",
        ("vbp_amount-batches-1-3.xlsx", "第二轮集采 by 省"): "volumes",
        ("vbp_amount-batches-1-3.xlsx", "第三轮集采 by 省"): "volumes",
    }
    used = {s.sheet: s.rows_used for s in real.summary.sheets}
    assert used["第一轮集采联盟地区"] == 102 and used["第二轮集采"] == 158 and used["第三轮集采"] == 312
    assert used["第三批集采 完整"] == 367 and used["生产企业名称mapping"] == 365
    assert used["联盟地区 by 省"] == 950 and used["第二轮集采 by 省"] == 1550 and used["第三轮集采 by 省"] == 2511


@realdata
def test_real_counts_per_batch(real):
    from collections import Counter

    varieties = Counter(v["batch_id"] for v in _rows(real, "varieties"))
    # public facts: 4+7 had 25 of 31 varieties succeed; the expansion 25; batch 2 32 (碳酸氢钠 failed); batch 3 55
    assert varieties == {"NVBP-1": 25, "NVBP-1X": 25, "NVBP-2": 32, "NVBP-3": 55}
    wins = Counter(r["batch_id"] for r in _rows(real, "vbp_results") if r["won"])
    assert wins["NVBP-1"] == 26  # 25 varieties, 培美曲塞 won in two strengths
    assert wins["NVBP-2"] == 100  # "32 个品种 100 个产品中选"
    assert wins["NVBP-3"] == 191  # "55 个品种 191 个产品中选" (江苏昊中 in 完整 = 江苏吴中 in 第三轮集采)
    assert wins["NVBP-1X"] == 60
    assert {b["batch_id"] for b in _rows(real, "batches")} == {"NVBP-1", "NVBP-1X", "NVBP-2", "NVBP-3"}
    vols = Counter(v["batch_id"] for v in _rows(real, "vbp_agreed_volumes"))
    assert vols == {"NVBP-1": 434, "NVBP-1X": 947, "NVBP-2": 1550, "NVBP-3": 2511}


def _one(rows, **kw):
    found = [r for r in rows if all(r[k] == v for k, v in kw.items())]
    assert len(found) == 1, (kw, found)
    return found[0]


@realdata
def test_real_known_rows(real):
    results = _rows(real, "vbp_results")
    # 第二轮集采 row 11: 拜耳 阿卡波糖 50mg, 竞标价格 0.1806666666666667, 中标前中位价 2.14, 最高限价 0.8358
    r = _one(results, variety_id="NVBP-2-阿卡波糖口服常释剂型", enterprise_name="拜耳医药保健有限公司")
    assert (r["unit_price"], r["baseline_unit_price"], r["max_price"], r["won"]) == (0.180667, 2.14, 0.8358, True)
    assert r["originator"] is True and r["foreign"] is True and r["source_row"] == 11
    assert r["supply_regions"].split(";")[:3] == ["110000", "120000", "140000"]
    # 第一轮集采4+7 row 3: 北京嘉林 阿托伐他汀 20mg*7 at 6.6 yuan/box → 6.6/7 per tablet (formula =H3/7)
    r = _one(results, variety_id="NVBP-1-阿托伐他汀口服常释剂型", spec="20mg")
    assert r["enterprise_name"] == "北京嘉林" and r["pack"] == "20mg*7"
    assert r["unit_price"] == round(6.6 / 7, 6) and r["baseline_unit_price"] == 5.8
    assert set(r["supply_regions"].split(";")) == {"110000", "120000", "310000", "500000"} | CITY_CODES
    assert r["drug_name"] == "阿托伐他汀"  # merged A2:B3 carried down
    assert r["foreign"] is None  # the 4+7 sheet has no 是否外企 and 北京嘉林 is not in the mapping sheet
    assert _one(results, variety_id="NVBP-1-吉非替尼口服常释剂型")["foreign"] is True  # 阿斯利康: 是 in the mapping
    # 4+7 failed bids: 阿莫西林 流标
    assert _one(results, variety_id="NVBP-1-阿莫西林口服常释剂型")["won"] is False
    # 第三轮集采 row 4 (primary sheet of batch 3): 浙江海正 阿那曲唑 1mg 0.9957142857142857, 中位价 7.89
    r = _one(results, variety_id="NVBP-3-阿那曲唑口服常释剂型", enterprise_name="浙江海正药业股份有限公司")
    assert (r["unit_price"], r["baseline_unit_price"], r["source_sheet"]) == (0.995714, 7.89, "第三轮集采")
    # 阿派沙班 (完整 sheet's misspelling) is the same variety as 阿哌沙班: no extra variety
    assert not any("阿派" in v["name"] for v in _rows(real, "varieties"))
    # variety baseline = median of the bids' 中标前中位价: 阿卡波糖 2.14, 1.43, 1.48 → 1.48
    v = _one(_rows(real, "varieties"), variety_id="NVBP-2-阿卡波糖口服常释剂型")
    assert v["baseline_unit_price"] == 1.48 and v["unit"] == "片"
    assert _one(_rows(real, "varieties"), variety_id="NVBP-1-培美曲塞注射剂")["unit"] == "支"


@realdata
def test_real_known_volumes(real):
    vols = _rows(real, "vbp_agreed_volumes")
    # 第二轮集采 by 省 row 2: 北京 阿比特龙 0.25g 40.88 万片
    assert _one(vols, variety_id="NVBP-2-阿比特龙口服常释剂型", region_code="110000")["volume"] == 408800.0
    # 4+7 by city row 3: 北京 (=B2 → 阿托伐他汀) 20mg 4313.55 万片
    assert _one(vols, variety_id="NVBP-1-阿托伐他汀口服常释剂型", spec="20mg", region_code="110000")["volume"] == 43135500.0
    # 4+7 by city: 沈阳 is a city code
    assert {v["region_code"] for v in vols if v["batch_id"] == "NVBP-1"} == {"110000", "120000", "310000",
                                                                              "500000"} | CITY_CODES
    # 第三轮集采 by 省 row 2: 北京 阿那曲唑 1mg 138.1187 万片
    assert _one(vols, variety_id="NVBP-3-阿那曲唑口服常释剂型", region_code="110000")["volume"] == 1381187.0
    # the 4+7 city rows add up to the totals sheet (no mismatch reported)
    assert not any("合计" in p.zh for p in real.summary.problems)


@realdata
def test_real_no_float_noise_and_regions_known(real):
    for name in ("vbp_results", "vbp_agreed_volumes", "varieties"):
        t: pa.Table = real.tables[name]
        for field in t.schema:
            if pa.types.is_floating(field.type):
                for x in t.column(field.name).to_pylist():
                    assert x is None or (math.isfinite(x) and x == round(x, 6) and len(repr(x)) <= 17), (name, x)
    codes = {c for r in _rows(real, "vbp_results") for c in (r["supply_regions"] or "").split(";") if c}
    assert codes <= PROVINCE_CODES | CITY_CODES
    assert not any("地区名" in p.zh for p in real.summary.problems)  # every 供应省份 and 地区 name understood
    assert all(r["supply_regions"] for r in _rows(real, "vbp_results") if r["won"])
    assert not any(r["supply_regions"] for r in _rows(real, "vbp_results") if not r["won"])


@realdata
def test_real_reported_problems(real):
    errors = [p for p in real.summary.problems if p.level == "error"]
    # three rows of 联盟地区 by 省 repeat 新疆 under the wrong strength (e.g. row 51: 10mg in the 20mg block)
    assert [(p.sheet, p.row) for p in errors] == [("联盟地区 by 省", 51), ("联盟地区 by 省", 426), ("联盟地区 by 省", 901)]
    assert any("99999" in p.zh for p in real.summary.problems)


# -- CLI and end-to-end ----------------------------------------------------------------------------
def test_cli_dry_run_prints_summary(tmp_path):
    from jicai.cli import app

    f = _results_workbook(tmp_path / "r.xlsx")
    out = CliRunner().invoke(app, ["import-announcement", "--dry-run", str(f)])
    assert out.exit_code == 0, out.output
    for text in ("第二轮集采", "NVBP-2", "unresolved", "未匹配", "problems", "火星", "dry run"):
        assert text in out.output, text


@realdata
def test_real_import_twice_second_time_unchanged(shared_dir, tmp_path):
    from jicai.ingest.announcement import import_announcement

    d = shared_dir / VBP
    files = [d / "vbp-batches-1-3.xlsx", d / "vbp_amount-batches-1-3.xlsx"]
    wh = connect(f"duckdb:///{tmp_path / 'w.duckdb'}")
    first = import_announcement(wh, files)
    assert [(lr.table, lr.status, lr.rows_quarantined) for lr in first.loads] == [
        ("batches", "loaded", 0), ("varieties", "loaded", 0), ("vbp_results", "loaded", 0),
        ("vbp_agreed_volumes", "loaded", 0)]
    counts = {t: wh.table(t).count().to_pyarrow().as_py() for t in ("batches", "varieties", "vbp_results",
                                                                      "vbp_agreed_volumes")}
    assert counts == {"batches": 4, "varieties": 137, "vbp_results": first.tables["vbp_results"].num_rows,
                      "vbp_agreed_volumes": first.tables["vbp_agreed_volumes"].num_rows}
    def snapshot(t: str) -> pa.Table:
        data = wh.table(t).to_pyarrow()
        return data.select(TABLES[t].names).sort_by([(k, "ascending") for k in TABLES[t].key])

    before = {t: snapshot(t) for t in counts}
    second = import_announcement(wh, files)
    assert second.kept_existing == {"batches": 4, "varieties": 137}
    assert [(lr.table, lr.status) for lr in second.loads] == [("vbp_results", "unchanged"),
                                                               ("vbp_agreed_volumes", "unchanged")]
    for t in counts:
        assert snapshot(t).equals(before[t]), t


def test_prepare_keeps_existing_batches(tmp_path):
    import datetime as dt

    from jicai.contract import arrow

    wh = connect("duckdb://")
    wh.write_table("batches", arrow.from_pylist("batches", [
        {"batch_id": "NVBP-2", "name": "本省第二批", "category": "drug", "start_date": dt.date(2020, 4, 20),
         "cycle_years": 2}]))
    report = prepare(wh, [_results_workbook(tmp_path / "r.xlsx")])
    assert report.tables["batches"].num_rows == 0 and report.kept_existing["batches"] == 1


def test_cli_import_twice(tmp_path):
    from jicai.cli import app

    f = _results_workbook(tmp_path / "r.xlsx")
    runner = CliRunner()
    first = runner.invoke(app, ["import-announcement", str(f)])
    assert first.exit_code == 0, first.output
    assert "vbp_results: 已导入 / loaded" in first.output
    second = runner.invoke(app, ["import-announcement", str(f)])
    assert second.exit_code == 0, second.output
    assert "vbp_results: 未变化 / unchanged" in second.output
    assert "库中已有" in second.output  # batches and varieties kept
