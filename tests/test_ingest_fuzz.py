"""Fuzzing the importer: generated order files — well-formed CSV whose cells are anything (quotes, separators,
newlines, control characters, full-width digits, huge numbers, odd dates, emoji), in several encodings, and raw
byte-level corruptions of a good file — imported into a copy of the reference warehouse.

Whatever the input, the import never raises; a loaded file accounts for every row it read (loaded + quarantined),
holds exactly the rows it says it loaded, keeps every untouched row of the file, and loads nothing twice; a failed
file loads nothing; no message shows SQL or a server path. The counts of the run are printed (``-s``) for the
notes, and written to test-artifacts/ingest-fuzz.json."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers_ingest import ORDER_HEADER, order_row, write_reference
from jicai.ingest import import_paths
from jicai.store import connect

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ingest_fuzz")]

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
SQL_WORDS = ("SELECT", "read_csv", "read_parquet", "CREATE ", "LINE 1", "Traceback")
ENCODINGS = ("utf-8", "utf-8-sig", "gb18030", "utf-16", "utf-16-le")
ODD = st.sampled_from([
    "", " ", '"', '""', ",", "\n", "\r\n", "\t", "\x00", "\x07", "\x1b[31m", "\u202e", "=HYPERLINK(\"x\")",
    "１２３", "1,234.5", "¥12.50", "12.5元", "50%", "-1", "0", "1e308", "NaN", "inf", "99999999999999999999",
    "2024/13/45", "9999-12-31", "0001-01-01", "2024年3月5日", "45123", "2024-02-30 25:61:00", "🙂", "null", "NULL",
    "x" * 5000, "OL0000001", "H35010200001", "'", "\\", "\ufeff"])
CELL = st.one_of(ODD, st.text(max_size=30))
COUNTS = {"examples": 0, "loaded": 0, "failed": 0, "unchanged": 0, "rows_read": 0, "rows_loaded": 0,
          "rows_quarantined": 0}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("fuzz-ref")
    w = connect(f"duckdb:///{d / 'wh.duckdb'}")
    import_paths(w, [write_reference(d / "ref")[0].parent])
    w.close()
    return d / "wh.duckdb"


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    print(f"\n[ingest fuzz] {COUNTS}")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "ingest-fuzz.json").write_text(json.dumps(COUNTS, indent=1))


def _clean(text: str) -> None:
    assert not any(w in text for w in SQL_WORDS), text
    assert "/tmp" not in text and "pytest-of" not in text, text


def _import(reference: Path, work: Path, name: str, data: bytes) -> tuple[object, set[str]]:
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    shutil.copy(reference, work / "wh.duckdb")
    path = work / name
    path.write_bytes(data)
    wh = connect(f"duckdb:///{work / 'wh.duckdb'}")
    try:
        (r,) = import_paths(wh, [path])
        ids = {x for (x,) in wh.con.con.execute("SELECT order_line_id FROM orders").fetchall()} \
            if "orders" in wh.list_tables() else set()
        reasons = [x for (x,) in wh.con.con.execute(
            "SELECT coalesce(reason_zh, '') || ' ' || coalesce(reason_en, '') FROM _quarantine").fetchall()] \
            if "_quarantine" in wh.list_tables() else []
        COUNTS["examples"] += 1
        COUNTS[r.status] = COUNTS.get(r.status, 0) + 1
        for k in ("rows_read", "rows_loaded", "rows_quarantined"):
            COUNTS[k] += getattr(r, k)
        for text in (*r.messages, *reasons):
            _clean(text)
        if r.status == "loaded":
            assert r.rows_read == r.rows_loaded + r.rows_quarantined, (r.rows_read, r.rows_loaded, r.messages)
            assert len(ids) == r.rows_loaded, (len(ids), r.rows_loaded)
            (again,) = import_paths(wh, [path])
            assert again.status == "unchanged", again.messages
        else:
            assert r.status == "failed" and r.rows_loaded == 0 and not ids, (r.status, r.messages)
            assert r.messages and all(" / " in m for m in r.messages), r.messages
        return r, ids
    finally:
        wh.close()


@st.composite
def order_files(draw):
    """(rows, indices of the untouched rows, encoding): rows of the orders file, some cells replaced by anything."""
    n = draw(st.integers(1, 8))
    rows = [order_row(i + 1) for i in range(n)]
    touched = set()
    for _ in range(draw(st.integers(0, 6))):
        i, j = draw(st.integers(0, n - 1)), draw(st.integers(0, len(ORDER_HEADER) - 1))
        rows[i][j] = draw(CELL)
        touched.add(i)
    return rows, [i for i in range(n) if i not in touched], draw(st.sampled_from(ENCODINGS))


@given(case=order_files())
@settings(max_examples=100, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_any_cells_in_a_well_formed_file(reference, tmp_path_factory, case):
    rows, untouched, encoding = case
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([ORDER_HEADER, *rows])
    try:
        data = buf.getvalue().encode(encoding)
    except UnicodeEncodeError:  # a cell this encoding cannot write (an emoji in GB18030 is fine; NUL in none)
        data = buf.getvalue().encode("utf-8")
    r, ids = _import(reference, tmp_path_factory.getbasetemp() / "fuzz-cells", "orders.csv", data)
    if r.status == "loaded":
        # a row nobody touched loads, unless a touched row took its id first (then one of them is a duplicate)
        taken = {rows[i][0] for i in range(len(rows)) if i not in untouched}
        for i in untouched:
            assert rows[i][0] in ids or rows[i][0] in taken, (rows[i], r.messages, r.problems)
    else:  # only a file the reader cannot read at all fails: every row touched, or an encoding it rejects
        assert r.messages


@given(cut=st.integers(0, 10_000), flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)),
                                                   max_size=8))
@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_corrupted_bytes(reference, tmp_path_factory, cut, flips):
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([ORDER_HEADER, *(order_row(i) for i in range(1, 31))])
    data = bytearray(buf.getvalue().encode("utf-8"))
    for at, byte in flips:
        data[at % len(data)] = byte
    data = bytes(data[: max(1, len(data) - cut % len(data))])
    _import(reference, tmp_path_factory.getbasetemp() / "fuzz-bytes", "orders.csv", data)
