"""shared send pacing: per-chat send leases and one send schedule for all instances

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

Additive only (a nullable column and a new table), so it is safe to run while instances of
the previous version are up: they neither read nor write either.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("chat", sa.Column("send_after", sa.Float(), nullable=True))
    op.create_table(
        "send_schedule",
        sa.Column("name", sa.String(length=20), nullable=False),
        sa.Column("next_slot", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_send_schedule")),
    )


def downgrade() -> None:
    op.drop_table("send_schedule")
    with op.batch_alter_table("chat") as batch:
        batch.drop_column("send_after")
