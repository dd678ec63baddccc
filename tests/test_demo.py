"""End to end: simulate → import → monitor finds what the simulator planted, and the CLI demo runs."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from jicai.cli import app
from jicai.commands.demo import run_demo
from jicai.store import connect


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    d = tmp_path_factory.mktemp("demo")
    wh = connect(f"duckdb:///{d / 'jicai.duckdb'}")
    r = run_demo(d, wh, institutions=120, months=12, seed=11)
    rows = wh.table("monitor_results").to_pyarrow().to_pylist()
    wh.close()
    return r, {(x["institution_code"], x["variety_id"]): x for x in rows}


def test_everything_imported_cleanly(demo):
    r, _ = demo
    assert r["quarantined"] == 0
    assert {x.status for x in r["loads"]} == {"loaded"}
    assert r["xlsx"].exists()


def test_planted_zero_purchases_are_status_zero(demo):
    r, rows = demo
    plants = r["manifest"].of_kind("zero_purchase")
    assert plants
    for p in plants:
        row = rows[(p.institution_codes[0], p.variety_ids[0])]
        assert row["status"] == "zero" and row["selected_volume"] == 0
        assert row["not_onboarded"] is True


def test_planted_laggards_are_behind_on_every_variety(demo):
    r, rows = demo
    (p,) = r["manifest"].of_kind("lagging")
    for code in p.institution_codes:
        mine = [x for (i, _), x in rows.items() if i == code]
        assert mine, code
        assert all(x["status"] in ("behind", "zero") for x in mine), code


def test_planted_nonselected_overuse_is_flagged(demo):
    r, rows = demo
    for p in r["manifest"].of_kind("nonselected_overuse"):
        row = rows[(p.institution_codes[0], p.variety_ids[0])]
        assert row["nonselected_share"] > 0.5 and row["nonselected_excess"] is True


def test_planted_late_payers_have_low_payment_rates(demo):
    r, rows = demo
    (p,) = r["manifest"].of_kind("late_payer")
    for code in p.institution_codes:
        due = sum(x["amount_due"] for (i, _), x in rows.items() if i == code)
        paid = sum(x["paid_by_due"] for (i, _), x in rows.items() if i == code)
        assert due > 0 and paid / due <= p.expected["payment_rate_max"], code


def test_summary_names_the_worst_rows(demo):
    r, _ = demo
    text = "\n".join(r["summary"])
    assert "进度最落后" in text and "零采购" in text
    zero = r["manifest"].of_kind("zero_purchase")[0].institution_codes[0]
    assert zero in text


def test_cli_demo_prints_where_everything_is(tmp_path):
    res = CliRunner().invoke(app, ["--data-dir", str(tmp_path), "demo", "--institutions", "100", "--no-serve"])
    assert res.exit_code == 0, res.output
    assert "月度监测报表" in res.output and "月度监测.xlsx" in res.output
    assert (tmp_path / "demo" / "月度监测.xlsx").exists()
    # no server runs: no address to open and no logins listed as if it did, but how to start it
    assert "http://" not in res.output and "jicai-demo" not in res.output
    assert f"jicai --data-dir {tmp_path} serve --port 8000" in res.output and "jicai users list" in res.output
    listed = CliRunner().invoke(app, ["--data-dir", str(tmp_path), "users", "list"])
    for name in ("admin", "bureau", "quanzhou", "hospital", "supplier", "auditor"):
        assert name in listed.output, name


def test_the_demo_hospitals_keep_product_dictionaries_to_map(tmp_path_factory):
    """The demo's 对码 page has work: the three largest tertiary hospitals' own dictionaries (simulate/dictionary.py).
    Their own preparations (院内制剂) get no proposal; most codes find their product exactly; the ones without a
    maker or a pack are fuzzy ties for the bureau to decide."""
    from jicai.ingest.matching import describe_local
    from jicai.workflow.mapping import _index

    d = tmp_path_factory.mktemp("dictionaries")
    wh = connect(f"duckdb:///{d / 'jicai.duckdb'}")
    run_demo(d, wh, institutions=120, months=2, seed=11)
    index = _index(wh)
    rows = wh.table("local_products").to_pyarrow().to_pylist()
    found = {(r["scope"], r["local_code"]): index.propose(describe_local(r["name"], r["spec"], r["units_per_pack"],
                                                                         r["manufacturer"])) for r in rows}
    wh.close()
    assert len({r["scope"] for r in rows}) == 3 and len(rows) == 3 * (18 + 3)
    own = [k for k in found if k[1].startswith("ZJ")]
    assert len(own) == 9 and all(found[k] == [] for k in own)
    methods = [c[0].method for k, c in found.items() if c and k not in own]
    assert methods.count("exact") > len(rows) / 2 and "fuzzy" in methods
