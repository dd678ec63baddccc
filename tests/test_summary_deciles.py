"""The one-page summary's deciles (jicai.reports.summary.decile_rows, from jicai.analytics.institution_deciles) on a
small province where every rank is known by hand.

Batch B1 starts 2024-01-01; V1 (片) has the selected P1 (¥20 a pack of 10) and the non-selected P1N (¥30 a pack).
Six level-3 hospitals of 鼓楼区 and one level-2 hospital each agreed 1,000 tablets of V1 for cycle year 1; every
purchase is on the platform and accepted on the day given; as of 2024-06-30 every line is due (the end of the
month after its acceptance month).

| | accepted | P1 packs | P1N packs | paid | completion | non-selected | payment rate | overdue |
|---|---|---|---|---|---|---|---|---|
| A | 01-20 | 90 | 0 | all | 90.0% | 0.0% | 100.0% | ¥0 |
| B | 02-02 | 60 | 0 | all | 60.0% | 0.0% | 100.0% | ¥0 |
| C | 02-02 | 60 | 0 | all | 60.0% | 0.0% | 100.0% | ¥0 |
| D | 03-05 | 52 | 28 | the P1 line | 52.0% | 280 / 800 = 35.0% | 1,040 / 1,880 = 55.3% | ¥840 |
| E | 02-02 | 20 | 60 | nothing | 20.0% | 600 / 800 = 75.0% | 0.0% | ¥2,200 |
| G | — | 0 | 0 | — | 0.0% | none | none (nothing due) | ¥0 |
| F (level 2) | 02-02 | 50 | 0 | all | 50.0% | 0.0% | 100.0% | ¥0 |

Offline share: 0 for every hospital that ordered (G ordered nothing: no value). Assessment score (the policy's
bands: completion 0.8 → 1.0 for 40 points, non-selected 0.5 → 0.2 for 20, payment 0.8 → 1.0 for 20, offline
0.2 → 0 for 10, cost growth 10 points when nothing was bought a year before, and full points for a figure that
is undefined): A 40 × 0.5 + 20 + 20 + 10 + 10 = 80; B, C 0 + 20 + 20 + 10 + 10 = 60; D 0 + 20 × 0.5 + 0 + 10 + 10
= 30; E 0 + 0 + 0 + 10 + 10 = 20; G 0 + 20 + 20 + 10 + 10 = 60 (nothing to judge but completion). Months to pass
(selected share of the month ≥ 1 − 0.5): A 1 (January), B, C 2, D 3 (52 / 80 = 65% in March), E and G never.

Deciles among the n level-3 peers with a value, 1 = best in the measure's direction; rank ties share the best
rank; decile = min(10, ⌊10 × (rank − 1) / (n − 1)⌋ + 1):

* completion, n = 6 (high is good): A 1 → 1; B, C 2 → 3; D 4 → 7; E 5 → 9; G 6 → 10. Median of six = mean of
  the 3rd and 4th best (60.0%, 52.0%) = 56.0%.
* non-selected share, n = 5 (G bought nothing): A, B, C 1 → 1; D 4 → 8; E 5 → 10. No median below six.
* payment rate, n = 5 (nothing due at G): A, B, C → 1; D → 8; E → 10.
* overdue amount, n = 6 (low is good): A, B, C, G 1 → 1; D 5 → 9; E 6 → 10; median (¥0 + ¥0) / 2 = ¥0.00.
* offline share, n = 5: all 0, rank 1 → 1.
* assessment score, n = 6: A 1 → 1; B, C, G 2 → 3; D 5 → 9; E 6 → 10; median (60 + 60) / 2 = 60.0分.
* months to pass, n = 6 (never passed ranks last, with no value): A 1 → 1; B, C 2 → 3; D 4 → 7; E, G 5 → 9;
  four values, no median.
* cost per DDD and non-VBP alternatives' share: the products have no strength, so no DDDs: no rows.

F is alone in level 2: every measure it has a value for is listed, unranked.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
from tests.web_fixtures import EA, EC, P1, P1N

from jicai.contract.arrow import empty, from_pylist
from jicai.contract.tables import TABLES
from jicai.reports.summary import decile_rows, summary_report
from jicai.store import connect

D = date(2024, 6, 30)

# hospital → (level, acceptance day, P1 packs, P1N packs, paid lines)
HOSPITALS = {
    "A": (3, datetime(2024, 1, 20, 11), 90, 0, "all"),
    "B": (3, datetime(2024, 2, 2, 11), 60, 0, "all"),
    "C": (3, datetime(2024, 2, 2, 11), 60, 0, "all"),
    "D": (3, datetime(2024, 3, 5, 11), 52, 28, "selected"),
    "E": (3, datetime(2024, 2, 2, 11), 20, 60, "none"),
    "G": (3, None, 0, 0, "none"),
    "F": (2, datetime(2024, 2, 2, 11), 50, 0, "all"),
}


def code(h: str) -> str:
    return f"H350102000{ord(h):02d}"


def _tables() -> dict:
    ea, ec = EA, EC
    rows: dict[str, list[dict]] = {
        "regions": [{"region_code": "350000", "name": "福建省", "parent_code": None},
                    {"region_code": "350100", "name": "福州市", "parent_code": "350000"},
                    {"region_code": "350102", "name": "鼓楼区", "parent_code": "350100"}],
        "institutions": [{"institution_code": code(h), "name": f"医院{h}", "region_code": "350102", "level": lv,
                          "kind": "hospital", "public": True, "sentinel": False}
                         for h, (lv, *_rest) in HOSPITALS.items()],
        "enterprises": [{"enterprise_code": ea, "name": "甲制药", "role": "both"},
                        {"enterprise_code": ec, "name": "丙制药", "role": "both"}],
        "batches": [{"batch_id": "B1", "name": "第一批", "category": "drug", "start_date": date(2024, 1, 1),
                     "cycle_years": 2, "policy_id": None}],
        "varieties": [{"variety_id": "V1", "batch_id": "B1", "name": "阿托伐他汀钙片", "unit": "片",
                       "baseline_unit_price": 5.0}],
        "products": [{"product_code": P1, "name": "阿托伐他汀钙片(甲)", "variety_id": "V1", "units_per_pack": 10.0,
                      "manufacturer_code": ea, "category": "drug"},
                     {"product_code": P1N, "name": "阿托伐他汀钙片(丙)", "variety_id": "V1", "units_per_pack": 10.0,
                      "manufacturer_code": ec, "category": "drug"}],
        "selected_products": [{"batch_id": "B1", "variety_id": "V1", "product_code": P1, "enterprise_code": ea,
                               "unit_price": 2.0, "role": "primary", "regions": None}],
        "agreements": [{"batch_id": "B1", "cycle_year": 1, "institution_code": code(h), "variety_id": "V1",
                        "agreed_volume": 1000.0} for h in HOSPITALS],
        "orders": [], "deliveries": [], "payments": [],
    }
    for h, (_lv, day, packs, other, paid) in HOSPITALS.items():
        for product, n, price, dist, kind in ((P1, packs, 20.0, ea, "selected"), (P1N, other, 30.0, ec, "other")):
            if not n:
                continue
            line = f"{h}-{kind}"
            rows["orders"].append({"order_line_id": line, "order_id": line, "institution_code": code(h),
                                   "product_code": product, "distributor_code": dist, "quantity": float(n),
                                   "pack_price": price, "ordered_at": day.replace(hour=8), "channel": "platform"})
            rows["deliveries"].append({"order_line_id": line, "responded_at": day.replace(hour=9),
                                       "shipped_at": day.replace(hour=10), "shipped_quantity": float(n),
                                       "accepted_at": day, "accepted_quantity": float(n)})
            if paid == "all" or paid == kind:
                rows["payments"].append({"payment_id": f"PAY-{line}", "order_line_id": line, "amount": n * price,
                                         "paid_at": day.replace(day=day.day + 1)})
    return {name: from_pylist(name, r) for name, r in rows.items()}


@pytest.fixture(scope="module")
def wh():
    w = connect("duckdb://")
    t = _tables()
    for name in TABLES:
        w.write_table(name, t.get(name, empty(name)))
    yield w
    w.close()


HIGH, LOW = "越高越好", "越低越好"


def test_the_summary_of_d_shows_its_deciles_among_the_level(wh):
    r = summary_report(wh, D, institution=code("D"))
    t = r.table("deciles")
    assert [c.zh for c in t.columns] == ["排名指标", "比较对象", "本期", "同级十分位", "同级中位", "好坏方向"]
    assert [tuple(x.values()) for x in t.rows] == [
        ("总体完成率", "全部", "52.0%", "第 7 十分位(同级 6 家)", "56.0%", HIGH),
        ("总体非中选占比", "全部", "35.0%", "第 8 十分位(同级 5 家)", "—", LOW),
        ("回款率", "全部", "55.3%", "第 8 十分位(同级 5 家)", "—", HIGH),
        ("逾期未回款金额", "全部", "¥840.00", "第 9 十分位(同级 6 家)", "¥0.00", LOW),
        ("线下采购占比", "全部", "0.0%", "第 1 十分位(同级 5 家)", "—", LOW),
        ("考核得分", "第一批", "30.0分", "第 9 十分位(同级 6 家)", "60.0分", HIGH),
        ("中选占比达标月数", "第一批", "3个月", "第 7 十分位(同级 6 家)", "—", LOW),
    ]
    assert "十分位1为按好坏方向最好的十分之一,10为最差" in t.note
    assert not t.on_page  # the workbook's list; the page says it in the last paragraph, with each direction
    assert r.paragraphs[-1] == (
        "同级十分位(1 为最好、10 为最差;总体完成率、回款率、考核得分越高越好,其余越低越好):"
        "总体完成率 52.0% 第 7 十分位(同级 6 家);总体非中选占比 35.0% 第 8 十分位(同级 5 家);"
        "回款率 55.3% 第 8 十分位(同级 5 家);逾期未回款金额 ¥840.00 第 9 十分位(同级 6 家);"
        "线下采购占比 0.0% 第 1 十分位(同级 5 家);考核得分(第一批) 30.0分 第 9 十分位(同级 6 家);"
        "中选占比达标月数(第一批) 3个月 第 7 十分位(同级 6 家)。")


@pytest.mark.parametrize(("h", "deciles"), [
    ("A", ["第 1 十分位(同级 6 家)", "第 1 十分位(同级 5 家)", "第 1 十分位(同级 5 家)", "第 1 十分位(同级 6 家)",
           "第 1 十分位(同级 5 家)", "第 1 十分位(同级 6 家)", "第 1 十分位(同级 6 家)"]),
    ("B", ["第 3 十分位(同级 6 家)", "第 1 十分位(同级 5 家)", "第 1 十分位(同级 5 家)", "第 1 十分位(同级 6 家)",
           "第 1 十分位(同级 5 家)", "第 3 十分位(同级 6 家)", "第 3 十分位(同级 6 家)"]),
    ("E", ["第 9 十分位(同级 6 家)", "第 10 十分位(同级 5 家)", "第 10 十分位(同级 5 家)", "第 10 十分位(同级 6 家)",
           "第 1 十分位(同级 5 家)", "第 10 十分位(同级 6 家)", "第 9 十分位(同级 6 家)"]),
])
def test_each_rank_gives_its_decile(wh, h, deciles):
    from jicai.policy import load_policy
    from jicai.reports.summary import find_unit

    rows = decile_rows(wh, D, load_policy(), find_unit(wh, code(h)))
    assert [r["decile"] for r in rows] == deciles


def test_without_a_value_a_measure_is_not_ranked_and_never_passing_has_no_value(wh):
    from jicai.policy import load_policy
    from jicai.reports.summary import find_unit

    g = decile_rows(wh, D, load_policy(), find_unit(wh, code("G")))
    # no purchase: no non-selected share, no payment rate, no offline share; never passed: last, no value
    assert [(r["metric"], r["value"], r["decile"]) for r in g] == [
        ("总体完成率", "0.0%", "第 10 十分位(同级 6 家)"),
        ("逾期未回款金额", "¥0.00", "第 1 十分位(同级 6 家)"),
        ("考核得分", "60.0分", "第 3 十分位(同级 6 家)"),
        ("中选占比达标月数", "未达标", "第 9 十分位(同级 6 家)"),
    ]


def test_alone_in_its_level(wh):
    r = summary_report(wh, D, institution=code("F"))
    assert {x["decile"] for x in r.table("deciles").rows} == {"不排名(同级仅 1 家)"}
    assert r.paragraphs[-1] == "同级十分位:同级机构不足两家,各排名指标均不排名。"


def test_a_region_has_no_deciles(wh):
    r = summary_report(wh, D, region="350102")
    assert [t.key for t in r.tables] == ["measures", "changes", "alerts"]



def test_the_command_prints_the_deciles_and_the_page_and_the_workbook_have_them(tmp_path):
    from io import BytesIO

    from openpyxl import load_workbook
    from pypdf import PdfReader
    from typer.testing import CliRunner

    from jicai.cli import app
    from jicai.store import default_url

    d = tmp_path / "data"
    d.mkdir()
    w = connect(default_url(d))
    t = _tables()
    for name in TABLES:
        w.write_table(name, t.get(name, empty(name)))
    w.close()
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["--data-dir", str(d), "report", "summary", "--institution", code("D"), "--as-of",
                                 "2024-06-30", "--format", "html,pdf,xlsx", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "逾期未回款金额 ¥840.00 第 9 十分位(同级 6 家)" in r.output.replace("\n", "")
    stem = out / f"一页摘要_{code('D')}_2024-06-30"
    html = stem.with_suffix(".html").read_text(encoding="utf-8")
    assert "总体完成率 52.0% 第 7 十分位(同级 6 家)" in html and "越高越好" in html
    pdf = PdfReader(BytesIO(stem.with_suffix(".pdf").read_bytes()))
    assert len(pdf.pages) == 1 and "第 7 十分位(同级 6 家)" in pdf.pages[0].extract_text()
    sheet = load_workbook(stem.with_suffix(".xlsx"))["同级十分位排名"]
    cells = [[c.value for c in row] for row in sheet.iter_rows()]
    assert ["总体完成率", "全部", "52.0%", "第 7 十分位(同级 6 家)", "56.0%", "越高越好"] in cells



def test_many_items_still_fit_one_a4_page(wh):
    """A province's institution has a cost per DDD per variety, a share per ATC class, a score per batch: the
    paragraph counts the items of such a measure in the worst three tenths (the workbook lists them), so that
    the page stays one page with the lists at their limits."""
    from io import BytesIO

    from pypdf import PdfReader

    from jicai.analytics.peer_metrics import METRICS
    from jicai.reports.pdf import render_pdf
    from jicai.reports.summary import _deciles_said

    # the five overall figures have one row each; the score, the months to pass (per batch), the cost per DDD
    # (per variety) and the alternatives' share (per class) have thirty
    many = [{"metric": m.zh, "item": "全部" if not m.item else f"某个名称很长的品种或类别第{i}号(规格)",
             "value": "¥12,345.67", "decile": "第 10 十分位(同级 1,234 家)", "_decile": 10}
            for m in METRICS.values() for i in range(1 if not m.item else 30)]
    said = _deciles_said(many)
    assert said.count("30 项中第 8–10 十分位 30 项") == sum(1 for m in METRICS.values() if m.item) == 4
    r = summary_report(wh, D, institution=code("D"))
    r.paragraphs[-1] = said
    r.table("alerts").rows = r.table("alerts").rows * 20
    r.table("changes").rows = [{"series": "非中选占比", "direction": "改善", "change_start": "2024-01",
                                "rule": "非中选占比自 2024-01 起下降,2024-04 超过报警阈值" * 3}] * 10
    assert len(PdfReader(BytesIO(render_pdf(r))).pages) == 1
