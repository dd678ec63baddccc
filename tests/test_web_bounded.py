"""Issue 14 findings 2 and 3 and the upload's hidden sheets: the server's memory is bounded whatever a logged-in
user sends (junk parameters add nothing, distinct valid arguments stay within the caps, an over-long query string
is refused), a slow computation or an upload never makes a cached page wait, and the import form reads hidden
sheets only when asked."""

from __future__ import annotations

import threading
from pathlib import Path

import ibis
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient
from tests.web_fixtures import csrf, login, make_app

from jicai.store import connect
from jicai.web.data import DataService

CORPUS = Path(__file__).parent / "bad_inputs"
AS_OF = "2024-06-30"


@pytest.fixture
def app(tmp_path):
    return make_app(tmp_path)


def _sizes(app) -> tuple[int, int, int]:
    data = app.state.data
    return len(data._memo), data._memo.used, data._cache.used


# -- finding 2: memory without bound ----------------------------------------------------------------------------
def test_junk_query_parameters_add_no_memo_entry_and_no_cached_rows(app):
    with TestClient(app) as client:
        login(client, "bureau")
        for _ in range(2):  # the second view is served from the memo: what one page holds
            assert client.get("/data/monitor", params={"as_of": AS_OF}).status_code == 200
        assert client.get("/api/monitor", params={"as_of": AS_OF}).status_code == 200
        before = _sizes(app)
        for i in range(1500):
            r = client.get("/data/monitor", params={"as_of": AS_OF, "z": f"junk-{i}-" + "x" * 200})
            assert r.status_code == 200
        for i in range(300):
            r = client.get("/api/monitor", params={"as_of": AS_OF, f"z{i}": "x" * 200})
            assert r.status_code == 200
        assert _sizes(app) == before
        # and the junk does not reach the page's links
        r = client.get("/data/monitor", params={"as_of": AS_OF, "z": "junk-marker"})
        assert "junk-marker" not in r.text


def test_distinct_valid_arguments_stay_within_the_caps(tmp_path):
    from jicai.web.cache import approx_size

    app = make_app(tmp_path, cache_mb=0.05, memo_entries=4)  # 50 KB of rows, 4 pages (12.5 KB of memo)
    with TestClient(app) as client:
        login(client, "bureau")
        days = [f"2024-{m:02d}-{d:02d}" for m in (5, 6) for d in (10, 20, 30)]
        for day in days:
            assert client.get("/data/monitor", params={"as_of": day}).status_code == 200
            assert client.get("/api/monitor", params={"as_of": day}).status_code == 200
            memo = app.state.data._memo
            assert len(memo) <= 4 and memo.used <= memo.budget + max(approx_size(v) for _, v in memo.items())
        cache = app.state.data._cache
        newest = max(e.cost for _, e in cache.items())
        assert cache.used <= cache.budget + newest  # the newest result stays even when it alone is over


def test_the_memo_is_bounded_by_bytes_as_well_as_entries():
    from jicai.web.cache import LRU, approx_size

    memo = LRU(budget=10_000, max_items=100)
    for i in range(50):
        memo.put(i, "x" * 1000, approx_size("x" * 1000))
    assert memo.used <= 10_000 and len(memo) < 10
    for i in range(500):
        memo.put(("small", i), i, approx_size(i))
    assert len(memo) == 100


@pytest.mark.parametrize("path", ["/data/monitor", "/api/monitor", "/"])
def test_an_over_long_query_string_is_refused_with_414_in_both_languages(app, path):
    with TestClient(app) as client:
        login(client, "bureau")
        before = _sizes(app)
        r = client.get(path, params={"as_of": AS_OF, "z": "x" * 5000})
        assert r.status_code == 414
        assert _sizes(app) == before  # nothing computed, nothing kept
        if path.startswith("/api/"):
            assert r.json()["detail"] == {"zh": "请求参数过长(超过 4 KB)", "en": "query string too long (over 4 KB)"}
        else:
            assert "请求参数过长" in r.text and "x" * 100 not in r.text
            assert "请求参数过长" not in client.get(path, params={"as_of": AS_OF}).text


# -- finding 3: stalls ------------------------------------------------------------------------------------------
@ibis.udf.scalar.builtin
def hold(x: int) -> int:
    """Registered on the query engine by the test below: waits for its gate (a roll-up that takes long)."""


def test_a_cached_query_does_not_wait_for_a_long_computation_on_the_query_engine(tmp_path):
    url = f"duckdb:///{tmp_path / 'jicai.duckdb'}"
    with connect(url) as wh:
        wh.write_table("t", pa.table({"a": [1, 2, 3]}))
    data = DataService(url)
    cached = data.result(("cached",), lambda wh: wh.table("t").to_pyarrow())
    started, gate = threading.Event(), threading.Event()

    def slow(x):
        started.set()
        gate.wait(60)
        return x

    data.mem.con.create_function("hold", slow, ["BIGINT"], "BIGINT")

    def new_as_of(wh):  # like the ranking of a new as-of: a roll-up on the cached rows, here one that waits
        return data.execute(cached.mutate(b=hold(cached.a)))

    job = threading.Thread(target=lambda: data.result(("new as-of",), new_as_of))
    job.start()
    try:
        assert started.wait(60)
        got = []
        reader = threading.Thread(target=lambda: got.append(data.scalar(cached.a.sum())))
        reader.start()
        reader.join(30)
        assert got == [6] and not gate.is_set()  # answered while the computation still runs
    finally:
        gate.set()
        job.join(60)
    data.close()


def test_reads_of_cached_pages_answer_while_an_upload_is_being_written(app, monkeypatch):
    import jicai.ingest

    writing, gate = threading.Event(), threading.Event()
    real = jicai.ingest.import_paths

    def slow_import(*args, **kwargs):  # an upload of a big file: the write lock held until the gate opens
        writing.set()
        assert gate.wait(60)
        return real(*args, **kwargs)

    monkeypatch.setattr(jicai.ingest, "import_paths", slow_import)
    body = "institution_code,name,region_code,level,kind,public,sentinel\nH35010200009,新医院,350102,2,hospital,true,false\n"
    with TestClient(app) as client:
        login(client, "bureau")
        token = csrf(client)
        assert client.get("/data/monitor", params={"as_of": AS_OF}).status_code == 200  # cached now
        uploaded = []
        upload = threading.Thread(target=lambda: uploaded.append(client.post(
            "/import", data={"csrf_token": token}, files={"file": ("institutions_new.csv", body.encode(), "text/csv")})))
        upload.start()
        try:
            assert writing.wait(60)
            got = []
            reader = threading.Thread(target=lambda: got.append(client.get("/data/monitor", params={"as_of": AS_OF})))
            reader.start()
            reader.join(30)
            assert got and got[0].status_code == 200 and not gate.is_set()  # answered during the write
        finally:
            gate.set()
            upload.join(60)
        assert uploaded[0].status_code == 200 and "入库 1" in uploaded[0].text


# -- the upload's hidden sheets ---------------------------------------------------------------------------------
def test_the_import_form_reads_hidden_sheets_only_when_asked(app):
    with TestClient(app) as client:
        login(client, "bureau")
        form = client.get("/import").text
        assert 'name="hidden_sheets"' in form and "导入隐藏的工作表" in form
        assert 'name="hidden_sheets" value="1" data-testid="hidden-sheets" checked' not in form  # off by default

        def upload(name: str, **extra) -> str:
            r = client.post("/import", data={"csrf_token": csrf(client), "table": "orders", **extra},
                            files={"file": (name, (CORPUS / name).read_bytes(), "application/octet-stream")})
            assert r.status_code in (200, 422)
            return r.text

        refused = upload("orders_only_hidden.xlsx")
        assert "导入失败" in refused and "请勾选“导入隐藏的工作表”" in refused and "--hidden-sheets" not in refused
        read = upload("orders_only_hidden.xlsx", hidden_sheets="1")
        assert "导入失败" not in read and "已按要求导入隐藏工作表" in read  # the warning, after the import
        skipped = upload("orders_hidden_sheets.xlsx")  # 2 visible rows, 6 on hidden sheets
        assert "读取 2" in skipped and "跳过隐藏的工作表" in skipped and "--hidden-sheets" not in skipped


def test_the_header_links_keep_the_validated_arguments(app):
    with TestClient(app) as client:
        login(client, "bureau")
        r = client.get("/data/monitor", params={"as_of": AS_OF, "variety_id": "V1", "sort": "completion", "z": "junk"})
        assert r.status_code == 200
        link = r.text.split('data-col="completion"><a href="?', 1)[1].split('"', 1)[0].replace("&amp;", "&")
        assert link.startswith(f"as_of={AS_OF}&variety_id=V1&sort=completion&page=1&sort=completion")
        assert link.endswith("&desc=1") and "junk" not in link  # the sorted column's link sorts the other way
