"""The stations connected to this process; implements the `StationCommander` port.

`app.ocpp.distributed.ClusterRegistry` extends it across instances when REDIS_URL is set.
"""

import logging
from types import TracebackType
from typing import Self

from app.domain.commands import CommandOutcome, StationCommand
from app.domain.errors import StationNotConnected
from app.ocpp.connection import StationConnection

log = logging.getLogger(__name__)


class StationRegistry:
    """Open connections by station id. A newer connection for an id replaces the older one."""

    def __init__(self, *, call_timeout_s: float) -> None:
        self.call_timeout_s = call_timeout_s
        self._connections: dict[str, StationConnection] = {}

    def __len__(self) -> int:
        return len(self._connections)

    def register(self, connection: StationConnection) -> StationConnection | None:
        """Make `connection` the station's current one; returns the one it replaces."""
        previous = self._connections.get(connection.station_id)
        self._connections[connection.station_id] = connection
        return previous if previous is not connection else None

    def unregister(self, connection: StationConnection) -> bool:
        """Forget `connection` if it is still current; False when a newer one replaced it."""
        if self._connections.get(connection.station_id) is connection:
            del self._connections[connection.station_id]
            return True
        return False

    async def attach(self, connection: StationConnection) -> StationConnection | None:
        """`register`, and tell the other instances (the endpoint calls this one)."""
        return self.register(connection)

    async def detach(self, connection: StationConnection) -> bool:
        """`unregister`; True when the station is really gone (not taken over by a newer socket,
        here or on another instance), so the caller records the disconnection."""
        return self.unregister(connection)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        return None

    def get(self, station_id: str) -> StationConnection | None:
        return self._connections.get(station_id)

    def is_connected(self, station_id: str) -> bool:
        return station_id in self._connections

    async def send(
        self, station_id: str, command: StationCommand, *, timeout_s: float | None = None
    ) -> CommandOutcome:
        """Send `command` to the station and wait for its answer (see `StationCommander`)."""
        connection = self._connections.get(station_id)
        if connection is None:
            raise StationNotConnected(station_id)
        return await connection.send_command(command, timeout_s=timeout_s or self.call_timeout_s)

    async def close_all(self, *, code: int = 1001, reason: str = "server shutting down") -> None:
        for connection in list(self._connections.values()):
            await connection.close(code=code, reason=reason)
