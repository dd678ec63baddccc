"""The workflow database's tables as typed SQLAlchemy 2 models.

What people decide lives here; what the platform exports lives in the warehouse. The decisions that change
figures (a verified supply-problem period, a special-variety exemption) are also written into the warehouse's
contract tables (``supply_problems``, ``varieties``) so that every measure sees them without knowing this
database exists. The schema itself is created by the Alembic migrations in ``migrations/versions`` — written
by hand, portable to SQLite and PostgreSQL — and a test checks that these models and the migrations agree.

Times are naive local time (Asia/Shanghai), like the data contract. Choice columns are plain strings with a
named CHECK constraint (portable, and SQLite's batch mode can rebuild a named constraint).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from jicai.contract import enums
from jicai.contract.roles import ROLES

# Named constraints and indexes: migrations refer to them by name on every engine.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

PROBLEMS = ("shortage", "late", "selective", "other")
PROBLEM_ZH = {k: v[0] for k, v in enums.PROBLEMS.items()}
REPORT_STATUSES = ("pending", "verified", "rejected")
STATUS_ZH = {"pending": "待核实", "verified": "已核实", "rejected": "未予认定"}
SPECIALS = ("shortage", "emergency", "seasonal", "demand_change")
SPECIAL_ZH = {k: v[0] for k, v in enums.SPECIALS.items()}
TARGET_KINDS = ("institution", "enterprise")
ACTIONS = ("remind", "interview", "notice")
ACTION_ZH = {"remind": "提醒", "interview": "约谈", "notice": "通报"}


def _choice(column: str, values: tuple[str, ...]) -> CheckConstraint:
    """A choice column's CHECK, named after the column (the naming convention adds ``ck_<table>_``)."""
    return CheckConstraint(f"{column} IN ({', '.join(repr(v) for v in values)})", name=column)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class _Row(Base):
    """Every workflow table has an integer ``id`` primary key, its first column (as in the migration)."""

    __abstract__ = True

    id: Mapped[int] = mapped_column(primary_key=True, sort_order=-1)


class User(_Row):
    __tablename__ = "users"
    __table_args__ = (_choice("role", ROLES),)

    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(String(32), default="")
    active: Mapped[bool] = mapped_column(default=True)
    # bumped when the password changes or the user is disabled: every session and token carrying the old
    # value stops working at once
    session_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime]


class SupplyReport(_Row):
    __tablename__ = "supply_reports"
    __table_args__ = (
        _choice("problem", PROBLEMS),
        _choice("status", REPORT_STATUSES),
        Index("ix_supply_reports_status", "status"),
    )

    institution_code: Mapped[str] = mapped_column(String(32), index=True)
    # the institution's region when filed: a district bureau's queue is a prefix match on it
    region_code: Mapped[str] = mapped_column(String(12), default="", index=True)
    product_code: Mapped[str] = mapped_column(String(32), index=True)
    problem: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text, default="")
    start_date: Mapped[date]
    end_date: Mapped[date | None]
    filed_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    filed_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="pending")
    verified_start: Mapped[date | None]
    verified_end: Mapped[date | None]
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    comment: Mapped[str] = mapped_column(Text, default="")

    @property
    def warehouse_id(self) -> str:
        return f"WF-{self.id}"


class Exemption(_Row):
    __tablename__ = "exemptions"
    __table_args__ = (_choice("special", SPECIALS),)

    variety_id: Mapped[str] = mapped_column(String(64), index=True)
    special: Mapped[str] = mapped_column(String(16))
    start_date: Mapped[date]
    end_date: Mapped[date | None]
    reason: Mapped[str] = mapped_column(Text)
    # the variety's special/special_start/special_end before this decision (restored when it is revoked and
    # no other decision on the variety stands)
    prior: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    decided_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime]
    revoked: Mapped[bool] = mapped_column(default=False)
    revoked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    revoked_at: Mapped[datetime | None]


class SupervisionAction(_Row):
    __tablename__ = "supervision_actions"
    __table_args__ = (
        _choice("target_kind", TARGET_KINDS),
        _choice("action", ACTIONS),
        Index("ix_supervision_actions_target", "target_kind", "target_code"),
    )

    target_kind: Mapped[str] = mapped_column(String(16))
    target_code: Mapped[str] = mapped_column(String(32))
    # an institution's region (blank for an enterprise): scopes what a district bureau sees
    region_code: Mapped[str] = mapped_column(String(12), default="", index=True)
    action: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]


class AuditEntry(_Row):
    __tablename__ = "audit_log"

    at: Mapped[datetime] = mapped_column(index=True)
    user_name: Mapped[str] = mapped_column(String(64), default="")
    role: Mapped[str] = mapped_column(String(16), default="")
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(String(128), default="")
    # the region the entry concerns, when it has one: a district bureau or auditor reads its own region's
    region_code: Mapped[str] = mapped_column(String(12), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    client: Mapped[str] = mapped_column(String(64), default="")


OUTBOX_OPS = ("upsert", "delete", "patch")


class OutboxEntry(_Row):
    """A warehouse write a decision owes, committed in the decision's own transaction (:mod:`.outbox`):
    ``upsert`` replaces the row of ``target`` with key ``key`` by ``row``; ``delete`` removes it; ``patch``
    sets the columns of ``row`` on the existing row (the varieties' special period, the rest kept). Applied
    after the commit and marked ``applied_at``; until then retried."""

    __tablename__ = "warehouse_outbox"
    __table_args__ = (_choice("op", OUTBOX_OPS),)

    target: Mapped[str] = mapped_column(String(64))
    op: Mapped[str] = mapped_column(String(8))
    key: Mapped[dict[str, Any]] = mapped_column(JSON)
    row: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime]
    applied_at: Mapped[datetime | None] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")


class WebSession(_Row):
    """A page login (migration ``sessions_logins``). The cookie carries a random session id; only its SHA-256 is kept, so a copy
    of this table logs nobody in. Times are epoch seconds (the clock of :mod:`jicai.web.auth`)."""

    __tablename__ = "web_sessions"

    sid_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created: Mapped[float]
    expires: Mapped[float] = mapped_column(index=True)


class LoginAttempt(_Row):
    """One login attempt, counted by the failure budgets (migration ``sessions_logins``; :mod:`jicai.workflow.logins`)."""

    __tablename__ = "login_attempts"

    at: Mapped[float] = mapped_column(index=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    client: Mapped[str] = mapped_column(String(64), index=True)
    ok: Mapped[bool]


# -- alerts (issue 16 item 5; migration ``alerts``, :mod:`jicai.workflow.alert_inbox`) -----------------------
SUBSCRIBERS = ("bureau", "institution", "enterprise")
CHANNELS = ("email", "wecom", "dingtalk")
DELIVERY_STATUSES = ("sent", "failed")


class AlertItem(_Row):
    """One alert of the ``alerts`` measure, kept once by its stable key (a rerun adds nothing). Who sees it
    follows the scope rules: the institution, the enterprise named, the bureaus whose region prefix covers
    ``region_code``."""

    __tablename__ = "alert_items"

    alert_key: Mapped[str] = mapped_column(String(255), unique=True)
    month: Mapped[str] = mapped_column(String(7), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    institution_code: Mapped[str] = mapped_column(String(64), default="", index=True)
    region_code: Mapped[str] = mapped_column(String(12), default="", index=True)
    enterprise_code: Mapped[str] = mapped_column(String(64), default="", index=True)
    message: Mapped[str] = mapped_column(Text)
    stake_amount: Mapped[float | None]
    policy_parameter: Mapped[str] = mapped_column(String(64), default="")
    clause: Mapped[str] = mapped_column(Text, default="")
    # delivered by e-mail or webhook (False: a repeat inside the quiet period, shown in the inbox only)
    notify: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]


class AlertRead(_Row):
    """A user has read an alert: read/unread is per user (a district bureau reading it does not read it for
    the province)."""

    __tablename__ = "alert_reads"
    __table_args__ = (UniqueConstraint("item_id", "user_id", name="uq_alert_reads_item_user"),)

    item_id: Mapped[int] = mapped_column(ForeignKey("alert_items.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    read_at: Mapped[datetime]


class AlertSubscription(_Row):
    """Where a recipient's monthly digest goes: a bureau (``code`` its region prefix, blank for the province),
    an institution or an enterprise (its code), by e-mail (``target`` an address) or a WeCom / DingTalk group
    robot (``target`` the robot's webhook URL)."""

    __tablename__ = "alert_subscriptions"
    __table_args__ = (_choice("recipient_kind", SUBSCRIBERS), _choice("channel", CHANNELS))

    recipient_kind: Mapped[str] = mapped_column(String(16))
    recipient_code: Mapped[str] = mapped_column(String(64), default="")
    channel: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(512))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]


class AlertDelivery(_Row):
    """An alert sent (or tried) to one subscription. One row per (alert, subscription): an alert once ``sent``
    is never sent to that subscription again; a ``failed`` one is retried by the next run."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (UniqueConstraint("item_id", "subscription_id", name="uq_alert_deliveries_item_subscription"),
                      _choice("status", DELIVERY_STATUSES))

    item_id: Mapped[int] = mapped_column(ForeignKey("alert_items.id"), index=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("alert_subscriptions.id"), index=True)
    status: Mapped[str] = mapped_column(String(8))
    attempts: Mapped[int] = mapped_column(default=0)
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(Text, default="")


# -- peer groups (issue 16 item 3; migration ``peer_groups``, :mod:`jicai.workflow.peer_groups`) -------------
class PeerGroupRow(_Row):
    """A peer group a user saved: a name unique per owner and the institution codes it compares against.
    ``shared``: a bureau user's group that the other bureau and auditor users may use (never edit)."""

    __tablename__ = "peer_groups"
    __table_args__ = (UniqueConstraint("owner_id", "name", name="uq_peer_groups_owner_name"),)

    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(40))
    members: Mapped[list[str]] = mapped_column(JSON, default=list)
    shared: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
