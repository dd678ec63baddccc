"""Listing governance (挂网价格管理): the output columns, the Chinese labels, a policy override and the CLI.
The scenarios (tests/scenarios/listing) run on every engine in test_scenarios.py.

Every scenario has a variety of its own (``V``) and products named by it; here all scenarios share one
warehouse with their ids prefixed ``s<i>:`` and one query on AS_OF = 2025-06-30 serves them all. Batch B1
starts 2024-01-01; batch B2 starts 2025-07-01 (not yet started on AS_OF). Listings take effect 2024-01-01
unless stated. ``price_tolerance`` = 0.001 yuan, ``nonselected_price_multiple`` = 2.0.
"""

from __future__ import annotations

import math
from datetime import date

from tests.scenarios.runner import combined_tables, load, scenario_files
from typer.testing import CliRunner

from jicai.measures.listing import COLUMNS, listing_governance

AS_OF = date(2025, 6, 30)
FILES = scenario_files("listing")


def tables() -> dict:
    return combined_tables([load(f) for f in FILES])


def _same(got, exp) -> bool:
    if exp is None:
        return got is None or (isinstance(got, float) and math.isnan(got))  # pandas: None or NaN
    return got == exp


def test_columns_finding_zh_and_policy_override(engine_warehouse):
    from jicai.policy import load_policy

    wh = engine_warehouse("duckdb", tables())
    df = listing_governance(wh, "2025-06-30").to_pandas()
    assert list(df.columns) == [c.name for c in COLUMNS]
    df = df.set_index("product_code")
    assert df.loc["s1:P", "finding_zh"] == "未按中选价挂网"
    assert df.loc["s6:N1", "finding_zh"] == "高于中选价"
    assert df.loc["s6:N2", "finding_zh"] == "建议暂停采购/撤网"
    loose = load_policy().with_values(price_tolerance=0.002, nonselected_price_multiple=3.0)
    df = listing_governance(wh, AS_OF, loose).to_pandas().set_index("product_code")
    assert "s1:P" not in df.index and "s5:N3" not in df.index
    assert df.loc["s6:N2", "finding"] == "above_winning_price"
    # before the 2025 listings took effect, s4:P and s4:R had no listing in force
    df = listing_governance(wh, date(2024, 12, 31)).to_pandas().set_index("product_code")
    for prod in ("s4:P", "s4:R"):
        assert df.loc[prod, "finding"] == "not_listed_at_winning_price"
        assert math.isnan(df.loc[prod, "listed_unit_price"]) and _same(df.loc[prod, "status"], None)


def test_cli_listing(tmp_path):
    import json

    from jicai.cli import app
    from jicai.settings import Settings

    wh = Settings.resolve().warehouse()
    for name, t in tables().items():
        wh.write_table(name, t)
    wh.close()
    out = tmp_path / "l.json"
    res = CliRunner().invoke(app, ["listing", "--as-of", "2025-06-30", "--format", "json", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "未按中选价挂网 not_listed_at_winning_price: 6" in res.output
    assert "高于中选价 above_winning_price: 2" in res.output
    assert "建议暂停采购/撤网 suspend_or_delist: 1" in res.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["as_of"] == "2025-06-30" and len(doc["rows"]) == 9
    rows = {r["product_code"]: r for r in doc["rows"]}
    assert rows["s2:P"]["listed_unit_price"] is None and rows["s6:N2"]["finding"] == "suspend_or_delist"
    res = CliRunner().invoke(app, ["listing", "--as-of", "2025-06-30", "--out", str(tmp_path / "l.csv")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "l.csv").read_text(encoding="utf-8-sig").startswith("product_code,")
    res = CliRunner().invoke(app, ["listing", "--as-of", "2025-13-01"])
    assert res.exit_code != 0
