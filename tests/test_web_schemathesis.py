"""schemathesis against the OpenAPI schema: generated inputs to every API operation, as the bureau (who may
call everything) and as a hospital (whose scope filters everything) — never a 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from tests.web_fixtures import bearer, make_app

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("schemathesis")]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return make_app(tmp_path_factory.mktemp("fuzz"))


def _operations(app) -> list:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    return [r.ok() for r in schema.get_all_operations()]


def test_every_api_operation_is_fuzzed(app):
    ops = {(o.method.upper(), o.path) for o in _operations(app)}
    assert ("GET", "/api/monitor") in ops and ("POST", "/api/supply-reports") in ops and len(ops) > 20


def test_no_server_error(app):
    c = TestClient(app)
    auth = {"bureau": bearer(c, "bureau"), "institution": bearer(c, "institution")}
    failures = []
    for op in _operations(app):

        @given(case=op.as_strategy())
        @settings(max_examples=5, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case):
            for who, headers in auth.items():
                response = case.call(headers=headers, timeout=120)
                if response.status_code >= 500:
                    failures.append((who, case.method, case.formatted_path, case.query, case.body,
                                     response.status_code, response.text[:300]))

        run()
    assert not failures, failures[:5]
