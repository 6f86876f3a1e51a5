"""index the message log by station and id, for a station's newest frames first

Revision ID: b7d1e4f2a9c3
Revises: a3f9c2d1e7b4
Create Date: 2026-11-27 03:25:00.000000+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "b7d1e4f2a9c3"
down_revision: str | None = "a3f9c2d1e7b4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_ocpp_message_log_station_id", "ocpp_message_log", ["station_id", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_ocpp_message_log_station_id", table_name="ocpp_message_log")
