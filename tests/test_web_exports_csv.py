"""Formula injection through exports (issue 14, finding 9): a name that a spreadsheet would read as a formula
(``=HYPERLINK(…)``, ``+cmd|…``, ``@SUM…``, ``-2+3``, a tab-led name) leaves every csv file — the web's exports,
the command line's ``--format csv`` and ``jicai quarantine --format csv`` — as text led by a single quote, per
OWASP's CSV-injection advice; a number, a negative one too, stays a number. The xlsx export writes every text
cell as a string cell, never a formula, so it needs no quote and gets none.

The small province of tests/web_fixtures.py, renamed: each hospital and variety carries a hostile name, and HC
returned 10 packs of P1 (a negative order line), so its selected amount is a real negative number.
"""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import datetime

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient
from tests.web_fixtures import EA, HA, HB, HC, P1, bearer, make_app, world_rows

from jicai.contract.arrow import from_pylist

AS_OF = "2024-06-30"
HOSTILE = {HA: '=HYPERLINK("http://x","y")', HB: "+cmd|' /C calc'!A0", HC: "@SUM(1+1)"}
VARIETIES = {"V1": "-2+3", "V2": "\t制表符开头"}
RETURNED = -10.0  # packs of P1 HC sent back: selected amount -10 × 20 = -200


def hostile_tables():
    rows = world_rows()
    for r in rows["institutions"]:
        r["name"] = HOSTILE[r["institution_code"]]
    for r in rows["varieties"]:
        r["name"] = VARIETIES[r["variety_id"]]
    rows["orders"].append({"order_line_id": "L3", "order_id": "O3", "institution_code": HC, "product_code": P1,
                           "distributor_code": EA, "quantity": RETURNED, "pack_price": 20.0,
                           "ordered_at": datetime(2024, 4, 2, 8), "channel": "platform"})
    rows["deliveries"].append({"order_line_id": "L3", "responded_at": datetime(2024, 4, 2, 9),
                               "shipped_at": datetime(2024, 4, 2, 12), "shipped_quantity": RETURNED,
                               "accepted_at": datetime(2024, 4, 3, 10), "accepted_quantity": RETURNED})
    return {name: from_pylist(name, r) for name, r in rows.items()}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with TestClient(make_app(tmp_path_factory.mktemp("csvinj"), hostile_tables())) as c:
        yield c


def _csv_rows(body: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


def _export(client, fmt: str):
    r = client.get("/api/monitor/export", params={"as_of": AS_OF, "format": fmt}, headers=bearer(client, "bureau"))
    assert r.status_code == 200, r.text
    return r


def test_web_csv_export_quotes_every_formula_like_name(client):
    rows = _csv_rows(_export(client, "csv").content)
    assert {r["institution_code"] for r in rows} == {HA, HB, HC}
    for r in rows:
        assert r["institution_name"] == "'" + HOSTILE[r["institution_code"]]
        assert r["variety_name"] == "'" + VARIETIES[r["variety_id"]]


def test_web_csv_export_leaves_a_negative_amount_a_number(client):
    hc = next(r for r in _csv_rows(_export(client, "csv").content) if r["institution_code"] == HC)
    assert not hc["selected_amount"].startswith("'")
    assert float(hc["selected_amount"]) == RETURNED * 20.0


def test_web_xlsx_export_holds_the_names_as_strings_not_formulas(client):
    from openpyxl import load_workbook

    body = _export(client, "xlsx").content
    with zipfile.ZipFile(io.BytesIO(body)) as z:
        sheets = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/")]
    assert sheets and not any("<f>" in s or "<f " in s for s in sheets), "a cell of the workbook is a formula"
    wb = load_workbook(io.BytesIO(body))
    cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value in HOSTILE.values()]
    assert {c.value for c in cells} == set(HOSTILE.values())  # verbatim: a string cell needs no quote
    assert all(c.data_type == "s" for c in cells)


def test_cli_csv_output_is_neutralised_too(tmp_path):
    """``jicai monitor --format csv`` writes through the same writer as the web's export."""
    from typer.testing import CliRunner

    from jicai.cli import app
    from jicai.ingest.schema import ensure_schema
    from jicai.settings import Settings
    from jicai.store import connect

    data = tmp_path / "data"
    wh = connect(Settings.resolve(data).warehouse_url)
    try:
        for name, t in hostile_tables().items():
            wh.write_table(name, t, overwrite=True)
        ensure_schema(wh)  # the tables the province does not fill (payments, supply problems…), empty
    finally:
        wh.close()
    out = tmp_path / "monitor.csv"
    r = CliRunner().invoke(app, ["--data-dir", str(data), "monitor", "--as-of", AS_OF, "--format", "csv",
                                 "--out", str(out)])
    assert r.exit_code == 0, r.output
    rows = _csv_rows(out.read_bytes())
    assert {r["institution_name"] for r in rows} == {"'" + v for v in HOSTILE.values()}
    hc = next(r for r in rows if r["institution_code"] == HC)
    assert float(hc["selected_amount"]) == RETURNED * 20.0


@pytest.mark.parametrize("text", [*HOSTILE.values(), *VARIETIES.values(), "\r=1+1", "-1"])
def test_every_formula_lead_is_quoted_and_a_number_is_not(text):
    from jicai.reports.documents import Column, Table
    from jicai.reports.tabular import csv_text

    t = Table("rows", "清单", [Column("name", "名称", "name"), Column("amount", "金额", "amount", "money")],
              [{"name": text, "amount": -12.5}, {"name": "阿托伐他汀", "amount": -3}])
    rows = list(csv.reader(io.StringIO(csv_text(t))))
    assert rows[1] == ["'" + text, "-12.5"]
    assert rows[2] == ["阿托伐他汀", "-3"]


def test_quarantine_csv_quotes_a_formula_like_value(tmp_path):
    """A rejected row's value is whatever the file held: ``jicai quarantine --format csv`` quotes it too."""
    from typer.testing import CliRunner

    from jicai.cli import app
    from jicai.ingest import QUARANTINE
    from jicai.ingest.schema import table_schema
    from jicai.settings import Settings
    from jicai.store import connect

    data = tmp_path / "data"
    row = {"batch_id": "b1", "table": "orders", "file": "/in/orders.csv", "sheet": None, "row": 3,
           "column": "quantity", "value": "=1+1", "reason_zh": "不是数字", "reason_en": "not a number",
           "loaded_at": datetime(2024, 7, 1, 8)}
    schema = table_schema(QUARANTINE)
    wh = connect(Settings.resolve(data).warehouse_url)
    try:
        wh.write_table(QUARANTINE, pa.Table.from_pylist([{k: row.get(k) for k in schema.names}], schema=schema),
                       overwrite=True)
    finally:
        wh.close()
    r = CliRunner().invoke(app, ["--data-dir", str(data), "quarantine", "--format", "csv"])
    assert r.exit_code == 0, r.output
    (got,) = list(csv.DictReader(io.StringIO(r.stdout)))
    assert got["value"] == "'=1+1" and got["row"] == "3"
