"""Re-importing the same bytes: a no-op when nothing could change, otherwise re-validated and re-loaded.

The bureau's mistake this is for: ``orders.csv`` imported before ``institutions.csv`` — the orders of
unknown institutions are quarantined; once the institutions are in, importing the same orders file
again must load them, and ``_quarantine`` must then show that file's current problems only.

Files are written by code (helpers_ingest); every expected count is hand-computed from them (header =
row 1). The first scenario runs on DuckDB and PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers_ingest import HOSPITAL_A, HOSPITAL_B, ORDER_HEADER, REFERENCE, order_row, write_csv
from jicai.contract.tables import TABLES
from jicai.ingest import LOAD_LOG, QUARANTINE, import_paths
from jicai.store import connect

INSTITUTION_HEADER = REFERENCE["institutions"][0]
INST_A, INST_B = REFERENCE["institutions"][1], REFERENCE["institutions"][2]
BAD_INSTITUTION = ["H99030500009", "无效编码医院", "440305", "2", "hospital", "true", ""]  # prefix 99: no province
CORPUS = Path(__file__).parent / "bad_inputs"


def _drop_all(wh) -> None:
    with wh.transaction() as cur:
        for name in [*TABLES, QUARANTINE, LOAD_LOG]:
            cur.execute(f'DROP TABLE IF EXISTS "{name}" CASCADE')


@pytest.fixture
def make_wh(request, tmp_path):
    """``make_wh(engine)``: an empty warehouse; the PostgreSQL session database is emptied before and after."""
    opened = []

    def make(engine: str):
        if engine == "duckdb":
            wh = connect(f"duckdb:///{tmp_path / 'wh.duckdb'}")
        else:
            wh = connect(request.getfixturevalue("pg_database"))
            _drop_all(wh)
        opened.append(wh)
        return wh

    yield make
    for wh in opened:
        if wh.engine == "postgres":
            _drop_all(wh)
        wh.close()


def reference_without_b(folder: Path) -> Path:
    """Regions, enterprises, products and institutions with hospital A only (B comes later)."""
    for name in ("regions", "enterprises", "products"):
        write_csv(folder / f"{name}.csv", REFERENCE[name])
    write_csv(folder / "institutions.csv", [INSTITUTION_HEADER, INST_A])
    return folder


def table_rows(wh, name: str) -> list[dict]:
    return sorted(wh.table(name).to_pyarrow().to_pylist(), key=repr)


def quarantine_of(wh, file_name: str) -> list[dict]:
    return sorted((r for r in wh.table(QUARANTINE).to_pyarrow().to_pylist() if r["file"].endswith("/" + file_name)),
                  key=lambda r: (r["row"] or 0, r["column"] or ""))


def log_of(wh, file_name: str) -> list[tuple]:
    rows = [r for r in wh.table(LOAD_LOG).to_pyarrow().to_pylist() if r["file"].endswith("/" + file_name)]
    return [(r["status"], r["rows_loaded"], r["rows_quarantined"]) for r in sorted(rows, key=lambda r: r["started_at"])]


def everything(wh) -> dict[str, list[dict]]:
    return {name: table_rows(wh, name) for name in [*TABLES, QUARANTINE, LOAD_LOG]}


def without_batch(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in ("batch_id", "loaded_at")} for r in rows]


@pytest.mark.parametrize("engine", ["duckdb", "postgres"])
def test_orders_before_institutions_load_on_reimport(make_wh, tmp_path, engine):
    wh = make_wh(engine)
    ref = import_paths(wh, [reference_without_b(tmp_path / "ref")])
    assert [(r.table, r.status, r.rows_loaded, r.rows_quarantined) for r in ref] == [
        ("regions", "loaded", 3, 0), ("institutions", "loaded", 1, 0), ("enterprises", "loaded", 2, 0),
        ("products", "loaded", 2, 0)]
    # rows 3 and 5 (OL2, OL4) order from hospital B, not in the warehouse yet
    orders = write_csv(tmp_path / "in" / "orders.csv", [ORDER_HEADER, order_row(1), order_row(2, HOSPITAL_B),
                                                        order_row(3), order_row(4, HOSPITAL_B), order_row(5)])
    (r,) = import_paths(wh, [orders])
    assert (r.status, r.rows_read, r.rows_loaded, r.rows_quarantined) == ("loaded", 5, 3, 2)
    q = quarantine_of(wh, "orders.csv")
    assert [(x["row"], x["column"], x["value"]) for x in q] == [
        (3, "institution_code", HOSPITAL_B), (5, "institution_code", HOSPITAL_B)]
    assert all(f"不存在：{HOSPITAL_B}" in x["reason_zh"] and "unknown reference" in x["reason_en"] for x in q)

    (b,) = import_paths(wh, [write_csv(tmp_path / "later" / "institutions.csv", [INSTITUTION_HEADER, INST_B])])
    assert (b.status, b.rows_loaded) == ("loaded", 1)

    # the same bytes again: B exists now, so the two quarantined orders load
    (again,) = import_paths(wh, [orders])
    assert (again.status, again.rows_read, again.rows_loaded, again.rows_quarantined) == ("loaded", 5, 5, 0)
    assert any("re-validated: 2 row(s) were quarantined last time, 0 now" in m for m in again.messages)
    got = [(o["order_line_id"], o["institution_code"]) for o in table_rows(wh, "orders")]
    assert got == [("OL0000001", HOSPITAL_A), ("OL0000002", HOSPITAL_B), ("OL0000003", HOSPITAL_A),
                   ("OL0000004", HOSPITAL_B), ("OL0000005", HOSPITAL_A)]
    assert quarantine_of(wh, "orders.csv") == []
    assert table_rows(wh, QUARANTINE) == []  # no file has a problem left
    assert log_of(wh, "orders.csv") == [("ok", 3, 2), ("ok", 5, 0)]  # every attempt stays in the log

    # and now nothing was quarantined: a third import is a no-op whatever is loaded in between
    import_paths(wh, [write_csv(tmp_path / "more" / "institutions.csv", [INSTITUTION_HEADER, INST_A])])
    before = everything(wh)
    (third,) = import_paths(wh, [orders])
    assert third.status == "unchanged" and third.load_id is None
    assert everything(wh) == before


@pytest.mark.parametrize("engine", ["duckdb", "postgres"])
def test_clean_file_twice_is_unchanged_even_after_other_loads(make_wh, tmp_path, engine):
    wh = make_wh(engine)
    import_paths(wh, [reference_without_b(tmp_path / "ref")])
    orders = write_csv(tmp_path / "in" / "orders.csv", [ORDER_HEADER, order_row(1), order_row(2), order_row(3)])
    (r,) = import_paths(wh, [orders])
    assert (r.status, r.rows_loaded, r.rows_quarantined) == ("loaded", 3, 0)
    import_paths(wh, [write_csv(tmp_path / "later" / "institutions.csv", [INSTITUTION_HEADER, INST_B])])
    before = everything(wh)
    assert len(before["orders"]) == 3 and len(before[LOAD_LOG]) == 6 and before[QUARANTINE] == []
    (again,) = import_paths(wh, [orders])
    assert again.status == "unchanged"
    assert "未作更改" in again.messages[0] and "nothing changed" in again.messages[0]
    assert everything(wh) == before  # data, _quarantine and _load_log


def test_permanently_bad_row_is_not_quarantined_twice(make_wh, tmp_path):
    wh = make_wh("duckdb")
    import_paths(wh, [reference_without_b(tmp_path / "ref")])
    # row 3 (OL2) has a negative quantity: bad whatever else is loaded
    orders = write_csv(tmp_path / "in" / "orders.csv",
                       [ORDER_HEADER, order_row(1), order_row(2, quantity="-1"), order_row(3)])
    (r,) = import_paths(wh, [orders])
    assert (r.status, r.rows_loaded, r.rows_quarantined) == ("loaded", 2, 1)
    first_q = quarantine_of(wh, "orders.csv")
    assert [(x["row"], x["column"], x["value"], x["batch_id"]) for x in first_q] == [(3, "quantity", "-1", r.load_id)]

    # other loads in between, each with a bad row of its own (those quarantine rows must stay)
    inst = write_csv(tmp_path / "later" / "institutions.csv", [INSTITUTION_HEADER, INST_B, BAD_INSTITUTION])
    other = write_csv(tmp_path / "later" / "orders_other.csv",
                      [ORDER_HEADER, order_row(10), order_row(11, quantity="x")])
    assert [(x.status, x.rows_loaded, x.rows_quarantined) for x in import_paths(wh, [inst, other])] == [
        ("loaded", 1, 1), ("loaded", 1, 1)]
    data_before = table_rows(wh, "orders")
    assert [o["order_line_id"] for o in data_before] == ["OL0000001", "OL0000003", "OL0000010"]
    assert len(table_rows(wh, QUARANTINE)) == 3

    (again,) = import_paths(wh, [orders])  # re-validated: data was loaded since
    assert (again.status, again.rows_loaded, again.rows_quarantined) == ("loaded", 2, 1)
    assert table_rows(wh, "orders") == data_before
    now_q = quarantine_of(wh, "orders.csv")
    assert without_batch(now_q) == without_batch(first_q)  # same row, column, value and reasons
    assert [x["batch_id"] for x in now_q] == [again.load_id] != [r.load_id]  # the current run's, not doubled
    assert len(quarantine_of(wh, "institutions.csv")) == 1 and len(quarantine_of(wh, "orders_other.csv")) == 1
    assert len(table_rows(wh, QUARANTINE)) == 3
    assert log_of(wh, "orders.csv") == [("ok", 2, 1), ("ok", 2, 1)]

    # nothing loaded since the re-validation: now it is a no-op, and says how to force it
    before = everything(wh)
    (third,) = import_paths(wh, [orders])
    assert third.status == "unchanged" and "--force" in third.messages[0]
    assert everything(wh) == before


def test_force_revalidates_an_unchanged_file(make_wh, tmp_path):
    wh = make_wh("duckdb")
    import_paths(wh, [reference_without_b(tmp_path / "ref")])
    orders = write_csv(tmp_path / "in" / "orders.csv", [ORDER_HEADER, order_row(1), order_row(2, quantity="-1")])
    import_paths(wh, [orders])
    before = everything(wh)
    assert import_paths(wh, [orders])[0].status == "unchanged"
    (forced,) = import_paths(wh, [orders], force=True)
    assert (forced.status, forced.rows_read, forced.rows_loaded, forced.rows_quarantined) == ("loaded", 2, 1, 1)
    after = everything(wh)
    assert after["orders"] == before["orders"]
    assert without_batch(after[QUARANTINE]) == without_batch(before[QUARANTINE])
    assert [x["batch_id"] for x in after[QUARANTINE]] == [forced.load_id]
    assert log_of(wh, "orders.csv") == [("ok", 1, 1), ("ok", 1, 1)]


def test_cli_force(tmp_path):
    from jicai.cli import app
    from jicai.settings import Settings

    runner = CliRunner()
    ref = reference_without_b(tmp_path / "ref")
    orders = write_csv(tmp_path / "in" / "orders.csv", [ORDER_HEADER, order_row(1), order_row(2, HOSPITAL_B)])
    assert runner.invoke(app, ["import", str(ref), str(orders)]).exit_code == 0
    assert runner.invoke(app, ["import", str(orders)]).exit_code == 0  # unchanged: nothing loaded since
    res = runner.invoke(app, ["import", "--force", str(orders)])
    assert res.exit_code == 0, res.output
    with Settings.resolve().warehouse() as wh:
        assert log_of(wh, "orders.csv") == [("ok", 1, 1), ("ok", 1, 1)]
    listed = runner.invoke(app, ["quarantine", "--format", "json", "--file", "orders.csv"])
    assert listed.exit_code == 0 and listed.stdout.count('"row": 3') == 1 and HOSPITAL_B in listed.stdout
    assert "--force" in runner.invoke(app, ["import", "--help"]).output


def test_strict_and_whole_file_attempts_replace_their_quarantine_rows(make_wh, tmp_path):
    wh = make_wh("duckdb")
    ref = tmp_path / "ref"
    reference_without_b(ref)
    import_paths(wh, [ref])
    # strict: 3 bad rows (3 problems) quarantined, nothing loaded; then non-strict: the same 3, not 6
    (s,) = import_paths(wh, [CORPUS / "orders_bad_quantities.csv"], strict=True)
    assert (s.status, s.rows_quarantined) == ("failed", 3)
    assert len(quarantine_of(wh, "orders_bad_quantities.csv")) == 3
    (ok,) = import_paths(wh, [CORPUS / "orders_bad_quantities.csv"])
    assert (ok.status, ok.rows_loaded, ok.rows_quarantined) == ("loaded", 1, 3)
    q = quarantine_of(wh, "orders_bad_quantities.csv")
    assert [(x["row"], x["column"]) for x in q] == [(3, "quantity"), (4, "quantity"), (5, "pack_price")]
    assert {x["batch_id"] for x in q} == {ok.load_id}
    # a file missing a required column, twice: two failed attempts logged, one current problem
    for _ in range(2):
        assert import_paths(wh, [CORPUS / "orders_missing_column.csv"])[0].status == "failed"
    assert log_of(wh, "orders_missing_column.csv") == [("failed", 0, 0), ("failed", 0, 0)]
    assert len(quarantine_of(wh, "orders_missing_column.csv")) == 1


# --- bytes loaded before are re-loaded insert-missing: a newer file's rows are never reverted ------------------


def orders_by_line(wh) -> dict[str, tuple[str, float]]:
    return {o["order_line_id"]: (o["institution_code"], o["quantity"]) for o in table_rows(wh, "orders")}


@pytest.mark.parametrize("engine", ["duckdb", "postgres"])
def test_revalidated_older_file_does_not_revert_newer_file(make_wh, tmp_path, engine):
    wh = make_wh(engine)
    import_paths(wh, [reference_without_b(tmp_path / "ref")])
    folder = tmp_path / "in"
    # January: OL1, OL2 (quantity 10) and OL3 of hospital B, unknown yet -> row 4 quarantined
    write_csv(folder / "orders_2024-01.csv", [ORDER_HEADER, order_row(1), order_row(2), order_row(3, HOSPITAL_B)])
    # February (newer export): OL2 now 25, and a new line OL6
    write_csv(folder / "orders_2024-02.csv", [ORDER_HEADER, order_row(2, quantity="25"), order_row(6)])
    jan, feb = import_paths(wh, [folder])
    assert (jan.file.name, jan.status, jan.rows_read, jan.rows_loaded, jan.rows_quarantined) == (
        "orders_2024-01.csv", "loaded", 3, 2, 1)
    assert [(x["row"], x["column"], x["value"]) for x in quarantine_of(wh, "orders_2024-01.csv")] == [
        (4, "institution_code", HOSPITAL_B)]
    assert (feb.file.name, feb.status, feb.rows_loaded, feb.rows_quarantined) == ("orders_2024-02.csv", "loaded", 2, 0)
    assert orders_by_line(wh) == {"OL0000001": (HOSPITAL_A, 10.0), "OL0000002": (HOSPITAL_A, 25.0),
                                  "OL0000006": (HOSPITAL_A, 10.0)}

    import_paths(wh, [write_csv(tmp_path / "later" / "institutions.csv", [INSTITUTION_HEADER, INST_B])])
    # the folder again: January is re-validated (a quarantined row, loads since), February is unchanged
    jan2, feb2 = import_paths(wh, [folder])
    assert (jan2.status, jan2.rows_read, jan2.rows_loaded, jan2.rows_quarantined) == ("loaded", 3, 3, 0)
    assert feb2.status == "unchanged"
    # OL3 loaded; OL2 keeps February's 25 (the old code put January's 10 back)
    assert orders_by_line(wh) == {"OL0000001": (HOSPITAL_A, 10.0), "OL0000002": (HOSPITAL_A, 25.0),
                                  "OL0000003": (HOSPITAL_B, 10.0), "OL0000006": (HOSPITAL_A, 10.0)}
    assert any("2 row(s) whose key is already in the warehouse were kept" in m and "1 row(s) inserted" in m
               for m in jan2.messages)
    assert table_rows(wh, QUARANTINE) == []
    assert log_of(wh, "orders_2024-01.csv") == [("ok", 2, 1), ("ok", 3, 0)]
    assert log_of(wh, "orders_2024-02.csv") == [("ok", 2, 0)]


def test_formerly_quarantined_row_superseded_since_stays_newer(make_wh, tmp_path):
    wh = make_wh("duckdb")
    import_paths(wh, [reference_without_b(tmp_path / "ref")])
    folder = tmp_path / "in"
    # January: OL3 of hospital B (unknown yet, quarantined); February: OL3 again, of hospital A, quantity 7
    write_csv(folder / "orders_2024-01.csv", [ORDER_HEADER, order_row(1), order_row(3, HOSPITAL_B)])
    write_csv(folder / "orders_2024-02.csv", [ORDER_HEADER, order_row(3, quantity="7")])
    assert [(r.rows_loaded, r.rows_quarantined) for r in import_paths(wh, [folder])] == [(1, 1), (1, 0)]
    import_paths(wh, [write_csv(tmp_path / "later" / "institutions.csv", [INSTITUTION_HEADER, INST_B])])
    jan2, feb2 = import_paths(wh, [folder])
    # January's OL3 is valid now, but February (newer) already holds that key: nothing of January is written
    assert (jan2.status, jan2.rows_loaded, jan2.rows_quarantined, feb2.status) == ("loaded", 2, 0, "unchanged")
    assert orders_by_line(wh) == {"OL0000001": (HOSPITAL_A, 10.0), "OL0000003": (HOSPITAL_A, 7.0)}
    assert any("2 row(s) whose key is already in the warehouse were kept" in m and "0 row(s) inserted" in m
               for m in jan2.messages)
    assert quarantine_of(wh, "orders_2024-01.csv") == []


@pytest.mark.parametrize("engine", ["duckdb", "postgres"])
def test_force_on_older_clean_file_does_not_revert_newer_file(make_wh, tmp_path, engine):
    wh = make_wh(engine)
    import_paths(wh, [reference_without_b(tmp_path / "ref")])
    jan = write_csv(tmp_path / "in" / "orders_2024-01.csv", [ORDER_HEADER, order_row(1), order_row(2)])
    feb = write_csv(tmp_path / "in" / "orders_2024-02.csv", [ORDER_HEADER, order_row(2, quantity="25")])
    assert [(r.status, r.rows_loaded, r.rows_quarantined) for r in import_paths(wh, [jan, feb])] == [
        ("loaded", 2, 0), ("loaded", 1, 0)]
    before = everything(wh)
    assert orders_by_line(wh) == {"OL0000001": (HOSPITAL_A, 10.0), "OL0000002": (HOSPITAL_A, 25.0)}

    (forced,) = import_paths(wh, [jan], force=True)
    assert (forced.status, forced.rows_read, forced.rows_loaded, forced.rows_quarantined) == ("loaded", 2, 2, 0)
    assert orders_by_line(wh) == {"OL0000001": (HOSPITAL_A, 10.0), "OL0000002": (HOSPITAL_A, 25.0)}
    assert everything(wh)["orders"] == before["orders"]
    assert log_of(wh, "orders_2024-01.csv") == [("ok", 2, 0), ("ok", 2, 0)]

    # new bytes still replace by key: an edited January export (OL2 = 3) is the latest import and wins
    edited = write_csv(tmp_path / "edit" / "orders_2024-01.csv", [ORDER_HEADER, order_row(1), order_row(2, quantity="3")])
    (e,) = import_paths(wh, [edited])
    assert (e.status, e.rows_loaded) == ("loaded", 2)
    assert not any("already in the warehouse" in m for m in e.messages)
    assert orders_by_line(wh) == {"OL0000001": (HOSPITAL_A, 10.0), "OL0000002": (HOSPITAL_A, 3.0)}
