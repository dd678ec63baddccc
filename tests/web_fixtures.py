"""Shared helpers of the web tests: an app on a temporary data directory with a small DuckDB warehouse, users
for every role, and clients logged in by session or by bearer token.

    app = make_app(tmp_path)                 # WORLD warehouse, SQLite workflow, one user per entry of USERS
    with TestClient(app) as client:
        login(client, "bureau")              # session cookie; csrf(client) gives the token forms need
        headers = bearer(client, "institution")   # {"Authorization": "Bearer …"}

Every user's password is PASSWORD. Users hash with a cheap argon2 setting (FAST_HASHER) so a test can log in
many times; the production parameters are tested in tests/test_web_auth.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient

from jicai.contract.arrow import from_pylist
from jicai.contract.codes import make_uscc
from jicai.store import connect
from jicai.web.config import WebConfig

PASSWORD = "test-password-1"
SECRET = "test-secret-key-" + "x" * 32
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

# -- the small province --------------------------------------------------------------------------------
# Fuzhou Gulou (350102) has hospitals HA and HB, Quanzhou Licheng (350502) has HC. Enterprise EA makes P1
# (V1's primary product) and EB makes P1B (V1's backup) and P2 (V2's primary); P1N is a non-selected V1
# product of a third maker. HA bought 30 packs of the backup P1B (accepted 2024-03-15) and 20 packs of P1.
HA, HB, HC = "H35010200001", "H35010200002", "H35050200001"
EA, EB, EC = make_uscc("91350100MA2Y00001"), make_uscc("91350500MA2Y00002"), make_uscc("91350100MA2Y00003")


def product(n: int) -> str:
    """A product code of the western-drug format (X + C10AA + 17 characters)."""
    return f"XC10AA{n:017d}"


P1, P1B, P1N, P2 = product(1), product(2), product(3), product(4)

USERS = {  # name: (role, scope)
    "admin": ("admin", ""),
    "bureau": ("bureau", ""),
    "district": ("bureau", "3505"),  # Quanzhou's bureau: sees HC only
    "auditor": ("auditor", ""),
    "institution": ("institution", HA),
    "institution_b": ("institution", HB),
    "institution_c": ("institution", HC),
    "enterprise": ("enterprise", EA),
    "enterprise_b": ("enterprise", EB),
}


def world_rows() -> dict[str, list[dict]]:
    d = datetime
    return {
        "regions": [
            {"region_code": "350000", "name": "福建省", "parent_code": None},
            {"region_code": "350100", "name": "福州市", "parent_code": "350000"},
            {"region_code": "350102", "name": "鼓楼区", "parent_code": "350100"},
            {"region_code": "350500", "name": "泉州市", "parent_code": "350000"},
            {"region_code": "350502", "name": "鲤城区", "parent_code": "350500"},
        ],
        "institutions": [
            {"institution_code": HA, "name": "鼓楼医院甲", "region_code": "350102", "level": 3, "kind": "hospital",
             "public": True, "sentinel": True},
            {"institution_code": HB, "name": "鼓楼医院乙", "region_code": "350102", "level": 2, "kind": "hospital",
             "public": True, "sentinel": False},
            {"institution_code": HC, "name": "鲤城医院丙", "region_code": "350502", "level": 3, "kind": "hospital",
             "public": True, "sentinel": False},
        ],
        "enterprises": [
            {"enterprise_code": EA, "name": "甲制药", "role": "manufacturer"},
            {"enterprise_code": EB, "name": "乙制药", "role": "both"},
            {"enterprise_code": EC, "name": "丙制药", "role": "manufacturer"},
        ],
        "batches": [{"batch_id": "B1", "name": "第一批", "category": "drug", "start_date": date(2024, 1, 1),
                     "cycle_years": 2, "policy_id": None}],
        "varieties": [
            {"variety_id": "V1", "batch_id": "B1", "name": "阿托伐他汀钙片", "unit": "片", "baseline_unit_price": 5.0},
            {"variety_id": "V2", "batch_id": "B1", "name": "氨氯地平片", "unit": "片", "baseline_unit_price": 4.0},
        ],
        "products": [
            {"product_code": P1, "name": "阿托伐他汀钙片(甲)", "variety_id": "V1", "units_per_pack": 10.0,
             "manufacturer_code": EA, "category": "drug"},
            {"product_code": P1B, "name": "阿托伐他汀钙片(乙)", "variety_id": "V1", "units_per_pack": 10.0,
             "manufacturer_code": EB, "category": "drug"},
            {"product_code": P1N, "name": "阿托伐他汀钙片(丙)", "variety_id": "V1", "units_per_pack": 10.0,
             "manufacturer_code": EC, "category": "drug"},
            {"product_code": P2, "name": "氨氯地平片(乙)", "variety_id": "V2", "units_per_pack": 10.0,
             "manufacturer_code": EB, "category": "drug"},
        ],
        "selected_products": [
            {"batch_id": "B1", "variety_id": "V1", "product_code": P1, "enterprise_code": EA, "unit_price": 2.0,
             "role": "primary", "regions": None},
            {"batch_id": "B1", "variety_id": "V1", "product_code": P1B, "enterprise_code": EB, "unit_price": 2.0,
             "role": "backup", "regions": None},
            {"batch_id": "B1", "variety_id": "V2", "product_code": P2, "enterprise_code": EB, "unit_price": 2.0,
             "role": "primary", "regions": None},
        ],
        "agreements": [
            {"batch_id": "B1", "cycle_year": 1, "institution_code": i, "variety_id": "V1", "agreed_volume": 1000.0}
            for i in (HA, HB, HC)
        ],
        "orders": [
            {"order_line_id": "L1", "order_id": "O1", "institution_code": HA, "product_code": P1B,
             "distributor_code": EB, "quantity": 30.0, "pack_price": 20.0, "ordered_at": d(2024, 3, 14, 8),
             "channel": "platform"},
            {"order_line_id": "L2", "order_id": "O2", "institution_code": HA, "product_code": P1,
             "distributor_code": EA, "quantity": 20.0, "pack_price": 20.0, "ordered_at": d(2024, 4, 30, 8),
             "channel": "platform"},
        ],
        "deliveries": [
            {"order_line_id": "L1", "responded_at": d(2024, 3, 14, 9), "shipped_at": d(2024, 3, 14, 12),
             "shipped_quantity": 30.0, "accepted_at": d(2024, 3, 15, 10), "accepted_quantity": 30.0},
            {"order_line_id": "L2", "responded_at": d(2024, 4, 30, 9), "shipped_at": d(2024, 4, 30, 12),
             "shipped_quantity": 20.0, "accepted_at": d(2024, 5, 1, 10), "accepted_quantity": 20.0},
        ],
    }


def world_tables() -> dict[str, pa.Table]:
    return {name: from_pylist(name, rows) for name, rows in world_rows().items()}


# -- the app ---------------------------------------------------------------------------------------------
def make_config(tmp_path: Path, workflow_url: str | None = None, **overrides) -> WebConfig:
    """The config of a test app. No warm-up (``warm=False``) unless asked: a test computes what it asks for,
    instead of every dataset in the background beside it (tests/test_concurrency.py tests the warm-up)."""
    data_dir = tmp_path / "web"
    data_dir.mkdir(parents=True, exist_ok=True)
    overrides.setdefault("warm", False)
    # a request waits this long for its figures before "computing, retry" (503): generous, so that a test asserting
    # a 200 does not turn into a 503 on a loaded machine (tests of the 503 itself set their own)
    overrides.setdefault("wait", 120.0)
    return WebConfig(data_dir=data_dir, warehouse_url=f"duckdb:///{data_dir / 'jicai.duckdb'}",
                     workflow_url=workflow_url or f"sqlite:///{data_dir / 'workflow.sqlite'}", secret_key=SECRET,
                     **overrides)


def make_app(tmp_path: Path, tables: dict[str, pa.Table] | None = None, *, workflow_url: str | None = None,
             users: dict[str, tuple[str, str]] | None = None, **overrides) -> FastAPI:
    """The app over a DuckDB warehouse holding ``tables`` (default: the small province above) and a workflow
    database (default: SQLite in the data directory) with ``users`` (default: USERS), password PASSWORD."""
    from jicai.web.app import create_app
    from jicai.workflow.users import ensure_user

    config = make_config(tmp_path, workflow_url, **overrides)
    wh = connect(config.warehouse_url)
    try:
        for name, t in (world_tables() if tables is None else tables).items():
            wh.write_table(name, t, overwrite=True)
    finally:
        wh.close()
    app = create_app(config)
    app.state.workflow.hasher = FAST_HASHER
    for name, (role, scope) in (USERS if users is None else users).items():
        ensure_user(app.state.workflow, name, role, scope, PASSWORD)
    return app


# -- clients -----------------------------------------------------------------------------------------------
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf(client: TestClient) -> str:
    """The CSRF token of the client's current session (or of its pre-login cookie), as the login page shows it."""
    m = _CSRF.search(client.get("/login").text)
    assert m, "the login page has no csrf_token field"
    return m.group(1)


def login(client: TestClient, user: str, password: str = PASSWORD) -> TestClient:
    """Log ``client`` in as ``user`` through the login form (asserting it worked); returns the client."""
    r = client.post("/login", data={"name": user, "password": password, "csrf_token": csrf(client), "next": "/"},
                    follow_redirects=False)
    assert r.status_code == 303, (r.status_code, r.text[:500])
    assert "jicai_session" in client.cookies
    return client


def token(client: TestClient, user: str, password: str = PASSWORD) -> str:
    r = client.post("/api/auth/token", data={"username": user, "password": password})
    assert r.status_code == 200, (r.status_code, r.text)
    return r.json()["access_token"]


def bearer(client: TestClient, user: str, password: str = PASSWORD) -> dict[str, str]:
    """Authorization headers with a fresh bearer token for ``user``."""
    return {"Authorization": f"Bearer {token(client, user, password)}"}


# -- a PostgreSQL workflow database -------------------------------------------------------------------------
def pg_url_for(database: str) -> str:
    from urllib.parse import urlparse

    from tests.conftest import PG_URL

    u = urlparse(PG_URL)
    return f"postgresql+psycopg://{u.username or 'postgres'}@{u.hostname}:{u.port or 5432}/{database}"


@contextmanager
def pg_database(prefix: str = "jicai_wf") -> Iterator[str]:
    """A fresh PostgreSQL database (dropped afterwards) as a SQLAlchemy URL; skips (fails in CI) without a server."""
    from tests.conftest import throwaway_pg_database

    with throwaway_pg_database(prefix) as name:
        yield pg_url_for(name)


def workflow_url_fixture(prefix: str):
    """A ``workflow_url`` fixture running a test on both workflow databases: ``None`` (SQLite in the data
    directory) and a PostgreSQL database of its own named from ``prefix``. Assign it in a test module:
    ``workflow_url = workflow_url_fixture("jicai_wf_logins")``."""
    import pytest

    @pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
    def workflow_url(request) -> Iterator[str | None]:
        if request.param == "sqlite":
            yield None
            return
        with pg_database(prefix) as url:
            yield url

    return workflow_url


def empty_workflow(url: str) -> None:
    """Remove every row of the workflow tables (a PostgreSQL database reused by several tests)."""
    from sqlalchemy import text

    from jicai.workflow import Workflow

    wf = Workflow.open(url)
    try:
        with wf.engine.begin() as con:
            con.execute(text("TRUNCATE warehouse_outbox, audit_log, supervision_actions, exemptions, supply_reports, "
                             "login_attempts, web_sessions, users "
                             "RESTART IDENTITY CASCADE"))
    finally:
        wf.close()


# -- the app's routes ----------------------------------------------------------------------------------------
def routes_of(app: FastAPI) -> list:
    """Every route of ``app``, the included routers' too. FastAPI 0.165 keeps an included router whole in
    ``app.routes`` (one ``_IncludedRouter`` entry holding ``original_router``), so a plain loop over
    ``app.routes`` sees none of the routers' ``APIRoute`` objects."""
    out: list = []

    def walk(routes, prefix: str) -> None:
        for r in routes:
            inner = getattr(r, "original_router", None)
            if inner is not None:
                walk(inner.routes, prefix + r.include_context.prefix)
            elif prefix:
                raise AssertionError(f"a router included with prefix {prefix!r}: routes_of must rebuild its paths")
            else:
                out.append(r)

    walk(app.routes, "")
    return out
