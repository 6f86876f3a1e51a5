"""maintenance window cause: why an excluded outage is outside the operator's control

Revision ID: e8b2c4d6f1a3
Revises: d4c1b7a9e2f0
Create Date: 2026-11-27 01:40:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e8b2c4d6f1a3"
down_revision: str | None = "d4c1b7a9e2f0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("maintenance_window", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cause", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("maintenance_window", schema=None) as batch_op:
        batch_op.drop_column("cause")
