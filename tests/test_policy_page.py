"""The policy as a 局长 reads it: every parameter with a Chinese name and unit, values formatted (50%, 次月月底,
是, tiers as a small table), the document and clause it comes from, full effective dates, the policy's name and
version date — on the page, in ``jicai policy show``, and the Fujian policy the demo province runs with."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from tests.web_fixtures import login, make_app
from typer.testing import CliRunner

from jicai.cli import app as cli
from jicai.policy import SPECS, load_policy
from jicai.policy.display import policy_rows
from jicai.policy.labels import CHOICES, NAMES, TIER_COLUMNS, UNITS
from jicai.policy.models import DEFAULT_PATH
from jicai.policy.registry import BUNDLED, PolicyRegistry

POLICIES = {pid: load_policy(path) for pid, path in BUNDLED.items()}
CJK = re.compile(r"[\u4e00-\u9fff]")


# -- every parameter can be read ----------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_parameter_has_a_chinese_name_and_its_choices_names(name):
    zh, en = NAMES.get(name, ("", ""))
    assert CJK.search(zh) and not re.search(r"[A-Za-z_]", zh), f"{name}: no Chinese name"
    assert en, name
    spec = SPECS[name]
    for choice in spec.choices:
        assert CJK.search(CHOICES[name][choice][0]), (name, choice)
    if spec.tiers is not None:
        assert all(CJK.search(head[0]) for head in TIER_COLUMNS[name]), name


@pytest.mark.parametrize("pid", sorted(BUNDLED))
def test_every_bundled_parameter_has_a_unit_a_cited_document_and_a_version(pid):
    p = POLICIES[pid]
    assert p.version_date is not None and "@" not in p.label and p.label.startswith(p.name_zh)
    shorts = [d.short for d in p.document]
    assert shorts and all(d.title and ("《" in d.title) for d in p.document)
    for e in p.parameter:
        assert e.unit in UNITS, f"{pid}/{e.name}: unit {e.unit!r} has no reading"
        for part in e.source.split(";"):
            assert any(part.strip().startswith(s) for s in shorts), (pid, e.name, part)
        # the citation is a document and its clause, never a developer's note
        assert not re.search(r"DESIGN|jicai default|band:|^\d{3} ", e.source), (pid, e.name, e.source)
        assert not re.search(r"\b(accepted|ordered|end_of_next_month|end_of_month|exclude|none)\b", e.zh), e.name


def test_a_source_that_names_no_declared_document_is_refused(tmp_path):
    text = DEFAULT_PATH.read_text(encoding="utf-8").replace(
        'source = "医保发〔2024〕31号 进院使用', 'source = "DESIGN 进院使用', 1)
    f = tmp_path / "p.toml"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(ValidationError, match="names no declared document"):
        load_policy(f)


def test_values_are_shown_with_their_units():
    rows = {r.name: r for r in policy_rows(POLICIES["fujian"])}
    assert rows["nonselected_share_max"].value == "50%"
    assert rows["payment_due"].value == "次月月底"
    assert rows["volume_basis"].value == "验收数量(按验收时间计)"
    assert rows["backup_substitution"].value == "是"
    assert rows["onboarding_from_month"].value == "执行第 3 个月起"
    assert rows["deliver_within_hours"].value == "72 小时"
    assert rows["pharmacy_large_amount"].value == "2,000 元"
    assert rows["price_tolerance"].value == "0.001 元"
    assert rows["budget_ahead_margin"].value == "10 个百分点"
    assert rows["score_weight_completion"].value == "40 分"
    assert rows["retention_tiers"].tiers == (("90", "50%"), ("80", "40%"), ("70", "30%"), ("60", "20%"))
    assert rows["capitation_return_tiers"].tiers == (("5%", "70%"), ("10%", "60%"), ("20%", "50%"))
    assert rows["capitation_return_tiers"].tier_heads == ("偏差不超过", "返还比例")
    assert rows["prepay_ratio"].in_force == "2019年1月1日起"


def test_a_dated_entry_shows_both_dates_in_full(tmp_path):
    text = DEFAULT_PATH.read_text(encoding="utf-8")
    text = text.replace('value = 0.5\nunit = "ratio"', 'value = 0.5\nunit = "ratio"\neffective_to = 2024-06-30', 1)
    text += ('\n[[parameter]]\nname = "nonselected_share_max"\nvalue = 0.3\nunit = "ratio"\nzh = "自2024年7月起收紧"\n'
             'en = "tightened"\nsource = "医保发〔2024〕31号 监测考核"\neffective_from = 2024-07-01\n')
    f = tmp_path / "dated.toml"
    f.write_text(text, encoding="utf-8")
    shown = [(r.value, r.in_force) for r in policy_rows(load_policy(f)) if r.name == "nonselected_share_max"]
    assert shown == [("50%", "2019年1月1日至2024年6月30日"), ("30%", "2024年7月1日起")]


# -- the Fujian policy of the demo province -----------------------------------------------------------

NATIONAL, QUANZHOU = "医保发〔2024〕31号", "泉州市医保局通知(2024-05-30)"


def test_fujian_cites_the_national_and_quanzhou_notices_and_says_where_it_borrows():
    p = POLICIES["fujian"]
    assert p.id == "fujian" and "福建" in p.name_zh
    assert [d.short for d in p.document][:2] == [NATIONAL, QUANZHOU]
    assert {d.seed for d in p.document if d.short in (NATIONAL, QUANZHOU)} == {"001", "002"}
    for e in p.parameter:
        fujian_or_national = e.source.startswith((NATIONAL, QUANZHOU))
        # a value from another province's notice (or a jicai suggestion) says so in its note
        assert fujian_or_national or "参照" in e.note, (e.name, e.source, e.note)
    quanzhou = {e.name for e in p.parameter if e.source.startswith(QUANZHOU)}
    assert {"under_report_ratio", "backup_substitution", "supply_problem_exclusion", "deliver_within_hours",
            "delivery_rate_min", "complaint_institutions_min", "surge_factor"} <= quanzhou
    # same rules as the default: only the citations differ
    default = POLICIES["default"]
    assert [(e.name, e.value) for e in p.parameter] == [(e.name, e.value) for e in default.parameter]


def test_the_simulated_province_runs_under_the_fujian_policy(tmp_path):
    import pyarrow.parquet as pq

    from jicai.simulate import simulate

    simulate(tmp_path / "ds", institutions=40, months=1, seed=3)
    batches = pq.read_table(tmp_path / "ds" / "batches.parquet").to_pylist()
    assert batches and {b["policy_id"] for b in batches} == {"fujian"}
    assert PolicyRegistry(tmp_path).get("fujian").label == POLICIES["fujian"].label


# -- the page and the command -------------------------------------------------------------------------

class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.text, self._skip = [], 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("script", "style")

    def handle_endtag(self, tag):
        self._skip -= tag in ("script", "style")

    def handle_data(self, data):
        if not self._skip:
            self.text.append(data)


def _visible(html: str) -> str:
    p = _Text()
    p.feed(html)
    return " ".join(p.text)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with TestClient(make_app(tmp_path_factory.mktemp("policy-page"))) as c:
        yield c


def test_the_page_reads_like_a_notice(client):
    login(client, "bureau")
    r = client.get("/policy")
    assert r.status_code == 200
    text = _visible(r.text)
    default = POLICIES["default"]
    assert default.name_zh in text and "2024-12-10" in text
    for e in default.parameter:
        assert NAMES[e.name][0] in text, e.name
    assert "非中选产品采购量占比上限" in text and "50%" in text and "次月月底" in text
    assert "国家医保局 国家卫生健康委《关于完善医药集中带量采购和执行工作机制的通知》" in text
    assert "2019年1月1日起" in text
    # tiers as a small table, not a Python list
    tiers = re.findall(r'<table class="tiers">(.*?)</table>', r.text, re.S)
    assert len(tiers) == 2 and "<td>90</td><td>50%</td>" in tiers[0] and "<td>5%</td><td>70%</td>" in tiers[1]
    # nothing for developers on the Chinese page
    for bad in ("[[", "True", "False", "end_of_next_month", "DESIGN", "jicai default", "band:", "default@"):
        assert bad not in text, bad
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", text), re.findall(r"\b[a-z]+_[a-z_]+\b", text)[:5]
    en = _visible(client.get("/policy", params={"lang": "en"}).text)
    assert "nonselected_share_max" in en and "Maximum non-selected share" in en and "from 2019-01-01" in en


@pytest.fixture
def wide_terminal():
    """A 3,000-column terminal, so that no cell wraps. The result console read COLUMNS and LINES once, when it was
    made: where the shell that started pytest sets both (CI does), the env of one invocation cannot widen it."""
    from jicai.console import out

    kept = out._width
    out.width = 3000
    yield
    out._width = kept


def test_policy_show_prints_names_values_and_citations(tmp_path, wide_terminal):
    r = CliRunner().invoke(cli, ["--data-dir", str(tmp_path), "policy", "show", "--id", "fujian"])
    assert r.exit_code == 0, r.output
    flat = re.sub(r"[\s│┃]+", "", r.output)
    assert POLICIES["fujian"].label.replace(" ", "") in flat
    for zh in ("非中选产品采购量占比上限", "货款结清期限", "次月月底", "结余留用比例分档", "考核得分不低于(分)90→留用比例50%",
               "泉州市医保局通知(2024-05-30)一(较上一年度实际采购量减少超20%)", "2019年1月1日起"):
        assert zh in flat, zh
    assert "end_of_next_month" not in r.output and "nonselected_share_max" not in r.output


def test_policy_show_defaults_to_the_policy_the_batches_name(tmp_path, wide_terminal):
    import pyarrow as pa

    from jicai.store import connect, default_url

    wh = connect(default_url(tmp_path))
    wh.write_table("batches", pa.table({"batch_id": ["B1"], "policy_id": ["fujian"]}))
    wh.close()
    r = CliRunner().invoke(cli, ["--data-dir", str(tmp_path), "policy", "show"])
    assert r.exit_code == 0 and r.output.startswith(POLICIES["fujian"].label), r.output[:200]
