"""The leaf modules every layer may use: bilingual errors (errors.py), Beijing time (clock.py), months, cycle
years and quarters (calendar.py)."""

from __future__ import annotations

import ast
import doctest
import importlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from jicai.errors import BilingualError, MeasureError

SRC = Path(__file__).resolve().parents[1] / "src" / "jicai"


def _builtin_exception_names() -> set[str]:
    import builtins

    return {n for n, v in vars(builtins).items() if isinstance(v, type) and issubclass(v, BaseException)}


def _exception_classes() -> list[tuple[str, str]]:
    """(module, class) of every class in src/jicai whose base is a built-in exception or a class named *Error:
    found by reading the sources, so a new exception class is checked without being listed here."""
    builtin = _builtin_exception_names()
    found = []
    for f in sorted(SRC.rglob("*.py")):
        module = ".".join(f.relative_to(SRC.parent).with_suffix("").parts).removesuffix(".__init__")
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                bases = [ast.unparse(b).rsplit(".", 1)[-1] for b in node.bases]
                if any(b in builtin or b.endswith("Error") for b in bases):
                    found.append((module, node.name))
    return found


# -- errors -------------------------------------------------------------------------------------------------

def test_a_bilingual_error_reads_in_both_languages():
    e = BilingualError("批次不存在:B9", "no such batch: B9")
    assert (e.zh, e.en) == ("批次不存在:B9", "no such batch: B9")
    assert str(e) == "批次不存在:B9 / no such batch: B9"
    assert e.message("zh") == "批次不存在:B9" and e.message("en") == "no such batch: B9"
    assert e.message("fr") == "批次不存在:B9"  # Chinese is the default language
    assert e.detail() == {"zh": "批次不存在:B9", "en": "no such batch: B9"}


def test_every_exception_class_in_src_is_bilingual():
    classes = _exception_classes()
    names = {c for _m, c in classes}
    # the scan finds the classes it must (a scan that found nothing would pass vacuously)
    assert {"FundError", "DatasetError", "QueryError", "ConfigError", "UserError", "WorkflowError",
            "PolicyNotFound", "FileError", "AssessmentError", "ReportError", "FontMissing", "PdfUnavailable",
            "LoginRefused", "MeasureError", "CalendarError"} <= names
    not_bilingual = []
    for module, name in classes:
        cls = getattr(importlib.import_module(module), name)
        if issubclass(cls, BaseException) and not issubclass(cls, BilingualError):
            not_bilingual.append(f"{module}.{name}")
    assert not not_bilingual


@pytest.mark.parametrize(("module", "name", "builtin"), [
    ("jicai.fund", "FundError", ValueError),
    ("jicai.assess.period", "AssessmentError", ValueError),
    ("jicai.measures.supply_base", "MonthError", ValueError),
    ("jicai.workflow.users", "UserError", ValueError),
    ("jicai.policy.registry", "PolicyNotFound", LookupError),
    ("jicai.policy.registry", "PolicyConflict", FileExistsError),
    ("jicai.reports.documents", "ReportError", RuntimeError),
    ("jicai.reports.pdf", "PdfUnavailable", RuntimeError),
])
def test_domain_errors_keep_the_builtin_base_their_callers_catch(module, name, builtin):
    assert issubclass(getattr(importlib.import_module(module), name), builtin)


def test_the_errors_built_on_measures_are_measure_errors():
    from jicai.assess.period import AssessmentError
    from jicai.fund import FundError

    assert issubclass(AssessmentError, MeasureError) and issubclass(FundError, MeasureError)


def test_errors_with_their_own_arguments_still_carry_both_messages():
    from jicai.policy.registry import PolicyNotFound
    from jicai.reports.fonts import FontMissing
    from jicai.workflow.decisions import WorkflowError

    w = WorkflowError(404, "报告 7 不存在", "report 7 not found")
    assert (w.status, str(w)) == (404, "报告 7 不存在 / report 7 not found")
    p = PolicyNotFound("hb", Path("/d/policies"), ["default"])
    assert "找不到政策 'hb'" in p.zh and "policy 'hb' not found" in p.en and str(p) == f"{p.zh} / {p.en}"
    f = FontMissing()
    assert "中文字体" in f.zh and "no Chinese font" in f.en


def test_the_cli_prints_a_bilingual_error(capsys):
    import typer

    from jicai.console import fail_with

    with pytest.raises(typer.Exit) as e:
        fail_with(MeasureError("统计期月数应不少于 1", "window_months must be at least 1"), code=3)
    assert e.value.exit_code == 3
    err = capsys.readouterr().err
    assert "错误：统计期月数应不少于 1" in err and "Error: window_months must be at least 1" in err


def test_a_measure_error_reaches_the_web_as_a_dataset_error():
    """compute_rows turns any bilingual error of a measure into a DatasetError with the same messages (no
    parsing of str(exc))."""
    import pyarrow as pa

    from jicai.web.datasets import Dataset, DatasetError, compute_rows

    class EmptyWarehouse:  # no batches table: the default policy applies
        def has_table(self, name):
            return False

    def compute(wh, params, policy):
        raise MeasureError("统计期月数应不少于 1", "window_months must be at least 1")

    ds = Dataset(name="x", title_zh="x", title_en="x", columns={"a": ("a", "a")}, dims=None, params=(),
                 compute=compute)
    with pytest.raises(DatasetError) as e:
        compute_rows(ds, EmptyWarehouse(), {}, Path("/nonexistent"))
    assert (e.value.zh, e.value.en) == ("统计期月数应不少于 1", "window_months must be at least 1")

    def ok(wh, params, policy):
        return pa.table({"b": [1], "a": [2]})

    assert compute_rows(Dataset(name="y", title_zh="y", title_en="y", columns={"a": ("a", "a")}, dims=None,
                                params=(), compute=ok), EmptyWarehouse(), {}, Path("/nonexistent")).column_names == ["a"]


# -- clock --------------------------------------------------------------------------------------------------

CLOCK_CALLS = {"now", "today", "utcnow", "utcfromtimestamp"}
# time.time() is allowed where it measures an age or a window, never a calendar date (each site says why)
EPOCH_SECONDS_ALLOWED = {"web/auth.py"}


def _clock_calls(tree: ast.AST) -> list[str]:
    """Calls that read the system clock as a date or time: ``<anything>.now()/.today()/.utcnow()`` and
    ``time.time()`` — but not ``clock.now()``/``clock.today()``, jicai's own."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if ast.unparse(node.func.value) == "clock":
                continue
            if node.func.attr in CLOCK_CALLS or ast.unparse(node.func) == "time.time":
                found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


def test_the_clock_scan_finds_what_it_must():
    tree = ast.parse("from datetime import date, datetime\nimport pandas as pd\nimport time\n"
                     "a = datetime.now()\nb = date.today()\nc = datetime.utcnow()\nd = pd.Timestamp.now()\n"
                     "e = time.time()\nf = clock.today()\n")
    assert [c.split(":", 1)[0] for c in _clock_calls(tree)] == ["line 4", "line 5", "line 6", "line 7", "line 8"]


def test_no_module_reads_the_clock_but_clock_py():
    """Every date or time of day comes from jicai.clock (Beijing time), whatever the server's zone."""
    offenders = []
    for f in sorted(SRC.rglob("*.py")):
        rel = f.relative_to(SRC).as_posix()
        if rel == "clock.py":
            continue
        calls = _clock_calls(ast.parse(f.read_text(encoding="utf-8")))
        calls = [c for c in calls if not (c.endswith("time.time()") and rel in EPOCH_SECONDS_ALLOWED)]
        offenders += [f"{rel} {c}" for c in calls]
    assert not offenders


@pytest.mark.parametrize(("utc", "beijing_day"), [
    (datetime(2024, 3, 31, 16, 0, tzinfo=UTC), date(2024, 4, 1)),  # 00:00 in Beijing
    (datetime(2024, 3, 31, 23, 59, 59, tzinfo=UTC), date(2024, 4, 1)),  # 07:59:59
    (datetime(2024, 12, 31, 20, 0, tzinfo=UTC), date(2025, 1, 1)),  # the year turns first in Beijing
    (datetime(2024, 4, 1, 15, 59, 59, tzinfo=UTC), date(2024, 4, 1)),  # 23:59:59
    (datetime(2024, 4, 1, 16, 0, tzinfo=UTC), date(2024, 4, 2)),
])
def test_today_is_the_beijing_date_on_a_utc_host(monkeypatch, utc, beijing_day):
    from jicai import clock

    monkeypatch.setattr(clock, "_utcnow", lambda: utc)
    assert clock.today() == beijing_day
    assert clock.now() == utc and clock.now().utcoffset() == timedelta(hours=8)
    assert clock.local_now() == utc.replace(tzinfo=None) + timedelta(hours=8)


def test_stamps_are_naive_local_seconds(monkeypatch):
    """computed_at and the workflow's times are stored naive (local) to the second, as before."""
    from jicai import clock
    from jicai.workflow.db import now as workflow_now

    monkeypatch.setattr(clock, "_utcnow", lambda: datetime(2024, 6, 30, 22, 15, 30, 987654, tzinfo=UTC))
    assert clock.stamp() == datetime(2024, 7, 1, 6, 15, 30) and workflow_now() == clock.stamp()
    assert clock.local_now() == datetime(2024, 7, 1, 6, 15, 30, 987654)


def test_the_settlement_gate_checks_now_in_beijing_time(monkeypatch):
    """A pharmacy online 06:00–07:00 Beijing time may settle at 06:30 Beijing (22:30 UTC the day before)."""
    from jicai import clock
    from jicai.fund.gate import SettlementGate

    gate = SettlementGate.from_rows([("P1", datetime(2024, 7, 1, 6), datetime(2024, 7, 1, 7), "online")])
    monkeypatch.setattr(clock, "_utcnow", lambda: datetime(2024, 6, 30, 22, 30, tzinfo=UTC))
    assert gate.check("P1").allowed
    monkeypatch.setattr(clock, "_utcnow", lambda: datetime(2024, 7, 1, 6, 30, tzinfo=UTC))  # 14:30 Beijing
    assert not gate.check("P1").allowed


# -- calendar -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "first"), [
    ("2024-01", date(2024, 1, 1)), ("2024-12", date(2024, 12, 1)), (" 2024-02 ", date(2024, 2, 1)),
    (date(2024, 2, 29), date(2024, 2, 1)), (datetime(2024, 7, 31, 23, 59), date(2024, 7, 1)),
])
def test_a_month_is_its_first_day(text, first):
    from jicai.calendar import parse_month

    assert parse_month(text) == first and type(parse_month(text)) is date


@pytest.mark.parametrize("bad", ["2024-13", "2024-00", "2024-7", "2024/07", "202407", "2024-07-01", "0000-01",
                                 "", "七月", "2024-1 2"])
def test_a_month_that_is_not_yyyy_mm_is_refused_in_both_languages(bad):
    from jicai.calendar import CalendarError, parse_month

    with pytest.raises(CalendarError) as e:
        parse_month(bad)
    assert e.value.zh == f"月份格式应为 YYYY-MM:{bad}" and e.value.en == f"month must be YYYY-MM: {bad}"
    assert isinstance(e.value, ValueError)


def test_the_three_month_readers_agree():
    """The supply window, the pharmacy month and the web's month argument read months the same way."""
    from jicai.calendar import CalendarError
    from jicai.fund import FundError
    from jicai.fund.pharmacy import month_bounds
    from jicai.measures.supply_base import MonthError, window

    assert MonthError is CalendarError
    assert window("2024-02") == (date(2024, 2, 1), date(2024, 3, 1))
    assert month_bounds("2024-02") == (datetime(2024, 2, 1), datetime(2024, 3, 1))
    from jicai.web.datasets import Dataset
    from jicai.web.query import QueryError, resolve_params

    class Data:  # what resolve_params asks of the web's data service
        def data_end(self):
            return date(2024, 7, 31)

        def batches(self):
            return []

    ds = Dataset(name="m", title_zh="m", title_en="m", columns={}, dims=None, params=("month",), compute=None)
    assert resolve_params(ds, {"month": "2024-02"}, Data())["month"] == "2024-02"
    assert resolve_params(ds, {}, Data())["month"] == "2024-07"  # the as-of month
    for bad in ("2024-2", "2024-13"):
        with pytest.raises(MonthError):
            window(bad)
        with pytest.raises(FundError, match="YYYY-MM"):
            month_bounds(bad)
        with pytest.raises(QueryError, match="YYYY-MM"):
            resolve_params(ds, {"month": bad}, Data())


def test_months_shift_label_and_end():
    from jicai.calendar import add_months, month_end, month_label, shift_month

    assert shift_month(date(2024, 1, 15), -1) == date(2023, 12, 1)
    assert shift_month(date(2024, 12, 1), 1) == date(2025, 1, 1)
    assert shift_month(date(2024, 3, 31), -25) == date(2022, 2, 1)
    assert [month_end(date(y, 2, 1)).day for y in (2023, 2024, 2100, 2000)] == [28, 29, 28, 29]
    assert month_end(date(2024, 12, 5)) == date(2024, 12, 31)
    assert month_label(date(987, 3, 1)) == "0987-03"
    assert add_months(date(2024, 3, 31), -1) == date(2024, 2, 29)
    assert add_months(date(2023, 3, 31), -1) == date(2023, 2, 28)
    assert add_months(date(2024, 8, 31), 1) == date(2024, 9, 30)


def test_add_years_on_29_february():
    from jicai.calendar import add_years

    assert add_years(date(2024, 2, 29), 1) == date(2025, 2, 28)
    assert add_years(date(2024, 2, 29), -1) == date(2023, 2, 28)
    assert add_years(date(2024, 2, 29), 4) == date(2028, 2, 29)
    assert add_years(date(2024, 2, 28), 1) == date(2025, 2, 28)
    assert add_years(date(2023, 3, 1), 1) == date(2024, 3, 1)


def test_cycle_years_meet_without_gap_or_overlap():
    from jicai.calendar import CalendarError, cycle_year, cycle_year_of

    start = date(2024, 2, 29)  # the hardest start: 28 February in the common years after
    assert cycle_year(start, 1) == (date(2024, 2, 29), date(2025, 2, 27))
    assert cycle_year(start, 2) == (date(2025, 2, 28), date(2026, 2, 27))
    assert cycle_year(start, 5) == (date(2028, 2, 29), date(2029, 2, 27))
    for k in range(1, 6):
        first, last = cycle_year(start, k)
        assert cycle_year(start, k + 1)[0] == last + timedelta(days=1)
        assert cycle_year_of(start, first) == k and cycle_year_of(start, last) == k
    assert cycle_year_of(date(2024, 4, 15), date(2024, 1, 1)) == 1  # before the start: the first year
    assert cycle_year_of(date(2024, 4, 15), date(2026, 4, 14)) == 2
    assert cycle_year_of(date(2024, 4, 15), date(2026, 4, 15)) == 3
    assert cycle_year_of(datetime(2024, 4, 15), date(2025, 4, 15)) == 2  # an engine's datetime for a date
    with pytest.raises(CalendarError, match="start at 1"):
        cycle_year(start, 0)


def test_the_assessment_period_uses_the_cycle_years():
    """A batch starting 29 February 2024: its second cycle year starts 28 February 2025, the comparison period
    a year before it is the first cycle year."""
    import pyarrow as pa

    from jicai.assess.period import assessment_period
    from jicai.store import connect

    wh = connect("duckdb://")
    wh.con.create_table("batches", pa.table({"batch_id": ["B"], "start_date": [date(2024, 2, 29)],
                                             "cycle_years": [3]}))
    p = assessment_period(wh, "B", 2)
    assert (p.cycle_start, p.cycle_end, p.prior_start, p.prior_end) == (
        date(2025, 2, 28), date(2026, 2, 27), date(2024, 2, 28), date(2025, 2, 27))
    wh.close()


@pytest.mark.parametrize(("text", "year", "quarter", "first", "last"), [
    ("2024Q1", 2024, 1, date(2024, 1, 1), date(2024, 3, 31)),
    ("2024-Q2", 2024, 2, date(2024, 4, 1), date(2024, 6, 30)),
    (" 2024q3", 2024, 3, date(2024, 7, 1), date(2024, 9, 30)),
    ("2023Q4", 2023, 4, date(2023, 10, 1), date(2023, 12, 31)),
])
def test_quarters(text, year, quarter, first, last):
    from jicai import calendar

    assert calendar.parse_quarter(text) == (year, quarter)
    assert calendar.quarter_bounds(year, quarter) == (first, last)
    assert calendar.quarter_label(year, quarter) == f"{year}Q{quarter}"
    assert calendar.quarter_of(first) == calendar.quarter_of(last) == quarter
    assert calendar.quarter_ending(last) == quarter and calendar.quarter_ending(last - timedelta(days=1)) is None


@pytest.mark.parametrize("bad", ["2024Q5", "2024Q0", "2024", "Q3", "2024-3", "2024 Q3", "24Q3"])
def test_a_quarter_that_is_not_2024q3_is_refused(bad):
    from jicai.calendar import CalendarError, parse_quarter

    with pytest.raises(CalendarError) as e:
        parse_quarter(bad)
    assert "2024Q3" in e.value.zh and "2024Q3" in e.value.en


def test_a_quarter_number_outside_1_to_4_is_refused():
    from jicai.calendar import CalendarError, quarter_bounds

    with pytest.raises(CalendarError, match="1–4"):
        quarter_bounds(2024, 5)


def test_days():
    from jicai.calendar import CalendarError, parse_day

    assert parse_day(" 2024-02-29 ") == date(2024, 2, 29)
    for bad in ("2023-02-29", "2024/02/01", "20240201x"):
        with pytest.raises(CalendarError, match="YYYY-MM-DD"):
            parse_day(bad)


def test_no_module_imports_the_standard_calendar():
    """jicai has a calendar module of its own; a bare ``import calendar`` in the package would read as if it
    meant the standard library's, so every import names jicai's."""
    bare = []
    for f in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import) and any(a.name == "calendar" for a in node.names):
                bare.append(str(f.relative_to(SRC)))
            if isinstance(node, ast.ImportFrom) and node.module == "calendar" and not node.level:
                bare.append(str(f.relative_to(SRC)))
    assert not bare


# -- SQL quoting in the importer ------------------------------------------------------------------------------

def test_the_importer_quotes_sql_in_one_place():
    import duckdb

    from jicai.ingest.sql import lit, lit_list, q

    con = duckdb.connect()
    name, text = 'we"ird col', "O'Brien; DROP TABLE x --"
    con.execute(f"CREATE TABLE t ({q(name)} VARCHAR)")
    con.execute(f"INSERT INTO t VALUES ({lit(text)})")
    assert con.execute(f"SELECT {q(name)} FROM t").fetchall() == [(text,)]
    assert con.execute(f"SELECT {lit_list(['a', text])}").fetchone()[0] == ["a", text]
    doubling = [f"{f.relative_to(SRC)}:{n.lineno}" for f in sorted(SRC.rglob("*.py")) if f.name != "sql.py"
                for n in ast.walk(ast.parse(f.read_text(encoding="utf-8")))
                if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "replace"
                and [getattr(a, "value", None) for a in n.args] in (["'", "''"], ['"', '""'])]
    assert not doubling  # no second helper doubling quotes


@pytest.mark.parametrize("module", ["jicai.errors", "jicai.clock", "jicai.calendar", "jicai.ingest.sql"])
def test_doctests(module):
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0
