"""The web's data service (jicai.web.data): one computation per missing key whoever asks, a bounded wait, a cache
bounded by bytes, and new data shown after a background refresh — the previous figures meanwhile."""

from __future__ import annotations

import threading
import time

import pyarrow as pa
import pytest

from jicai.store import connect
from jicai.web.data import DataService, NotReady


@pytest.fixture
def url(tmp_path) -> str:
    u = f"duckdb:///{tmp_path / 'jicai.duckdb'}"
    with connect(u) as wh:
        wh.write_table("t", pa.table({"a": [1, 2, 3]}))
    return u


def counting(calls: list, gate: threading.Event | None = None):
    """A computation that counts its runs and, with ``gate``, waits for it before reading the table."""

    def compute(wh):
        calls.append(1)
        if gate is not None:
            assert gate.wait(60)
        return wh.table("t").to_pyarrow()

    return compute


def until(cond) -> None:
    for _ in range(1200):
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError("condition never met")


def test_requests_for_the_same_missing_rows_wait_on_one_computation(url):
    data = DataService(url)
    calls, gate, got = [], threading.Event(), []
    compute = counting(calls, gate)
    threads = [threading.Thread(target=lambda: got.append(data.execute(data.result(("k",), compute)).num_rows))
               for _ in range(3)]
    for t in threads:
        t.start()
    until(lambda: calls)  # the job runs (and waits at the gate) while three requests wait on it
    gate.set()
    for t in threads:
        t.join(60)
    assert got == [3, 3, 3] and calls == [1]
    data.close()


def test_a_request_waits_a_bounded_time_then_gets_computing_and_later_the_rows(url):
    data = DataService(url, wait=0.05)
    calls, gate = [], threading.Event()
    compute = counting(calls, gate)
    with pytest.raises(NotReady) as e:
        data.result(("k",), compute)
    assert e.value.zh.startswith("正在计算") and e.value.en.startswith("computing")
    gate.set()
    until(lambda: ("k",) in data._cache)  # the job went on without the request
    assert data.execute(data.result(("k",), compute)).num_rows == 3 and calls == [1]
    data.close()


def test_the_cache_keeps_at_most_its_budget(url):
    data = DataService(url, cache_mb=1e-6)  # one byte: only the newest result stays
    a, b = [], []
    data.result(("a",), counting(a))
    data.result(("b",), counting(b))
    assert ("a",) not in data._cache and ("b",) in data._cache
    data.result(("a",), counting(a))  # pushed out, so computed again
    assert (len(a), len(b)) == (2, 1)
    data.close()


def test_new_data_are_shown_after_the_refresh_and_the_previous_figures_until_then(url):
    gate = threading.Event()
    gate.set()
    data = DataService(url, warm=lambda d: gate.wait(60))
    data.start()
    assert data.wait_fresh(60)
    calls = []
    first = data.execute(data.result(("k",), counting(calls)))
    assert first.num_rows == 3 and not data.status()["updating"]
    version = data.status()["version"]

    gate.clear()  # the next refresh stops in the warm-up until the gate opens
    with connect(url) as wh:  # another process's import, as far as the server can tell: a new data version
        wh.write_table("t", pa.table({"a": [1, 2, 3, 4]}))
    data.check(force=True)
    status = data.status()
    assert status["updating"] and status["version"] == version
    assert data.execute(data.result(("k",), counting(calls))).num_rows == 3  # the previous figures meanwhile
    gate.set()
    assert data.wait_fresh(60)
    status = data.status()
    assert not status["updating"] and status["version"] == version + 1
    assert data.execute(data.result(("k",), counting(calls))).num_rows == 4
    assert len(calls) == 2
    data.close()


def test_a_read_path_never_writes_and_missing_contract_tables_read_as_empty(url):
    data = DataService(url)
    tables, rows = data.run(lambda wh: (wh.list_tables(), wh.table("payments").count().to_pyarrow().as_py()))
    assert "payments" in tables and rows == 0
    with connect(url, "read") as wh:  # nothing was created in the warehouse
        assert wh.list_tables() == ["t"]
    data.close()


def test_a_page_still_computing_says_please_wait_not_error(tmp_path):
    """The 503 of figures on their way is a page titled 请稍候 (please wait), not 出错 (error)."""
    from fastapi.testclient import TestClient
    from tests.web_fixtures import login, make_app

    app = make_app(tmp_path)

    def computing():
        raise NotReady()

    app.add_api_route("/_computing", computing)
    with TestClient(app) as c:
        r = login(c, "bureau").get("/_computing")
        en = c.get("/_computing?lang=en")
    assert r.status_code == en.status_code == 503 and r.headers["retry-after"] == "5"
    assert "<title>请稍候" in r.text and "出错" not in r.text and "正在计算,请稍后刷新" in r.text
    assert "<title>Please wait" in en.text and "computing: retry in a moment" in en.text
