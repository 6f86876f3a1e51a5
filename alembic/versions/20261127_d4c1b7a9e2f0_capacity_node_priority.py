"""capacity node priority: sessions on a higher-priority EVSE are served first

Revision ID: d4c1b7a9e2f0
Revises: 6121fa8801e4
Create Date: 2026-11-27 00:50:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d4c1b7a9e2f0"
down_revision: str | None = "6121fa8801e4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The server default fills existing rows; the model has none, so it is dropped again.
    with op.batch_alter_table("capacity_node", schema=None) as batch_op:
        batch_op.add_column(sa.Column("priority", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("capacity_node", schema=None) as batch_op:
        batch_op.alter_column("priority", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("capacity_node", schema=None) as batch_op:
        batch_op.drop_column("priority")
