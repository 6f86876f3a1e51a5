"""OCPP security profile 2: TLS with a server certificate plus HTTP Basic, end to end.

uvicorn serves the app over TLS on 127.0.0.1 with a certificate from a throwaway CA (trustme),
as `chargenet serve --ssl-certfile --ssl-keyfile` does; a real OCPP 2.0.1 client trusts that
CA, authenticates and boots.
"""

import asyncio
import contextlib
import socket
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme
import uvicorn
import websockets
from sqlalchemy.ext.asyncio import AsyncEngine
from websockets.exceptions import InvalidStatus

from app.db.engine import SessionFactory
from app.db.models import ChargingStation
from app.settings import Settings
from tests.factories import make_station
from tests.ocpp.clients import PASSWORD, V201, Charger201, basic_auth, boot201

pytestmark = pytest.mark.e2e


@contextlib.asynccontextmanager
async def tls_server(settings: Settings, cert_file: Path, key_file: Path) -> AsyncIterator[int]:
    """The app under uvicorn with TLS on 127.0.0.1; yields the port."""
    from app.main import create_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    config = uvicorn.Config(
        create_app(settings),
        lifespan="on",
        log_level="warning",
        ws_ping_interval=None,
        ssl_certfile=str(cert_file),
        ssl_keyfile=str(key_file),
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(15):
            while not server.started:
                if task.done():
                    task.result()
                    raise RuntimeError("uvicorn exited before it started")
                await asyncio.sleep(0.01)
        yield port
    finally:
        server.should_exit = True
        async with asyncio.timeout(45):
            await task
        sock.close()


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def tls_port(
    settings: Settings, engine: AsyncEngine, ca: trustme.CA, tmp_path: Path
) -> AsyncIterator[int]:
    server_cert = ca.issue_cert("127.0.0.1")
    cert_file, key_file = tmp_path / "server.pem", tmp_path / "server.key"
    server_cert.cert_chain_pems[0].write_to_path(str(cert_file))
    for extra in server_cert.cert_chain_pems[1:]:
        extra.write_to_path(str(cert_file), append=True)
    server_cert.private_key_pem.write_to_path(str(key_file))
    async with tls_server(settings, cert_file, key_file) as port:
        yield port


def _client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ca.configure_trust(context)
    return context


async def test_a_charger_authenticates_and_boots_over_wss(
    tls_port: int, ca: trustme.CA, session_factory: SessionFactory
) -> None:
    await make_station(session_factory, station_id="CS-TLS")
    async with websockets.connect(
        f"wss://127.0.0.1:{tls_port}/ocpp/CS-TLS",
        subprotocols=[V201],  # type: ignore[list-item]
        additional_headers=basic_auth("CS-TLS", PASSWORD),
        ssl=_client_context(ca),
        open_timeout=10,
    ) as websocket:
        assert websocket.subprotocol == V201
        protocol = websocket.transport.get_extra_info("ssl_object").version()
        assert protocol in ("TLSv1.2", "TLSv1.3")
        charge_point = Charger201("CS-TLS", websocket, response_timeout=5)
        reader = asyncio.create_task(charge_point.start())
        try:
            answer = await boot201(charge_point)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, websockets.ConnectionClosed):
                await reader
    assert answer.status == "Accepted"
    async with session_factory() as db:
        station = await db.get(ChargingStation, "CS-TLS")
    assert station is not None
    assert station.vendor == "Acme"


async def test_over_tls_a_wrong_password_is_still_refused(
    tls_port: int, ca: trustme.CA, session_factory: SessionFactory
) -> None:
    await make_station(session_factory, station_id="CS-TLS-2")
    with pytest.raises(InvalidStatus) as refused:
        async with websockets.connect(
            f"wss://127.0.0.1:{tls_port}/ocpp/CS-TLS-2",
            subprotocols=[V201],  # type: ignore[list-item]
            additional_headers=basic_auth("CS-TLS-2", "not-the-password"),
            ssl=_client_context(ca),
            open_timeout=10,
        ):
            pass
    assert refused.value.response.status_code == 401


async def test_a_client_that_does_not_trust_the_ca_cannot_connect(tls_port: int) -> None:
    untrusted = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)  # system CAs only
    with pytest.raises(ssl.SSLCertVerificationError):
        async with websockets.connect(
            f"wss://127.0.0.1:{tls_port}/ocpp/CS-ANY",
            subprotocols=[V201],  # type: ignore[list-item]
            ssl=untrusted,
            open_timeout=10,
        ):
            pass
