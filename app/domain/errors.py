"""The one tree of domain errors.

    DomainError
    ├── NotFound              a referenced object does not exist (names its kind and id)
    ├── InvalidInput          a value is out of range or malformed (names it and what was expected)
    ├── Conflict              the request clashes with current state (e.g. a duplicate id)
    ├── StationNotConnected   a command was sent to a station that has no open connection
    ├── CommandFailed         a station answered a command with an error, or not in time
    ├── Unauthenticated       no credentials, or credentials that are invalid or expired
    └── Forbidden             valid credentials that may not do this

Services raise these; GraphQL turns them into result-union members or masked errors; the OCPP
adapter answers with the protocol's statuses and CALLERRORs. Each has a stable `code`; GraphQL
errors raised from one carry it as `extensions.code` (graphql-core copies an exception's
`extensions` dict onto the error it wraps).
"""

from typing import ClassVar


class DomainError(Exception):
    """Base of every error a service raises on purpose."""

    code: ClassVar[str] = "DOMAIN_ERROR"

    @property
    def extensions(self) -> dict[str, str]:
        return {"code": self.code}


class NotFound(DomainError):
    code = "NOT_FOUND"

    def __init__(self, kind: str, key: object) -> None:
        super().__init__(f"{kind} {key!r} not found")
        self.kind = kind
        self.key = key


class InvalidInput(DomainError):
    code = "BAD_USER_INPUT"


class Conflict(DomainError):
    code = "CONFLICT"


class StationNotConnected(DomainError):
    code = "STATION_NOT_CONNECTED"

    def __init__(self, station_id: str) -> None:
        super().__init__(f"station {station_id!r} is not connected")
        self.station_id = station_id


class CommandFailed(DomainError):
    code = "COMMAND_FAILED"


class Unauthenticated(DomainError):
    code = "UNAUTHENTICATED"


class Forbidden(DomainError):
    code = "FORBIDDEN"
