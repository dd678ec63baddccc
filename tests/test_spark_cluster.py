"""A real Spark cluster (scripts/spark_cluster.sh: master, two worker JVMs, Connect server) under faults.

These tests start their own cluster on free ports, its state in a temporary folder, and stop it at the end:
they kill a worker and restart the Connect server, which would break the sessions that the other Spark tests
hold on the shared cluster of scripts/services.sh.

A kill "during a job" is made certain, not hoped for: the worker's executor is frozen (SIGSTOP) before the job
starts, and killed with its worker once the driver's REST API counts a task of the job on it: that task cannot
have finished, and the job has not.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from tests.conftest import unavailable

# each test starts a cluster of its own: one at a time
pytestmark = [pytest.mark.spark, pytest.mark.slow, pytest.mark.xdist_group("spark-cluster")]

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "spark_cluster.sh"
EXECUTOR_CLASS = "org.apache.spark.executor.CoarseGrainedExecutorBackend"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str):
    # generous: with both cores busy, the driver's UI thread can take seconds to answer
    with urllib.request.urlopen(url, timeout=60) as r:
        return json.load(r)


@dataclass
class Cluster:
    state: Path
    env: dict[str, str]

    @property
    def url(self) -> str:
        return f"sc://127.0.0.1:{self.env['JICAI_SPARK_CONNECT_PORT']}"

    def script(self, command: str) -> None:
        done = subprocess.run(["bash", str(SCRIPT), command], env=self.env, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, f"spark_cluster.sh {command} failed:\n{done.stderr}"

    def pid(self, name: str) -> int:
        return int((self.state / f"{name}.pid").read_text())

    def granted_cores(self) -> int:
        """Cores the master has granted the Connect server's application (one per live executor)."""
        status = get_json(f"http://127.0.0.1:{self.env['JICAI_SPARK_MASTER_UI_PORT']}/json/")
        return sum(app["cores"] for app in status["activeapps"])

    def wait_for_cores(self, n: int, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while self.granted_cores() < n:
            assert time.monotonic() < deadline, f"the application did not get {n} executors in {timeout}s"
            time.sleep(0.5)

    def driver_api(self, path: str):
        base = f"http://127.0.0.1:{self.env['JICAI_SPARK_UI_PORT']}/api/v1/applications"
        app = get_json(base)[0]["id"]
        return get_json(f"{base}/{app}/{path}")

    def active_tasks(self, executor_id: str) -> int:
        return sum(e["activeTasks"] for e in self.driver_api("executors") if e["id"] == executor_id)


@pytest.fixture(scope="module")
def module_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if shutil.which("java") is None:
        unavailable("no Java: scripts/services.sh installs it")
    try:
        import pyspark.sql.connect.session  # noqa: F401
    except ImportError as exc:
        unavailable(f"pyspark[connect] not installed: {exc}")
    env = dict(os.environ)
    env.update({
        "JICAI_SPARK_STATE": str(tmp_path_factory.mktemp("spark-cluster")),
        "JICAI_PYTHON": sys.executable,
        "JICAI_SPARK_CONNECT_PORT": str(free_port()),
        "JICAI_SPARK_MASTER_PORT": str(free_port()),
        "JICAI_SPARK_MASTER_UI_PORT": str(free_port()),
        "JICAI_SPARK_UI_PORT": str(free_port()),
        "JICAI_SPARK_WORKERS": "2",
    })
    c = Cluster(Path(env["JICAI_SPARK_STATE"]), env)
    try:
        c.script("start")
        c.wait_for_cores(2)
        yield c
    finally:
        c.script("stop")


@pytest.fixture
def cluster(module_cluster: Cluster) -> Cluster:
    """The module's cluster, whole: a test that failed after killing a worker leaves it one short, and the next
    kill would then leave the job no executor at all (it waits for one for ever)."""
    module_cluster.script("start")  # starts only what is missing
    module_cluster.wait_for_cores(2)
    return module_cluster


@pytest.fixture
def session(cluster: Cluster):
    from jicai.store.spark_connect import open_session

    s = open_session(cluster.url)
    yield s
    s.stop()


def executor_of(worker: psutil.Process, timeout: float = 60) -> tuple[psutil.Process, str]:
    """The executor JVM a worker launched (its child), and the executor's id as the driver knows it.

    The master counts an executor's cores when it asks the worker to launch it: the process follows."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in worker.children():
            try:
                cmd = child.cmdline()
            except psutil.Error:  # spark-class's launcher, exited and never reaped by the JVM that replaced it
                continue
            if EXECUTOR_CLASS in cmd:
                return child, cmd[cmd.index("--executor-id") + 1]
        time.sleep(0.5)
    raise AssertionError(f"worker {worker.pid} runs no executor after {timeout}s")


def kill_worker_during_task(cluster: Cluster, n: int, start_job: Callable[[], Callable[[], bool]]) -> str:
    """Start a job with ``start_job()`` (it returns "has the job ended?") and SIGKILL worker ``n`` and its
    executor while that executor holds one of the job's tasks; the executor's id.

    The executor is frozen (SIGSTOP) before the job starts, so a task the driver gives it cannot finish: when
    the driver counts a task on it, the kill is certainly mid-task, with the job unfinished."""
    worker = psutil.Process(cluster.pid(f"worker-{n}"))
    executor, executor_id = executor_of(worker)
    executor.suspend()
    try:
        job_done = start_job()
        deadline = time.monotonic() + 300
        while not cluster.active_tasks(executor_id):
            assert not job_done(), f"the job ended without giving worker {n}'s executor a task"
            assert time.monotonic() < deadline, f"no task given to worker {n}'s executor in 300 s"
            time.sleep(0.2)
    except BaseException:
        executor.resume()
        raise
    for p in (executor, worker):
        p.send_signal(signal.SIGKILL)
    psutil.wait_procs([executor, worker], timeout=30)
    assert not job_done(), "the job ended while a task of it was held by the frozen executor"
    return executor_id


def run_in_thread(fn: Callable[[], object]) -> tuple[threading.Thread, list]:
    out: list = []

    def target() -> None:
        try:
            out.append(fn())
        except BaseException as exc:  # noqa: BLE001 — handed to the test to raise
            out.append(exc)

    t = threading.Thread(target=target, daemon=True)
    t.start()
    return t, out


N_ROWS = 3_000_000
N_GROUPS = 7


def expected_digest_sums() -> dict[int, tuple[int, int]]:
    """Per group ``id % 7``: (sum of crc32(hex sha-256 of the id's decimal text), count), computed in Python."""
    sums = dict.fromkeys(range(N_GROUPS), 0)
    for i in range(N_ROWS):
        sums[i % N_GROUPS] += zlib.crc32(hashlib.sha256(str(i).encode()).hexdigest().encode())
    counts = {g: len(range(g, N_ROWS, N_GROUPS)) for g in range(N_GROUPS)}
    return {g: (sums[g], counts[g]) for g in range(N_GROUPS)}


def test_a_worker_killed_during_a_job_the_job_completes_with_the_same_result(cluster: Cluster, session) -> None:
    from pyspark.sql import functions as F

    # Work per row (a SHA-256) so the job's 16 map tasks last long enough to be caught running; a shuffle
    # (group by) so the map outputs kept on the killed executor are lost too and must be computed again.
    rows = session.range(0, N_ROWS, 1, 16).select(
        (F.col("id") % N_GROUPS).alias("g"),
        F.crc32(F.sha2(F.col("id").cast("string"), 256)).alias("digest"),
    )
    query = rows.groupBy("g").agg(F.sum("digest").alias("total"), F.count("*").alias("n")).orderBy("g")
    started: list = []

    def start_job() -> Callable[[], bool]:
        started.extend(run_in_thread(query.collect))
        return lambda: not started[0].is_alive()

    killed = kill_worker_during_task(cluster, 1, start_job)
    job, out = started
    job.join(600)
    assert out, "the job did not end within 10 minutes of the kill"
    if isinstance(out[0], BaseException):
        raise out[0]
    got = {r["g"]: (r["total"], r["n"]) for r in out[0]}
    assert got == expected_digest_sums()

    # The driver lost the executor and saw the task frozen on it fail (then ran it again elsewhere).
    lost = [e for e in cluster.driver_api("allexecutors") if e["id"] == killed]
    assert lost and not lost[0]["isActive"], lost
    stages = cluster.driver_api("stages")
    failed = [(s["stageId"], s["attemptId"], s["numFailedTasks"]) for s in stages if s["numFailedTasks"]]
    assert failed, [(s["stageId"], s["attemptId"], s["status"], s["numFailedTasks"]) for s in stages]

    # The script brings the worker back; the master gives the application a new executor on it.
    cluster.script("start")
    cluster.wait_for_cores(2)
    new_executor, new_id = executor_of(psutil.Process(cluster.pid("worker-1")))
    assert new_id != killed and new_executor.is_running()


# --- with the lake: a table across a server restart; a real monitor run across a worker's death ------------

def typed_table():
    from datetime import date, datetime

    import pyarrow as pa

    return pa.table({
        "region_code": pa.array(["340000", "340100", None], pa.string()),
        "name": pa.array(["安徽省", "合肥市", "未知"], pa.string()),
        "n": pa.array([2**40, -1, None], pa.int64()),
        "start_date": pa.array([date(2024, 2, 29), date(2021, 1, 1), None], pa.date32()),
        "stamp": pa.array([datetime(2024, 3, 1, 8, 30, 15, 123456), None, datetime(2024, 12, 31, 23, 59, 59)],
                          pa.timestamp("us")),
    })


def jicai(*args: str) -> list[str]:
    """The command line of ``jicai ARGS`` in a separate client process."""
    return [sys.executable, "-c", "from jicai.cli import main; main()", *args]


def client_env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + str(REPO),
            "JICAI_DATA_DIR": str(tmp_path / "jicai-data")}


def test_a_table_written_before_the_connect_server_restarts_is_read_after_it(cluster: Cluster, tmp_path) -> None:
    from jicai.errors import BilingualError
    from jicai.store import connect

    lake = str(tmp_path / "lake")
    with connect(cluster.url, "write", lake=lake) as wh:
        wh.write_table("regions", typed_table())

    others = {name: cluster.pid(name) for name in ("master", "worker-1", "worker-2")}
    server = psutil.Process(cluster.pid("connect"))
    server.terminate()
    server.wait(120)
    # While it is down, a client is told so in both languages, with the URL.
    with pytest.raises(BilingualError) as down:
        connect(cluster.url, "read", lake=lake)
    assert cluster.url.split("//")[1] in down.value.en and down.value.zh

    cluster.script("start")  # starts only what is missing: the Connect server
    assert cluster.pid("connect") != server.pid
    assert {name: cluster.pid(name) for name in others} == others
    cluster.wait_for_cores(2)

    # A new client process (nothing of the first one's session survives) reads the table.
    read = subprocess.run([sys.executable, "-c", textwrap.dedent("""
        import sys
        from jicai.store import connect
        with connect(sys.argv[1], "read", lake=sys.argv[2]) as wh:
            wh.table("regions").to_pyarrow().to_pandas().to_json(sys.stdout, orient="records", date_format="iso")
    """), cluster.url, lake], env=client_env(tmp_path), capture_output=True, text=True, timeout=600)
    assert read.returncode == 0, read.stderr
    got = json.loads(read.stdout)
    assert got == json.loads(typed_table().to_pandas().to_json(orient="records", date_format="iso"))


MONITOR_AS_OF = "2024-12-31"


def assert_same_report(got: dict, exp: dict) -> None:
    """The lists of two monitor reports hold the same rows in the same order; floats within 1e-9 relative."""
    lists = [k for k, v in exp.items() if isinstance(v, list)]
    assert lists and sorted(lists) == sorted(k for k, v in got.items() if isinstance(v, list))
    for key in lists:
        assert len(got[key]) == len(exp[key]), key
        for i, (g, e) in enumerate(zip(got[key], exp[key], strict=True)):
            assert g.keys() == e.keys(), (key, i)
            for col, b in e.items():
                a = g[col]
                if isinstance(a, float) or isinstance(b, float):
                    assert a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9), \
                        (key, i, col, a, b)
                else:
                    assert a == b, (key, i, col, a, b)


def test_a_worker_killed_during_a_monitor_run_the_run_gives_the_rows_duckdb_gives(cluster: Cluster,
                                                                                  tmp_path) -> None:
    from datetime import date

    from jicai.ingest import import_paths
    from jicai.simulate import simulate
    from jicai.store import connect
    from jicai.store.warehouse import copy_tables

    # A simulated province of 300,000 order lines, imported into DuckDB and copied into the cluster's lake.
    manifest = simulate(tmp_path / "province", institutions=120, months=12, seed=15, order_lines=300_000,
                        start=date(2024, 1, 1))
    assert manifest.tables["orders"] >= 250_000
    duck_url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    lake = str(tmp_path / "lake")
    with connect(duck_url) as duck:
        import_paths(duck, [tmp_path / "province"])
        with connect(cluster.url, "write", lake=lake) as sc:
            copy_tables(duck, sc)

    env = client_env(tmp_path)
    reference = subprocess.run(jicai("--warehouse", duck_url, "monitor", "--as-of", MONITOR_AS_OF,
                                     "--out", str(tmp_path / "duckdb.json")),
                               env=env, capture_output=True, text=True, timeout=600)
    assert reference.returncode == 0, reference.stderr

    # The same run on the cluster, in its own client process; worker 2 dies while it holds one of its tasks.
    started: list[subprocess.Popen] = []

    def start_run() -> Callable[[], bool]:
        started.append(subprocess.Popen(
            jicai("--warehouse", cluster.url, "--lake", lake, "monitor", "--as-of", MONITOR_AS_OF,
                  "--out", str(tmp_path / "spark.json")),
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        return lambda: started[0].poll() is not None

    try:
        kill_worker_during_task(cluster, 2, start_run)
        _, stderr = started[0].communicate(timeout=900)
        assert started[0].returncode == 0, stderr
    finally:
        for p in started:
            if p.poll() is None:
                p.kill()
        cluster.script("start")
        cluster.wait_for_cores(2)

    got = json.loads((tmp_path / "spark.json").read_text(encoding="utf-8"))
    exp = json.loads((tmp_path / "duckdb.json").read_text(encoding="utf-8"))
    assert len(exp["rows"]) > 100
    assert_same_report(got, exp)
