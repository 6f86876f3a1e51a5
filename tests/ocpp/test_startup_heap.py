"""The OCPP endpoint freezes the heap startup built out of the cyclic collector (a full
collection walking ~200,000 startup objects stops the event loop for a tenth of a second or
more, and every connected station waits for its answer that long)."""

import subprocess
import sys

# A fresh interpreter: the test process may have frozen its heap already.
_SCRIPT = """
import asyncio, gc
from app.db.engine import create_engine, create_session_factory
from app.events import InProcessEventBus
from app.ocpp.endpoint import OcppServer
from app.ocpp.registry import StationRegistry
from app.settings import Settings

async def main() -> None:
    settings = Settings(database_url="sqlite+aiosqlite:///:memory:")
    engine = create_engine(settings.database_url)
    server = OcppServer(
        settings=settings, session_factory=create_session_factory(engine),
        bus=InProcessEventBus(), registry=StationRegistry(call_timeout_s=5.0),
    )
    before = gc.get_freeze_count()
    async with server:
        during = gc.get_freeze_count()
        garbage = []
        garbage.append(garbage)  # a cycle made after startup is still collected
        del garbage
        collected = gc.collect()
    await engine.dispose()
    print(before, during, collected)

asyncio.run(main())
"""


def test_the_heap_built_at_startup_is_frozen_once_the_endpoint_starts() -> None:
    done = subprocess.run(  # noqa: S603  (our own interpreter and script)
        [sys.executable, "-c", _SCRIPT], capture_output=True, text=True, timeout=120, check=True
    )
    before, during, collected = (int(x) for x in done.stdout.split())
    assert before == 0
    assert during > 50_000  # the modules, mappers and schemas the server imported
    assert collected >= 1
