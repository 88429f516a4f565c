"""merge: the four branches written side by side from 0005 (protection, intent, console
rollup, pictures) joined again, so there is one head (``alembic upgrade head`` works)

Revision ID: 0011
Revises: 0006, 0007, 0009, 0010
Create Date: 2026-12-06 13:30:00
"""

from collections.abc import Sequence

revision: str = "0011"
down_revision: str | Sequence[str] | None = ("0006", "0007", "0009", "0010")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass  # nothing to change: the branches touch different tables


def downgrade() -> None:
    pass
