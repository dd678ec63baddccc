"""Alerts into the inbox and out as digests: each alert kept once, seen only in scope, read per user, sent
once by e-mail (a local SMTP server the test starts) and by WeCom / DingTalk robots (a local HTTP receiver),
a refused send retried, the thresholds and the quiet period of the settings, and ``jicai alerts send``."""

from __future__ import annotations

import email.policy
import json
import socket
import threading
from email import message_from_bytes
from email.header import decode_header, make_header
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select
from tests.scenarios.runner import load
from typer.testing import CliRunner

from jicai.cli import app as cli
from jicai.contract.codes import make_uscc
from jicai.contract.roles import Principal
from jicai.settings import SettingError
from jicai.store import connect
from jicai.workflow import Workflow, alert_delivery, alert_inbox
from jicai.workflow.models import AlertDelivery, AlertItem

HERE = Path(__file__).parent
# institutions in Xi'an (6101…) and Lanzhou (6201…); distributors by their unified social credit codes
H1, H2, H3 = "H61010200001", "H62010200001", "H61010300001"
D1, D2, D7, D9 = (make_uscc(f"91610100MA2Y0000{n}") for n in (1, 2, 7, 9))


def row(key_rest: str, month: str = "2024-04", *, kind: str = "payment_overdue", severity: str = "high",
        inst: str = H1, region: str = "610102", ent: str | None = None, stake: float | None = None,
        message: str = "向 配送一 回款逾期 ¥48,210，已超期 17 天") -> dict:
    return {"alert_key": f"{kind}:{month}:{key_rest}", "month": month, "alert_kind": kind, "severity": severity,
            "institution_code": inst, "region_code": region, "enterprise_code": ent, "message": message,
            "stake_amount": stake, "policy_parameter": "payment_due", "clause": "四(四)"}


ROWS = [
    row(f"{H1}:{D1}:-", ent=D1, stake=48210.4),
    row(f"{H2}:B1:V1", kind="behind_schedule", severity="medium", inst=H2, region="620102",
        message="品种一：本月底前还需采购 331 片 才能达到序时进度（月均 84 片）"),
    row(f"{H3}:{D2}:-", inst=H3, region="610103", ent=D2, stake=1234.5,
        message="向 配送二 回款逾期 ¥1,235，已超期 48 天"),
]


@pytest.fixture
def wf(tmp_path):
    w = Workflow.open(f"sqlite:///{tmp_path / 'wf.sqlite'}")
    from jicai.workflow.users import ensure_user

    for name, role, scope in (("b", "bureau", ""), ("d", "bureau", "61"), ("h1", "institution", H1),
                              ("h2", "institution", H2), ("e1", "enterprise", D1)):
        ensure_user(w, name, role, scope, "pw-123456789")
    yield w
    w.close()


def who(wf, name: str) -> Principal:
    from jicai.workflow.models import User

    with wf.session() as s:
        u = s.scalar(select(User).where(User.name == name))
        return Principal(u.id, u.name, u.role, u.scope)


def keys(items) -> set[str]:
    return {i["alert_key"] for i in items}


def test_each_alert_is_kept_once_and_seen_only_in_scope(wf):
    with wf.session() as s:
        assert alert_inbox.store(s, "2024-04", ROWS, env={}) == 3
    with wf.session() as s:
        assert alert_inbox.store(s, "2024-04", ROWS, env={}) == 0  # a rerun of the month adds nothing
    with wf.session() as s:
        assert len(list(s.scalars(select(AlertItem)))) == 3
        assert keys(alert_inbox.inbox(s, who(wf, "b"))) == {r["alert_key"] for r in ROWS}
        assert keys(alert_inbox.inbox(s, who(wf, "d"))) == {ROWS[0]["alert_key"], ROWS[2]["alert_key"]}  # region 61
        assert keys(alert_inbox.inbox(s, who(wf, "h1"))) == {ROWS[0]["alert_key"]}
        assert keys(alert_inbox.inbox(s, who(wf, "h2"))) == {ROWS[1]["alert_key"]}
        assert keys(alert_inbox.inbox(s, who(wf, "e1"))) == {ROWS[0]["alert_key"]}  # the distributor owed


def test_read_is_per_user_and_an_alert_out_of_scope_cannot_be_marked(wf):
    with wf.session() as s:
        alert_inbox.store(s, "2024-04", ROWS, env={})
    h1, b, h2 = who(wf, "h1"), who(wf, "b"), who(wf, "h2")
    with wf.session() as s:
        [mine] = alert_inbox.inbox(s, h1)
        assert not mine["read"] and alert_inbox.unread_count(s, h1) == 1
        assert not alert_inbox.mark_read(s, h2, mine["id"])  # another hospital's: as if it did not exist
        assert alert_inbox.mark_read(s, h1, mine["id"])
        assert alert_inbox.mark_read(s, h1, mine["id"])  # twice is once
    with wf.session() as s:
        assert alert_inbox.inbox(s, h1)[0]["read"] and alert_inbox.unread_count(s, h1) == 0
        assert alert_inbox.unread_count(s, b) == 3  # the bureau has read nothing
        assert alert_inbox.inbox(s, h1, unread_only=True) == []


def test_thresholds_of_the_settings(wf):
    env = {"JICAI_ALERTS_MIN_SEVERITY": "high", "JICAI_ALERTS_MIN_STAKE": "2000"}
    # the medium one goes (severity), H3's ¥1,234.50 goes (stake); H1's ¥48,210.40 stays
    assert keys(alert_inbox.kept(ROWS, env)) == {ROWS[0]["alert_key"]}
    # an alert without an amount is not held back by the stake threshold
    assert keys(alert_inbox.kept(ROWS, {"JICAI_ALERTS_MIN_STAKE": "2000"})) == {ROWS[0]["alert_key"],
                                                                                ROWS[1]["alert_key"]}
    with pytest.raises(alert_inbox.AlertsError):
        alert_inbox.kept(ROWS, {"JICAI_ALERTS_MIN_SEVERITY": "urgent"})


def test_a_minimum_overdue_amount_holds_back_small_payment_alerts_only(wf):
    fen = row(f"{H2}:{D1}:-", inst=H2, region="620102", ent=D1, stake=0.01, message="向 配送一 回款逾期 ¥0.01，已超期 10 天")
    risk = row(f"350500:{D9}:P1", kind="supply_risk_high", region="350500", inst=None, ent=D9,
               message="中选产品 中选片（中选药业）在 泉州市 供应风险 70 分")
    rows = [{**r, "overdue_amount": r["stake_amount"] if r["alert_kind"] == "payment_overdue" else None}
            for r in (*ROWS, fen, risk)]
    # ¥48,210.40 and ¥1,234.50 are at least ¥1, ¥0.01 is not; the other kinds have no overdue amount
    assert keys(alert_inbox.kept(rows, {"JICAI_ALERTS_MIN_OVERDUE": "1"})) == {
        ROWS[0]["alert_key"], ROWS[1]["alert_key"], ROWS[2]["alert_key"], risk["alert_key"]}
    assert keys(alert_inbox.kept(rows, {"JICAI_ALERTS_MIN_OVERDUE": "2000"})) == {
        ROWS[0]["alert_key"], ROWS[1]["alert_key"], risk["alert_key"]}
    assert len(alert_inbox.kept(rows, {})) == 5  # by default a fen unpaid is reported
    with pytest.raises(SettingError, match="JICAI_ALERTS_MIN_OVERDUE must be a whole number"):
        alert_inbox.kept(rows, {"JICAI_ALERTS_MIN_OVERDUE": "-1"})


@pytest.mark.parametrize(("raw", "hour", "quiet"), [
    ("", 23, False), ("22-8", 22, True), ("22-8", 7, True), ("22-8", 8, False), ("22-8", 12, False),
    ("12-14", 13, True), ("12-14", 14, False),
])
def test_quiet_hours(raw, hour, quiet):
    assert alert_inbox.in_quiet_hours(hour, {"JICAI_ALERTS_QUIET_HOURS": raw}) is quiet


def test_bad_quiet_hours_are_a_bilingual_error():
    with pytest.raises(alert_inbox.AlertsError):
        alert_inbox.in_quiet_hours(3, {"JICAI_ALERTS_QUIET_HOURS": "night"})


# -- local receivers -------------------------------------------------------------------------------------
class Mailbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content, policy=email.policy.default)))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp():
    """A local SMTP server (aiosmtpd) keeping what it receives, and the settings that point at it."""
    box = Mailbox()
    port = free_port()
    c = Controller(box, hostname="127.0.0.1", port=port)
    c.start()
    try:
        yield box, {"JICAI_ALERTS_SMTP_HOST": "127.0.0.1", "JICAI_ALERTS_SMTP_PORT": str(port)}
    finally:
        c.stop()


@pytest.fixture
def robot():
    """A local group robot: records each JSON body; answers errcode 0, or ``refuse`` while it is set."""
    got, state = [], {"refuse": False}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            got.append((self.path, body))
            answer = {"errcode": 310000, "errmsg": "keywords not in content"} if state["refuse"] else {"errcode": 0}
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", got, state
    finally:
        server.shutdown()
        server.server_close()


def test_email_digest_is_sent_once(wf, smtp):
    box, env = smtp
    with wf.session() as s:
        alert_inbox.store(s, "2024-04", ROWS, env={})
        alert_inbox.subscribe(s, "institution", H1, "email", "h1@example.org")
        alert_inbox.subscribe(s, "bureau", "61", "email", "district@example.org")
    out = alert_inbox.deliver(wf, "2024-04", lambda d: alert_delivery.send(d, env))
    assert [e for _, e in out] == [None, None]
    assert len(box.messages) == 2
    to, msg = box.messages[0]
    assert to == ["h1@example.org"]
    assert str(make_header(decode_header(msg["Subject"]))) == f"集采预警月报 2024-04（医疗机构 {H1}，1 条）"
    body = msg.get_content()
    assert "向 配送一 回款逾期 ¥48,210，已超期 17 天" in body and "依据：四(四)" in body
    assert "配送二" not in body  # H3's alert is not H1's
    _, district = box.messages[1]
    assert "配送一" in district.get_content() and "配送二" in district.get_content()
    assert "采购 331 片" not in district.get_content()  # H2 is in Gansu (62), not the district's 61
    # a rerun sends nothing: every alert was delivered to each subscription once
    assert alert_inbox.deliver(wf, "2024-04", lambda d: alert_delivery.send(d, env)) == []
    assert len(box.messages) == 2
    # a new alert of the month goes alone in the next digest
    with wf.session() as s:
        alert_inbox.store(s, "2024-04", [row(f"{H1}:{D9}:-", ent=D9, stake=10.0, message="向 配送九 回款逾期 ¥10，已超期 1 天")],
                          env={})
    alert_inbox.deliver(wf, "2024-04", lambda d: alert_delivery.send(d, env))
    assert len(box.messages) == 4
    assert "配送九" in box.messages[2][1].get_content() and "配送一" not in box.messages[2][1].get_content()


def test_without_an_smtp_host_the_email_fails_and_is_retried(wf, smtp):
    box, env = smtp
    with wf.session() as s:
        alert_inbox.store(s, "2024-04", ROWS[:1], env={})
        alert_inbox.subscribe(s, "institution", H1, "email", "h1@example.org")
    [(_, error)] = alert_inbox.deliver(wf, "2024-04", lambda d: alert_delivery.send(d, {}))
    assert "JICAI_ALERTS_SMTP_HOST" in error
    with wf.session() as s:
        [d] = s.scalars(select(AlertDelivery))
        assert (d.status, d.attempts) == ("failed", 1)
    [(_, error)] = alert_inbox.deliver(wf, "2024-04", lambda d: alert_delivery.send(d, env))
    assert error is None and len(box.messages) == 1
    with wf.session() as s:
        [d] = s.scalars(select(AlertDelivery))
        assert (d.status, d.attempts) == ("sent", 2)


def test_wecom_and_dingtalk_robots_get_their_markdown_and_a_refusal_is_retried(wf, robot):
    url, got, state = robot
    with wf.session() as s:
        alert_inbox.store(s, "2024-04", ROWS, env={})
        alert_inbox.subscribe(s, "enterprise", D1, "wecom", f"{url}/cgi-bin/webhook/send?key=k1")
        alert_inbox.subscribe(s, "bureau", "", "dingtalk", f"{url}/robot/send?access_token=t1")
    state["refuse"] = True
    out = alert_inbox.deliver(wf, "2024-04", lambda d: alert_delivery.send(d, {}))
    assert all("keywords not in content" in e for _, e in out) and len(got) == 2
    state["refuse"] = False
    out = alert_inbox.deliver(wf, "2024-04", lambda d: alert_delivery.send(d, {}))
    assert [e for _, e in out] == [None, None]
    (wecom_path, wecom), (ding_path, ding) = got[2:]
    assert wecom_path == "/cgi-bin/webhook/send?key=k1"
    assert set(wecom) == {"msgtype", "markdown"} and wecom["msgtype"] == "markdown"
    assert set(wecom["markdown"]) == {"content"}
    assert "向 配送一 回款逾期 ¥48,210，已超期 17 天" in wecom["markdown"]["content"]
    assert "配送二" not in wecom["markdown"]["content"]  # D2's alert is not D1's
    assert ding_path == "/robot/send?access_token=t1"
    assert set(ding["markdown"]) == {"title", "text"} and ding["markdown"]["title"].startswith("集采预警月报 2024-04")
    assert ding["markdown"]["text"].count("\n- **") == 3  # the province sees all three
    assert alert_inbox.deliver(wf, "2024-04", lambda d: alert_delivery.send(d, {})) == []  # sent once


def test_quiet_period_keeps_a_repeat_in_the_inbox_only(wf, robot):
    url, got, _ = robot
    with wf.session() as s:
        alert_inbox.store(s, "2024-03", [row(f"{H1}:{D1}:-", "2024-03", ent=D1, stake=1.0)], env={})
        alert_inbox.subscribe(s, "institution", H1, "wecom", f"{url}/w")
    alert_inbox.deliver(wf, "2024-03", lambda d: alert_delivery.send(d, {}))
    assert len(got) == 1
    april = [row(f"{H1}:{D1}:-", ent=D1, stake=2.0), row(f"{H1}:{D7}:-", ent=D7, stake=3.0, message="向 配送七 回款逾期 ¥3")]
    with wf.session() as s:
        alert_inbox.store(s, "2024-04", april, env={"JICAI_ALERTS_QUIET_MONTHS": "1"})
    alert_inbox.deliver(wf, "2024-04", lambda d: alert_delivery.send(d, {}))
    assert len(got) == 2
    text = got[1][1]["markdown"]["content"]
    assert "配送七" in text and "配送一" not in text  # the repeat of March is quiet
    with wf.session() as s:  # but it is in the inbox
        assert len(alert_inbox.inbox(s, who(wf, "h1"), "2024-04")) == 2


def test_subscriptions_are_checked(wf):
    with wf.session() as s:
        for args in (("hospital", "H1", "email", "a@b.c"), ("institution", "", "email", "a@b.c"),
                     ("institution", "H1", "fax", "123"), ("institution", H1, "email", "not an address"),
                     ("bureau", "", "wecom", "ftp://x")):
            with pytest.raises(alert_inbox.AlertsError):
                alert_inbox.subscribe(s, *args)


# -- the command -------------------------------------------------------------------------------------------
def test_alerts_send_computes_fills_the_inbox_and_sends_once(tmp_path, robot, monkeypatch):
    url, got, _ = robot
    scenario = load(HERE / "scenarios" / "alerts" / "02_payment_overdue_amount_and_days.toml")
    data = tmp_path / "data"
    data.mkdir()
    wh = connect(f"duckdb:///{data / 'jicai.duckdb'}")
    from jicai.contract.arrow import from_pylist

    for name, rows in scenario.rows.items():
        wh.write_table(name, from_pylist(name, rows), overwrite=True)
    wh.close()
    wf_url = f"sqlite:///{tmp_path / 'wf.sqlite'}"
    monkeypatch.setenv("JICAI_ALERTS_QUIET_HOURS", "")
    runner = CliRunner()
    base = ["--data-dir", str(data), "alerts"]
    r = runner.invoke(cli, [*base, "subscribe", "--recipient", "bureau", "--channel", "wecom", "--target", f"{url}/w",
                            "--url", wf_url])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, [*base, "send", "--month", "2024-04", "--as-of", "2024-04-17", "--url", wf_url])
    assert r.exit_code == 0, r.output
    assert "新入收件箱" in r.output
    [(_, body)] = got
    text = body["markdown"]["content"]
    assert "向 配送一 回款逾期 ¥48,210，已超期 17 天（最早应付日 2024-03-31，2 笔），请尽快结清" in text
    assert "向 配送二 回款逾期 ¥1,235，已超期 48 天" in text
    r = runner.invoke(cli, [*base, "send", "--month", "2024-04", "--as-of", "2024-04-17", "--url", wf_url])
    assert r.exit_code == 0, r.output
    assert len(got) == 1  # the rerun sends nothing
    for bad in (["--month", "2024-13"], ["--month", "2024-04", "--as-of", "2024-05-01"],
                ["--month", "2024-04", "--as-of", "soon"]):
        r = runner.invoke(cli, [*base, "send", *bad, "--url", wf_url])
        assert r.exit_code == 2 and "Traceback" not in r.output, r.output


def test_an_enterprise_digest_holds_its_products_supply_risks(wf, robot):
    """The measure's supply risk alert (tests/scenarios/alerts/07) into the inbox and out: the winning enterprise
    and the city's bureau get it, a bureau of another province does not."""
    from jicai.analytics.alerts import alerts
    from jicai.contract.arrow import from_pylist

    url, got, _ = robot
    scenario = load(HERE / "scenarios" / "alerts" / "07_supply_risk_at_the_threshold.toml")
    wh = connect("duckdb://")
    for name, rows in scenario.rows.items():
        wh.write_table(name, from_pylist(name, rows), overwrite=True)
    rows = alerts(wh, scenario.args["as_of"], scenario.policy, kinds="supply_risk_high").to_pyarrow().to_pylist()
    wh.close()
    assert [r["alert_key"] for r in rows] == ["supply_risk_high:2024-06:350500:E1:P1"]
    with wf.session() as s:
        assert alert_inbox.store(s, "2024-06", rows, env={"JICAI_ALERTS_MIN_STAKE": "100"}) == 1  # no amount: kept
        alert_inbox.subscribe(s, "enterprise", "E1", "wecom", f"{url}/e1")
        alert_inbox.subscribe(s, "enterprise", "E2", "wecom", f"{url}/e2")
        alert_inbox.subscribe(s, "bureau", "3505", "wecom", f"{url}/quanzhou")
        alert_inbox.subscribe(s, "bureau", "61", "wecom", f"{url}/xian")
    out = alert_inbox.deliver(wf, "2024-06", lambda d: alert_delivery.send(d, {}))
    assert [e for _, e in out] == [None, None]
    assert sorted(path for path, _ in got) == ["/e1", "/quanzhou"]
    text = dict(got)["/e1"]["markdown"]["content"]
    assert "**[高] 供应风险高**" in text and "请 中选药业 核实库存与产能、保障配送" in text
    assert "（依据：泉州市医保局通知(2024-05-30) 六(提前发现集采中选产品供应问题)）" in text
    assert alert_inbox.deliver(wf, "2024-06", lambda d: alert_delivery.send(d, {})) == []  # sent once
