"""Therapeutic classes and DDDs (issue 16 items 1–2): the ATC class of a national drug code, the strength a spec
states, the bundled WHO DDD table and a bureau's override, the products' DDD facts — checked against the real
files of ../shared/realdata where they speak to it — and the substitution flags against the simulator's planted
hospitals. The measures' rules themselves are the hand-computed scenarios of tests/scenarios/substitution/."""

from __future__ import annotations

import csv
import re
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from tests.conftest import unavailable

from jicai.analytics.ddd import bundled, class_names, product_ddd_rows, resolve
from jicai.analytics.substitution import substitution_flags
from jicai.contract.arrow import empty, from_pylist
from jicai.contract.atc import ATC_MAIN_GROUPS, atc4
from jicai.contract.strength import in_unit, strength
from jicai.policy import load_policy
from jicai.policy.registry import BUNDLED
from jicai.simulate import simulate
from jicai.simulate.catalogue import DRUG_BATCH, VARIETIES
from jicai.store import connect

CONSUMABLES = "realdata/nhsa-consumable-codes-excerpt"
VBP = "realdata/vbp-national-drug-batches"


# -- the class from the code -------------------------------------------------------------------------------

@pytest.mark.parametrize(("code", "cls"), [
    ("XC10AAA067A001010101445", "C10AA"), ("XJ05AFE070A001010181604", "J05AF"), ("xa10baE021a001010100001", "A10BA"),
    (" XN03AXL023A001010104226 ", "N03AX"), ("XC10AAA067", "C10AA"),
    ("ZA01AAA0001010101444", None), ("C0101010010100103941", None), ("XQ10AA", None), ("XC1AAA", None), ("", None),
    (None, None),
])
def test_atc4_reads_characters_2_to_6_of_a_western_drug_code(code, cls):
    assert atc4(code) == cls


def test_every_simulated_drug_code_carries_its_variety_class():
    from jicai.simulate.catalogue import _drug_code
    for vi, v in enumerate(VARIETIES):
        code = _drug_code(v, vi, 1, 101, 1)
        assert atc4(code) == (v.group if v.category == "drug" else None), code


@pytest.mark.realdata
def test_real_consumable_codes_have_no_atc_class(shared_dir):
    """The 36 real 20-character consumable codes and 40 Guizhou codes: C… codes are never read as ATC."""
    d = shared_dir / CONSUMABLES
    if not d.is_dir():
        unavailable(f"{d} not present (../shared/realdata)")
    codes = [r["name"] for f in ("nhsa.consumables.20char.sample36.excerpt.csv",
                                 "guizhou.medical.consumables.payment_standard.sample40.excerpt.csv")
             for r in csv.DictReader((d / f).open(encoding="utf-8"))]
    assert len(codes) == 76 and all(c.startswith("C") for c in codes)
    assert [c for c in codes if atc4(c) is not None] == []


@pytest.mark.realdata
def test_real_national_batches_1_to_3_molecules_resolve_to_the_bundled_ddds(shared_dir):
    """The national VBP workbooks carry no drug codes (checked: no X… code in them), only names and strengths:
    every molecule of batches 1–3 whose Chinese INN is in the bundled table resolves to its DDD through the
    same name match the products use, and the strengths the workbooks state parse."""
    d = shared_dir / VBP
    if not d.is_dir():
        unavailable(f"{d} not present (../shared/realdata)")
    from jicai.ingest.announcement import parse_announcement
    ann = parse_announcement([d / "vbp-batches-1-3.xlsx", d / "vbp_amount-batches-1-3.xlsx"])
    rows = ann.tables["vbp_results"].to_pylist()
    assert not any(re.match(r"^X[A-Z]\d{2}[A-Z]{2}", str(v)) for r in rows for v in r.values() if v)
    table = list(bundled())
    inns = {d.inn_zh: d for d in table}
    found: dict[str, str] = {}
    for r in rows:
        for inn, ddd in inns.items():
            if inn in r["drug_name"]:
                found[inn] = ddd.atc_code
    # the molecules of batches 1–3 the table holds (the 4+7 statins, clopidogrel, entecavir, amlodipine, …)
    for inn in ("阿托伐他汀", "瑞舒伐他汀", "氯吡格雷", "恩替卡韦", "氨氯地平", "二甲双胍", "左乙拉西坦", "阿莫西林",
                "头孢呋辛", "奥美拉唑", "阿那曲唑", "来曲唑", "孟鲁司特", "厄贝沙坦", "坎地沙坦", "替格瑞洛"):
        assert inn in found, inn
    # a real winning row resolves end to end: 阿托伐他汀 20 mg tablets are 1 DDD each
    row = next(r for r in rows if r["drug_name"].startswith("阿托伐他汀") and r["spec"] == "20mg")
    out = resolve({"product_code": "XC10AAA067A001010101445", "name": row["drug_name"], "spec": row["spec"]},
                  None, table)
    assert (out["atc_code"], out["ddd_per_unit"]) == ("C10AA05", 1.0)
    parsed = [strength(r["spec"]) for r in rows if r["spec"]]
    assert sum(p is not None for p in parsed) / len(parsed) > 0.9


# -- strength and the DDD table -----------------------------------------------------------------------------

@pytest.mark.parametrize(("spec", "want"), [
    ("20mg*7片/盒", (20.0, "mg")), ("0.25g×24粒", (0.25, "g")), ("75mg", (75.0, "mg")), ("5ml:0.5g*10支", (0.5, "g")),
    ("２０ｍｇ＊１４片", (20.0, "mg")), ("400万单位*1支", (400.0, "万U")), ("10mg/5ml*1支", (10.0, "mg")),
    ("复方 20mg*7片", None), ("500mg/125mg*12片", None), ("0.1%*10g", None), ("10mg/ml", None), ("速率法", None),
    ("", None), (None, None),
])
def test_strength_of_a_spec(spec, want):
    assert strength(spec) == want


def test_units_convert_by_mass_only():
    assert in_unit((0.5, "g"), "mg") == 500.0 and in_unit((250.0, "mcg"), "mg") == 0.25
    assert in_unit((1.0, "IU"), "mg") is None and in_unit((2.0, "IU"), "IU") == 2.0


def test_the_bundled_table_is_dated_unique_and_names_its_classes():
    rows = bundled()
    assert len(rows) >= 50
    keys = [(d.atc_code, d.route) for d in rows]
    assert len(keys) == len(set(keys))
    names = class_names()
    for d in rows:
        assert re.fullmatch(r"[ABCDGHJLMNPRSV]\d{2}[A-Z]{2}\d{2}", d.atc_code), d
        assert d.atc_code[0] in ATC_MAIN_GROUPS and d.atc_code[:5] in names, d
        assert d.ddd > 0 and d.unit in ("mg", "g", "mcg", "IU", "U") and d.route in ("O", "P")
        assert re.fullmatch(r"WHO ATC/DDD Index 20\d\d", d.source), d
        assert d.inn_zh and not d.inn_zh.endswith(("片", "胶囊")), d
    # every simulated drug variety but the adsorbent has its substance (WHO gives diosmectite, A07BC05, 9 g oral,
    # but the table does not bundle it: docs/classes.md)
    for v in VARIETIES:
        if v.category == "drug" and v.group != "A07BC":
            out = resolve({"product_code": f"X{v.group}A100A001010100001", "name": v.name, "spec": f"{v.spec}*7片"},
                          None, list(rows))
            assert out["ddd_per_unit"] is not None, (v.name, out["ddd_note"])


MASS = {"mg": 1.0, "g": 1000.0, "mcg": 0.001}
CHECKED_ROW = re.compile(r"^\| ([A-Z]\d\d[A-Z]{2}\d\d) \| .+? \| ([\d.]+) (\w+) (\w+) \| ([\d.]+) (\w+) (\w+) \| agrees")


def test_every_bundled_ddd_is_the_value_docs_record_as_checked_against_the_index():
    """docs/classes.md ("Checked against") records for every bundled row the WHO value it was checked against, in
    the unit WHO writes; the data and that record may not drift apart, and the row's edition is the one checked."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "classes.md").read_text(encoding="utf-8")
    edition = re.search(r"\| WHO (20\d\d) \(as WHO writes it\) \|", text).group(1)
    checked = {m.group(1): m.groups()[1:] for m in map(CHECKED_ROW.match, text.splitlines()) if m}
    rows = bundled()
    assert sorted(checked) == sorted(d.atc_code for d in rows)
    for d in rows:
        ddd, unit, route, who_ddd, who_unit, who_route = checked[d.atc_code]
        assert (float(ddd), unit, route) == (d.ddd, d.unit, d.route), d
        assert who_route == d.route and float(who_ddd) * MASS[who_unit] == pytest.approx(d.ddd * MASS[d.unit]), d
        assert d.source == f"WHO ATC/DDD Index {edition}", d


def test_the_ddds_that_who_changed_have_their_current_value():
    """Old copies of the Index still circulate; these are the bundled DDDs WHO changed since 2005 (docs/classes.md,
    WHO's cumulative list of DDD alterations), each at its value since the change, not the one before it."""
    got = {d.atc_code: (d.ddd, d.unit) for d in bundled() if d.route == "O"}
    assert got["C10AA05"] == (20.0, "mg")   # atorvastatin, 10 mg before 2009
    assert got["C10AA01"] == (30.0, "mg")   # simvastatin, 15 mg before 2009
    assert got["A10BB09"] == (60.0, "mg")   # gliclazide, 0.16 g before 2011
    assert got["A02BC05"] == (30.0, "mg")   # esomeprazole, 20 mg before 2005
    assert got["N03AX14"] == (1.5, "g")     # levetiracetam, 2 g before 2005
    assert got["B01AF01"] == (20.0, "mg")   # rivaroxaban, 10 mg before 2016
    assert got["B01AF02"] == (10.0, "mg")   # apixaban, 5 mg before 2016
    assert got["J01CA04"] == (1.5, "g")     # amoxicillin oral, 1 g before 2019


def _catalogue(rows: list[dict]):
    wh = connect("duckdb://")
    wh.write_table("varieties", empty("varieties"))
    wh.write_table("products", from_pylist("products", [
        {"units_per_pack": 7.0, "category": "drug", **r} for r in rows]))
    return wh


def test_product_ddd_rows_say_why_a_product_has_none():
    wh = _catalogue([
        {"product_code": "XC10AAA100A001010100001", "name": "阿托伐他汀钙片", "spec": "20mg*7片/盒"},
        {"product_code": "XA02BCA100A001010100002", "name": "艾司奥美拉唑镁肠溶片", "spec": "20mg*7片"},
        {"product_code": "XA02BCA100A001010100003", "name": "注射用奥美拉唑钠", "spec": "40mg*1支"},
        {"product_code": "XC10AAA100A001010100004", "name": "普伐他汀钠片", "spec": "规格见说明书", "strength": "20mg"},
        {"product_code": "XC08CAA100A001010100005", "name": "阿托伐他汀钙片", "spec": "20mg*7片"},
        {"product_code": "XA01ADA100A001010100006", "name": "某外用凝胶", "spec": "10g"},
        {"product_code": "ZA01AAA0001010101444", "name": "某中成药", "spec": "0.5g*24片"},
    ])
    got = {r["product_code"]: (r["atc4"], r["atc_code"], r["ddd_per_unit"], r["ddd_note"]) for r in product_ddd_rows(wh)}
    assert got["XC10AAA100A001010100001"] == ("C10AA", "C10AA05", 1.0, None)
    # the longer INN wins: esomeprazole (DDD 30 mg), not omeprazole
    assert got["XA02BCA100A001010100002"] == ("A02BC", "A02BC05", 20 / 30, None)
    # the bundled table has omeprazole's oral DDD only
    assert got["XA02BCA100A001010100003"] == ("A02BC", None, None, "DDD表无奥美拉唑的该给药途径(P)")
    # products.strength wins over an unreadable spec
    assert got["XC10AAA100A001010100004"] == ("C10AA", "C10AA03", 20 / 30, None)
    assert got["XC08CAA100A001010100005"] == ("C08CA", None, None, "名称中的阿托伐他汀不属于编码的ATC类别C08CA")
    assert got["XA01ADA100A001010100006"] == ("A01AD", None, None, "名称中无DDD表收录的通用名")
    assert got["ZA01AAA0001010101444"] == (None, None, None, "非西药编码，无ATC分类")


def test_a_bureau_ddd_row_replaces_the_bundled_one_and_adds_a_substance():
    wh = _catalogue([
        {"product_code": "XC10AAA100A001010100001", "name": "阿托伐他汀钙片", "spec": "20mg*7片/盒"},
        {"product_code": "XA02BCA100A001010100003", "name": "注射用奥美拉唑钠", "spec": "40mg*1支"},
    ])
    wh.write_table("ddd", from_pylist("ddd", [
        {"atc_code": "C10AA05", "route": "o", "ddd": 10.0, "unit": "MG", "source": "本局2025年第3号决定"},
        {"atc_code": "A02BC01", "route": "P", "ddd": 20.0, "unit": "mg"},
    ]))
    got = {r["product_code"][-1]: r for r in product_ddd_rows(wh)}
    # route and unit in any case: o is O, MG is mg
    assert (got["1"]["ddd_per_unit"], got["1"]["ddd_source"]) == (2.0, "本局2025年第3号决定")
    assert (got["3"]["atc_code"], got["3"]["ddd_per_unit"], got["3"]["ddd_source"]) == ("A02BC01", 2.0, "本地DDD表(ddd)")


# -- the planted substitution ---------------------------------------------------------------------------------

def test_substitution_flags_find_the_planted_hospitals(tmp_path):
    """A small simulated province (80 institutions, 5 months): every planted hospital is flagged for its class
    (recall 100%) and at least 80% of the flags are planted."""
    m = simulate(tmp_path / "data", institutions=80, months=5, seed=3)
    wh = connect(f"duckdb:///{tmp_path / 'w.duckdb'}")
    for name, f in m.files.items():
        wh.write_table(name, pq.read_table(Path(tmp_path / "data" / f)))
    planted = {(p.institution_codes[0], p.expected["atc4"]) for p in m.of_kind("substitution")}
    assert len(planted) == 3
    rows = substitution_flags(wh, DRUG_BATCH, date.fromisoformat(m.as_of), load_policy(BUNDLED["fujian"])).to_pyarrow()
    flagged = {(r["institution_code"], r["atc4"]) for r in rows.to_pylist() if "nonvbp_rise" in r["flags"]}
    assert planted <= flagged, planted - flagged
    assert len(flagged & planted) / len(flagged) >= 0.8, flagged - planted
    for p in m.of_kind("substitution"):  # the planted alternative is a valid code of the class, of no variety
        assert atc4(p.product_codes[0]) == p.expected["atc4"]


# -- pages and API ---------------------------------------------------------------------------------------------

def test_the_class_measures_have_pages_and_api_scoped_to_the_user(tmp_path):
    from fastapi.testclient import TestClient
    from tests.web_fixtures import HA, bearer, login, make_app

    with TestClient(make_app(tmp_path)) as c:
        bureau = bearer(c, "bureau")
        for url in ("/api/product-ddd", "/api/ddd-volume?as_of=2024-06-30", "/api/substitution?as_of=2024-06-30",
                    "/api/substitution-flags?batch=B1&as_of=2024-06-30"):
            r = c.get(url, headers=bureau)
            assert r.status_code == 200, (url, r.text[:300])
            assert {"atc4", "atc4_name"} <= {col["name"] for col in r.json()["columns"]}, url
        rows = c.get("/api/ddd-volume?as_of=2024-06-30", headers=bureau).json()["rows"]
        assert HA in {r["institution_code"] for r in rows}
        mine = c.get("/api/ddd-volume?as_of=2024-06-30", headers=bearer(c, "institution")).json()["rows"]
        assert mine and {r["institution_code"] for r in mine} == {HA}
        other = c.get("/api/ddd-volume?as_of=2024-06-30", headers=bearer(c, "institution_b")).json()["rows"]
        assert HA not in {r["institution_code"] for r in other}
        login(c, "bureau")
        for url in ("/data/ddd-volume?as_of=2024-06-30", "/data/substitution-flags?batch=B1&as_of=2024-06-30",
                    "/data/product-ddd"):
            r = c.get(url)
            assert r.status_code == 200 and "ATC类别" in r.text, url
