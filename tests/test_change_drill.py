"""Change detection drills down to its order lines (jicai.web.drill): an event links to its monthly series and to
the institution's order lines of its months, a month of the series to that month's lines — and the links are
scoped like every page (a hospital reaches its own lines only).

The world is tests/scenarios/change/03 (hand-computed there): M1 buys 10 packs of PA once a month from 2024-03 to
2025-04; its cost per DDD rises in 2025-03 and is in alarm in 2025-04 (恶化, started 2025-03, ongoing). So the
event's order lines are the two lines accepted in 2025-03 and 2025-04 (¥3.15 a pack), a month's one line.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.scenarios.runner import load
from tests.web_fixtures import EA, HA, bearer, login, make_app

AS_OF = "2025-04-30"
SCENARIO = Path(__file__).parent / "scenarios" / "change" / "03_cost_per_ddd_rise_is_detected.toml"
M1 = "H61010200001"  # the scenario's M1 under a code a hospital user can be given
USERS = {"bureau": ("bureau", ""), "m1": ("institution", M1), "other": ("institution", HA),
         "district": ("bureau", "3505"), "enterprise": ("enterprise", EA)}


def _tables():
    import pyarrow.compute as pc

    out = {}
    for name, t in load(SCENARIO).tables.items():
        if "institution_code" in t.schema.names:
            i = t.schema.get_field_index("institution_code")
            t = t.set_column(i, t.schema.field(i), pc.replace_substring_regex(t.column(i), "^M1$", M1))
        out[name] = t
    return out


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return make_app(tmp_path_factory.mktemp("changedrill"), _tables(), users=USERS)


@pytest.fixture
def client(app):
    with TestClient(app) as c:
        yield c


def _links(text: str) -> list[str]:
    return [html.unescape(h) for h in re.findall(r'<a href="([^"]+)" data-testid="drill">', text)]


def test_an_event_links_to_its_series_and_its_order_lines(client):
    login(client, "m1")
    page = client.get("/data/change-events", params={"as_of": AS_OF})
    assert page.status_code == 200 and "明细" in page.text
    series, orders = _links(page.text)
    assert series == f"/data/change-series?as_of={AS_OF}&institution_code={M1}&series=cost_per_ddd"
    assert orders == f"/institutions/{M1}/orders?month_from=2025-03&month_to=2025-04&as_of={AS_OF}"
    s = client.get(series)
    assert s.status_code == 200
    months = re.findall(r"<td[^>]*>(20\d\d-\d\d)</td>", s.text)
    assert months and "2025-04" in months and "每DDD费用" in s.text  # only this series' months
    assert "非中选占比</td>" not in s.text
    step_links = _links(s.text)
    assert f"/institutions/{M1}/orders?month_from=2025-04&month_to=2025-04&as_of={AS_OF}" in step_links
    o = client.get(orders)
    assert o.status_code == 200 and 'data-testid="months"' in o.text and "2025-03 – 2025-04" in o.text


def test_the_order_lines_are_those_of_the_months(client):
    h = bearer(client, "m1")
    both = client.get(f"/api/institutions/{M1}/order-lines", params={"as_of": AS_OF, "month_from": "2025-03",
                                                                  "month_to": "2025-04"}, headers=h).json()
    assert both["total"] == 2 and {r["accepted_at"][:7] for r in both["rows"]} == {"2025-03", "2025-04"}
    assert {r["pack_price"] for r in both["rows"]} == {3.15}
    one = client.get(f"/api/institutions/{M1}/order-lines", params={"as_of": AS_OF, "month_from": "2024-05",
                                                                 "month_to": "2024-05"}, headers=h).json()
    assert one["total"] == 1 and one["rows"][0]["accepted_at"].startswith("2024-05")
    everything = client.get(f"/api/institutions/{M1}/order-lines", params={"as_of": AS_OF}, headers=h).json()
    assert everything["total"] == 14
    bad = client.get(f"/api/institutions/{M1}/order-lines", params={"month_from": "2025-13"}, headers=h)
    assert bad.status_code == 422


def test_the_links_are_scoped(client):
    url = f"/institutions/{M1}/orders?month_from=2025-03&month_to=2025-04&as_of={AS_OF}"
    login(client, "other")  # another hospital: the event is not in its rows and its lines are a 404
    assert _links(client.get("/data/change-events", params={"as_of": AS_OF}).text) == []
    assert client.get(url).status_code == 404
    assert client.get(f"/api/institutions/{M1}/order-lines", params={"month_from": "2025-03"},
                      headers=bearer(client, "other")).status_code == 404
    login(client, "district")  # a bureau of another city
    assert client.get(url).status_code == 404
    login(client, "enterprise")  # change detection is not for enterprises
    assert client.get("/data/change-events").status_code == 403
    login(client, "bureau")
    assert client.get(url).status_code == 200
    assert len(_links(client.get("/data/change-events", params={"as_of": AS_OF}).text)) == 2
