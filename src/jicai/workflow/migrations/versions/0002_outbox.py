"""The warehouse outbox: the warehouse writes decisions owe, committed with them, applied after (finding 13).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

OPS = ("upsert", "delete", "patch")


def upgrade() -> None:
    op.create_table(
        "warehouse_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("op", sa.String(8), nullable=False),
        sa.Column("key", sa.JSON(), nullable=False),
        sa.Column("row", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("applied_at", sa.DateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_warehouse_outbox"),
        sa.CheckConstraint(f"op IN ({', '.join(repr(v) for v in OPS)})", name="ck_warehouse_outbox_op"),
    )
    op.create_index("ix_warehouse_outbox_applied_at", "warehouse_outbox", ["applied_at"])


def downgrade() -> None:
    op.drop_table("warehouse_outbox")
