"""Server-side sessions and the login failure budget (issue 14, findings 4 and 5).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30

``web_sessions``: one row per page login; the cookie names its row by a random session id, of which only the
SHA-256 is stored. Logout deletes the row, a password change or disabling a user deletes all of the user's.
``login_attempts``: one row per login attempt (failures, and successes to recognise a name's usual address),
counted by the per-address and platform-wide budgets — in the database so that a restart or another worker
process sees them. Times in both are epoch seconds (the auth clock), compared as numbers.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sid_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created", sa.Double(), nullable=False),
        sa.Column("expires", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_web_sessions"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_web_sessions_user_id_users"),
        sa.UniqueConstraint("sid_hash", name="uq_web_sessions_sid_hash"),
    )
    op.create_index("ix_web_sessions_user_id", "web_sessions", ["user_id"])
    op.create_index("ix_web_sessions_expires", "web_sessions", ["expires"])
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("client", sa.String(64), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_login_attempts"),
    )
    for column in ("at", "name", "client"):
        op.create_index(f"ix_login_attempts_{column}", "login_attempts", [column])


def downgrade() -> None:
    op.drop_table("login_attempts")
    op.drop_table("web_sessions")
