"""Provisioning: create operators, locations, stations and tokens; seed the demo network."""

from dataclasses import dataclass
from typing import Any

from sqlmodel import select

from app.db.engine import SessionFactory
from app.db.models import ChargingStation, Connector, Evse, IdToken, Location
from app.domain.enums import (
    AuthorizationStatus,
    ConnectorFormat,
    ConnectorStandard,
    IdTokenType,
    PowerType,
)
from app.domain.errors import Conflict, InvalidInput, NotFound
from app.domain.id_tokens import canonical_uid
from app.events import EventBus, topics
from app.services.security import hash_password


@dataclass(frozen=True, slots=True)
class ConnectorSpec:
    standard: ConnectorStandard = ConnectorStandard.IEC_62196_T2
    format: ConnectorFormat = ConnectorFormat.SOCKET
    power_type: PowerType = PowerType.AC_3_PHASE
    max_voltage: int = 230
    max_amperage: int = 32
    max_electric_power: int = 22_000

    @classmethod
    def dc(cls, power_w: int) -> "ConnectorSpec":
        return cls(
            standard=ConnectorStandard.IEC_62196_T2_COMBO,
            format=ConnectorFormat.CABLE,
            power_type=PowerType.DC,
            max_voltage=920,
            max_amperage=max(1, power_w // 400),
            max_electric_power=power_w,
        )


def _check_coordinates(latitude: float, longitude: float) -> None:
    if not -90.0 <= latitude <= 90.0:
        raise InvalidInput(f"latitude {latitude} is outside [-90, 90]")
    if not -180.0 <= longitude <= 180.0:
        raise InvalidInput(f"longitude {longitude} is outside [-180, 180]")


async def create_location(
    *,
    session_factory: SessionFactory,
    name: str,
    latitude: float,
    longitude: float,
    operator_id: int | None = None,
    address: str = "",
    city: str = "",
    postal_code: str = "",
    country: str = "NLD",
    time_zone: str = "UTC",
    opening_hours: dict[str, Any] | None = None,
) -> Location:
    """Add a location; coordinates are WGS84 degrees."""
    _check_coordinates(latitude, longitude)
    if not name.strip():
        raise InvalidInput("a location needs a non-empty name")
    async with session_factory() as db:
        location = Location(
            name=name.strip(),
            latitude=latitude,
            longitude=longitude,
            operator_id=operator_id,
            address=address,
            city=city,
            postal_code=postal_code,
            country=country,
            time_zone=time_zone,
            opening_hours=opening_hours or {"twentyfourseven": True},
        )
        db.add(location)
        await db.commit()
        await db.refresh(location)
        return location


async def create_station(
    *,
    session_factory: SessionFactory,
    station_id: str,
    password: str | None,
    location_id: int | None,
    evses: int = 1,
    connector: ConnectorSpec | None = None,
    bus: EventBus | None = None,
) -> ChargingStation:
    """Provision a station with `evses` EVSEs of one connector each.

    `password` is the OCPP Basic-auth password (stored as an argon2 hash); OCPP 2.0.1 asks for
    16 to 40 characters, so shorter ones are refused. Given a `bus`, `StationAdded` goes out on
    `topics.ALL_STATIONS` after the commit, so whole-network views follow the station at once.
    """
    if not station_id or len(station_id) > 48 or any(c in station_id for c in "/?#% "):
        raise InvalidInput(
            f"station id {station_id!r}: want 1-48 characters, no '/', '?', '#', '%' or spaces"
        )
    if password is not None and not 16 <= len(password) <= 40:
        raise InvalidInput(f"station password has {len(password)} characters; OCPP wants 16 to 40")
    if not 1 <= evses <= 32:
        raise InvalidInput(f"evses={evses}: a station has 1 to 32 EVSEs")
    spec = connector or ConnectorSpec()
    async with session_factory() as db:
        if await db.get(ChargingStation, station_id) is not None:
            raise Conflict(f"station {station_id!r} already exists")
        if location_id is not None and await db.get(Location, location_id) is None:
            raise NotFound("location", location_id)
        station = ChargingStation(
            id=station_id,
            location_id=location_id,
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
                    standard=spec.standard,
                    format=spec.format,
                    power_type=spec.power_type,
                    max_voltage=spec.max_voltage,
                    max_amperage=spec.max_amperage,
                    max_electric_power=spec.max_electric_power,
                )
            )
        await db.commit()
        await db.refresh(station)
    if bus is not None:
        await bus.publish(
            topics.ALL_STATIONS,
            topics.station_added_event(station_id=station_id, location_id=location_id),
        )
    return station


async def create_id_token(
    *,
    session_factory: SessionFactory,
    uid: str,
    type: IdTokenType = IdTokenType.RFID,
    label: str | None = None,
) -> IdToken:
    uid = canonical_uid(uid)
    if not uid or len(uid) > 36:
        raise InvalidInput(f"token uid {uid!r}: want 1-36 characters")
    async with session_factory() as db:
        existing = (await db.exec(select(IdToken).where(IdToken.uid == uid))).first()
        if existing is not None:
            raise Conflict(f"token {uid!r} already exists")
        token = IdToken(uid=uid, type=type, label=label, status=AuthorizationStatus.ACCEPTED)
        db.add(token)
        await db.commit()
        await db.refresh(token)
        return token
