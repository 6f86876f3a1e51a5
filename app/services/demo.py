"""The demo network `make run` serves: a few Amsterdam locations with simulated stations."""

from dataclasses import dataclass

from sqlmodel import select

from app.db.engine import SessionFactory
from app.db.models import ChargingStation, Operator, Tariff
from app.domain.access import OperatorRole
from app.domain.enums import IdTokenType
from app.events import EventBus
from app.services.operators import create_operator_user
from app.services.provisioning import (
    ConnectorSpec,
    create_id_token,
    create_location,
    create_station,
)
from app.services.tariffs import assign_tariff, create_tariff

DEMO_OPERATOR = "chargenet demo"
DEMO_PASSWORD = "demo-station-password"  # noqa: S105  (shared by the simulated demo stations)
DEMO_OPERATOR_EMAIL = "ops@demo.chargenet.test"
# Published in the README so the explorer can try the operator API: demo databases only.
DEMO_OPERATOR_PASSWORD = "demo-operator-password"  # noqa: S105
DEMO_TOKEN = "SIMTOKEN01"  # noqa: S105  (an RFID uid, not a secret)


@dataclass(frozen=True, slots=True)
class DemoSite:
    name: str
    address: str
    postal_code: str
    latitude: float
    longitude: float
    stations: int
    dc_power_w: int | None  # None: AC 22 kW stations


DEMO_SITES = (
    DemoSite("Centraal Station P+R", "Stationsplein 1", "1012 AB", 52.3791, 4.9003, 2, None),
    DemoSite("Museumplein", "Museumplein 6", "1071 DJ", 52.3580, 4.8818, 1, None),
    DemoSite("Zuidas Fast Charge", "Gustav Mahlerlaan 10", "1082 PP", 52.3383, 4.8722, 2, 150_000),
    DemoSite("NDSM Werf", "NDSM-Plein 28", "1033 WB", 52.4010, 4.8920, 1, None),
)


def demo_station_id(index: int) -> str:
    """The id of the demo network's `index`-th station (0-based), as the simulator names it."""
    return f"SIM-{index + 1:04d}"


async def create_demo_tariffs(
    *, session_factory: SessionFactory, operator_id: int | None = None
) -> tuple[Tariff, Tariff]:
    """AC: €0.39/kWh, €0.10/min idle after the first hour. DC: €0.59/kWh, €1.00 per session.

    Both with 21 % VAT (the Netherlands). The idle fee's hour counts from the session start
    (OCPI min_duration), billed per started minute.
    """
    ac = await create_tariff(
        session_factory=session_factory,
        operator_id=operator_id,
        name="Demo AC",
        currency="EUR",
        vat_percent="21",
        elements=[
            {"price_components": [{"type": "ENERGY", "price": "0.39", "vat": "21"}]},
            {
                "price_components": [
                    {"type": "PARKING_TIME", "price": "6.00", "vat": "21", "step_size": 60}
                ],
                "restrictions": {"min_duration": 3600},
            },
        ],
    )
    dc = await create_tariff(
        session_factory=session_factory,
        operator_id=operator_id,
        name="Demo DC",
        currency="EUR",
        vat_percent="21",
        elements=[
            {
                "price_components": [
                    {"type": "ENERGY", "price": "0.59", "vat": "21"},
                    {"type": "FLAT", "price": "1.00", "vat": "21"},
                ]
            }
        ],
    )
    return ac, dc


async def seed_demo_network(
    *, session_factory: SessionFactory, bus: EventBus | None = None
) -> list[str]:
    """Create the demo network once; running it again changes nothing. Returns the station ids.
    Given a `bus`, each new station is announced on it (`provisioning.create_station`)."""
    async with session_factory() as db:
        operator = (await db.exec(select(Operator).where(Operator.name == DEMO_OPERATOR))).first()
        if operator is not None:
            rows = await db.exec(select(ChargingStation.id).order_by(ChargingStation.id))
            return list(rows.all())
        operator = Operator(name=DEMO_OPERATOR, country_code="NL", party_id="CNT")
        db.add(operator)
        await db.commit()
        await db.refresh(operator)
    ac_tariff, dc_tariff = await create_demo_tariffs(
        session_factory=session_factory, operator_id=operator.id
    )
    station_ids: list[str] = []
    for site in DEMO_SITES:
        location = await create_location(
            session_factory=session_factory,
            name=site.name,
            latitude=site.latitude,
            longitude=site.longitude,
            operator_id=operator.id,
            address=site.address,
            city="Amsterdam",
            postal_code=site.postal_code,
            country="NLD",
            time_zone="Europe/Amsterdam",
        )
        spec = ConnectorSpec.dc(site.dc_power_w) if site.dc_power_w else ConnectorSpec()
        for _ in range(site.stations):
            station_id = demo_station_id(len(station_ids))
            await create_station(
                session_factory=session_factory,
                station_id=station_id,
                password=DEMO_PASSWORD,
                location_id=location.id,
                evses=2,
                connector=spec,
                bus=bus,
            )
            station_ids.append(station_id)
            await assign_tariff(
                session_factory=session_factory,
                tariff_id=dc_tariff.id if site.dc_power_w else ac_tariff.id,
                station_ids=[station_id],
            )
    await create_id_token(
        session_factory=session_factory,
        uid=DEMO_TOKEN,
        type=IdTokenType.RFID,
        label="demo RFID card",
    )
    await create_operator_user(
        session_factory=session_factory,
        org=DEMO_OPERATOR,
        email=DEMO_OPERATOR_EMAIL,
        password=DEMO_OPERATOR_PASSWORD,
        role=OperatorRole.ADMIN,
        actor="seed:demo",
    )
    return station_ids
