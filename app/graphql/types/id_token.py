"""ID tokens a driver charges with: the app token and RFID cards."""

from datetime import datetime

import strawberry

from app.db import models
from app.domain.enums import AuthorizationStatus, IdTokenType

strawberry.enum(IdTokenType, description="OCPP 2.0.1 IdTokenEnumType / OCPI TokenType.")
strawberry.enum(
    AuthorizationStatus, description="Whether a charger accepts the token (OCPP verdict)."
)


@strawberry.type(description="An ID token: what a charger is shown to authorise charging.")
class IdToken:
    uid: str = strawberry.field(
        description="The OCPP idTag / IdToken value, upper-case; what the card or app sends."
    )
    type: IdTokenType
    status: AuthorizationStatus = strawberry.field(
        description="ACCEPTED tokens start charging; a removed card is BLOCKED."
    )
    label: str | None
    expires_at: datetime | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: models.IdToken) -> "IdToken":
        return cls(
            uid=row.uid,
            type=row.type,
            status=row.status,
            label=row.label,
            expires_at=row.expires_at,
            created_at=row.created_at,
        )
