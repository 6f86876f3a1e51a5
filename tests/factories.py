"""Builders for test data: `await make_station(session_factory, evses=2)`."""

import itertools

from app.db.engine import SessionFactory
from app.db.models import ChargingStation, Connector, Evse, IdToken, Location
from app.domain.enums import AuthorizationStatus, ConnectorStandard, PowerType
from app.domain.id_tokens import canonical_uid
from app.services.security import hash_password

_counter = itertools.count(1)


async def make_location(
    session_factory: SessionFactory,
    *,
    name: str | None = None,
    latitude: float = 52.3702,
    longitude: float = 4.8952,
) -> Location:
    async with session_factory() as db:
        location = Location(
            name=name or f"Location {next(_counter)}",
            latitude=latitude,
            longitude=longitude,
            address="Damrak 1",
            city="Amsterdam",
            postal_code="1012 LG",
            time_zone="Europe/Amsterdam",
            opening_hours={"twentyfourseven": True},
        )
        db.add(location)
        await db.commit()
        await db.refresh(location)
        return location


async def make_station(
    session_factory: SessionFactory,
    *,
    station_id: str | None = None,
    password: str | None = "secret-password-1",
    location: Location | None = None,
    evses: int = 1,
    standard: ConnectorStandard = ConnectorStandard.IEC_62196_T2,
    power_type: PowerType = PowerType.AC_3_PHASE,
    max_power_w: int = 22_000,
) -> ChargingStation:
    station_id = station_id or f"CS-{next(_counter):04d}"
    async with session_factory() as db:
        station = ChargingStation(
            id=station_id,
            location_id=location.id if location else None,
            password_hash=hash_password(password) if password is not None else None,
        )
        db.add(station)
        await db.flush()
        for number in range(1, evses + 1):
            evse = Evse(station_id=station_id, ocpp_evse_id=number, uid=f"{station_id}*{number}")
            db.add(evse)
            await db.flush()
            assert evse.id is not None
            db.add(
                Connector(
                    evse_id=evse.id,
                    ocpp_connector_id=1,
                    standard=standard,
                    power_type=power_type,
                    max_electric_power=max_power_w,
                )
            )
        await db.commit()
        await db.refresh(station)
        return station


async def make_id_token(
    session_factory: SessionFactory,
    *,
    uid: str | None = None,
    status: AuthorizationStatus = AuthorizationStatus.ACCEPTED,
) -> IdToken:
    async with session_factory() as db:
        token = IdToken(uid=canonical_uid(uid or f"RFID{next(_counter):08d}"), status=status)
        db.add(token)
        await db.commit()
        await db.refresh(token)
        return token
