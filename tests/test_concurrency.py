"""The CLI and the web on one DuckDB warehouse at once (issue 12, items 1 and 5).

A real ``jicai serve`` (a subprocess) over a simulated province of two months is under page and API load from
a few client threads while ``jicai import`` of the third month and ``jicai monitor`` run as subprocesses:
no error anywhere (no 5xx, no traceback, both commands exit 0), no row lost (the warehouse holds every row of
every file), and the API shows the third month after the import, without a restart of the server.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from tests.web_fixtures import login

from jicai.store import connect

pytestmark = pytest.mark.slow

PASSWORD = "concurrency-test-1"
BIG = ("orders", "deliveries", "payments")
CLI = [sys.executable, "-c", "from jicai.cli import main; main()"]


def split_by_month(sim: Path, first: Path, later: Path, month: date) -> dict[str, int]:
    """The simulated files as a bureau receives them: everything before ``month`` in ``first``, the order lines
    of ``month`` (with their deliveries and payments) in ``later`` as ``<table>_YYYY-MM.parquet``. Returns the
    rows of each big table over both folders."""
    first.mkdir()
    later.mkdir()
    for f in sim.glob("*.parquet"):
        if f.stem not in BIG:
            (first / f.name).write_bytes(f.read_bytes())
    orders = pq.read_table(sim / "orders.parquet")
    start = pa.scalar(month.replace(day=1), pa.date32())
    is_later = pc.greater_equal(pc.cast(orders["ordered_at"], pa.date32()), start)
    later_lines = pc.filter(orders["order_line_id"], is_later)
    rows = {}
    for name in BIG:
        t = pq.read_table(sim / f"{name}.parquet")
        late = pc.is_in(t["order_line_id"], value_set=later_lines)
        pq.write_table(t.filter(pc.invert(late)), first / f"{name}_early.parquet")
        pq.write_table(t.filter(late), later / f"{name}_{month:%Y-%m}.parquet")
        assert t.filter(late).num_rows > 0, name
        rows[name] = t.num_rows
    return rows


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bureau_token(base: str, tries: int = 600) -> str:
    """Wait (up to ``tries`` tenths of a second) until the ``jicai serve`` at ``base`` answers its login page, then
    return an API token of the bureau user (shared by the tests that start a real server)."""
    for _ in range(tries):
        try:
            if httpx.get(f"{base}/login", timeout=5).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    return httpx.post(f"{base}/api/auth/token", data={"username": "bureau", "password": PASSWORD},
                      timeout=60).json()["access_token"]


class Load:
    """Client threads requesting pages and API endpoints in a loop; every answer that is not a 200 is kept."""

    PAGES = ["/", "/ranking", "/data/monitor", "/data/supply-scorecard"]
    API = ["/api/monitor?page_size=50", "/api/overview", "/api/overview/trend", "/api/ranking",
           "/api/onboarding", "/api/receivables"]

    def __init__(self, base: str, token: str, threads: int = 3) -> None:
        self.base, self.token = base, token
        self.errors: list[tuple[str, int, str]] = []
        self.requests = 0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._client, args=(i,), daemon=True) for i in range(threads)]

    def _client(self, i: int) -> None:
        with httpx.Client(base_url=self.base, timeout=300) as page, \
                httpx.Client(base_url=self.base, timeout=300,
                             headers={"Authorization": f"Bearer {self.token}"}) as api:
            login(page, "bureau", PASSWORD)
            n = 0
            while not self._stop.is_set():
                client, path = (page, self.PAGES[n % len(self.PAGES)]) if n % 2 else (api, self.API[n % len(self.API)])
                r = client.get(path)
                self.requests += 1
                if r.status_code != 200 or "Traceback" in r.text:
                    self.errors.append((path, r.status_code, r.text[:300]))
                n += 1

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=300)


def test_serve_import_and_monitor_side_by_side(tmp_path):
    from jicai.settings import Settings
    from jicai.simulate import simulate
    from jicai.web.config import WebConfig
    from jicai.workflow import Workflow
    from jicai.workflow.users import ensure_user

    sim, first, third = tmp_path / "sim", tmp_path / "first", tmp_path / "third"
    simulate(sim, institutions=40, months=3, seed=7, start=date(2024, 1, 1))
    rows = split_by_month(sim, first, third, date(2024, 3, 1))

    data = tmp_path / "data"
    env = {**os.environ, "JICAI_DATA_DIR": str(data), "JICAI_WEB_WAIT": "120"}
    r = subprocess.run([*CLI, "import", str(first)], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    settings = Settings.resolve(data)
    wf = Workflow.open(WebConfig.resolve(settings, env).workflow_url)
    try:
        ensure_user(wf, "bureau", "bureau", "", PASSWORD)
    finally:
        wf.close()

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([*CLI, "serve", "--port", str(port)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        token = bureau_token(base)
        auth = {"Authorization": f"Bearer {token}"}
        before = httpx.get(f"{base}/api/monitor", headers=auth, timeout=300).json()
        assert before["params"]["as_of"] < "2024-03-01"

        with Load(base, token) as load:
            while load.requests < 20:  # the clients are at work before the commands start
                time.sleep(0.1)
            importing = subprocess.Popen([*CLI, "import", str(third)], env=env, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, text=True)
            monitoring = subprocess.Popen([*CLI, "monitor", "--as-of", "2024-02-29"], env=env,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for cmd in (importing, monitoring):
                out, err = cmd.communicate(timeout=600)
                assert cmd.returncode == 0, (cmd.args, out, err)
                assert "Traceback" not in err, err
            # the new month reaches the API without a restart (the server noticed the new data version)
            for _ in range(1200):
                now = httpx.get(f"{base}/api/monitor", headers=auth, timeout=300).json()
                if now["params"]["as_of"] >= "2024-03-01" and not now["data"]["updating"]:
                    break
                time.sleep(0.1)
            requests_during = load.requests
        last_order = pc.max(pq.read_table(sim / "orders.parquet")["ordered_at"]).as_py().date()
        assert now["params"]["as_of"] == last_order.isoformat()  # the default as-of moved to the new month
        assert not now["data"]["updating"] and now["data"]["version"] > before["data"]["version"]
        trend = httpx.get(f"{base}/api/overview/trend", headers=auth, timeout=300).json()
        assert "2024-03" in [m["month"] for m in trend]
        assert load.errors == []
        assert requests_during > 20
    finally:
        server.terminate()
        _, server_err = server.communicate(timeout=60)
    assert "Traceback" not in server_err, server_err

    # no row lost: the warehouse (read beside nothing now) holds every row of both months' files
    with connect(settings.warehouse_url, "read") as wh:
        got = {name: wh.table(name).count().to_pyarrow().as_py() for name in BIG}
        quarantined = wh.table("_quarantine").count().to_pyarrow().as_py()
    assert quarantined == 0
    assert got == rows
