"""Remote operations on a simulated charger: ClearCache, UpdateFirmware and diagnostics uploads
(1.6 GetDiagnostics, 2.0.1 GetLog), with their status notifications, time-scaled.

A firmware update waits for its retrieve time (wall clock), then reports Downloading,
Downloaded, Installing, reboots (the socket closes; the run loop reconnects) and boots with the
new version, then reports Installed. The new version is the last `1.2.3`-like number in the
location URL, else the current one with its last part bumped. A location containing
`fail-download` or `fail-install` ends in DownloadFailed or InstallationFailed instead.
An upload reports Uploading, then Uploaded (`fail-upload`: the failure) — nothing is really
transferred: the simulator never contacts the location.
"""

import asyncio
import logging
import re
from datetime import UTC, datetime
from typing import Any

from ocpp.exceptions import OCPPError
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201

from app.simulator.link import after, on
from app.simulator.station import SimulatedStation
from app.simulator.steps import LINK_ERRORS

log = logging.getLogger(__name__)

DOWNLOAD_S = 60.0  # simulated seconds to download an image
INSTALL_S = 30.0  # simulated seconds to install it, before the reboot
UPLOAD_S = 20.0  # simulated seconds to upload diagnostics
_VERSION = re.compile(r"\d+(?:\.\d+)+")


def new_version(location: str, current: str) -> str:
    """The version an image at `location` installs (see the module docstring)."""
    found = _VERSION.findall(location.rsplit("/", 1)[-1]) or _VERSION.findall(location)
    if found:
        return str(found[-1])[:50]
    head, _, last = current.rpartition(".")
    if last.isdigit():
        return f"{head}.{int(last) + 1}" if head else str(int(last) + 1)
    return f"{current}.1"[:50]


def _sim(client: Any) -> SimulatedStation:
    station: SimulatedStation = client.station
    return station


async def _pause(station: SimulatedStation, simulated_s: float) -> None:
    await asyncio.sleep(simulated_s / station.time_scale)


async def _notify(
    station: SimulatedStation, kind: str, status: str, request_id: int | None
) -> None:
    """FirmwareStatusNotification or the upload's notification, in the station's protocol."""
    state = station.operations
    if kind == "firmware":
        state.firmware_status, state.firmware_request_id = status, request_id
    else:
        state.upload_status, state.upload_request_id = status, request_id
    payload: Any
    if station.protocol == "1.6":
        payload = (
            call16.FirmwareStatusNotification(status=status)
            if kind == "firmware"
            else call16.DiagnosticsStatusNotification(status=status)
        )
    elif kind == "firmware":
        payload = call201.FirmwareStatusNotification(status=status, request_id=request_id)
    else:
        payload = call201.LogStatusNotification(status=status, request_id=request_id)
    try:
        await station.call(payload)
    except (*LINK_ERRORS, OCPPError) as exc:
        log.info("%s: %s %s not sent: %r", station.station_id, kind, status, exc)


async def report_status(station: SimulatedStation, kind: str) -> None:
    """TriggerMessage of a firmware or upload status: the one in progress, else Idle."""
    state = station.operations
    if kind == "firmware":
        status, request_id = state.firmware_status, state.firmware_request_id
        done = status in ("Installed", "DownloadFailed", "InstallationFailed")
    else:
        status, request_id = state.upload_status, state.upload_request_id
        done = status in ("Uploaded", "UploadFailed", "UploadFailure")
    await _notify(station, kind, "Idle" if done else status, None if done else request_id)


async def update_firmware(
    station: SimulatedStation, location: str, retrieve_at: str, request_id: int | None
) -> None:
    """The whole update (see the module docstring); runs on the connection that received it."""
    at = datetime.fromisoformat(retrieve_at.replace("Z", "+00:00"))
    await asyncio.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds()))
    await _notify(station, "firmware", "Downloading", request_id)
    await _pause(station, DOWNLOAD_S)
    if "fail-download" in location:
        await _notify(station, "firmware", "DownloadFailed", request_id)
        return
    await _notify(station, "firmware", "Downloaded", request_id)
    await _notify(station, "firmware", "Installing", request_id)
    await _pause(station, INSTALL_S)
    if "fail-install" in location:
        await _notify(station, "firmware", "InstallationFailed", request_id)
        return
    station.firmware = new_version(location, station.firmware)

    async def installed() -> None:
        await _notify(station, "firmware", "Installed", request_id)

    station.operations.report_after_boot = installed
    if station.protocol != "1.6":
        station.boot_reason = "FirmwareUpdate"  # type: ignore[attr-defined]
    # The base class's reset: 2.0.1's own would report the boot as a RemoteReset.
    await SimulatedStation.reset(station, hard=False)


async def upload_diagnostics(
    station: SimulatedStation, location: str, request_id: int | None
) -> None:
    await _notify(station, "upload", "Uploading", request_id)
    await _pause(station, UPLOAD_S)
    station.operations.uploads += 1
    if "fail-upload" in location:
        failed = "UploadFailed" if station.protocol == "1.6" else "UploadFailure"
        await _notify(station, "upload", failed, request_id)
        return
    await _notify(station, "upload", "Uploaded", request_id)


def _file_name(station: SimulatedStation) -> str:
    return f"{station.station_id}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.log"


class OperationHandlers16:
    """OCPP 1.6 ClearCache, UpdateFirmware, GetDiagnostics, mixed into the simulator's client."""

    @on("ClearCache")
    def on_clear_cache(self, **p: Any) -> Any:
        _sim(self).answered("ClearCache", p)
        _sim(self).operations.cache_clears += 1
        return result16.ClearCache(status="Accepted")

    @on("UpdateFirmware")
    def on_update_firmware(self, **p: Any) -> Any:
        _sim(self).answered("UpdateFirmware", p)
        return result16.UpdateFirmware()

    @after("UpdateFirmware")
    def after_update_firmware(self, **p: Any) -> None:
        station = _sim(self)
        station.spawn(update_firmware(station, p["location"], p["retrieve_date"], None))

    @on("GetDiagnostics")
    def on_get_diagnostics(self, **p: Any) -> Any:
        _sim(self).answered("GetDiagnostics", p)
        return result16.GetDiagnostics(file_name=_file_name(_sim(self)))

    @after("GetDiagnostics")
    def after_get_diagnostics(self, **p: Any) -> None:
        station = _sim(self)
        station.spawn(upload_diagnostics(station, p["location"], None))


class OperationHandlers201:
    """OCPP 2.0.1 ClearCache, UpdateFirmware, GetLog, mixed into the simulator's client."""

    @on("ClearCache")
    def on_clear_cache(self, **p: Any) -> Any:
        _sim(self).answered("ClearCache", p)
        _sim(self).operations.cache_clears += 1
        return result201.ClearCache(status="Accepted")

    @on("UpdateFirmware")
    def on_update_firmware(self, **p: Any) -> Any:
        _sim(self).answered("UpdateFirmware", p)
        return result201.UpdateFirmware(status="Accepted")

    @after("UpdateFirmware")
    def after_update_firmware(self, **p: Any) -> None:
        station, firmware = _sim(self), p["firmware"]
        station.spawn(
            update_firmware(
                station, firmware["location"], firmware["retrieve_date_time"], p["request_id"]
            )
        )

    @on("GetLog")
    def on_get_log(self, **p: Any) -> Any:
        _sim(self).answered("GetLog", p)
        return result201.GetLog(status="Accepted", filename=_file_name(_sim(self)))

    @after("GetLog")
    def after_get_log(self, **p: Any) -> None:
        station = _sim(self)
        station.spawn(upload_diagnostics(station, p["log"]["remote_location"], p["request_id"]))
