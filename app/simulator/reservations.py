"""Reservations on a simulated charger: ReserveNow / CancelReservation, 1.6 and 2.0.1.

An accepted reservation reports the EVSE Reserved; it ends when the CSMS cancels it (Available),
when its expiry passes on the charger's own clock (Available), or when its token starts a session
there (the start carries the reservationId).
"""

import asyncio
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ocpp.exceptions import OCPPError
from ocpp.v16 import call_result as result16
from ocpp.v201 import call_result as result201

from app.simulator.link import after, on
from app.simulator.model import EvseState, Hold
from app.simulator.steps import LINK_ERRORS

if TYPE_CHECKING:
    from app.simulator.station import SimulatedStation

log = logging.getLogger(__name__)

RESERVED = "Reserved"  # the same string in 1.6 and 2.0.1


def reserve(
    station: "SimulatedStation", evse_id: int, token: str, reservation_id: int, expires: str
) -> str:
    """Take a reservation; the answer is ReserveNow's status (a repeated id replaces it)."""
    evse = station.evses.get(evse_id)
    if evse is None:
        return "Rejected"
    if not evse.operative:
        return "Unavailable"
    held = evse.reservation
    busy = evse.transaction is not None or evse.vehicle is not None or evse.start_requests
    if busy or (held is not None and held.id != reservation_id):
        return "Occupied"
    expires_at = datetime.fromisoformat(expires.replace("Z", "+00:00"))
    evse.reservation = Hold(reservation_id, token, expires_at)
    return "Accepted"


def find(station: "SimulatedStation", reservation_id: int) -> EvseState | None:
    for evse in station.evses.values():
        if evse.reservation is not None and evse.reservation.id == reservation_id:
            return evse
    return None


def may_start(evse: EvseState, token: str) -> bool:
    """A reserved EVSE starts only for its reservation's token (case-insensitive, as idTags)."""
    return evse.reservation is None or evse.reservation.token.lower() == token.lower()


async def _report(station: "SimulatedStation", evse: EvseState, status: str) -> None:
    evse.status = status
    if station.online:
        try:
            await station.send_status(evse.id, status)
        except (*LINK_ERRORS, OCPPError) as exc:
            log.info("%s: status not sent: %r", station.station_id, exc)


async def hold(station: "SimulatedStation", evse: EvseState, held: Hold) -> None:
    """Report Reserved, then free the EVSE at the expiry unless something else ended it."""
    await _report(station, evse, RESERVED)
    delay = (held.expires_at - datetime.now(UTC)).total_seconds()
    await asyncio.sleep(max(0.0, delay))
    if evse.reservation is held:
        release(station, evse)


def release(station: "SimulatedStation", evse: EvseState) -> None:
    """Drop the EVSE's reservation and report it Available (if nothing else took it)."""
    evse.reservation = None
    evse.wake.set()  # the EVSE's loop may start random sessions again
    if evse.transaction is None and evse.vehicle is None and evse.status == RESERVED:
        station.spawn(_report(station, evse, "Available"))


def _after_reserve(station: "SimulatedStation", reservation_id: int) -> None:
    evse = find(station, reservation_id)
    if evse is not None and evse.reservation is not None:
        station.spawn(hold(station, evse, evse.reservation))


def _after_cancel(station: "SimulatedStation", reservation_id: int) -> None:
    evse = find(station, reservation_id)
    if evse is not None:
        release(station, evse)


def _sim(client: Any) -> "SimulatedStation":
    """The mixins' station (the ChargePoint subclass sets `station`, with its own type)."""
    station: SimulatedStation = client.station
    return station


class ReservationHandlers16:
    """OCPP 1.6 ReserveNow / CancelReservation, mixed into the simulator's ChargePoint."""

    @on("ReserveNow")
    def on_reserve_now(self, **p: Any) -> Any:
        _sim(self).answered("ReserveNow", p)
        status = reserve(
            _sim(self), p["connector_id"], p["id_tag"], p["reservation_id"], p["expiry_date"]
        )
        return result16.ReserveNow(status=status)

    @after("ReserveNow")
    def after_reserve_now(self, **p: Any) -> None:
        _after_reserve(_sim(self), p["reservation_id"])

    @on("CancelReservation")
    def on_cancel_reservation(self, **p: Any) -> Any:
        _sim(self).answered("CancelReservation", p)
        found = find(_sim(self), p["reservation_id"]) is not None
        return result16.CancelReservation(status="Accepted" if found else "Rejected")

    @after("CancelReservation")
    def after_cancel_reservation(self, **p: Any) -> None:
        _after_cancel(_sim(self), p["reservation_id"])


class ReservationHandlers201:
    """OCPP 2.0.1 ReserveNow / CancelReservation, mixed into the simulator's ChargePoint."""

    @on("ReserveNow")
    def on_reserve_now(self, **p: Any) -> Any:
        _sim(self).answered("ReserveNow", p)
        if p.get("evse_id") is None:  # "any EVSE" reservations are not simulated
            return result201.ReserveNow(status="Rejected")
        token = p["id_token"]["id_token"]
        status = reserve(_sim(self), p["evse_id"], token, p["id"], p["expiry_date_time"])
        return result201.ReserveNow(status=status)

    @after("ReserveNow")
    def after_reserve_now(self, **p: Any) -> None:
        _after_reserve(_sim(self), p["id"])

    @on("CancelReservation")
    def on_cancel_reservation(self, **p: Any) -> Any:
        _sim(self).answered("CancelReservation", p)
        found = find(_sim(self), p["reservation_id"]) is not None
        return result201.CancelReservation(status="Accepted" if found else "Rejected")

    @after("CancelReservation")
    def after_cancel_reservation(self, **p: Any) -> None:
        _after_cancel(_sim(self), p["reservation_id"])
