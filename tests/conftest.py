"""Shared fixtures: a temporary data directory for every test, and warehouses on every engine.

``engine_warehouse(engine, tables)`` puts the given Arrow tables on DuckDB, PostgreSQL or PySpark
and returns a :class:`jicai.store.Warehouse`. PySpark is the Spark Connect server of ``$JICAI_TEST_SPARK_URL``
(``sc://…``, started by ``scripts/services.sh``; each test its own lake folder under ``$JICAI_TEST_SPARK_LAKE``
or a temporary one) when that is set, else an in-process ``pyspark://local[2]`` session. PostgreSQL tests use a throwaway database named with a
nonce (created here, dropped at the end); its server is ``$JICAI_TEST_PG_URL`` (started by
``scripts/services.sh`` when none runs).

Every test that cannot run here (no engine, no font, no browser, no ../shared) says so through
:func:`unavailable`: a skip on a developer's machine, a failure in CI (``CI=true``), where nothing may be
silently skipped. test_suite_rules.py fails on any other way of skipping.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlparse

import pyarrow as pa
import pytest

from jicai.store import Warehouse, connect

ENGINES = ("duckdb", "postgres", "pyspark")
PG_URL = os.environ.get("JICAI_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
SPARK_URL = os.environ.get("JICAI_TEST_SPARK_URL", "").strip()  # sc://host:port, or "" for pyspark://local[2]
SPARK_LAKE = os.environ.get("JICAI_TEST_SPARK_LAKE", "").strip()  # a folder the Connect server reaches too
IN_CI = os.environ.get("CI", "").lower() == "true"
SHARED = Path(__file__).resolve().parents[2] / "shared"


def unavailable(reason: str) -> NoReturn:
    """Skip the calling test for ``reason`` (something it needs is missing) — or fail it in CI."""
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


def kill_at_marker(proc, marker: str, timeout: float) -> str:
    """Read ``proc``'s stderr until a line holds ``marker`` (a test hook's "paused here"), then SIGKILL it and
    wait; returns that line. Fails with the child's stderr if it ends first, or after ``timeout`` seconds."""
    import signal
    import time

    deadline, line = time.time() + timeout, ""
    try:
        while marker not in line:
            assert time.time() < deadline and proc.poll() is None, proc.stderr.read() if proc.poll() is not None \
                else "timeout"
            line = proc.stderr.readline()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    return line


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test reads or writes a developer's own jicai-data or warehouse."""
    d = tmp_path / "jicai-data"
    monkeypatch.setenv("JICAI_DATA_DIR", str(d))
    monkeypatch.delenv("JICAI_WAREHOUSE_URL", raising=False)
    monkeypatch.delenv("JICAI_LAKE", raising=False)
    return d


@contextmanager
def throwaway_pg_database(prefix: str) -> Iterator[str]:
    """A fresh database ``<prefix>_<nonce>`` on the server of ``PG_URL``, dropped afterwards: its name."""
    u = urlparse(PG_URL)
    try:
        import psycopg

        admin = psycopg.connect(host=u.hostname, port=u.port or 5432, user=u.username or "postgres",
                                dbname=u.path.lstrip("/") or "postgres", autocommit=True)
    except Exception as exc:  # noqa: BLE001
        unavailable(f"PostgreSQL not reachable at {PG_URL}: {exc}")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin.execute(f"CREATE DATABASE {name}")
    try:
        yield name
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """URL of a fresh PostgreSQL warehouse database for this test session."""
    u = urlparse(PG_URL)
    with throwaway_pg_database("jicai_test") as name:
        yield f"postgres://{u.username or 'postgres'}@{u.hostname}:{u.port or 5432}/{name}"


@pytest.fixture(scope="session")
def spark_lakes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[], str]]:
    """Factory of fresh lake folders for Spark Connect warehouses of this test session (removed at its end)."""
    root = Path(SPARK_LAKE) / f"test-{uuid.uuid4().hex[:10]}" if SPARK_LAKE else tmp_path_factory.mktemp("lakes")
    yield lambda: str(root / uuid.uuid4().hex[:10])
    shutil.rmtree(root, ignore_errors=True)


def connect_spark(lakes: Callable[[], str]) -> Warehouse:
    """A Spark warehouse: on the Connect server of $JICAI_TEST_SPARK_URL over a fresh lake, else in-process."""
    try:
        import pyspark  # noqa: F401
    except ImportError as exc:
        unavailable(f"PySpark not installed: {exc}")
    if not SPARK_URL:
        return connect("pyspark://local[2]")
    from jicai.store.spark_connect import ConnectUnreachable

    try:
        wh = connect(SPARK_URL, lake=lakes())
    except ConnectUnreachable as exc:
        unavailable(f"Spark Connect not reachable at {SPARK_URL}: {exc.en}")
    # test tables are tiny: the in-process session's 4 shuffle partitions, not the server's 200 for real data
    wh.session.conf.set("spark.sql.shuffle.partitions", "4")
    return wh


@pytest.fixture(scope="session")
def spark_warehouse(spark_lakes: Callable[[], str]) -> Iterator[Warehouse]:
    wh = connect_spark(spark_lakes)
    yield wh
    if SPARK_URL:
        wh.close()


@pytest.fixture
def engine_warehouse(request: pytest.FixtureRequest):
    """Factory: ``engine_warehouse("postgres", {"orders": arrow_table, ...}) -> Warehouse``."""
    opened: list[Warehouse] = []

    def make(engine: str, tables: dict[str, pa.Table]) -> Warehouse:
        if engine == "duckdb":
            wh = connect("duckdb://")
        elif engine == "postgres":
            wh = connect(request.getfixturevalue("pg_database"))
        elif engine == "pyspark" and SPARK_URL:
            # a Connect session and a lake of its own: nothing of another test is seen, closing it is cheap
            wh = connect_spark(request.getfixturevalue("spark_lakes"))
        elif engine == "pyspark":
            wh = request.getfixturevalue("spark_warehouse")
            # The session is shared by every Spark test: a temporary view left by another test would
            # shadow the table of the same name written below.
            catalog = wh.con._session.catalog
            for t in catalog.listTables():
                if t.isTemporary:
                    catalog.dropTempView(t.name)
        else:
            raise ValueError(engine)
        for name, data in tables.items():
            wh.write_table(name, data, overwrite=True)
        opened.append(wh)
        return wh

    yield make
    for wh in opened:
        wh.close()


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        unavailable(f"../shared not present at {SHARED}: real-data tests need it beside the repository")
    return SHARED


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Engine-parametrized tests carry their engine's marker so `-m "not pyspark"` etc. select by engine.
    for item in items:
        callspec = getattr(item, "callspec", None)
        engine = callspec.params.get("engine") if callspec else None
        if engine == "postgres":
            item.add_marker(pytest.mark.postgres)
        elif engine == "pyspark":
            item.add_marker(pytest.mark.spark)
            item.add_marker(pytest.mark.slow)
            # In-process Spark: one xdist worker runs every Spark test, so only one JVM starts. On a Connect
            # server each test has its own session and lake and the client starts no JVM, so the Spark tests
            # spread over the workers like the rest (their time is mostly round trips, not the server's cores).
            if not os.environ.get("JICAI_TEST_SPARK_URL"):
                item.add_marker(pytest.mark.xdist_group("spark"))
    # The grouped tests first: `--dist loadgroup` hands out the groups and files in this order, and a group
    # runs on one worker. Collected in file order, the fuzzing shards (test_web_schemathesis, five minutes
    # each) came last and ran one after another on one worker while the other had nothing left (12 minutes of
    # a 97-minute run); first, the short tests fill in around them.
    items.sort(key=lambda i: i.get_closest_marker("xdist_group") is None)


def pytest_collection_finish(session: pytest.Session) -> None:
    # `--dist loadgroup` keeps each xdist_group on one worker (one browser, one private Spark cluster, one
    # schemathesis shard at a time) by suffixing the test ids with the group. pytest 9.2 silently undoes that
    # suffix (pytest-dev/pytest-xdist#1386): every group was spread over both workers, and two tests that each
    # start a Spark cluster ran side by side. constraints.txt pins a pytest that keeps it; this says so loudly
    # if that ever changes.
    if not getattr(session.config.option, "loadgroup", False):
        return
    lost = [i.nodeid for i in session.items if i.get_closest_marker("xdist_group") and "@" not in i.nodeid]
    if lost:
        pytest.exit(f"--dist loadgroup has no effect with pytest {pytest.__version__} (pytest-xdist#1386): "
                    f"{len(lost)} grouped tests lost their group, e.g. {lost[0]}", returncode=4)
