"""OCPP abuse limits at their edges: handshake lockout, frame size, per-station message rate,
and a station acting only as itself."""

import base64
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from websockets.exceptions import InvalidStatus

from app.db.engine import SessionFactory
from app.db.models import ChargingStation, OcppMessageLog
from app.domain.enums import MessageDirection
from app.ocpp.auth import StationAuthenticator
from app.ocpp.limits import InMemoryFailureStore, LockoutPolicy, TokenBucket
from app.settings import Settings
from tests.conftest import LiveServer, serve
from tests.factories import make_station
from tests.ocpp.clients import PASSWORD, V16, V201, exchange, raw_socket


class Clock:
    """A hand-driven monotonic clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# -- lockout policy and store --------------------------------------------------------------------


async def test_the_fifth_failure_in_the_window_locks_and_locks_double_each_time() -> None:
    clock = Clock()
    store = InMemoryFailureStore(
        LockoutPolicy(max_failures=5, window_s=300, lockout_s=60, max_lockout_s=200), clock=clock
    )
    for _ in range(4):
        assert await store.record_failure("addr:x") == 0
    assert await store.retry_after("addr:x") == 0
    assert await store.record_failure("addr:x") == 60
    clock.now += 59
    assert await store.retry_after("addr:x") == pytest.approx(1)
    clock.now += 1
    assert await store.retry_after("addr:x") == 0
    for _ in range(4):
        assert await store.record_failure("addr:x") == 0
    assert await store.record_failure("addr:x") == 120  # second lockout doubles
    clock.now += 120
    for _ in range(5):
        locked = await store.record_failure("addr:x")
    assert locked == 200  # capped at max_lockout_s
    assert await store.retry_after("addr:other") == 0


async def test_failures_spread_wider_than_the_window_never_lock() -> None:
    clock = Clock()
    store = InMemoryFailureStore(LockoutPolicy(max_failures=3, window_s=10), clock=clock)
    for _ in range(10):
        assert await store.record_failure("station:CS") == 0
        clock.now += 5.1  # at most two failures inside any 10 s
    await store.record_failure("station:CS")
    assert await store.record_failure("station:CS") > 0  # three within 10 s: locked


async def test_forgiving_a_key_clears_its_failures() -> None:
    store = InMemoryFailureStore(LockoutPolicy(max_failures=2), clock=Clock())
    await store.record_failure("station:CS")
    await store.forgive("station:CS")
    assert await store.record_failure("station:CS") == 0


async def test_the_store_keeps_at_most_max_keys() -> None:
    store = InMemoryFailureStore(LockoutPolicy(max_failures=1), clock=Clock(), max_keys=3)
    for n in range(5):
        await store.record_failure(f"addr:{n}")
    assert [await store.retry_after(f"addr:{n}") > 0 for n in range(5)] == [
        False,
        False,
        True,
        True,
        True,
    ]


def test_token_bucket_lets_the_burst_through_then_the_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(rate_per_s=2.0, burst=3, clock=clock)
    assert [bucket.take() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take() == pytest.approx(0.5)
    clock.now += 0.5
    assert bucket.take() == 0.0
    assert bucket.take() == pytest.approx(0.5)
    clock.now += 100
    assert [bucket.take() for _ in range(4)][-1] > 0  # refills to the burst, no further


# -- the authenticator with a lockout -----------------------------------------------------------


async def test_a_locked_station_id_admits_only_an_already_verified_password(
    session_factory: SessionFactory,
) -> None:
    await make_station(session_factory, station_id="CS-LOCK", password="right-password-16")
    store = InMemoryFailureStore(LockoutPolicy(max_failures=3), clock=Clock())
    auth = StationAuthenticator(
        session_factory=session_factory, allow_unknown=False, failures=store
    )
    assert (await auth.check("CS-LOCK", _header("CS-LOCK", "right-password-16"), "10.0.0.1")).ok
    for n in range(3):  # an attacker from three addresses
        decision = await auth.check("CS-LOCK", _header("CS-LOCK", f"guess-{n}"), f"10.9.9.{n}")
        assert not decision.ok
        assert decision.retry_after_s == 0  # the failures themselves are plain 401s
    checks = auth.argon2_checks
    guess = await auth.check("CS-LOCK", _header("CS-LOCK", "guess-3"), "10.9.9.9")
    assert not guess.ok
    assert guess.retry_after_s > 0
    assert auth.argon2_checks == checks  # locked: no more guesses reach argon2
    real = await auth.check("CS-LOCK", _header("CS-LOCK", "right-password-16"), "10.0.0.1")
    assert real.ok  # the real station, verified before, still connects


async def test_a_locked_address_refuses_unverified_passwords_of_any_station(
    session_factory: SessionFactory,
) -> None:
    for name in ("CS-ADDR-1", "CS-ADDR-2"):
        await make_station(session_factory, station_id=name, password="right-password-16")
    store = InMemoryFailureStore(LockoutPolicy(max_failures=2), clock=Clock())
    auth = StationAuthenticator(
        session_factory=session_factory, allow_unknown=False, failures=store
    )
    for ghost in ("GHOST-1", "GHOST-2"):  # unknown ids count against the address
        assert not (await auth.check(ghost, _header(ghost, "x"), "10.1.1.1")).ok
    refused = await auth.check("CS-ADDR-2", _header("CS-ADDR-2", "right-password-16"), "10.1.1.1")
    assert not refused.ok
    assert refused.retry_after_s > 0
    other = await auth.check("CS-ADDR-2", _header("CS-ADDR-2", "right-password-16"), "10.2.2.2")
    assert other.ok


# -- end to end ----------------------------------------------------------------------------------


@pytest.fixture
def strict_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "ocpp_auth_max_failures": 3,
            "ocpp_rate_limit_per_s": 0.001,  # ~no refill during a test: the burst is the edge
            "ocpp_rate_limit_burst": 4,
            "ocpp_max_frame_bytes": 4096,
        }
    )


@pytest.fixture
async def strict_server(
    strict_settings: Settings, engine: AsyncEngine
) -> AsyncIterator[LiveServer]:
    from app.main import create_app

    async with serve(create_app(strict_settings)) as server:
        yield server


async def _status_of_handshake(server: LiveServer, station_id: str, password: str) -> int:
    with pytest.raises(InvalidStatus) as refused:
        async with raw_socket(server, station_id, password=password):
            pass
    response = refused.value.response
    if response.status_code == 429:
        assert int(response.headers["Retry-After"]) >= 1
    return response.status_code


@pytest.mark.e2e
async def test_repeated_failed_handshakes_get_429_with_retry_after(
    strict_server: LiveServer, session_factory: SessionFactory
) -> None:
    await make_station(session_factory, station_id="CS-E2E-LOCK")
    statuses = [
        await _status_of_handshake(strict_server, "CS-E2E-LOCK", "wrong-password-16")
        for _ in range(4)
    ]
    assert statuses == [401, 401, 401, 429]
    assert await _status_of_handshake(strict_server, "CS-E2E-LOCK", PASSWORD) == 429
    metrics = strict_server.app.state.metrics.registry
    assert metrics.get_sample_value("chargenet_ocpp_refused_total", {"reason": "lockout"}) == 2


@pytest.mark.e2e
async def test_a_station_cannot_connect_as_another(
    live_server: LiveServer, session_factory: SessionFactory
) -> None:
    await make_station(session_factory, station_id="CS-A", password="password-of-a-16")
    await make_station(session_factory, station_id="CS-B", password="password-of-b-16")
    # A's own credentials (username A) on B's URL
    assert await _status_of_handshake_as(live_server, "CS-B", "CS-A", "password-of-a-16") == 401
    # B's password under another username on B's URL: the username must be the station id
    assert await _status_of_handshake_as(live_server, "CS-B", "CS-A", "password-of-b-16") == 401
    async with raw_socket(live_server, "CS-B", password="password-of-b-16") as websocket:
        assert websocket.subprotocol == V16


async def _status_of_handshake_as(
    server: LiveServer, url_id: str, username: str, password: str
) -> int:
    import websockets

    with pytest.raises(InvalidStatus) as refused:
        async with websockets.connect(
            f"{server.ws_url}/ocpp/{url_id}",
            subprotocols=[V16],  # type: ignore[list-item]
            additional_headers={"Authorization": _header(username, password)},
            open_timeout=5,
        ):
            pass
    return int(refused.value.response.status_code)


def _heartbeat_of_size(unique_id: str, size: int) -> str:
    """A valid 1.6 Heartbeat CALL of exactly `size` bytes (JSON whitespace pads it)."""
    frame = f'[2,"{unique_id}","Heartbeat",{{}}'
    return frame + " " * (size - len(frame) - 1) + "]"


@pytest.mark.e2e
async def test_frame_size_limit_edge_and_the_connection_stays(
    strict_server: LiveServer, session_factory: SessionFactory
) -> None:
    await make_station(session_factory, station_id="CS-SIZE")
    async with raw_socket(strict_server, "CS-SIZE") as websocket:
        at_limit = await exchange(websocket, _heartbeat_of_size("at-limit", 4096))
        assert at_limit[0] == 3
        assert at_limit[1] == "at-limit"
        over = await exchange(websocket, _heartbeat_of_size("over", 4097))
        assert over[:3] == [4, "over", "FormationViolation"]
        assert "4097 bytes exceeds the limit of 4096" in over[3]
        after = await exchange(websocket, '[2,"after","Heartbeat",{}]')
        assert after[:2] == [3, "after"]


@pytest.mark.e2e
async def test_a_station_over_its_message_rate_gets_callerrors_others_do_not(
    strict_server: LiveServer, session_factory: SessionFactory
) -> None:
    await make_station(session_factory, station_id="CS-FAST")
    await make_station(session_factory, station_id="CS-CALM")
    async with (
        raw_socket(strict_server, "CS-FAST") as fast,
        raw_socket(strict_server, "CS-CALM", subprotocols=(V201,)) as calm,
    ):
        answers = [await exchange(fast, f'[2,"hb-{n}","Heartbeat",{{}}]') for n in range(5)]
        assert [a[0] for a in answers] == [3, 3, 3, 3, 4]  # burst 4, then refused
        refused = answers[-1]
        assert refused[1:3] == ["hb-4", "GenericError"]
        assert refused[3].startswith("rate limit exceeded")
        assert refused[4]["retryAfterS"] > 0
        # the other station has its own bucket
        calm_answer = await exchange(calm, '[2,"c-1","Heartbeat",{}]')
        assert calm_answer[:2] == [3, "c-1"]
        again = await exchange(fast, '[2,"hb-5","Heartbeat",{}]')
        assert again[:3] == [4, "hb-5", "GenericError"]
    # reconnecting does not refill the bucket
    async with raw_socket(strict_server, "CS-FAST") as fast:
        assert (await exchange(fast, '[2,"hb-6","Heartbeat",{}]'))[0] == 4
    metrics = strict_server.app.state.metrics.registry
    assert metrics.get_sample_value("chargenet_ocpp_refused_total", {"reason": "rate_limit"}) == 3
    await strict_server.runtime.ocpp.message_log.flush()
    async with session_factory() as db:
        logged = (
            await db.exec(
                select(OcppMessageLog.unique_id).where(
                    OcppMessageLog.station_id == "CS-FAST",
                    OcppMessageLog.direction == MessageDirection.OUTBOUND,
                    col(OcppMessageLog.error_code) == "GenericError",
                )
            )
        ).all()
        station = await db.get(ChargingStation, "CS-FAST")
    assert sorted(logged) == ["hb-4", "hb-5", "hb-6"]
    assert station is not None
