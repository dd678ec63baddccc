"""The overview, the ranking and the institution page read like a report (issue 13): names beside codes, rates
as %, money as ¥, statuses in the page's language with colour, and the reason of every verdict.

On the small province of tests/web_fixtures.py (see tests/test_web_api.py): as of 2024-06-30 鼓楼医院甲 (HA,
福州 鼓楼区 350102) bought 200 selected and 300 non-selected tablets of V1 against 1,000 agreed → completion
20.0%, non-selected share 300 / 500 = 60.0% > the 50.0% maximum; HB and HC bought nothing (零采购).
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from tests.web_fixtures import HA, HC, login, make_app

AS_OF = "2024-06-30"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return make_app(tmp_path_factory.mktemp("summary"))


@pytest.fixture
def client(app):
    with TestClient(app) as c:
        yield c


def _main(html: str) -> str:
    """The page's main content as text, without scripts (the embedded JSON keeps the codes for the charts)."""
    main = html[html.find("<main"):html.find("</main>")]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", re.sub(r"<script.*?</script>", "", main, flags=re.S)))


def test_institution_page_names_codes_and_gives_each_verdict_its_reason(client):
    login(client, "bureau")
    text = _main(client.get(f"/institutions/{HA}", params={"as_of": AS_OF}).text)
    assert "福州市 鼓楼区" in text and "三级" in text
    assert "阿托伐他汀钙片" in text and "第一批" in text  # the variety and the batch by name
    assert "低于序时进度" in text and "完成率 20.0% &lt; 序时进度" in text
    assert "非中选占比 60.0% &gt; 上限 50.0%(依据:" in text
    assert "1,000 片" in text and "200 片" in text
    assert not re.search(r"\b(behind|zero|over|normal)\b", text)


def test_the_english_institution_page_says_it_in_english(client):
    login(client, "bureau")
    text = _main(client.get(f"/institutions/{HA}", params={"as_of": AS_OF, "lang": "en"}).text)
    assert "behind time progress" in text and "低于序时进度" not in text
    assert "non-selected share 60.0% &gt; maximum 50.0% (basis: " in text
    assert "tertiary" in text and "三级" not in text


def test_ranking_and_overview_show_regions_and_batches_by_name(client):
    login(client, "bureau")
    html = client.get("/ranking", params={"as_of": AS_OF}).text
    row = re.search(rf'<tr[^>]*>\s*<td class="frozen"><a href="/institutions/{HC}">.*?</tr>', html, flags=re.S)
    assert row, html[:2000]
    cells = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row.group(0)))
    assert "泉州市 鲤城区" in cells and "1 个品种零采购" in cells and "0.0%" in cells
    text = _main(client.get("/", params={"as_of": AS_OF}).text)
    assert "第一批" in text and "福州市" in text and "泉州市" in text
    assert "6.7%" in text  # Σ selected 200 / Σ agreed 3,000
    assert "60.0%" in text


def test_order_lines_read_as_a_report(client):
    """HA's two lines: 30 packs of the backup P1B and 20 of the primary P1, both accepted (10 tablets a pack)."""
    login(client, "bureau")
    html = client.get(f"/institutions/{HA}/orders", params={"as_of": AS_OF}).text
    text = _main(html)
    assert "备供" in text and "主供" in text and "鼓楼医院甲" in text
    assert "300" in text and "200" in text  # accepted minimum units
    assert not re.search(r"\b(backup|primary|nonselected|platform|offline)\b", text)
    assert not re.search(r"\d{4}-\d{2}-\d{2}T\d", text)  # times as YYYY-MM-DD HH:MM
