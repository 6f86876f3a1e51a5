"""Builders for test data: `await make_station(session_factory, evses=2)`."""

import itertools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from app.db.engine import SessionFactory
from app.db.models import ChargingStation, Connector, Evse, IdToken, Location
from app.domain.enums import AuthorizationStatus, ConnectorStandard, PowerType
from app.domain.id_tokens import canonical_uid
from app.domain.metering import MeterReading
from app.events import EventBus
from app.services import tariffs, transactions
from app.services.security import hash_password

_counter = itertools.count(1)


async def make_location(
    session_factory: SessionFactory,
    *,
    name: str | None = None,
    latitude: float = 52.3702,
    longitude: float = 4.8952,
    time_zone: str = "Europe/Amsterdam",
) -> Location:
    async with session_factory() as db:
        location = Location(
            name=name or f"Location {next(_counter)}",
            latitude=latitude,
            longitude=longitude,
            address="Damrak 1",
            city="Amsterdam",
            postal_code="1012 LG",
            time_zone=time_zone,
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


async def make_priced_session(
    session_factory: SessionFactory,
    *,
    bus: EventBus,
    tariff_elements: list[dict[str, Any]],
    started_at: datetime,
    time_zone: str = "Europe/Amsterdam",
    meter_start_wh: int = 1000,
    readings: Sequence[MeterReading] = (),
) -> tuple[str, str]:
    """A session started at `started_at` on EVSE 1 of a new station at a new location in
    `time_zone`, under a new EUR tariff (21 % VAT) of OCPI `tariff_elements`; `readings`, if
    any, sent in one MeterValues (so priced). Returns (station id, transaction id)."""
    location = await make_location(session_factory, time_zone=time_zone)
    station = await make_station(session_factory, location=location)
    tariff = await tariffs.create_tariff(
        session_factory=session_factory,
        name="priced",
        currency="EUR",
        vat_percent="21",
        elements=tariff_elements,
    )
    await tariffs.assign_tariff(
        session_factory=session_factory, tariff_id=tariff.id, station_ids=[station.id]
    )
    started = await transactions.start_session(
        session_factory=session_factory,
        bus=bus,
        station_id=station.id,
        ocpp_evse_id=1,
        id_token=None,
        meter_start_wh=meter_start_wh,
        started_at=started_at,
    )
    if readings:
        await transactions.record_meter_values(
            session_factory=session_factory,
            bus=bus,
            station_id=station.id,
            ocpp_evse_id=1,
            transaction_id=started.transaction_id,
            readings=tuple(readings),
        )
    return station.id, started.transaction_id
