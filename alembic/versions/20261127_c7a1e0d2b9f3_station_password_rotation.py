"""station password rotation: next and previous password hashes with their expiry

Revision ID: c7a1e0d2b9f3
Revises: 953ba8efa545
Create Date: 2026-11-27 00:10:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.db.types

revision: str = 'c7a1e0d2b9f3'
down_revision: str | None = '953ba8efa545'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('charging_station', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('next_password_hash', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True)
        )
        batch_op.add_column(
            sa.Column('next_password_expires_at', app.db.types.UtcDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column('previous_password_hash', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True)
        )
        batch_op.add_column(
            sa.Column('previous_password_expires_at', app.db.types.UtcDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table('charging_station', schema=None) as batch_op:
        batch_op.drop_column('previous_password_expires_at')
        batch_op.drop_column('previous_password_hash')
        batch_op.drop_column('next_password_expires_at')
        batch_op.drop_column('next_password_hash')
