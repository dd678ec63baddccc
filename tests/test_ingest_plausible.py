"""Implausible dates (9999-12-31, 0001-01-01, a typo year 2204) are quarantined at import, the default as-of of the
pages ignores them, and an as-of the engines cannot compute is a bilingual error (issue 14, finding 1).

The clock is fixed at 2024-06-30 Beijing time, so every window below is computed by hand:
no batch → [2000-01-01, 2024-06-30 + 31 days = 2024-07-31]; with the batch of 2024-01-01 for 2 years
(cycle 2024-01-01 to 2025-12-31) → [2022-01-01, 2024-07-31] for orders.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers_ingest import ORDER_HEADER, order_row, reference_warehouse, write_csv
from jicai import clock
from jicai.cli import app
from jicai.ingest import import_paths, plausible
from jicai.settings import SettingError, setting
from jicai.store import connect

NOW = dt.datetime(2024, 6, 30, 4, 0, tzinfo=dt.UTC)  # 12:00 Beijing


@pytest.fixture(autouse=True)
def _fixed_clock(monkeypatch):
    monkeypatch.setattr(clock, "_utcnow", lambda: NOW)


@pytest.fixture
def wh(tmp_path):
    yield from reference_warehouse(tmp_path)


def orders_with(path: Path, dates: list[str]) -> Path:
    rows = [ORDER_HEADER]
    for i, d in enumerate(dates, start=1):
        row = order_row(i)
        row[7] = d
        rows.append(row)
    return write_csv(path, rows)


def quarantined(wh) -> list[tuple]:
    return wh.con.con.execute('SELECT "row", "column", value FROM _quarantine ORDER BY "row"').fetchall()


def test_windows_by_hand():
    none = plausible.Cycles()
    w = plausible.window("orders", "ordered_at", none)
    assert (w.lo, w.hi) == (dt.date(2000, 1, 1), dt.date(2024, 7, 31))
    cycles = plausible.cycles_of([(dt.date(2024, 1, 1), 2), (dt.date(2024, 3, 1), 3), (None, 2)])
    assert cycles == plausible.Cycles(dt.date(2024, 1, 1), dt.date(2027, 2, 28))
    w = plausible.window("orders", "ordered_at", cycles)
    assert (w.lo, w.hi) == (dt.date(2022, 1, 1), dt.date(2024, 7, 31))
    assert "2024-01-01 至 2027-02-28" in w.why_zh and "2024-01-01 to 2027-02-28" in w.why_en
    # a planned date may lie 10 years ahead; the batches' own start is not bounded by the cycles it defines
    w = plausible.window("batches", "start_date", cycles)
    assert (w.lo, w.hi) == (dt.date(2000, 1, 1), dt.date(2034, 6, 30))
    # a typo cycle of 999 years does not open the window to the year 3023
    assert plausible.cycles_of([(dt.date(2024, 1, 1), 999)]).last_end == dt.date(2033, 12, 31)


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("JICAI_IMPORT_FUTURE_DAYS", "0")
    assert plausible.window("orders", "ordered_at", plausible.Cycles()).hi == dt.date(2024, 6, 30)
    monkeypatch.setenv("JICAI_IMPORT_FUTURE_DAYS", "-3")
    with pytest.raises(SettingError) as e:
        setting("future_days")
    assert e.value.zh == "环境变量 JICAI_IMPORT_FUTURE_DAYS 应为非负整数：-3"
    assert e.value.en == "JICAI_IMPORT_FUTURE_DAYS must be a whole number ≥ 0: -3"
    monkeypatch.setenv("JICAI_IMPORT_DATE_FLOOR", "2020/01/01")
    with pytest.raises(SettingError, match="JICAI_IMPORT_DATE_FLOOR must be a date"):
        setting("date_floor")


def test_implausible_dates_are_quarantined_and_the_rest_loads(wh, tmp_path):
    path = orders_with(tmp_path / "orders.csv", ["2024-02-02 09:30:00", "9999-12-31 00:00:00", "0001-01-01",
                                                 "2204-03-01 10:00:00", "2024-07-31 23:59:59", "2024-08-01 00:00:00",
                                                 "1999-12-31 23:59:59", "2000-01-01"])
    (r,) = import_paths(wh, [path])
    assert (r.status, r.rows_read, r.rows_loaded, r.rows_quarantined) == ("loaded", 8, 3, 5)
    assert quarantined(wh) == [(3, "ordered_at", "9999-12-31 00:00:00"), (4, "ordered_at", "0001-01-01"),
                               (5, "ordered_at", "2204-03-01 10:00:00"), (7, "ordered_at", "2024-08-01 00:00:00"),
                               (8, "ordered_at", "1999-12-31 23:59:59")]
    (zh, en), = set(wh.con.con.execute("SELECT reason_zh, reason_en FROM _quarantine").fetchall())
    assert zh == ("下单时间（ordered_at）日期不合理，应在 2000-01-01 至 2024-07-31 之间（不早于 2000-01-01；"
                  "已发生的事件不晚于导入日 2024-06-30 后 31 天）")
    assert en == ("ordered_at: implausible date, must lie within 2000-01-01 to 2024-07-31 (not before 2000-01-01; "
                  "an event no later than 31 day(s) after the import day 2024-06-30)")
    assert wh.con.con.execute("SELECT order_line_id FROM orders ORDER BY 1").fetchall() == [
        ("OL0000001",), ("OL0000005",), ("OL0000008",)]
    assert [x for (x,) in wh.con.con.execute("SELECT CAST(ordered_at AS VARCHAR) FROM orders ORDER BY 1").fetchall()] \
        == ["2000-01-01 00:00:00", "2024-02-02 09:30:00", "2024-07-31 23:59:59"]


def test_the_batches_cycles_narrow_the_window(wh, tmp_path):
    write_csv(tmp_path / "b" / "batches.csv", [["batch_id", "name", "category", "start_date", "cycle_years"],
                                               ["B1", "第一批", "drug", "2024-01-01", "2"]])
    (b,) = import_paths(wh, [tmp_path / "b" / "batches.csv"])
    assert (b.status, b.rows_loaded) == ("loaded", 1)
    (r,) = import_paths(wh, [orders_with(tmp_path / "orders.csv", ["2021-12-31 23:00:00", "2022-01-01 00:00:00"])])
    assert (r.rows_loaded, r.rows_quarantined) == (1, 1)
    (row, col, value, zh, en), = wh.con.con.execute(
        'SELECT "row", "column", value, reason_zh, reason_en FROM _quarantine WHERE "table" = \'orders\'').fetchall()
    assert (row, col, value) == (2, "ordered_at", "2021-12-31 23:00:00")
    assert "应在 2022-01-01 至 2024-07-31 之间（批次周期（2024-01-01 至 2025-12-31）前 2 年至后 2 年内" in zh
    assert "within 2 year(s) before and 2 after the batches' cycles (2024-01-01 to 2025-12-31)" in en


def test_a_batch_starting_in_2204_is_quarantined(wh, tmp_path):
    path = write_csv(tmp_path / "batches.csv", [["batch_id", "name", "category", "start_date", "cycle_years"],
                                                ["B1", "第一批", "drug", "2204-01-01", "2"],
                                                ["B2", "第二批", "drug", "2026-01-01", "2"]])
    (r,) = import_paths(wh, [path])
    assert (r.rows_loaded, r.rows_quarantined) == (1, 1)
    assert quarantined(wh) == [(2, "start_date", "2204-01-01")]


def test_default_as_of_ignores_implausible_rows_already_in_the_warehouse(wh, tmp_path):
    """A warehouse filled before this check (or written around the importer) holds a 9999-12-31 order: the pages'
    default as-of is still the latest plausible day."""
    from jicai.web.data import DataService

    import_paths(wh, [orders_with(tmp_path / "orders.csv", ["2024-03-05 10:00:00", "2024-05-20 08:00:00"])])
    wh.con.con.execute("INSERT INTO orders SELECT * REPLACE ('OLX' AS order_line_id, TIMESTAMP '9999-12-31' AS ordered_at) "
                       "FROM orders LIMIT 1")
    wh.con.con.execute("INSERT INTO orders SELECT * REPLACE ('OLY' AS order_line_id, TIMESTAMP '0001-01-01' AS ordered_at) "
                       "FROM orders LIMIT 1")
    wh.close()
    data = DataService(f"duckdb:///{tmp_path / 'wh.duckdb'}")
    try:
        assert data.data_span() == (dt.date(2024, 3, 5), dt.date(2024, 5, 20))
    finally:
        data.close()


def test_end_to_end_import_then_monitor(tmp_path):
    """A province's files with three implausible order dates: the command quarantines them, the rest loads, and
    the monitoring runs as of the data's latest day; as of 9999-12-31 it is a bilingual error, not OverflowError."""
    from jicai.simulate import simulate

    src = tmp_path / "sim"
    simulate(src, institutions=40, months=2, seed=3, fmt="csv")
    lines = (src / "orders.csv").read_text(encoding="utf-8").splitlines()
    good = lines[1].split(",")
    extra = []
    for i, day in enumerate(["9999-12-31T00:00:00", "0001-01-01T00:00:00", "2204-01-05T10:00:00"]):
        extra.append(",".join([f'"OLBAD{i}"', *good[1:7], f'"{day}"', *good[8:]]))
    (src / "orders.csv").write_text("\n".join([*lines, *extra]) + "\n", encoding="utf-8")
    data = tmp_path / "data"
    cli = CliRunner()
    res = cli.invoke(app, ["--data-dir", str(data), "import", str(src)])
    assert res.exit_code == 0, res.output
    wh = connect(f"duckdb:///{data / 'jicai.duckdb'}", "read")
    try:
        got = wh.con.con.execute('SELECT "row", value FROM _quarantine WHERE "table" = \'orders\' ORDER BY "row"').fetchall()
        n = len(lines)  # header + data lines: the appended rows are n + 1 … n + 3
        assert got == [(n + 1, "9999-12-31T00:00:00"), (n + 2, "0001-01-01T00:00:00"), (n + 3, "2204-01-05T10:00:00")]
        assert wh.con.con.execute("SELECT count(*) FROM orders").fetchone()[0] == n - 1
        last = wh.con.con.execute("SELECT CAST(max(ordered_at) AS DATE) FROM orders").fetchone()[0]
    finally:
        wh.close()
    assert last == dt.date(2024, 2, 29)
    ok = cli.invoke(app, ["--data-dir", str(data), "monitor", "--as-of", last.isoformat()])
    assert ok.exit_code == 0, ok.output
    assert "月度监测 2024-02-29" in ok.output
    for day in ("9999-12-31", "0001-01-01"):
        bad = cli.invoke(app, ["--data-dir", str(data), "monitor", "--as-of", day])
        assert bad.exit_code != 0 and not isinstance(bad.exception, OverflowError)
        assert f"--as-of:日期 {day} 超出可计算范围（1900-01-01 至 2999-12-31）" in bad.output
        assert f"{day} is outside the days jicai computes" in " ".join(bad.output.split())
