"""The policy what-if page (``/what-if``) and API (``POST /api/what-if``) on the small province of
tests/web_fixtures.py, assessed for the whole of 2024.

Hand-computed: V1 is agreed at 1,000 片 by HA, HB (鼓楼, city 350100) and HC (鲤城, city 350500); its baseline price
is 5 yuan, its winning price 2. HA accepted 200 片 of the selected P1 and 300 片 of the backup P1B — outside any
supply-problem period, so non-selected — paying nothing; HB and HC bought nothing. Under the default policy all
three fail (HA: completion 20% < 100% and share 300 / 500 = 60% > 50%). The alternative: minimum completion 20%,
share limit 60%, retention tiers 90 → 50%, 0 → 10%. HA now passes (both exactly on the line) with score 0 + 0 +
0 (nothing paid) + 10 (no offline) + 10 (no purchases in 2023) = 20 → the 10% tier: budget 1000 × 5 = 5000, actual
400 + 600 = 1000, base 4000, reward ¥400. HB and HC still fail (completion 0). Prepayments (30% of 1000 × 2 = 600
each) do not change.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from tests.web_fixtures import HA, bearer, login, make_app

ARGS = {"batch": "B1", "year": "1", "as_of": "2024-12-31"}
FORM = {**ARGS, "min_completion": "20", "nonselected_share_max": "60%", "retention_tiers": "90 50%\n0 10%",
        "run": "1"}
BODY = {"batch": "B1", "year": 1, "as_of": "2024-12-31",
        "changes": {"min_completion": 0.2, "nonselected_share_max": 0.6, "retention_tiers": [[90, 0.5], [0, 0.1]]}}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with TestClient(make_app(tmp_path_factory.mktemp("what-if-web"))) as c:
        yield c


def _text(html: str) -> str:
    from html import unescape

    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def test_the_form_is_prefilled_with_the_current_values(client):
    login(client, "bureau")
    r = client.get("/what-if")
    assert r.status_code == 200, r.text[:500]
    assert 'name="min_completion" value="100"' in r.text
    assert 'name="prepay_ratio" value="30"' in r.text
    assert re.search(r'<textarea name="retention_tiers"[^>]*>90 50%\n80 40%\n70 30%\n60 20%</textarea>', r.text)
    assert '<option value="accepted" selected>' in r.text
    assert 'data-testid="what-if-result"' not in r.text  # nothing computed before the form is sent
    text = _text(r.text)
    assert "约定采购量最低完成率" in text and "结余留用比例分档" in text and "医保基金预付比例" in text


def _form_values(html: str) -> dict[str, str]:
    """What a browser sends for the form as shown: every input, the selected option, each textarea."""
    from html import unescape

    form = re.search(r'<form method="get" action="/what-if".*?</form>', html, re.S).group(0)
    out = {m[0]: unescape(m[1]) for m in re.findall(r'<input(?: type="\w+")? name="(\w+)" value="([^"]*)"', form)}
    out |= {m[0]: unescape(m[1]) for m in re.findall(r'<textarea name="(\w+)"[^>]*>(.*?)</textarea>', form, re.S)}
    for name, body in re.findall(r'<select name="(\w+)">(.*?)</select>', form, re.S):
        out[name] = re.search(r'<option value="([^"]*)" selected>', body).group(1)
    return out


def test_the_form_sent_back_unchanged_changes_nothing(client):
    """A browser sends every field: each value as shown must read back as the current one."""
    login(client, "bureau")
    sent = _form_values(client.get("/what-if", params=ARGS).text)
    assert len(sent) == 3 + 26, sorted(sent)  # batch, year, as_of and the 26 parameters
    r = client.get("/what-if", params={**sent, "run": "1"})
    assert r.status_code == 200, _text(r.text)[:800]
    assert "未改动任何参数" in r.text and 'data-testid="no-flips"' in r.text


def test_the_page_shows_the_flip_its_reasons_and_the_money(client):
    login(client, "bureau")
    r = client.get("/what-if", params=FORM)
    assert r.status_code == 200, _text(r.text)[:800]
    flips = re.search(r'data-testid="what-if-flips">(.*?)</table>', r.text, re.S).group(1)
    assert flips.count("<tr data-code=") == 1 and f'data-code="{HA}"' in flips
    row = _text(flips)
    assert "鼓楼医院甲" in row and "由不合格转为合格" in row
    assert "完成率:阿托伐他汀钙片 20.0% < 100%;非中选占比:阿托伐他汀钙片 60.0% > 50%" in row
    assert "+400.00" in row
    assert "约定采购量最低完成率由 100% 改为 20%" in row and "非中选产品采购量占比上限由 50% 改为 60%" in row
    assert "结余留用比例分档由 90→50%、80→40%、70→30%、60→20% 改为 90→50%、0→10%" in row
    total = _text(re.search(r'data-testid="what-if-total">(.*?)</table>', r.text, re.S).group(1))
    assert "合格机构(家) 0 1 转为不合格 0 · 转为合格 1" in total
    assert "结余留用奖励(元) 0.00 400.00 +400.00" in total
    assert "预付累计冲抵(元) 120.00 120.00 0.00" in total  # HA's 400 of 2000 selected: 600 × 20%
    regions = _text(re.search(r'data-testid="what-if-regions">(.*?)</table>', r.text, re.S).group(1))
    assert "福州市" in regions and "泉州市" in regions
    # the typed values stay in the form
    assert 'name="min_completion" value="20"' in r.text


def test_the_workbook_of_the_page_holds_the_callers_rows(client):
    import io

    import openpyxl

    login(client, "bureau")
    page = client.get("/what-if", params=FORM).text
    link = re.search(r'href="(/what-if\.xlsx\?[^"]+)"', page).group(1).replace("&amp;", "&")
    r = client.get(link)
    assert r.status_code == 200 and r.headers["content-disposition"].startswith("attachment")
    wb = openpyxl.load_workbook(io.BytesIO(r.content))
    changed = [c for row in wb["考核结果与金额变化"].iter_rows(values_only=True) for c in row if c is not None]
    assert HA in changed and "由不合格转为合格" in changed
    login(client, "district")
    wb = openpyxl.load_workbook(io.BytesIO(client.get(link).content))
    every = [c for row in wb["全部机构"].iter_rows(values_only=True) for c in row if c is not None]
    assert HA not in every and "鲤城医院丙" in every


def test_a_district_bureau_sees_its_own_institutions_and_totals(client):
    login(client, "district")  # 泉州 (3505): HC only
    r = client.get("/what-if", params=FORM)
    assert r.status_code == 200
    assert 'data-testid="no-flips"' in r.text and HA not in r.text
    regions = _text(re.search(r'data-testid="what-if-regions">(.*?)</table>', r.text, re.S).group(1))
    assert "泉州市" in regions and "福州市" not in regions
    total = _text(re.search(r'data-testid="what-if-total">(.*?)</table>', r.text, re.S).group(1))
    assert "结余留用奖励(元) 0.00 0.00 0.00" in total


@pytest.mark.parametrize("user", ["auditor", "institution", "enterprise"])
def test_other_roles_are_refused(client, user):
    login(client, user)
    r = client.get("/what-if", params=FORM)
    assert r.status_code == 403 and "政策测算仅限医保局用户" in r.text
    assert 'href="/what-if"' not in r.text  # and the menu does not offer it


@pytest.mark.parametrize(("field", "value", "said"), [
    ("min_completion", "abc", "约定采购量最低完成率(min_completion)应为数字"),
    ("min_completion", "250", "不得大于 200%"),
    ("min_completion", "nan", "应为有限的数字"),
    ("min_completion", "1e400", "应为有限的数字"),
    ("prepay_ratio", "-5", "医保基金预付比例(prepay_ratio)不得小于 0%"),
    ("retention_tiers", "90", "每档应为“得分 比例”两项"),
    ("retention_tiers", "80 40%\n90 50%", "应为分档表"),
    ("retention_tiers", "", "应有 1 至 20 档"),
    ("volume_basis", "delivered", "应为 accepted、ordered 之一"),
    ("backup_substitution", "maybe", "应为“是”或“否”"),
    ("min_completion", "9" * 300, "内容过长"),
    ("score_completion_full", "80", "score_completion_full 与 score_completion_zero 相等"),
])
def test_bad_input_is_a_bilingual_422_never_a_500(client, field, value, said):
    login(client, "bureau")
    r = client.get("/what-if", params={**ARGS, field: value, "run": "1"})
    assert r.status_code == 422, (r.status_code, _text(r.text)[:500])
    assert said in r.text and 'data-testid="what-if-problem"' in r.text
    assert 'name="min_completion"' in r.text  # the form is shown again


@pytest.mark.parametrize(("args", "said"), [({"year": "0"}, "采购年度"), ({"batch": "NOPE"}, "批次不存在"),
                                            ({"as_of": "2024-13-01"}, "截至日期")])
def test_bad_arguments_are_refused(client, args, said):
    login(client, "bureau")
    r = client.get("/what-if", params={**FORM, **args})
    assert r.status_code == 422 and said in r.text


def test_the_api_returns_the_same_figures(client):
    h = bearer(client, "bureau")
    r = client.post("/api/what-if", json=BODY, headers=h)
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["data"]["version"] is not None or "updating" in d["data"]
    assert [x["parameter"] for x in d["changes"]] == ["nonselected_share_max", "min_completion", "retention_tiers"]
    assert d["total"]["to_pass"] == 1 and d["total"]["to_fail"] == 0 and d["total"]["reward_change"] == 400.0
    first = d["institutions"][0]
    assert (first["institution_code"], first["flip"], first["reward_alt"]) == (HA, "to_pass", 400.0)
    assert first["passed_current"] is False and first["passed_alt"] is True
    assert {x["city_code"] for x in d["regions"]} == {"350100", "350500"}
    # a district bureau: its own rows and totals only
    r = client.post("/api/what-if", json=BODY, headers=bearer(client, "district"))
    d = r.json()
    assert r.status_code == 200 and d["total"]["institutions"] == 1 and d["institutions"] == []
    assert [x["city_code"] for x in d["regions"]] == ["350500"]


def test_the_api_and_the_page_apportion_the_change_between_the_three_parameters(client):
    """HA passes only when both thresholds move (min_completion and nonselected_share_max: the flip is theirs, half
    each), and earns ¥400 only when the 0 → 10% tier comes too: the ¥400 needs all three, a third each — 40,000 fen
    / 3 = 13,333⅓, the fen left over to the first of the equal remainders (the order of the changes)."""
    r = client.post("/api/what-if", json=BODY, headers=bearer(client, "bureau"))
    a = r.json()["apportionment"]
    assert a["method"] == "shapley" and a["method_zh"] == "Shapley 值分摊(精确)" and "各项之和等于合计" in a["note_zh"]
    got = {x["parameter"]: x for x in a["total"]}
    assert list(got) == ["nonselected_share_max", "min_completion", "retention_tiers"]
    assert [got[p]["reward_change"] for p in got] == [133.34, 133.33, 133.33]
    assert [got[p]["to_pass"] for p in got] == [0.5, 0.5, 0.0]
    assert got["min_completion"]["zh"] == "约定采购量最低完成率"
    assert (got["min_completion"]["current_zh"], got["min_completion"]["alternative_zh"]) == ("100%", "20%")
    assert sum(x["reward_change"] for x in a["total"]) == pytest.approx(400.0)
    assert {x["city_code"] for x in a["regions"]} == {"350100", "350500"}
    # the district bureau (泉州: HC, who changes nothing): its own city only, every part 0
    d = client.post("/api/what-if", json=BODY, headers=bearer(client, "district")).json()["apportionment"]
    assert [x["city_code"] for x in d["regions"]] == ["350500"]
    assert all(x[f] == 0 for x in d["total"] for f in ("to_fail", "to_pass", "reward_change", "offset_change"))
    login(client, "bureau")
    page = client.get("/what-if", params=FORM)
    assert page.status_code == 200
    table = _text(re.search(r'data-testid="what-if-apportionment-total">(.*?)</table>', page.text, re.S).group(1))
    assert "非中选产品采购量占比上限 50% 60% 0 +0.5 +133.34" in table
    assert "约定采购量最低完成率 100% 20% 0 +0.5 +133.33" in table
    assert "结余留用比例分档 90→50%、80→40%、70→30%、60→20% 90→50%、0→10% 0 0 +133.33" in table
    assert "合计 0 1 +400.00" in table
    assert "Shapley 值分摊(精确)" in page.text and 'data-testid="what-if-apportionment-regions"' in page.text


@pytest.mark.parametrize("user", ["auditor", "institution", "enterprise"])
def test_the_api_refuses_other_roles(client, user):
    r = client.post("/api/what-if", json=BODY, headers=bearer(client, user))
    assert r.status_code == 403 and r.json()["detail"]["zh"] == "政策测算仅限医保局用户"


@pytest.mark.parametrize(("body", "said"), [
    ({"changes": {"min_completion": 5}}, "不得大于 200%"),
    ({"changes": {"surge_factor": 2.0}}, "政策测算不读取这些参数"),
    ({"changes": {"min_completion": "0.9"}}, "应为数值"),
    ({"changes": {"retention_tiers": [[80, 0.4], [90, 0.5]]}}, "应为分档表"),
    ({"changes": {"min_completion": 1e12}}, None),
    ({"changes": {}, "extra": 1}, None),
    ({"batch": "NOPE"}, "批次不存在"),
    ({"year": 7}, "没有第 7 采购年度"),
])
def test_the_api_refuses_bad_input_with_422(client, body, said):
    r = client.post("/api/what-if", json=body, headers=bearer(client, "bureau"))
    assert r.status_code == 422, (r.status_code, r.text)
    if said:
        assert said in r.json()["detail"]["zh"] and r.json()["detail"]["en"]


def test_nan_in_the_body_is_refused(client):
    r = client.post("/api/what-if", content=b'{"changes": {"min_completion": NaN}}',
                    headers={**bearer(client, "bureau"), "Content-Type": "application/json"})
    assert r.status_code == 422


def test_the_result_is_kept_once_per_policy_not_per_request(client):
    """Twenty identical what-ifs compute once; each distinct one adds one entry to the bounded caches (two when
    it changes several parameters: the combinations its apportionment needs — here one parameter)."""
    data = client.app.state.data
    h = bearer(client, "bureau")
    assert client.post("/api/what-if", json=BODY, headers=h).status_code == 200
    before = len(data._cache)
    for _ in range(20):
        assert client.post("/api/what-if", json=BODY, headers=h).status_code == 200
    assert len(data._cache) == before
    other = {**BODY, "changes": {"prepay_ratio": 0.31}}
    assert client.post("/api/what-if", json=other, headers=h).status_code == 200
    assert len(data._cache) == before + 1
