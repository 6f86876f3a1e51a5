"""ID tokens (RFID cards, app tokens) that authorise charging."""

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.db.models import base as _base  # noqa: F401  (naming convention first)
from app.db.types import enum_column, utc_column, utcnow
from app.domain.enums import AuthorizationStatus, IdTokenType


class IdToken(SQLModel, table=True):
    """OCPP IdToken / 1.6 idTag. `uid` is what the charger sends (case-insensitive match)."""

    __tablename__ = "id_token"

    id: int | None = Field(default=None, primary_key=True)
    uid: str = Field(max_length=36, unique=True)
    type: IdTokenType = Field(default=IdTokenType.RFID, sa_column=enum_column(IdTokenType))
    status: AuthorizationStatus = Field(
        default=AuthorizationStatus.ACCEPTED, sa_column=enum_column(AuthorizationStatus)
    )
    expires_at: datetime | None = Field(default=None, sa_column=utc_column())
    label: str | None = Field(default=None, max_length=100)
    driver_id: int | None = Field(default=None, foreign_key="driver.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
