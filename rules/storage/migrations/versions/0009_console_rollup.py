"""officer console: counts per finished day and group, so the overview reads 30 small rows

Revision ID: 0009
Revises: 0005
Create Date: 2026-12-06 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "console_daily",
        sa.Column("day", sa.DateTime(timezone=True), nullable=False),
        sa.Column("group_id", sa.String(length=128), nullable=False),
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "group_id", "dimension", "key"),
    )
    op.create_table(
        "console_days",
        sa.Column("day", sa.DateTime(timezone=True), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day"),
    )


def downgrade() -> None:
    op.drop_table("console_days")
    op.drop_table("console_daily")
