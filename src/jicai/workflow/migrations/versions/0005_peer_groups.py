"""Peer groups (issue 16 item 3): the institutions a user compares against, saved per user.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

``peer_groups``: one row per (owner, name) with the members' institution codes (a JSON list, at most
:data:`jicai.workflow.peer_groups.MAX_MEMBERS`) and whether the other bureau users may use it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "peer_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("members", sa.JSON(), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_peer_groups"),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name="fk_peer_groups_owner_id_users"),
        sa.UniqueConstraint("owner_id", "name", name="uq_peer_groups_owner_name"),
    )
    op.create_index("ix_peer_groups_owner_id", "peer_groups", ["owner_id"])


def downgrade() -> None:
    op.drop_table("peer_groups")
