"""intent before effect: each action's place in its case's plan; cases not yet settled

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-06 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("actions") as batch:
        batch.add_column(sa.Column("seq", sa.Integer(), nullable=True))
    op.create_table(
        "unsettled_cases",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("handler", sa.String(length=128), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("case_id"),
    )


def downgrade() -> None:
    op.drop_table("unsettled_cases")
    with op.batch_alter_table("actions") as batch:
        batch.drop_column("seq")
