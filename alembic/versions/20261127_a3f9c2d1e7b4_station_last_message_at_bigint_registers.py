"""station last_message_at, and 64-bit meter registers on charging sessions

Revision ID: a3f9c2d1e7b4
Revises: e8b2c4d6f1a3
Create Date: 2026-11-27 03:05:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db.types

revision: str = "a3f9c2d1e7b4"
down_revision: str | None = "e8b2c4d6f1a3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REGISTERS = ("meter_start_wh", "meter_stop_wh", "energy_wh")


def upgrade() -> None:
    with op.batch_alter_table("charging_station", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("last_message_at", app.db.types.UtcDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("charging_session", schema=None) as batch_op:
        for name in _REGISTERS:
            batch_op.alter_column(
                name,
                existing_type=sa.Integer(),
                type_=sa.BigInteger(),
                existing_nullable=name == "meter_stop_wh",
            )


def downgrade() -> None:
    with op.batch_alter_table("charging_session", schema=None) as batch_op:
        for name in _REGISTERS:
            batch_op.alter_column(
                name,
                existing_type=sa.BigInteger(),
                type_=sa.Integer(),
                existing_nullable=name == "meter_stop_wh",
            )
    with op.batch_alter_table("charging_station", schema=None) as batch_op:
        batch_op.drop_column("last_message_at")
