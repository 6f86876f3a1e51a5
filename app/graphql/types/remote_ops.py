"""Remote operations' GraphQL types: the shared result union, enums, and the records they leave
(configuration as last read, firmware updates, diagnostics uploads)."""

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from app.db import models
from app.graphql.types.command import CommandPayload
from app.graphql.types.reservation import EvseNotFound


@strawberry.enum(description="SOFT restarts the software; HARD reboots the whole station.")
class ResetType(Enum):
    SOFT = "SOFT"
    HARD = "HARD"


@strawberry.enum(
    description="A message a station can be asked to send now (TriggerMessage). "
    "LOG_STATUS_NOTIFICATION is DiagnosticsStatusNotification on OCPP 1.6; "
    "TRANSACTION_EVENT exists on OCPP 2.0.1 only."
)
class TriggerableMessage(Enum):
    BOOT_NOTIFICATION = "BootNotification"
    HEARTBEAT = "Heartbeat"
    STATUS_NOTIFICATION = "StatusNotification"
    METER_VALUES = "MeterValues"
    FIRMWARE_STATUS_NOTIFICATION = "FirmwareStatusNotification"
    LOG_STATUS_NOTIFICATION = "LogStatusNotification"
    TRANSACTION_EVENT = "TransactionEvent"


@strawberry.type(description="No station with this id in the caller's network.")
class StationNotFound:
    message: str


@strawberry.type(description="The station has no open OCPP connection: nothing was sent.")
class StationNotConnected:
    message: str


@strawberry.type(description="A value of the input is malformed: `message` names it.")
class InvalidOperationInput:
    message: str


RemoteOperationResult = Annotated[
    CommandPayload | StationNotFound | EvseNotFound | StationNotConnected | InvalidOperationInput,
    strawberry.union(
        "RemoteOperationResult",
        description="A remote operation answers at once with its command (outcome on "
        "commandResult), or says why nothing was sent.",
    ),
]


@strawberry.type(description="One configuration key of a station, as last read or set.")
class ConfigurationEntry:
    key: str = strawberry.field(description="1.6 key name, or 2.0.1 Component.Variable.")
    value: str | None
    readonly: bool | None = strawberry.field(description="None: the station did not say.")
    read_at: datetime

    @classmethod
    def from_row(cls, row: models.StationConfigurationEntry) -> "ConfigurationEntry":
        return cls(key=row.key, value=row.value, readonly=row.readonly, read_at=row.read_at)


@strawberry.type(
    description="A firmware update job: `status` is the station's last FirmwareStatusNotification"
    " (Requested before the first); it ends at Installed or a failure (`finishedAt`)."
)
class FirmwareUpdate:
    command_id: strawberry.ID | None
    location: str
    retrieve_at: datetime
    status: str
    previous_version: str | None
    installed_version: str | None = strawberry.field(
        description="The version the station booted with after installing."
    )
    requested_by: str
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None

    @classmethod
    def from_row(cls, row: models.FirmwareUpdate) -> "FirmwareUpdate":
        return cls(
            command_id=strawberry.ID(row.command_id) if row.command_id else None,
            location=row.location,
            retrieve_at=row.retrieve_at,
            status=row.status,
            previous_version=row.previous_version,
            installed_version=row.installed_version,
            requested_by=row.requested_by,
            created_at=row.created_at,
            updated_at=row.updated_at,
            finished_at=row.finished_at,
        )


@strawberry.type(
    description="A diagnostics upload (1.6 GetDiagnostics, 2.0.1 GetLog): `status` is the "
    "station's last status notification; it ends at Uploaded or a failure."
)
class DiagnosticsUpload:
    command_id: strawberry.ID | None
    location: str
    status: str
    file_name: str | None
    requested_by: str
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None

    @classmethod
    def from_row(cls, row: models.DiagnosticsUpload) -> "DiagnosticsUpload":
        return cls(
            command_id=strawberry.ID(row.command_id) if row.command_id else None,
            location=row.location,
            status=row.status,
            file_name=row.file_name,
            requested_by=row.requested_by,
            created_at=row.created_at,
            updated_at=row.updated_at,
            finished_at=row.finished_at,
        )
