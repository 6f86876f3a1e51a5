"""The driver account (`me`): profile, ID tokens and favourite locations."""

from datetime import datetime

import strawberry
from strawberry import relay

from app.db import models
from app.graphql import fields
from app.graphql.context import Info
from app.graphql.queries import history
from app.graphql.queries.history import ChargingSessionConnection
from app.graphql.types.id_token import IdToken
from app.graphql.types.location import Location
from app.graphql.types.payment import PaymentMethod
from app.graphql.types.reservation import Reservation
from app.graphql.types.session import ChargingSession
from app.services import favorites, payments, reservations, rfid_cards, sessions


@strawberry.type(
    description="A driver account. Only ever returned to the driver it belongs to (`me`, logIn)."
)
class Driver(relay.Node):
    id: relay.NodeID[int]
    email: str
    name: str
    created_at: datetime

    @fields.field(description="The app token and the RFID cards, oldest first; removed: BLOCKED.")
    async def id_tokens(self, info: Info) -> list[IdToken]:
        rows = await rfid_cards.list_id_tokens(
            session_factory=info.context.session_factory, driver_id=self.id
        )
        return [IdToken.from_row(row) for row in rows]

    @fields.field(description="Favourite locations, the most recently added first.")
    async def favorites(self, info: Info) -> list[Location]:
        rows = await favorites.list_favorites(
            session_factory=info.context.session_factory, driver_id=self.id
        )
        return [Location.from_row(row) for row in rows]

    @fields.field(description="Reservations, newest first; active: true = holding an EVSE now.")
    async def reservations(self, info: Info, active: bool | None = None) -> list[Reservation]:
        rows = await reservations.list_reservations(
            session_factory=info.context.session_factory, driver_id=self.id, active=active
        )
        return [Reservation.from_row(row) for row in rows]

    @fields.field(description="Sessions charging now, as sessionUpdated snapshots (reconnects).")
    async def active_sessions(self, info: Info) -> list[ChargingSession]:
        rows = await sessions.list_active_sessions(
            session_factory=info.context.session_factory, driver_id=self.id
        )
        return [ChargingSession.from_row(row) for row in rows]

    @fields.field(description="Saved cards and wallets; `isDefault` marks the one charged.")
    async def payment_methods(self, info: Info) -> list[PaymentMethod]:
        saved = await payments.list_payment_methods(
            session_factory=info.context.session_factory,
            gateway=info.context.payments,
            driver_id=self.id,
        )
        return [PaymentMethod.from_saved(s) for s in saved]

    sessions: ChargingSessionConnection = strawberry.field(
        resolver=history.resolve_sessions,
        description="Charging history, newest first (active and finished), with receipts.",
    )

    @classmethod
    def from_row(cls, row: models.Driver) -> "Driver":
        assert row.id is not None
        return cls(id=row.id, email=row.email, name=row.name, created_at=row.created_at)
