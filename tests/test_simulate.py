"""The synthetic province: valid against the contract, deterministic, chunked, and the planted situations
are really in the raw data (checked with DuckDB SQL written independently of the generator)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from jicai.contract import codes
from jicai.contract.arrow import schema
from jicai.contract.tables import TABLES
from jicai.simulate import Manifest, simulate

INSTITUTIONS, MONTHS, SEED = 120, 12, 7


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    out = tmp_path_factory.mktemp("sim")
    m = simulate(out, institutions=INSTITUTIONS, months=MONTHS, seed=SEED, chunk_rows=5_000)
    return out, m


@pytest.fixture(scope="module")
def db(sim: tuple[Path, Manifest]) -> duckdb.DuckDBPyConnection:
    out, m = sim
    con = duckdb.connect()
    for t in m.files:
        con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{out / (t + '.parquet')}')")
    return con


def q(con: duckdb.DuckDBPyConnection, sql: str, *params: object) -> list[tuple]:
    return con.execute(sql, list(params)).fetchall()


def one(con: duckdb.DuckDBPyConnection, sql: str, *params: object) -> object:
    return q(con, sql, *params)[0][0]


# --- the contract ---------------------------------------------------------------------------------------

def test_every_table_present_with_contract_schema(sim):
    out, m = sim
    missing = set(TABLES) - set(m.files)
    assert all(TABLES[t].optional for t in missing), missing  # every required table is written
    for name in m.files:
        f = out / f"{name}.parquet"
        assert f.exists(), name
        s = pq.read_schema(f)
        expected = schema(name)
        assert s.names == expected.names, name
        assert [f.type for f in s] == [f.type for f in expected], name
        assert m.tables[name] == pq.ParquetFile(f).metadata.num_rows
    for name in ("regions", "institutions", "enterprises", "batches", "varieties", "products", "selected_products",
                 "agreements", "volume_reports", "listings", "orders", "deliveries", "payments", "supply_problems",
                 "capitation", "pharmacy_settlements", "video_status", "pharmacy_stock", "budgets", "fund_spending"):
        assert m.tables[name] > 0, name
    assert json.loads((out / "manifest.json").read_text(encoding="utf-8"))["tables"] == m.tables


def test_keys_unique(sim, db):
    for t in (TABLES[n] for n in sim[1].files):
        key = ", ".join(t.key)
        n, d = q(db, f"SELECT count(*), count(DISTINCT ({key})) FROM {t.name}")[0]
        assert n == d, t.name


def test_required_columns_choices_and_nonnegative(sim, db):
    for t in (TABLES[n] for n in sim[1].files):
        for c in t.columns:
            if c.required:
                assert one(db, f"SELECT count(*) FROM {t.name} WHERE {c.name} IS NULL") == 0, (t.name, c.name)
            if c.choices:
                vals = {str(v[0]).lower() for v in q(db, f"SELECT DISTINCT {c.name} FROM {t.name} WHERE {c.name} IS NOT NULL")}
                assert vals <= set(c.choices), (t.name, c.name, vals)
            if c.check in ("nonneg", "positive"):
                bad = one(db, f"SELECT count(*) FROM {t.name} WHERE {c.name} < 0")
                assert bad == 0, (t.name, c.name)


def test_foreign_keys_resolve(sim, db):
    checked = 0
    for t in (TABLES[n] for n in sim[1].files):
        for c in t.columns:
            if c.ref:
                rt, rc = c.ref
                missing = one(db, f"SELECT count(*) FROM {t.name} a WHERE a.{c.name} IS NOT NULL AND NOT EXISTS "
                                  f"(SELECT 1 FROM {rt} b WHERE b.{rc} = a.{c.name})")
                assert missing == 0, (t.name, c.name)
                checked += 1
    assert checked > 20


def test_codes_valid(db):
    for (code,) in q(db, "SELECT institution_code FROM institutions"):
        assert codes.institution_problem(code) is None, code
    for code, region, kind in q(db, "SELECT institution_code, region_code, kind FROM institutions"):
        assert codes.institution_region(code) == region
        assert code[0] == ("P" if kind == "pharmacy" else "H")
    for (code,) in q(db, "SELECT enterprise_code FROM enterprises"):
        assert codes.uscc_problem(code) is None, code
        assert code[:2] == "91" and codes.region_problem(code[2:8]) is None
    for code, parent in q(db, "SELECT region_code, parent_code FROM regions"):
        assert codes.region_problem(code) is None
        assert codes.region_parent_problem(code, parent) is None, (code, parent)
    for code, cat in q(db, "SELECT product_code, category FROM products"):
        assert codes.product_kind(code) == ("western_drug" if cat == "drug" else "consumable_20"), code
    for (regions,) in q(db, "SELECT regions FROM selected_products WHERE regions IS NOT NULL"):
        for prefix in regions.split(";"):
            assert one(db, "SELECT count(*) FROM regions WHERE starts_with(region_code, ?)", prefix) > 0
    n_var = one(db, "SELECT count(*) FROM varieties")
    assert 8 <= n_var <= 20
    assert one(db, "SELECT count(DISTINCT category) FROM batches") >= 2


def test_orders_consistent(db):
    # pack price = listed unit price × units per pack; deliveries never exceed the order
    bad = one(db, """SELECT count(*) FROM orders o JOIN products p USING (product_code) JOIN listings l USING (product_code)
                     WHERE abs(o.pack_price - l.listed_unit_price * p.units_per_pack) > 0.01""")
    assert bad == 0
    assert one(db, """SELECT count(*) FROM orders o JOIN deliveries d USING (order_line_id)
                      WHERE d.shipped_quantity > o.quantity OR d.accepted_quantity > d.shipped_quantity
                         OR d.responded_at < o.ordered_at OR d.shipped_at < d.responded_at OR d.accepted_at < d.shipped_at""") == 0
    # an order groups lines of one institution, time and distributor
    assert one(db, """SELECT count(*) FROM (SELECT order_id FROM orders GROUP BY order_id
                      HAVING count(DISTINCT (institution_code, ordered_at, distributor_code)) > 1)""") == 0
    assert one(db, "SELECT max(n) FROM (SELECT count(*) n FROM orders GROUP BY order_id)") > 1
    # paid amounts never exceed what was accepted
    assert one(db, """SELECT count(*) FROM payments p JOIN orders o USING (order_line_id) JOIN deliveries d USING (order_line_id)
                      WHERE p.amount > d.accepted_quantity * o.pack_price + 0.01 OR p.paid_at < d.accepted_at""") == 0
    share = one(db, "SELECT avg((channel = 'offline')::int) FROM orders")
    assert 0.005 < share < 0.1
    assert one(db, "SELECT count(*) FROM institutions WHERE sentinel") >= 2


# --- determinism, size, chunking, formats --------------------------------------------------------------

def test_deterministic_for_a_seed(sim, tmp_path):
    out, m = sim
    m2 = simulate(tmp_path / "again", institutions=INSTITUTIONS, months=MONTHS, seed=SEED, chunk_rows=5_000)
    assert m2.to_dict() == m.to_dict()
    for name in m.files:
        assert pq.read_table(out / f"{name}.parquet").equals(pq.read_table(tmp_path / "again" / f"{name}.parquet")), name
    m3 = simulate(tmp_path / "other", institutions=INSTITUTIONS, months=MONTHS, seed=SEED + 1, chunk_rows=5_000)
    assert not pq.read_table(out / "orders.parquet").equals(pq.read_table(tmp_path / "other" / "orders.parquet"))
    assert m3.planted != m.planted


def test_chunked_writing_makes_row_groups(sim):
    out, m = sim
    assert m.tables["orders"] > 20_000
    for name in ("orders", "deliveries", "payments"):
        assert pq.ParquetFile(out / f"{name}.parquet").num_row_groups > 1, name


def test_order_lines_target(tmp_path):
    seen = []
    m = simulate(tmp_path, institutions=60, months=3, seed=3, order_lines=80_000, chunk_rows=20_000,
                 progress=lambda done, total: seen.append((done, total)))
    assert abs(m.tables["orders"] - 80_000) / 80_000 < 0.05
    assert len(seen) > 1 and seen[-1][0] == m.tables["orders"]
    assert all(a[0] <= b[0] for a, b in zip(seen, seen[1:], strict=False))


def test_csv_format(tmp_path):
    m = simulate(tmp_path, institutions=50, months=2, seed=5, fmt="csv")
    con = duckdb.connect()
    for name in m.files:
        f = tmp_path / f"{name}.csv"
        header = f.read_text(encoding="utf-8").splitlines()[0].replace('"', "").split(",")
        assert header == TABLES[name].names, name
    rows = con.execute(f"SELECT ordered_at FROM read_csv('{tmp_path / 'orders.csv'}', header=true) LIMIT 5").fetchall()
    assert all(r[0].year == 2024 for r in rows)
    assert con.execute(f"SELECT count(*) FROM read_csv('{tmp_path / 'orders.csv'}', header=true)").fetchone()[0] == m.tables["orders"]
    assert Manifest.read(tmp_path / "manifest.json").files["orders"] == "orders.csv"


def test_cli(tmp_path):
    from jicai.cli import app

    res = CliRunner().invoke(app, ["simulate", "--out", str(tmp_path / "cli"), "--institutions", "50", "--months", "2",
                                   "--seed", "2"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "cli" / "manifest.json").exists()
    bad = CliRunner().invoke(app, ["simulate", "--out", str(tmp_path / "x"), "--institutions", "5"])
    assert bad.exit_code != 0


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError):
        simulate(tmp_path, institutions=10)
    with pytest.raises(ValueError):
        simulate(tmp_path, fmt="xlsx")


# --- planted situations are in the raw data ---------------------------------------------------------------

SELECTED_VOL = """
WITH acc AS (
  SELECT o.institution_code, p.variety_id, sp.role, sum(d.accepted_quantity * p.units_per_pack) vol
  FROM orders o JOIN deliveries d USING (order_line_id) JOIN products p USING (product_code)
  LEFT JOIN selected_products sp ON sp.product_code = o.product_code
  WHERE d.accepted_at IS NOT NULL GROUP BY ALL)
SELECT a.institution_code, a.variety_id, a.agreed_volume,
       coalesce(sum(vol) FILTER (WHERE role = 'primary'), 0) AS sel,
       coalesce(sum(vol) FILTER (WHERE role IS DISTINCT FROM 'primary'), 0) AS non
FROM agreements a LEFT JOIN acc USING (institution_code, variety_id)
WHERE a.batch_id = 'GJ-YP-JX' AND a.cycle_year = 1
GROUP BY ALL
"""


def completion(db) -> dict[tuple[str, str], tuple[float, float | None]]:
    return {(i, v): (sel / agreed, non / (sel + non) if sel + non else None)
            for i, v, agreed, sel, non in q(db, SELECTED_VOL)}


def test_planted_lagging_and_normal(sim, db):
    _, m = sim
    comp = completion(db)
    lag = set(m.one("lagging").institution_codes)
    assert len(lag) == 4
    lag_c = [c for (i, _), (c, _) in comp.items() if i in lag]
    assert lag_c and max(lag_c) < 0.75  # time progress is 1.0 at the end of the year
    others = sorted(c for (i, _), (c, _) in comp.items() if i not in lag)
    assert others[len(others) // 2] > 1.0  # the typical institution completes its agreement


def test_planted_zero_purchase(sim, db):
    _, m = sim
    zs = m.of_kind("zero_purchase")
    assert len(zs) == 3
    for z in zs:
        inst, var = z.institution_codes[0], z.variety_ids[0]
        assert one(db, "SELECT count(*) FROM agreements WHERE institution_code = ? AND variety_id = ?", inst, var) >= 1
        n_sel = one(db, """SELECT count(*) FROM orders o JOIN selected_products sp USING (product_code)
                           WHERE o.institution_code = ? AND sp.variety_id = ?""", inst, var)
        assert n_sel == 0
        n_any = one(db, """SELECT count(*) FROM orders o JOIN products p USING (product_code)
                           WHERE o.institution_code = ? AND p.variety_id = ?""", inst, var)
        assert (n_any > 0) == z.expected["any_purchase"]


def test_planted_nonselected_overuse(sim, db):
    _, m = sim
    comp = completion(db)
    plants = m.of_kind("nonselected_overuse")
    assert len(plants) == 3
    for p in plants:
        share = comp[(p.institution_codes[0], p.variety_ids[0])][1]
        assert share > 0.5
    planted = {(p.institution_codes[0], p.variety_ids[0]) for p in plants}
    zero = {(p.institution_codes[0], p.variety_ids[0]) for p in m.of_kind("zero_purchase")}
    shortage = set(m.one("shortage").institution_codes)
    # a laggard buys 30 % of its selected volume: with one or two lines a month its share may pass 0.5 by chance
    lagging = set(m.one("lagging").institution_codes)
    stray = [k for k, (_, s) in comp.items() if s is not None and s > 0.5 and k not in planted | zero
             and k[0] not in shortage | lagging]
    assert stray == []


def test_planted_late_payers(sim, db):
    _, m = sim
    due = "last_day(CAST(d.accepted_at AS DATE) + INTERVAL 1 MONTH)"
    for inst in m.one("late_payer").institution_codes:
        n, late = q(db, f"""SELECT count(*), count(*) FILTER (WHERE CAST(p.paid_at AS DATE) > {due})
                            FROM payments p JOIN orders o USING (order_line_id) JOIN deliveries d USING (order_line_id)
                            WHERE o.institution_code = ?""", inst)[0]
        assert n > 0 and late == n
    on_time = one(db, f"""SELECT avg((CAST(p.paid_at AS DATE) <= {due})::int)
                          FROM payments p JOIN orders o USING (order_line_id) JOIN deliveries d USING (order_line_id)
                          WHERE o.institution_code NOT IN (SELECT unnest(?))""", m.one("late_payer").institution_codes)
    assert on_time > 0.95


def test_planted_shortage_with_backup_purchases(sim, db):
    _, m = sim
    sh = m.one("shortage")
    product, backup = sh.product_codes[0], sh.expected["backup_product_code"]
    assert one(db, "SELECT role FROM selected_products WHERE product_code = ?", backup) == "backup"
    for inst in sh.institution_codes:
        rows = q(db, """SELECT verified, start_date, end_date, problem FROM supply_problems
                        WHERE institution_code = ? AND product_code = ?""", inst, product)
        assert rows == [(True, date.fromisoformat(sh.start), date.fromisoformat(sh.end), "shortage")]
    inside = one(db, """SELECT count(*) FROM orders WHERE product_code = ? AND institution_code IN (SELECT unnest(?))
                        AND CAST(ordered_at AS DATE) BETWEEN ? AND ?""", backup, sh.institution_codes,
                 date.fromisoformat(sh.start), date.fromisoformat(sh.end))
    assert inside >= len(sh.institution_codes)
    primary_inside = one(db, """SELECT count(*) FROM orders WHERE product_code = ? AND institution_code IN (SELECT unnest(?))
                                AND CAST(ordered_at AS DATE) BETWEEN ? AND ?""", product, sh.institution_codes,
                         date.fromisoformat(sh.start), date.fromisoformat(sh.end))
    assert primary_inside < inside
    assert set(sh.expected["sentinel_codes"]) <= {r[0] for r in q(db, "SELECT institution_code FROM institutions WHERE sentinel")}
    assert sh.expected["sentinel_codes"]
    assert one(db, "SELECT count(*) FROM supply_problems WHERE NOT verified") >= 1


def test_planted_volume_reports(sim, db):
    _, m = sim
    actual_sql = """SELECT coalesce(sum(d.accepted_quantity * p.units_per_pack), 0)
                    FROM orders o JOIN deliveries d USING (order_line_id) JOIN products p USING (product_code)
                    WHERE o.institution_code = ? AND p.variety_id = ?
                      AND d.accepted_at < ? AND d.accepted_at >= ? - INTERVAL 12 MONTH"""

    def report(inst, var):
        return q(db, "SELECT reported_volume, reported_at FROM volume_reports WHERE institution_code = ? AND variety_id = ?"
                     " AND cycle_year = 2", inst, var)

    under = m.of_kind("under_reported")
    assert len(under) == 4
    for p in under:
        (vol, at), = report(p.institution_codes[0], p.variety_ids[0])
        actual = one(db, actual_sql, p.institution_codes[0], p.variety_ids[0], at, at)
        assert vol < 0.8 * actual
    p = m.one("not_reported")
    assert report(p.institution_codes[0], p.variety_ids[0]) == []
    p = m.one("over_reported")
    (vol, at), = report(p.institution_codes[0], p.variety_ids[0])
    assert vol > 1.5 * one(db, actual_sql, p.institution_codes[0], p.variety_ids[0], at, at)
    # honest reports are neither low nor (mostly) high
    flagged = set()
    for inst, var, vol, at in q(db, "SELECT institution_code, variety_id, reported_volume, reported_at FROM volume_reports"):
        actual = one(db, actual_sql, inst, var, at, at)
        if vol < 0.8 * actual or vol > 1.5 * actual:
            flagged.add((inst, var))
    planted = {(p.institution_codes[0], p.variety_ids[0]) for k in ("under_reported", "over_reported") for p in m.of_kind(k)}
    assert planted <= flagged
    assert len(flagged - planted) <= 0.02 * one(db, "SELECT count(*) FROM volume_reports")


def test_planted_seasonal_and_surge(sim, db):
    _, m = sim
    s = m.one("seasonal")
    v = s.variety_ids[0]
    assert q(db, "SELECT special, special_start, special_end FROM varieties WHERE variety_id = ?", v) == [
        ("seasonal", date.fromisoformat(s.start), date.fromisoformat(s.end))]
    by_month = dict(q(db, """SELECT month(ordered_at), sum(quantity * units_per_pack) FROM orders JOIN products USING (product_code)
                             WHERE variety_id = ? GROUP BY 1""", v))
    assert (by_month[1] + by_month[12]) / 2 > 3 * (by_month[6] + by_month[7]) / 2

    sg = m.one("surge")
    monthly = dict(q(db, """SELECT strftime(ordered_at, '%Y-%m'), sum(o.quantity * p.units_per_pack)
                            FROM orders o JOIN products p USING (product_code) JOIN institutions i USING (institution_code)
                            WHERE p.variety_id = ? AND starts_with(i.region_code, ?) GROUP BY 1""",
                     sg.variety_ids[0], sg.region_codes[0][:4]))
    keys = sorted(monthly)
    k = keys.index(sg.start)
    prev = sum(monthly[x] for x in keys[k - 3:k]) / 3
    assert monthly[sg.start] > 1.5 * prev
    # no other prefecture-month of that variety looks like a surge
    assert all(monthly[keys[i]] <= 1.5 * sum(monthly[x] for x in keys[i - 3:i]) / 3 for i in range(3, len(keys)) if i != k)


def test_planted_slow_distributor(sim, db):
    _, m = sim
    slow = m.one("slow_distributor").enterprise_codes[0]
    rows = q(db, """SELECT o.distributor_code, median(epoch(d.responded_at - o.ordered_at)) / 3600,
                           sum(CASE WHEN d.shipped_at - o.ordered_at <= INTERVAL 72 HOUR THEN d.shipped_quantity ELSE 0 END)
                             / sum(o.quantity)
                    FROM orders o JOIN deliveries d USING (order_line_id) GROUP BY 1""")
    stats = {r[0]: r[1:] for r in rows}
    assert stats[slow][0] > 24 and stats[slow][1] < 0.95
    # the planted selective distributor answers its small customers late on purpose (tests/test_clues.py grades it)
    selective = set(m.one("selective_delivery").enterprise_codes)
    assert all(med < 24 for code, (med, _) in stats.items() if code != slow and code not in selective)


def test_planted_listings(sim, db):
    _, m = sim
    wrong = q(db, """SELECT l.product_code FROM listings l JOIN selected_products s USING (product_code)
                     WHERE abs(l.listed_unit_price - s.unit_price) > 0.001""")
    assert [r[0] for r in wrong] == m.one("listing_wrong_price").product_codes
    over = q(db, """WITH hi AS (SELECT variety_id, max(unit_price) hi FROM selected_products GROUP BY 1)
                    SELECT l.product_code FROM listings l JOIN products p USING (product_code) JOIN hi USING (variety_id)
                    WHERE p.product_code NOT IN (SELECT product_code FROM selected_products)
                      AND l.listed_unit_price > 2 * hi.hi""")
    assert [r[0] for r in over] == m.one("listing_over_2x").product_codes
    above = one(db, """WITH hi AS (SELECT variety_id, max(unit_price) hi FROM selected_products GROUP BY 1)
                       SELECT count(*) FROM listings l JOIN products p USING (product_code) JOIN hi USING (variety_id)
                       WHERE p.product_code NOT IN (SELECT product_code FROM selected_products) AND l.listed_unit_price > hi.hi""")
    assert above > 5


def test_planted_fund_supervision(sim, db):
    _, m = sim
    v = m.one("pharmacy_video_offline")
    inside = one(db, """SELECT count(*) FROM pharmacy_settlements s JOIN video_status v
                        ON v.pharmacy_code = s.pharmacy_code AND s.settled_at >= v.start_at AND s.settled_at < v.end_at
                        WHERE v.status = 'offline'""")
    assert inside == 1
    assert one(db, "SELECT count(*) FROM video_status WHERE status = 'offline' AND pharmacy_code = ?", v.institution_codes[0]) == 1
    assert [r[0] for r in q(db, "SELECT pharmacy_code FROM pharmacy_settlements WHERE amount > 2000")] == \
        m.one("pharmacy_large").institution_codes
    assert [r[0] for r in q(db, "SELECT pharmacy_code FROM pharmacy_settlements WHERE proxy AND NOT coalesce(proxy_registered, false)")] == \
        m.one("pharmacy_proxy_unregistered").institution_codes
    mismatch = q(db, """WITH sold AS (SELECT pharmacy_code, product_code, strftime(settled_at, '%Y-%m') period, sum(quantity) q
                                      FROM pharmacy_settlements GROUP BY ALL)
                        SELECT s.pharmacy_code, s.product_code FROM pharmacy_stock s LEFT JOIN sold USING (pharmacy_code, product_code, period)
                        WHERE abs(s.opening + s.purchased - coalesce(sold.q, 0) - s.closing) > 1e-6""")
    p = m.one("pharmacy_stock_mismatch")
    assert mismatch == [(p.institution_codes[0], p.product_codes[0])]
    ahead = m.one("budget_ahead").institution_codes[0]
    ratios = dict(q(db, """SELECT b.institution_code, sum(f.amount) / b.total_budget FROM budgets b
                           JOIN fund_spending f ON f.institution_code = b.institution_code AND f.month LIKE b.year || '-%'
                           GROUP BY b.institution_code, b.total_budget"""))
    assert ratios[ahead] > 1.1 and sorted(ratios.values())[-2] <= 1.01
    assert one(db, "SELECT count(*) FROM capitation c JOIN institutions i USING (institution_code) WHERE i.kind <> 'primary'") == 0
    assert one(db, "SELECT count(*) FROM violations") >= 1
