"""Alerts (issue 16 item 5): the inbox, per-user read marks, digest subscriptions and deliveries.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30

``alert_items``: one row per alert of the ``alerts`` measure, unique by its stable key, so that building a
month's digest twice adds nothing. ``alert_reads``: who has read which (read/unread is per user).
``alert_subscriptions``: where a recipient's digest goes (e-mail address or a WeCom/DingTalk robot URL).
``alert_deliveries``: one row per (alert, subscription), ``sent`` once delivered — never sent again — or
``failed`` (retried by the next run).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SUBSCRIBERS = ("bureau", "institution", "enterprise")
CHANNELS = ("email", "wecom", "dingtalk")
STATUSES = ("sent", "failed")


def _check(table: str, column: str, values: tuple[str, ...]) -> sa.CheckConstraint:
    return sa.CheckConstraint(f"{column} IN ({', '.join(repr(v) for v in values)})", name=f"ck_{table}_{column}")


def upgrade() -> None:
    op.create_table(
        "alert_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_key", sa.String(255), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("institution_code", sa.String(64), nullable=False),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("enterprise_code", sa.String(64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("stake_amount", sa.Double(), nullable=True),
        sa.Column("policy_parameter", sa.String(64), nullable=False),
        sa.Column("clause", sa.Text(), nullable=False),
        sa.Column("notify", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alert_items"),
        sa.UniqueConstraint("alert_key", name="uq_alert_items_alert_key"),
    )
    for column in ("month", "institution_code", "region_code", "enterprise_code"):
        op.create_index(f"ix_alert_items_{column}", "alert_items", [column])
    op.create_table(
        "alert_reads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("read_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alert_reads"),
        sa.ForeignKeyConstraint(["item_id"], ["alert_items.id"], name="fk_alert_reads_item_id_alert_items"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_alert_reads_user_id_users"),
        sa.UniqueConstraint("item_id", "user_id", name="uq_alert_reads_item_user"),
    )
    op.create_index("ix_alert_reads_item_id", "alert_reads", ["item_id"])
    op.create_table(
        "alert_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recipient_kind", sa.String(16), nullable=False),
        sa.Column("recipient_code", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("target", sa.String(512), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alert_subscriptions"),
        _check("alert_subscriptions", "recipient_kind", SUBSCRIBERS),
        _check("alert_subscriptions", "channel", CHANNELS),
    )
    op.create_table(
        "alert_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alert_deliveries"),
        sa.ForeignKeyConstraint(["item_id"], ["alert_items.id"], name="fk_alert_deliveries_item_id_alert_items"),
        sa.ForeignKeyConstraint(["subscription_id"], ["alert_subscriptions.id"],
                                name="fk_alert_deliveries_subscription_id_alert_subscriptions"),
        sa.UniqueConstraint("item_id", "subscription_id", name="uq_alert_deliveries_item_subscription"),
        _check("alert_deliveries", "status", STATUSES),
    )
    op.create_index("ix_alert_deliveries_item_id", "alert_deliveries", ["item_id"])
    op.create_index("ix_alert_deliveries_subscription_id", "alert_deliveries", ["subscription_id"])


def downgrade() -> None:
    op.drop_table("alert_deliveries")
    op.drop_table("alert_subscriptions")
    op.drop_table("alert_reads")
    op.drop_table("alert_items")
