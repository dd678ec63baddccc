"""Every file of the bad-input corpus (tests/bad_inputs/) against its expected outcome (expected.toml).

Each file is imported after the reference data of helpers_ingest, into a fresh warehouse: the counts, the exact
quarantined rows, the key words of the reasons (in both languages) and, where given, the loaded values must be as
the manifest says; no message may show SQL or a server path; the same file again changes nothing. The generated files
are made by tests/bad_inputs/make.py. Also here: ``--hidden-sheets`` and the limits' settings.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from helpers_ingest import reference_warehouse, write_reference
from jicai.contract.tables import TABLES
from jicai.ingest import import_paths

CORPUS = Path(__file__).parent / "bad_inputs"
MANIFEST = tomllib.loads((CORPUS / "expected.toml").read_text(encoding="utf-8"))["file"]
SQL_WORDS = ("SELECT", "read_csv", "read_parquet", "CREATE ", "LINE 1")


@pytest.fixture
def wh(tmp_path):
    yield from reference_warehouse(tmp_path)


def test_the_manifest_covers_the_whole_corpus():
    files = {p.name for p in CORPUS.iterdir() if p.name not in ("make.py", "expected.toml", "__pycache__")}
    named = [f["name"] for f in MANIFEST]
    assert len(named) == len(set(named)) and set(named) == files
    assert len(files) >= 60
    assert sum(p.stat().st_size for p in CORPUS.iterdir() if p.is_file()) < 10 * 2**20


@pytest.mark.parametrize("case", MANIFEST, ids=[f["name"] for f in MANIFEST])
def test_corpus_file(wh, case):
    path = CORPUS / case["name"]
    table = next(t for t in sorted(TABLES, key=len, reverse=True) if case["name"].startswith(t + "_"))
    (r,) = import_paths(wh, [path])
    assert (r.table, r.status, r.rows_read, r.rows_loaded, r.rows_quarantined) == (
        table, case["status"], case["read"], case["loaded"], case["quarantined"]), (r.messages, r.problems)
    con = wh.con.con
    got = con.execute('SELECT DISTINCT coalesce("row", 0) FROM _quarantine WHERE file = ? ORDER BY 1',
                      [str(path.resolve())]).fetchall()
    assert [x for (x,) in got] == case["rows"]
    reasons = con.execute("SELECT reason_zh || ' ' || reason_en FROM _quarantine WHERE file = ?",
                          [str(path.resolve())]).fetchall()
    text = " ".join([*r.messages, *(x for (x,) in reasons)])
    for word in case["words"]:
        assert word in text, (word, text)
    for shown in (*r.messages, *(x for (x,) in reasons)):
        assert str(CORPUS) not in shown and "/tmp" not in shown, shown
        assert not any(w in shown for w in SQL_WORDS), shown
    if "values" in case:
        col = case["column"]
        cast = 'CAST("ordered_at" AS VARCHAR)' if col == "ordered_at" else f'"{col}"'
        values = [v for (v,) in con.execute(f"SELECT {cast} FROM orders ORDER BY order_line_id").fetchall()]
        assert values == case["values"]
    if case["status"] == "loaded":  # the same bytes again change nothing
        (again,) = import_paths(wh, [path])
        assert again.status == "unchanged"


def test_hidden_sheets_are_read_when_asked(wh):
    (r,) = import_paths(wh, [CORPUS / "orders_hidden_sheets.xlsx"], hidden_sheets=True)
    assert (r.status, r.rows_read, r.rows_loaded) == ("loaded", 8, 8)
    assert any("已按要求导入隐藏工作表" in m and "imported although hidden, as asked" in m for m in r.messages)
    assert any("veryHidden" in m for m in r.messages)
    ids = [x for (x,) in wh.con.con.execute("SELECT order_line_id FROM orders ORDER BY 1").fetchall()]
    assert ids == ["OL0000001", "OL0000002", "OL0000011", "OL0000012", "OL0000013", "OL0000021", "OL0000022",
                   "OL0000023"]


def test_hidden_sheets_option_of_the_command(tmp_path):
    from typer.testing import CliRunner

    from jicai.cli import app

    data = tmp_path / "data"
    cli = CliRunner()
    ref = write_reference(tmp_path / "ref")[0].parent
    assert cli.invoke(app, ["--data-dir", str(data), "import", str(ref)]).exit_code == 0
    refused = cli.invoke(app, ["--data-dir", str(data), "import", str(CORPUS / "orders_only_hidden.xlsx")])
    assert refused.exit_code == 1 and "--hidden-sheets" in refused.output
    ok = cli.invoke(app, ["--data-dir", str(data), "import", "--hidden-sheets", str(CORPUS / "orders_only_hidden.xlsx")])
    assert ok.exit_code == 0, ok.output
    assert "已导入" in ok.output


def test_limits_are_settings(wh, monkeypatch):
    monkeypatch.setenv("JICAI_IMPORT_XLSX_MAX_SHEETS", "1")
    (r,) = import_paths(wh, [CORPUS / "orders_hidden_sheets.xlsx"])
    assert r.status == "failed" and any("有 3 个工作表，超过上限 1" in m for m in r.messages)
    monkeypatch.setenv("JICAI_IMPORT_XLSX_MAX_ROWS", "2")
    monkeypatch.setenv("JICAI_IMPORT_XLSX_MAX_SHEETS", "50")
    (r,) = import_paths(wh, [CORPUS / "orders_title_row.xlsx"])
    assert r.status == "failed" and any("有 5 行，超过上限 2" in m and "JICAI_IMPORT_XLSX_MAX_ROWS" in m
                                        for m in r.messages)
    monkeypatch.setenv("JICAI_IMPORT_CSV_MAX_ROW_KB", "1")
    (r,) = import_paths(wh, [CORPUS / "orders_escaped_quotes.csv"], force=True)
    assert (r.rows_read, r.rows_loaded) == (3, 3)  # rows of ~120 bytes are under 1 KB
    monkeypatch.setenv("JICAI_IMPORT_XLSX_MAX_XML_MB", "0")
    (r,) = import_paths(wh, [CORPUS / "orders_formula.xlsx"])
    assert r.status == "failed" and any("解压后超过 0 MB" in m for m in r.messages)


@pytest.mark.parametrize(("name", "scanned"), [("orders_blank_lines.csv", False), ("orders_crlf.csv", False),
                                               ("orders_escaped_quotes.csv", False), ("orders_ragged_more.csv", True),
                                               ("orders_quote_swallows.csv", True), ("orders_long_row.csv", True)])
def test_only_malformed_csv_is_read_record_by_record(wh, monkeypatch, name, scanned):
    """Record by record is Python and slow: a well-formed file (blank lines, CRLF, escaped quotes) stays with DuckDB."""
    from jicai.ingest import csvscan

    calls = []
    real = csvscan.scan_into
    monkeypatch.setattr(csvscan, "scan_into", lambda *a, **k: (calls.append(a[1]), real(*a, **k))[1])
    (r,) = import_paths(wh, [CORPUS / name])
    assert r.status == "loaded" and bool(calls) == scanned


def test_announcement_workbooks_are_held_to_the_same_limits():
    """`jicai import-announcement` reads workbooks with openpyxl: the zip bomb is refused before it inflates."""
    from jicai.ingest.announcement.workbook import read_sheets
    from jicai.ingest.readers import FileError

    for name in ("orders_zip_bomb.xlsx", "orders_zip_bomb_lying.xlsx"):
        with pytest.raises(FileError) as e:
            read_sheets(CORPUS / name)
        assert "解压后超过 512 MB" in e.value.zh and "decompresses to more than 512 MB" in e.value.en
