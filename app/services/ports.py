"""Ports: the interfaces services call and adapters implement (wired in `app.main`)."""

from typing import Protocol

from app.domain.commands import CommandOutcome, StationCommand


class StationCommander(Protocol):
    """Sends commands to connected charging stations (implemented by the OCPP registry)."""

    def is_connected(self, station_id: str) -> bool: ...

    async def send(
        self, station_id: str, command: StationCommand, *, timeout_s: float | None = None
    ) -> CommandOutcome:
        """Send `command` and wait for the station's answer.

        Raises `StationNotConnected` when the station has no open connection. A station that
        does not answer within the timeout gives `CommandStatus.TIMEOUT`, not an exception.
        """
        ...
