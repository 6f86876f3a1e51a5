"""Remote operations' records: firmware updates, diagnostics uploads, configuration as last read."""

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.db.models import base as _base  # noqa: F401  (naming convention first)
from app.db.types import utc_column, utcnow


class FirmwareUpdate(SQLModel, table=True):
    """One UpdateFirmware job, followed through FirmwareStatusNotification to its end state.

    `id` is the 2.0.1 requestId; 1.6 notifications carry none and go to the station's newest
    unfinished job. `status` is the station's last word (Downloading, Installed, ...), or
    Requested before the first; `finished_at` is set at an end state (Installed or a failure).
    """

    __tablename__ = "firmware_update"

    id: int | None = Field(default=None, primary_key=True)
    station_id: str = Field(foreign_key="charging_station.id", max_length=48, index=True)
    command_id: str | None = Field(default=None, foreign_key="remote_command.id", max_length=36)
    location: str = Field(max_length=512)
    retrieve_at: datetime = Field(sa_column=utc_column(nullable=False))
    status: str = Field(default="Requested", max_length=40)
    previous_version: str | None = Field(default=None, max_length=50)
    installed_version: str | None = Field(default=None, max_length=50)
    requested_by: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=utc_column())


class DiagnosticsUpload(SQLModel, table=True):
    """One diagnostics upload (1.6 GetDiagnostics, 2.0.1 GetLog) followed through its status
    notifications (1.6 DiagnosticsStatusNotification, 2.0.1 LogStatusNotification)."""

    __tablename__ = "diagnostics_upload"

    id: int | None = Field(default=None, primary_key=True)
    station_id: str = Field(foreign_key="charging_station.id", max_length=48, index=True)
    command_id: str | None = Field(default=None, foreign_key="remote_command.id", max_length=36)
    location: str = Field(max_length=512)
    status: str = Field(default="Requested", max_length=40)
    file_name: str | None = Field(default=None, max_length=255)
    requested_by: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=utc_column())


class StationConfigurationEntry(SQLModel, table=True):
    """One configuration key of a station as last read (or successfully set), with when.

    Keys are 1.6 key names or 2.0.1 `Component.Variable`. `readonly` is None when the station
    did not say (2.0.1 GetVariables does not).
    """

    __tablename__ = "station_configuration"
    station_id: str = Field(foreign_key="charging_station.id", max_length=48, primary_key=True)
    key: str = Field(max_length=120, primary_key=True)
    value: str | None = Field(default=None, max_length=1000)
    readonly: bool | None = Field(default=None)
    read_at: datetime = Field(sa_column=utc_column(nullable=False))
