"""Sending a digest: e-mail through SMTP (the standard library) or a WeCom / DingTalk group robot's webhook.

A robot takes a JSON body with a Markdown message: WeCom (企业微信) ``{"msgtype": "markdown", "markdown":
{"content": …}}``, DingTalk (钉钉) ``{"msgtype": "markdown", "markdown": {"title": …, "text": …}}``. Both
answer HTTP 200 with ``{"errcode": 0, …}`` when they accept it; anything else is a refusal, raised, so the
digest is recorded failed and tried again by the next run. The e-mail is plain text (the same Markdown),
UTF-8, its subject the digest's title.
"""

from __future__ import annotations

import json
import smtplib
import urllib.request
from email.message import EmailMessage
from typing import Any

from jicai.settings import setting
from jicai.workflow.alert_inbox import AlertsError, Digest


class DeliveryError(AlertsError):
    """A channel refused a digest."""


def robot_body(channel: str, digest: Digest) -> dict[str, Any]:
    text = digest.markdown()
    if channel == "wecom":
        return {"msgtype": "markdown", "markdown": {"content": text}}
    return {"msgtype": "markdown", "markdown": {"title": digest.title, "text": text}}


def post_webhook(url: str, body: dict[str, Any], timeout: float) -> None:
    req = urllib.request.Request(url, data=json.dumps(body, ensure_ascii=False).encode("utf-8"), method="POST",
                                 headers={"Content-Type": "application/json; charset=utf-8"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - a URL the bureau subscribed
        raw = resp.read(65536)
    try:
        answer = json.loads(raw or b"{}")
    except ValueError:
        answer = {}
    if isinstance(answer, dict) and answer.get("errcode", 0) not in (0, "0"):
        raise DeliveryError(f"机器人拒收:{answer.get('errmsg', '')}", f"the robot refused: {answer.get('errmsg', '')}")


def send_mail(to: str, digest: Digest, env: dict[str, str] | None = None) -> None:
    host = str(setting("alerts_smtp_host", env)).strip()
    if not host:
        raise DeliveryError("未设置 JICAI_ALERTS_SMTP_HOST,无法发送邮件", "JICAI_ALERTS_SMTP_HOST is not set: no e-mail")
    msg = EmailMessage()
    msg["Subject"] = digest.title
    msg["From"] = str(setting("alerts_mail_from", env))
    msg["To"] = to
    msg.set_content(digest.markdown())
    with smtplib.SMTP(host, int(setting("alerts_smtp_port", env)), timeout=30) as smtp:
        smtp.send_message(msg)


def send(digest: Digest, env: dict[str, str] | None = None) -> None:
    """Send one digest through its subscription's channel; raises when it is refused."""
    sub = digest.subscription
    if sub.channel == "email":
        send_mail(sub.target, digest, env)
    else:
        post_webhook(sub.target, robot_body(sub.channel, digest), float(setting("alerts_webhook_timeout", env)))
