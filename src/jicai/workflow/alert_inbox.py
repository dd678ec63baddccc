"""The alerts' inbox and monthly digests: each alert kept once, read/unread per user, each sent once.

:func:`store` puts a month's rows of the ``alerts`` measure (:mod:`jicai.analytics.alerts`) into
``alert_items`` — by their stable ``alert_key``, so a rerun of the month adds nothing — after the thresholds
(settings ``alerts_min_severity``, ``alerts_min_stake``, ``alerts_min_overdue``). An alert repeating one already
sent in the previous ``alerts_quiet_months`` months (the same key apart from its month) is kept with ``notify``
false: it is in the inbox, not in the e-mails and robot messages.

Who sees an alert is the scope rule of the measures: an institution its own, an enterprise those naming it
(the distributor owed money), a bureau those of institutions in its region prefix (blank: the province).
:func:`digests` gathers, per active subscription, the visible alerts of the month not yet sent to it;
:func:`deliver` sends each digest through its channel (:mod:`jicai.workflow.alert_delivery`) and records
each alert as ``sent`` only after the channel accepted it — at-least-once: a crash between the two sends
that digest again, never drops it; a refused one is ``failed`` and retried by the next run.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, false, select, true
from sqlalchemy.orm import Session

from jicai.calendar import month_end as calendar_month_end
from jicai.contract.roles import Principal
from jicai.errors import BilingualError
from jicai.settings import setting
from jicai.workflow.db import now
from jicai.workflow.models import (
    CHANNELS,
    SUBSCRIBERS,
    AlertDelivery,
    AlertItem,
    AlertRead,
    AlertSubscription,
)

SEVERITY_RANK = {"medium": 1, "high": 2}
SEVERITY_ZH = {"high": "高", "medium": "中"}
KIND_ZH = {"behind_schedule": "低于序时进度", "payment_overdue": "回款逾期", "assessment_at_risk": "考核不合格风险",
           "nonselected_high": "非中选占比超标", "supply_risk_high": "供应风险高", "change_deteriorating": "指标持续恶化"}
MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class AlertsError(BilingualError, ValueError):
    """A bad month, subscription or setting for the alerts."""


def parse_month(raw: str) -> tuple[int, int]:
    m = MONTH.match(raw.strip())
    if not m:
        raise AlertsError(f"月份格式应为 YYYY-MM:{raw}", f"a month is YYYY-MM: {raw}")
    return int(m.group(1)), int(m.group(2))


def _previous_months(month: str, n: int) -> list[str]:
    y, m = parse_month(month)
    out = []
    for _ in range(n):
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
        out.append(f"{y:04d}-{m:02d}")
    return out


def _stem(key: str) -> str:
    """The alert key without its month: the same alert in another month."""
    kind, _month, rest = key.split(":", 2)
    return f"{kind}:{rest}"


def thresholds(env: dict[str, str] | None = None) -> tuple[int, float, float]:
    """(lowest severity rank, least amount at stake, least overdue amount) of the settings."""
    sev = str(setting("alerts_min_severity", env)).strip().lower()
    if sev not in SEVERITY_RANK:
        raise AlertsError(f"JICAI_ALERTS_MIN_SEVERITY 应为 medium 或 high:{sev}",
                          f"JICAI_ALERTS_MIN_SEVERITY must be medium or high: {sev}")
    return SEVERITY_RANK[sev], float(setting("alerts_min_stake", env)), float(setting("alerts_min_overdue", env))


def kept(rows: Iterable[dict[str, Any]], env: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The rows that pass the thresholds."""
    min_rank, min_stake, min_overdue = thresholds(env)
    return [r for r in rows if SEVERITY_RANK.get(r["severity"], 0) >= min_rank
            and (r.get("stake_amount") is None or r["stake_amount"] >= min_stake)
            and (r.get("overdue_amount") is None or r["overdue_amount"] >= min_overdue)]


def store(session: Session, month: str, rows: Iterable[dict[str, Any]], env: dict[str, str] | None = None) -> int:
    """Keep the month's alert rows (the measure's dicts) that pass the thresholds; the number added."""
    rows = [r for r in kept(rows, env) if r["month"] == month]
    have = set(session.scalars(select(AlertItem.alert_key).where(AlertItem.month == month)))
    quiet = int(setting("alerts_quiet_months", env))
    sent_before: set[str] = set()
    if quiet:
        earlier = session.scalars(
            select(AlertItem.alert_key).join(AlertDelivery, AlertDelivery.item_id == AlertItem.id)
            .where(AlertItem.month.in_(_previous_months(month, quiet)), AlertDelivery.status == "sent"))
        sent_before = {_stem(k) for k in earlier}
    added = 0
    for r in rows:
        if r["alert_key"] in have:
            continue
        have.add(r["alert_key"])
        session.add(AlertItem(
            alert_key=r["alert_key"], month=month, kind=r["alert_kind"], severity=r["severity"],
            institution_code=r.get("institution_code") or "", region_code=r.get("region_code") or "",
            enterprise_code=r.get("enterprise_code") or "", message=r["message"],
            stake_amount=r.get("stake_amount"), policy_parameter=r.get("policy_parameter") or "",
            clause=r.get("clause") or "", notify=_stem(r["alert_key"]) not in sent_before, created_at=now()))
        added += 1
    session.flush()
    return added


# -- who sees what ----------------------------------------------------------------------------------------
def _visible_to(kind: str, code: str) -> ColumnElement[bool]:
    if kind == "institution":
        return AlertItem.institution_code == code if code else false()
    if kind == "enterprise":
        return AlertItem.enterprise_code == code if code else false()
    return AlertItem.region_code.startswith(code, autoescape=True) if code else true()


def visible(principal: Principal) -> ColumnElement[bool]:
    """The alerts a user may see: the scope rule of the measures' rows."""
    if principal.role == "institution":
        return _visible_to("institution", principal.scope)
    if principal.role == "enterprise":
        return _visible_to("enterprise", principal.scope)
    if principal.role in ("admin", "bureau", "auditor"):
        return _visible_to("bureau", principal.scope)
    return false()


def inbox(session: Session, principal: Principal, month: str | None = None, unread_only: bool = False,
          limit: int = 500, offset: int = 0) -> list[dict[str, Any]]:
    """The user's alerts, newest month first, then high severity first; each with ``read``."""
    read = select(AlertRead.item_id).where(AlertRead.user_id == principal.user_id)
    q = select(AlertItem).where(visible(principal))
    if month:
        q = q.where(AlertItem.month == month)
    if unread_only:
        q = q.where(AlertItem.id.not_in(read))
    q = q.order_by(AlertItem.month.desc(), AlertItem.severity.asc(), AlertItem.kind, AlertItem.id)
    items = list(session.scalars(q.limit(limit).offset(offset)))
    done = set(session.scalars(read.where(AlertRead.item_id.in_([i.id for i in items])))) if items else set()
    return [item_dict(i, i.id in done) for i in items]


def item_dict(i: AlertItem, read: bool) -> dict[str, Any]:
    return {"id": i.id, "alert_key": i.alert_key, "month": i.month, "kind": i.kind, "kind_zh": KIND_ZH.get(i.kind, i.kind),
            "severity": i.severity, "severity_zh": SEVERITY_ZH.get(i.severity, i.severity),
            "institution_code": i.institution_code, "region_code": i.region_code,
            "enterprise_code": i.enterprise_code, "message": i.message, "stake_amount": i.stake_amount,
            "policy_parameter": i.policy_parameter, "clause": i.clause, "read": read}


def unread_count(session: Session, principal: Principal) -> int:
    read = select(AlertRead.item_id).where(AlertRead.user_id == principal.user_id)
    return len(list(session.scalars(select(AlertItem.id).where(visible(principal), AlertItem.id.not_in(read)))))


def mark_read(session: Session, principal: Principal, item_id: int) -> bool:
    """Mark one alert read for the user; False when it is not one the user may see (as if it did not exist)."""
    item = session.scalar(select(AlertItem).where(AlertItem.id == item_id, visible(principal)))
    if item is None:
        return False
    if session.scalar(select(AlertRead).where(AlertRead.item_id == item_id,
                                              AlertRead.user_id == principal.user_id)) is None:
        session.add(AlertRead(item_id=item_id, user_id=principal.user_id, read_at=now()))
    return True


# -- subscriptions and digests --------------------------------------------------------------------------
def subscribe(session: Session, kind: str, code: str, channel: str, target: str) -> AlertSubscription:
    if kind not in SUBSCRIBERS:
        raise AlertsError(f"收件方类型应为 {'/'.join(SUBSCRIBERS)}:{kind}",
                          f"a recipient is one of {', '.join(SUBSCRIBERS)}: {kind}")
    if channel not in CHANNELS:
        raise AlertsError(f"渠道应为 {'/'.join(CHANNELS)}:{channel}", f"a channel is one of {', '.join(CHANNELS)}: {channel}")
    if kind != "bureau" and not code:
        raise AlertsError("医疗机构或企业的订阅须填写其编码", "an institution's or enterprise's subscription needs its code")
    ok = ("@" in target and " " not in target) if channel == "email" else target.startswith(("http://", "https://"))
    if not ok or len(target) > 512:
        raise AlertsError(f"收件地址无效:{target[:80]}", f"not a valid target for {channel}: {target[:80]}")
    sub = AlertSubscription(recipient_kind=kind, recipient_code=code, channel=channel, target=target, active=True,
                            created_at=now())
    session.add(sub)
    session.flush()
    return sub


@dataclass
class Digest:
    """One subscription's alerts of a month, not yet sent to it."""

    subscription: AlertSubscription
    month: str
    items: list[AlertItem] = field(default_factory=list)

    @property
    def title(self) -> str:
        s = self.subscription
        who = {"bureau": f"医保部门{(' ' + s.recipient_code) if s.recipient_code else ''}",
               "institution": f"医疗机构 {s.recipient_code}", "enterprise": f"企业 {s.recipient_code}"}[s.recipient_kind]
        return f"集采预警月报 {self.month}（{who}，{len(self.items)} 条）"

    def markdown(self) -> str:
        """The digest as Markdown (what the robots render; the e-mail's plain text)."""
        lines = [f"## {self.title}", ""]
        for i in self.items:
            where = " ".join(x for x in (i.institution_code, i.enterprise_code) if x)
            lines.append(f"- **[{SEVERITY_ZH.get(i.severity, i.severity)}] {KIND_ZH.get(i.kind, i.kind)}** {where}："
                         f"{i.message}（依据：{i.clause}）")
        return "\n".join(lines) + "\n"


def digests(session: Session, month: str) -> list[Digest]:
    """Per active subscription, the month's alerts it may see that are to be sent and not yet sent to it."""
    out = []
    for sub in session.scalars(select(AlertSubscription).where(AlertSubscription.active).order_by(AlertSubscription.id)):
        sent = select(AlertDelivery.item_id).where(AlertDelivery.subscription_id == sub.id,
                                                   AlertDelivery.status == "sent")
        items = list(session.scalars(
            select(AlertItem).where(AlertItem.month == month, AlertItem.notify,
                                    _visible_to(sub.recipient_kind, sub.recipient_code), AlertItem.id.not_in(sent))
            .order_by(AlertItem.severity.asc(), AlertItem.kind, AlertItem.institution_code, AlertItem.id)))
        if items:
            out.append(Digest(sub, month, items))
    return out


def record(session: Session, digest: Digest, error: str | None) -> None:
    """Record the outcome of sending ``digest``: every alert in it sent, or failed with ``error``."""
    for item in digest.items:  # detached rows of the session that built the digest: their ids are loaded
        d = session.scalar(select(AlertDelivery).where(and_(AlertDelivery.item_id == item.id,
                                                            AlertDelivery.subscription_id == digest.subscription.id)))
        if d is None:
            d = AlertDelivery(item_id=item.id, subscription_id=digest.subscription.id, status="failed", attempts=0,
                              sent_at=None, last_error="")
            session.add(d)
        d.attempts = (d.attempts or 0) + 1
        d.status = "failed" if error else "sent"
        d.sent_at = None if error else now()
        d.last_error = (error or "")[:2000]
    session.flush()


def in_quiet_hours(hour: int, env: dict[str, str] | None = None) -> bool:
    """Whether ``hour`` (0–23, local) is inside the setting ``alerts_quiet_hours`` ("22-8"; blank: never)."""
    raw = str(setting("alerts_quiet_hours", env)).strip()
    if not raw:
        return False
    m = re.match(r"^(\d{1,2})\s*-\s*(\d{1,2})$", raw)
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 24:
        raise AlertsError(f"JICAI_ALERTS_QUIET_HOURS 应为 起-止 小时,如 22-8:{raw}",
                          f"JICAI_ALERTS_QUIET_HOURS is start-end hours, e.g. 22-8: {raw}")
    start, end = int(m.group(1)), int(m.group(2)) % 24
    return start <= hour < end if start < end else (hour >= start or hour < end) if start != end else False


def deliver(workflow: Any, month: str, send: Callable[[Digest], None]) -> list[tuple[Digest, str | None]]:
    """Send every digest of ``month`` by ``send`` (which raises when the channel refuses), each outcome
    recorded in its own transaction right after the send: a later failure never undoes an earlier mark."""
    with workflow.session() as s:
        pending = digests(s, month)
    outcomes = []
    for d in pending:
        try:
            send(d)
            error = None
        except Exception as e:  # noqa: BLE001 - any refusal of a channel is recorded and retried next run
            error = f"{type(e).__name__}: {e}"
        with workflow.session() as s:
            record(s, d, error)
        outcomes.append((d, error))
    return outcomes


def month_end(month: str) -> date:
    y, m = parse_month(month)
    return calendar_month_end(date(y, m, 1))
