"""The `chargenet` command: serve, migrate, seed, simulate, stations, locations, documents,
operators, api-keys."""

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import uvicorn

from app.db.engine import SessionFactory, create_engine, create_session_factory
from app.domain.errors import DomainError
from app.settings import Settings

log = logging.getLogger("chargenet")

Handler = Callable[[argparse.Namespace, Settings], int]


def _run_with_db(settings: Settings, work: Callable[[SessionFactory], Awaitable[int]]) -> int:
    async def main() -> int:
        engine = create_engine(settings.database_url)
        try:
            return await work(create_session_factory(engine))
        finally:
            await engine.dispose()

    return asyncio.run(main())


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from alembic import command
    from alembic.config import Config

    root = Path(__file__).resolve().parent.parent
    config = Config(str(root / "alembic.ini"))
    config.set_main_option("script_location", str(root / "alembic"))
    config.attributes["database_url"] = settings.database_url
    command.upgrade(config, args.revision)
    return 0


def cmd_seed(args: argparse.Namespace, settings: Settings) -> int:
    from app.services.demo import DEMO_PASSWORD, DEMO_TOKEN, seed_demo_network

    if not args.demo:
        print("nothing to seed: pass --demo for the demo network", file=sys.stderr)
        return 2

    async def work(session_factory: SessionFactory) -> int:
        stations = await seed_demo_network(session_factory=session_factory)
        print(f"demo network: {len(stations)} stations ({', '.join(stations)})")
        print(f"station password {DEMO_PASSWORD!r}, RFID token {DEMO_TOKEN!r}")
        return 0

    return _run_with_db(settings, work)


def cmd_locations(args: argparse.Namespace, settings: Settings) -> int:
    from sqlmodel import col, select

    from app.db.models import Location
    from app.services.provisioning import create_location

    async def add(session_factory: SessionFactory) -> int:
        location = await create_location(
            session_factory=session_factory,
            name=args.name,
            latitude=args.lat,
            longitude=args.lng,
            address=args.address,
            city=args.city,
            country=args.country,
            time_zone=args.time_zone,
        )
        print(location.id)
        return 0

    async def list_(session_factory: SessionFactory) -> int:
        async with session_factory() as db:
            for loc in (await db.exec(select(Location).order_by(col(Location.id)))).all():
                print(f"{loc.id}\t{loc.name}\t{loc.latitude:.6f},{loc.longitude:.6f}\t{loc.city}")
        return 0

    return _run_with_db(settings, add if args.action == "add" else list_)


def cmd_stations(args: argparse.Namespace, settings: Settings) -> int:
    from sqlmodel import select

    from app.db.models import ChargingStation
    from app.services.provisioning import ConnectorSpec, create_station

    async def add(session_factory: SessionFactory) -> int:
        spec = (
            ConnectorSpec.dc(args.max_power_kw * 1000)
            if args.dc
            else ConnectorSpec(max_electric_power=args.max_power_kw * 1000)
        )
        station = await create_station(
            session_factory=session_factory,
            station_id=args.station_id,
            password=args.password,
            location_id=args.location,
            evses=args.evses,
            connector=spec,
        )
        print(station.id)
        return 0

    async def list_(session_factory: SessionFactory) -> int:
        async with session_factory() as db:
            for s in (await db.exec(select(ChargingStation).order_by(ChargingStation.id))).all():
                state = "online" if s.online else "offline"
                version = s.ocpp_version or "-"
                print(f"{s.id}\t{s.location_id}\t{state}\t{version}\t{s.registration_status}")
        return 0

    return _run_with_db(settings, add if args.action == "add" else list_)


def cmd_simulate(args: argparse.Namespace, settings: Settings) -> int:
    from app.simulator import SimulationConfig, run_simulation

    config = SimulationConfig(
        url=args.url,
        stations=args.stations,
        protocol=args.protocol,
        duration_s=args.duration,
        seed=args.seed,
        station_prefix=args.prefix,
        password=args.password,
        time_scale=args.time_scale,
    )
    stats = asyncio.run(run_simulation(config))
    print(stats)
    return 0


def cmd_documents(args: argparse.Namespace, settings: Settings) -> int:
    """Print a trusted-documents manifest ({sha256: document}) for GRAPHQL_TRUSTED_DOCUMENTS.

    Each file holds one document, hashed exactly as written: the app must send the same text
    (or just its hash)."""
    from app.graphql.trusted_documents import build_manifest

    documents = [Path(name).read_text(encoding="utf-8") for name in args.files]
    print(json.dumps(build_manifest(documents), indent=2, sort_keys=True))
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from app.main import create_app

    if args.instance_id:
        settings.instance_id = args.instance_id
    settings.host, settings.port = args.host, args.port
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_level=settings.log_level,
        ssl_certfile=args.ssl_certfile,
        ssl_keyfile=args.ssl_keyfile,
        ws_max_size=settings.ocpp_max_frame_bytes * 4,
        proxy_headers=True,
    )
    server = uvicorn.Server(config)
    if not args.simulate:
        server.run()
        return 0
    return asyncio.run(_serve_with_simulator(server, args))


async def _serve_with_simulator(server: uvicorn.Server, args: argparse.Namespace) -> int:
    from app.services.demo import DEMO_PASSWORD
    from app.simulator import SimulationConfig, run_simulation

    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            return 1
        await asyncio.sleep(0.05)
    scheme = "wss" if args.ssl_certfile else "ws"
    base = f"http://{args.host}:{args.port}"
    print(
        f"\n  chargenet is running.\n  GraphQL explorer: {base}/graphql\n"
        f"  OCPP endpoint:    {scheme}://{args.host}:{args.port}/ocpp/<station id>\n"
        f"  health:           {base}/healthz  {base}/readyz\n"
        f"  {args.simulate_stations} simulated chargers ({args.simulate}) are connecting.\n",
        flush=True,
    )
    config = SimulationConfig(
        url=f"{scheme}://{args.host}:{args.port}/ocpp",
        stations=args.simulate_stations,
        protocol=args.simulate,
        password=DEMO_PASSWORD,
        time_scale=args.time_scale,
    )
    stop = asyncio.Event()
    simulation = asyncio.create_task(run_simulation(config, stop=stop))
    try:
        await serving
    finally:
        stop.set()
        try:
            async with asyncio.timeout(5):
                await simulation
        except TimeoutError:
            simulation.cancel()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chargenet", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the server (GraphQL, OCPP, background tasks)")
    serve.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    serve.add_argument(
        "--instance-id", default=None, help="name of this instance (default: host-pid)"
    )
    serve.add_argument("--ssl-certfile", default=None, help="serve TLS (OCPP security profile 2)")
    serve.add_argument("--ssl-keyfile", default=None)
    serve.add_argument(
        "--simulate",
        choices=["1.6", "2.0.1", "mixed"],
        default=None,
        help="also run simulated chargers against this server (demo)",
    )
    serve.add_argument("--simulate-stations", type=int, default=6)
    serve.add_argument(
        "--time-scale",
        type=float,
        default=10.0,
        help="how much faster simulated chargers live than real ones",
    )
    serve.set_defaults(handler=cmd_serve)

    migrate = sub.add_parser("migrate", help="upgrade the database schema")
    migrate.add_argument("--revision", default="head")
    migrate.set_defaults(handler=cmd_migrate)

    seed = sub.add_parser("seed", help="load data")
    seed.add_argument("--demo", action="store_true", help="the demo network (idempotent)")
    seed.set_defaults(handler=cmd_seed)

    simulate = sub.add_parser("simulate", help="run simulated OCPP chargers against a server")
    simulate.add_argument("--url", default="ws://127.0.0.1:8000/ocpp")
    simulate.add_argument("--stations", type=int, default=5)
    simulate.add_argument("--protocol", choices=["1.6", "2.0.1", "mixed"], default="mixed")
    simulate.add_argument("--duration", type=float, default=None, help="seconds (default: forever)")
    simulate.add_argument("--seed", type=int, default=0)
    simulate.add_argument("--prefix", default="SIM", help="station ids are PREFIX-0001, ...")
    simulate.add_argument("--password", default=None)
    simulate.add_argument("--time-scale", type=float, default=1.0)
    simulate.set_defaults(handler=cmd_simulate)

    stations = sub.add_parser("stations", help="provision and list charging stations")
    st_sub = stations.add_subparsers(dest="action", required=True)
    st_add = st_sub.add_parser("add")
    st_add.add_argument("station_id")
    st_add.add_argument("--password", required=True, help="OCPP Basic-auth password, 16-40 chars")
    st_add.add_argument("--location", type=int, default=None, help="location id")
    st_add.add_argument("--evses", type=int, default=1)
    st_add.add_argument("--max-power-kw", type=int, default=22)
    st_add.add_argument("--dc", action="store_true", help="DC (CCS) instead of AC type 2")
    st_sub.add_parser("list")
    stations.set_defaults(handler=cmd_stations)

    locations = sub.add_parser("locations", help="add and list locations")
    loc_sub = locations.add_subparsers(dest="action", required=True)
    loc_add = loc_sub.add_parser("add")
    loc_add.add_argument("--name", required=True)
    loc_add.add_argument("--lat", type=float, required=True)
    loc_add.add_argument("--lng", type=float, required=True)
    loc_add.add_argument("--address", default="")
    loc_add.add_argument("--city", default="")
    loc_add.add_argument("--country", default="NLD")
    loc_add.add_argument("--time-zone", default="UTC")
    loc_sub.add_parser("list")
    locations.set_defaults(handler=cmd_locations)

    documents = sub.add_parser("documents", help="trusted documents (GRAPHQL_TRUSTED_DOCUMENTS)")
    doc_sub = documents.add_subparsers(dest="action", required=True)
    doc_hash = doc_sub.add_parser("hash", help="print the manifest of these .graphql files")
    doc_hash.add_argument("files", nargs="+", metavar="FILE.graphql")
    documents.set_defaults(handler=cmd_documents)

    from app.cli_access import add_parsers as add_access_parsers

    add_access_parsers(sub, _run_with_db)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if settings.log_level.lower() != "debug":
        # The ocpp package logs every frame at INFO; the message log keeps them anyway.
        logging.getLogger("ocpp").setLevel(logging.WARNING)
    handler: Handler = args.handler
    try:
        return handler(args, settings)
    except DomainError as exc:
        print(f"chargenet: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
