"""The compact facts kept at import (jicai.ingest.facts) stay equal to the facts built afresh from the raw
lines — after each month's files, a replaced file and a late payment file — and the measures give the same
rows from the facts as from the raw lines, on DuckDB, PostgreSQL and Spark."""

from __future__ import annotations

import math
from datetime import date, datetime
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from tests.conftest import PG_URL, throwaway_pg_database

from jicai.ingest import facts, import_paths
from jicai.measures.monitor import monitor
from jicai.simulate import simulate
from jicai.store import connect, copy_tables

AS_OFS = (date(2024, 2, 29), date(2024, 3, 14), date(2024, 4, 1), date(2024, 4, 30))
MONTHS = (1, 2, 3, 4)
SMALL = ("institutions", "enterprises", "products", "varieties", "batches", "selected_products", "agreements",
         "supply_problems", "regions")


def _month(col: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.month(col)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A simulated province cut into one orders / deliveries / payments file per order month; a third of
    January's payments held back as a late file; February's orders edited as a replacement file."""
    src = tmp_path_factory.mktemp("world")
    simulate(src, institutions=40, months=4, seed=3)
    out = tmp_path_factory.mktemp("files")
    small = out / "small"
    small.mkdir()
    for name in SMALL:
        if (src / f"{name}.parquet").exists():
            (small / f"{name}.parquet").write_bytes((src / f"{name}.parquet").read_bytes())
    orders = pq.read_table(src / "orders.parquet")
    month_of_line = dict(zip(orders["order_line_id"].to_pylist(), _month(orders["ordered_at"]).to_pylist(),
                             strict=True))
    deliveries = pq.read_table(src / "deliveries.parquet")
    payments = pq.read_table(src / "payments.parquet")
    late = None
    for m in MONTHS:
        folder = out / f"m{m}"
        folder.mkdir()
        o = orders.filter(pc.equal(_month(orders["ordered_at"]), m))
        pq.write_table(o, folder / f"orders_2024-{m:02d}.parquet")
        d = deliveries.filter(pa.array([month_of_line[x] == m for x in deliveries["order_line_id"].to_pylist()]))
        pq.write_table(d, folder / f"deliveries_2024-{m:02d}.parquet")
        p = payments.filter(pa.array([month_of_line[x] == m for x in payments["order_line_id"].to_pylist()]))
        if m == 1:
            keep = pa.array([i % 3 != 0 for i in range(p.num_rows)])
            late = p.filter(pc.invert(keep))
            p = p.filter(keep)
        pq.write_table(p, folder / f"payments_2024-{m:02d}.parquet")
    assert late is not None and late.num_rows > 20
    (out / "late").mkdir()
    pq.write_table(late, out / "late" / "payments_2024-01-late.parquet")
    # February's orders again, corrected: ten lines with twice the quantity, one moved into March
    feb = orders.filter(pc.equal(_month(orders["ordered_at"]), 2)).to_pylist()
    for row in feb[:10]:
        row["quantity"] *= 2
    feb[10]["ordered_at"] = feb[10]["ordered_at"].replace(month=3, day=5)
    (out / "fix").mkdir()
    pq.write_table(pa.Table.from_pylist(feb, schema=orders.schema), out / "fix" / "orders_2024-02-v2.parquet")
    return out


def _sorted(t: pa.Table) -> pa.Table:
    keys = [c for c in t.column_names if not pa.types.is_floating(t.schema.field(c).type)]
    return t.sort_by([(k, "ascending") for k in keys])


def assert_same_rows(got: pa.Table, exp: pa.Table, what: str) -> None:
    assert sorted(got.column_names) == sorted(exp.column_names), what
    got, exp = _sorted(got.select(exp.column_names)), _sorted(exp)
    assert got.num_rows == exp.num_rows, f"{what}: {got.num_rows} rows, expected {exp.num_rows}"
    for name in exp.column_names:
        for i, (a, b) in enumerate(zip(got[name].to_pylist(), exp[name].to_pylist(), strict=True)):
            if isinstance(a, float) and isinstance(b, float):
                assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6), f"{what}.{name} row {i}: {a} vs {b}"
            else:
                assert a == b, f"{what}.{name} row {i}: {a!r} vs {b!r}"


def assert_facts_current(wh) -> None:
    assert facts.complete(wh)
    for f in facts.FACTS:
        assert_same_rows(wh.table(f.name).to_pyarrow(), f.build(wh.table).to_pyarrow(), f.name)


def assert_monitor_parity(wh, as_ofs=AS_OFS) -> None:
    for as_of in as_ofs:
        got = monitor(wh, as_of, source="facts").to_pyarrow()
        assert got.num_rows > 50
        assert_same_rows(got, monitor(wh, as_of, source="lines").to_pyarrow(), f"monitor {as_of}")


def assert_supply_parity(wh) -> None:
    """The supply scorecard and rollup read the stored delivery lines; without the facts, the raw join."""
    from jicai.measures.supply import supply_rollup, supply_scorecard

    got = [supply_scorecard(wh, "2024-03", "2024-02").to_pyarrow(), supply_rollup(wh, "2024-04", "month").to_pyarrow()]
    assert got[0].num_rows > 10
    wh.con.drop_table("_facts_state")
    assert not facts.complete(wh)
    exp = [supply_scorecard(wh, "2024-03", "2024-02").to_pyarrow(), supply_rollup(wh, "2024-04", "month").to_pyarrow()]
    for g, e in zip(got, exp, strict=True):
        assert_same_rows(g, e, "supply")


def _import(wh, folder) -> None:
    results = import_paths(wh, [folder])
    assert all(r.status in ("loaded", "unchanged") for r in results), [(r.file.name, r.messages) for r in results]


def _steps(wh, files) -> None:
    _import(wh, files / "small")
    assert not facts.complete(wh)  # nothing loaded into a fact source yet
    for m in MONTHS[:3]:
        _import(wh, files / f"m{m}")
    assert_facts_current(wh)
    _import(wh, files / "m4")  # a new month
    assert_facts_current(wh)
    _import(wh, files / "fix")  # a replaced file: February's facts change, and March gains a line
    assert_facts_current(wh)
    before = wh.table("_facts_outstanding_month").outstanding.sum().to_pyarrow().as_py()
    _import(wh, files / "late")  # January's late payments: January's balances shrink
    assert_facts_current(wh)
    assert wh.table("_facts_outstanding_month").outstanding.sum().to_pyarrow().as_py() < before


def assert_cost_growth_parity(wh) -> None:
    """The assessment's purchase amounts from the facts equal those from the lines, to the fen: at year end and
    provisionally in the middle of a month (read by day there)."""
    from jicai.assess.cost_growth import purchase_amounts
    from jicai.assess.period import assessment_period

    batches = wh.table("batches").batch_id.to_pyarrow().to_pylist()
    checked = 0
    for batch in batches:
        for as_of in (None, date(2024, 3, 17)):
            try:
                period = assessment_period(wh, batch, 1, as_of)
            except Exception:  # an as-of before the batch started: nothing to compare
                continue
            got = purchase_amounts(wh, period, source="facts").to_pyarrow()
            exp = purchase_amounts(wh, period, source="lines").to_pyarrow()
            assert_same_rows(got, exp, f"purchase amounts {batch} {as_of}")
            checked += got.num_rows
    assert checked > 20


def test_facts_follow_each_import_on_duckdb(files, tmp_path):
    wh = connect(f"duckdb:///{tmp_path / 'w.duckdb'}")
    _steps(wh, files)
    assert_monitor_parity(wh)
    assert_cost_growth_parity(wh)
    assert_supply_parity(wh)
    facts.rebuild(wh)
    assert_facts_current(wh)
    # a raw table written other than by the importer makes the facts stale: the measures read the lines
    wh.write_table("payments", wh.table("payments").to_pyarrow())
    assert not facts.complete(wh)
    wh.close()


def test_refresh_touches_only_the_months_of_the_file(files, tmp_path):
    """A late payment file for January lines rewrites January's partition and leaves February's rows alone
    (DuckDB gives a rewritten row a new rowid, past every older one)."""
    wh = connect(f"duckdb:///{tmp_path / 'w.duckdb'}")
    for folder in ("small", "m1", "m2"):
        _import(wh, files / folder)
    con = wh.con.con

    def rowids(month: str) -> list[int]:
        return [r[0] for r in con.execute(f"SELECT rowid FROM _facts_accepted_day WHERE part_month = DATE '{month}' "
                                          "ORDER BY rowid").fetchall()]

    jan, feb = rowids("2024-01-01"), rowids("2024-02-01")
    assert jan and feb
    _import(wh, files / "late")
    assert rowids("2024-02-01") == feb
    assert min(rowids("2024-01-01")) > max(jan + feb)
    assert_facts_current(wh)
    wh.close()


def _pending(wh) -> set[date]:
    return {r[0] for r in wh.con.con.execute("SELECT part_month FROM _facts_pending").fetchall()}


def test_deferred_facts_are_pending_until_finished(files, tmp_path):
    """A folder import defers each file's facts (the months are marked pending in the file's own transaction)
    and computes them once at its end; what a crash leaves pending, the next import finishes."""
    from jicai.ingest.loader import finish_facts, import_file

    wh = connect(f"duckdb:///{tmp_path / 'w.duckdb'}")
    for folder in ("small", "m1"):
        _import(wh, files / folder)
    assert_facts_current(wh)
    # as if a folder import of February died after its first two files
    for name in ("orders", "deliveries"):
        res = import_file(wh, files / "m2" / f"{name}_2024-02.parquet", name, defer_facts=True)
        assert res.status == "loaded", res.messages
        assert not facts.complete(wh)  # the measures read the raw lines meanwhile
        assert _pending(wh) == {date(2024, 2, 1)}
    assert_monitor_parity(wh, AS_OFS[1:2])  # from the lines, and right
    # the next import (a single file: not deferred) recomputes its months and the pending ones
    _import(wh, files / "late")
    assert "_facts_pending" not in wh.con.list_tables()
    assert_facts_current(wh)
    # a pending month left alone is finished by finish_facts (what import_paths calls after a folder)
    import_file(wh, files / "m3" / "orders_2024-03.parquet", "orders", defer_facts=True)
    assert _pending(wh) == {date(2024, 3, 1)}
    finish_facts(wh)
    assert_facts_current(wh)
    # a source written around the importer drops the pending list with the state: everything is built anew
    import_file(wh, files / "m3" / "deliveries_2024-03.parquet", "deliveries", defer_facts=True)
    wh.write_table("payments", wh.table("payments").to_pyarrow())
    assert not facts.complete(wh) and "_facts_pending" not in wh.con.list_tables()
    finish_facts(wh)
    assert_facts_current(wh)
    wh.close()


@pytest.mark.postgres
def test_facts_follow_each_import_on_postgres(files):
    # a database of its own: the session's shared one may hold facts another test's import built
    with throwaway_pg_database("jicai_facts") as name:
        u = urlparse(PG_URL)
        wh = connect(f"postgres://{u.username or 'postgres'}@{u.hostname}:{u.port or 5432}/{name}")
        try:
            _steps(wh, files)
            assert_monitor_parity(wh, AS_OFS[1:3])
            assert_cost_growth_parity(wh)
        finally:
            wh.close()


@pytest.mark.slow
@pytest.mark.spark
def test_facts_on_spark(files, tmp_path, spark_warehouse):
    """The DuckDB warehouse with its facts copied to Spark: the facts are used there and agree."""
    wh = connect(f"duckdb:///{tmp_path / 'w.duckdb'}")
    _steps(wh, files)
    names = [n for n in wh.list_tables() if not n.startswith("_") or n.startswith("_facts")]
    copy_tables(wh, spark_warehouse, names)
    assert facts.complete(spark_warehouse)
    assert_monitor_parity(spark_warehouse, AS_OFS[1:2])
    wh.close()


def test_db_facts_command_rebuilds_stale_facts(files, tmp_path):
    from typer.testing import CliRunner

    from jicai.cli import app

    wh = connect(f"duckdb:///{tmp_path / 'jicai.duckdb'}")
    for folder in ("small", "m1"):
        _import(wh, files / folder)
    wh.write_table("payments", wh.table("payments").to_pyarrow())  # written around the importer: stale
    assert not facts.complete(wh)
    wh.close()
    res = CliRunner().invoke(app, ["--data-dir", str(tmp_path), "db", "facts"])
    assert res.exit_code == 0, res.output
    assert "_facts_accepted_month" in res.output
    wh = connect(f"duckdb:///{tmp_path / 'jicai.duckdb'}")
    assert_facts_current(wh)
    wh.close()


def test_an_engine_error_during_import_is_a_bilingual_exit(files, tmp_path, monkeypatch):
    """An out-of-memory (or disk-full) error of DuckDB inside an import: exit 2 with both messages, no traceback."""
    import duckdb
    from typer.testing import CliRunner

    from jicai.cli import app
    from jicai.commands import importing

    def broken(*args, **kwargs):
        raise duckdb.OutOfMemoryException("could not allocate block of size 256.0 KiB")

    monkeypatch.setattr(importing, "import_paths", broken)
    res = CliRunner().invoke(app, ["--data-dir", str(tmp_path), "import", str(files / "m1")])
    assert res.exit_code == 2
    assert "导入中止" in res.output and "the import stopped" in res.output and "256.0 KiB" in res.output
    assert "Traceback" not in res.output


def test_the_importers_fen_rounding_is_the_measures():
    """ingest.facts._fen is written again below the measures (layers): it must round every amount as
    measures.exact.fen does — halves away from zero, after the micro-yuan snap — including the halves that binary
    floats store just below (6,309.485 is 6,309.48499… as a double) and negative changes."""
    import ibis

    from jicai.ingest.facts import _fen
    from jicai.measures.exact import fen

    values = [0.0, 0.004, 0.005, 0.0050000001, 37.0368, 6309.485, 22.295 * 283, 12.3456 * 3, 1e-13, -0.005,
              -6309.485, -37.0368, 0.015, 1.005, 2.675, 1234567.895, 0.1 + 0.2]
    t = ibis.memtable({"x": values})
    got = t.select(importer=_fen(t.x), measures=fen(t.x)).to_pyarrow().to_pylist()
    assert [r["importer"] for r in got] == [r["measures"] for r in got]
    assert got[values.index(6309.485)]["importer"] == 630949  # half up from the decimal value, not the double


def _balances_by_hand(lines: list[dict], payments: list[tuple[str, datetime, float]]) -> dict:
    """The outstanding fact's rows computed line by line in Python, from its definition (ingest.facts): a line's
    events are its acceptance day and each later payment day; on each it owes its amount in fen less what was
    paid by then in fen (never below zero) until the next event; a change before the 1st of the month after the
    acceptance counts on that 1st."""
    from jicai.measures.exact import to_fen

    rows: dict = {}
    for line in lines:
        day = line["accepted_at"].date()
        amount = line["accepted_quantity"] * line["pack_price"]
        pays: dict[date, float] = {}
        for lid, at, pay in payments:
            if lid == line["order_line_id"]:
                pays[at.date()] = pays.get(at.date(), 0.0) + pay
        events = sorted({day} | {p for p in pays if p > day})
        floor = date(day.year + day.month // 12, day.month % 12 + 1, 1)
        part = line["ordered_at"].date().replace(day=1)
        for i, e in enumerate(events):
            owed = max(to_fen(amount) - to_fen(sum(v for p, v in pays.items() if p <= e)), 0) / 100
            changes = [(e, owed)] + ([(events[i + 1], -owed)] if i + 1 < len(events) else [])
            for when, d in changes:
                key = (part, line["institution_code"], line["product_code"], day, max(when, floor))
                got = rows.setdefault(key, [0.0, 0])
                got[0] += d
                got[1] += (1 if d > 0 else -1) if owed > 0 else 0
    return {k: (round(v[0], 2), v[1]) for k, v in rows.items() if abs(v[0]) >= 5e-7 or v[1]}


def test_outstanding_balances_of_lines_paid_in_every_way_are_those_computed_by_hand():
    """Unpaid; paid in full before, on and after the acceptance day; paid once later in part; paid on several
    later days (the joined path), one of them twice on a day, and overpaid; accepted late in a month."""
    import ibis

    from jicai.ingest.facts import outstanding_day

    def line(lid, accepted, qty=10.0, price=12.345, ordered=datetime(2024, 3, 1, 9)):
        return {"order_line_id": lid, "institution_code": "H1", "product_code": "P" + lid[-1], "distributor_code": "D",
                "quantity": qty, "pack_price": price, "ordered_at": ordered, "channel": "online",
                "accepted_at": accepted, "accepted_quantity": qty}

    lines = [line("L1", datetime(2024, 3, 5, 10)), line("L2", datetime(2024, 3, 5, 10)),
             line("L3", datetime(2024, 3, 5, 10)), line("L4", datetime(2024, 3, 31, 23), price=3.005),
             line("L5", datetime(2024, 3, 10, 8)), line("L6", datetime(2024, 3, 10, 8), ordered=datetime(2024, 2, 28)),
             line("L7", datetime(2024, 4, 2, 8), qty=7.0)]
    payments = [("L2", datetime(2024, 3, 1, 8), 123.45),  # before the acceptance: paid in full from day one
                ("L3", datetime(2024, 3, 5, 18), 23.45), ("L3", datetime(2024, 4, 10), 50.0),  # on the day, once later
                ("L4", datetime(2024, 4, 1), 10.0), ("L4", datetime(2024, 5, 20), 10.0),  # several later days
                ("L4", datetime(2024, 5, 20, 17), 5.0), ("L4", datetime(2024, 7, 1), 99.0),  # twice a day, overpaid
                ("L5", datetime(2024, 6, 30), 123.45),  # in full, late
                ("L6", datetime(2024, 3, 9), 3.0), ("L6", datetime(2024, 3, 20), 4.0), ("L6", datetime(2024, 3, 25), 5.0),
                ("L7", datetime(2024, 4, 2, 9), 86.415)]  # in full on the acceptance day
    orders = ibis.memtable([{k: r[k] for k in ("order_line_id", "institution_code", "product_code", "distributor_code",
                                               "quantity", "pack_price", "ordered_at", "channel")} for r in lines])
    deliveries = ibis.memtable([{"order_line_id": r["order_line_id"], "accepted_at": r["accepted_at"],
                                 "accepted_quantity": r["accepted_quantity"]} for r in lines])
    paid = ibis.memtable([{"order_line_id": lid, "paid_at": at, "amount": pay} for lid, at, pay in payments])
    tables = {"orders": orders, "deliveries": deliveries, "payments": paid}
    got = outstanding_day(tables.__getitem__).to_pyarrow().to_pylist()
    rows = {(r["part_month"], r["institution_code"], r["product_code"], r["day"], r["event_day"]):
            (round(r["outstanding"], 2), r["open_lines"]) for r in got}
    expected = _balances_by_hand(lines, payments)
    assert rows == expected
    # the cases are there: a line still open, one paid late, one overpaid to zero
    assert expected[(date(2024, 3, 1), "H1", "P4", date(2024, 3, 31), date(2024, 4, 1))] == (20.05, 1)
    assert expected[(date(2024, 3, 1), "H1", "P4", date(2024, 3, 31), date(2024, 7, 1))] == (-5.05, -1)
