"""Limits pushed ahead: a coming drop is already in the station-max and default schedules the
stations hold, re-sent only when the limits ahead move."""

from datetime import timedelta

from app.db.engine import SessionFactory
from app.db.models import CapacityNode
from app.events import InProcessEventBus
from app.loadmgmt.ahead import Schedule
from app.loadmgmt.scheduler import LoadScheduler
from app.services.capacity import set_capacity_limit
from app.settings import Settings
from tests.loadmgmt.test_sites import NOW, Stations, make_site


def test_a_schedule_rounds_a_drop_early_and_a_rise_late() -> None:
    start = NOW + timedelta(seconds=0.4)
    plan = Schedule(((start, 32.0), (start + timedelta(seconds=99.5), 13.0),
                     (start + timedelta(seconds=200.5), 32.0)))  # fmt: skip
    assert plan.later_periods(start) == ((99, 13.0), (201, 32.0))
    later = start + timedelta(seconds=150)
    assert plan.seen_from(later) == ((later, 13.0), (start + timedelta(seconds=200.5), 32.0))


async def test_a_drop_ahead_is_in_the_profiles_before_it_starts(
    settings: Settings, session_factory: SessionFactory
) -> None:
    circuit = await make_site(session_factory, "AHD", charging=0)
    stations = Stations()
    clock = [NOW]
    loop = LoadScheduler(
        settings=settings, session_factory=session_factory, bus=InProcessEventBus(),
        commander=stations, clock=lambda: clock[0],
    )  # fmt: skip
    await loop.recompute()
    first = {(s, c.station_max): c for s, c in stations.sent}
    assert first[("AHD-0", True)].limit_a == 32.0
    assert first[("AHD-0", True)].later_periods == ()
    assert first[("AHD-0", False)].limit_a == 16.0  # two EVSEs on 32 A
    stations.sent.clear()
    await set_capacity_limit(
        session_factory=session_factory, bus=InProcessEventBus(), node_id=circuit,
        valid_from=NOW + timedelta(minutes=30), valid_to=NOW + timedelta(minutes=90),
        now=NOW, limit_a=13.0,
    )  # fmt: skip
    clock[0] = NOW + timedelta(minutes=1)
    await loop.recompute()
    sent = {(s, c.station_max): c for s, c in stations.sent}
    assert set(sent) == {("AHD-0", True), ("AHD-1", True), ("AHD-0", False), ("AHD-1", False)}
    cap = sent[("AHD-0", True)]
    assert (cap.ocpp_evse_id, cap.starts_at, cap.limit_a) == (0, clock[0], 32.0)
    assert cap.later_periods == ((29 * 60, 13.0), (89 * 60, 32.0))
    default = sent[("AHD-0", False)]
    assert (default.ocpp_evse_id, default.starts_at, default.limit_a) == (1, clock[0], 16.0)
    assert default.later_periods == ((29 * 60, 6.5), (89 * 60, 16.0))  # 13 A over two EVSEs
    stations.sent.clear()
    async with session_factory() as db:  # the site changes, but not its limits
        node = await db.get(CapacityNode, circuit)
        assert node is not None
        node.name = "renamed circuit"
        db.add(node)
        await db.commit()
    clock[0] = NOW + timedelta(minutes=10)  # and time passes: the same limits ahead
    await loop.recompute()
    assert set(loop.solved_sites) == {circuit}  # the site was recomputed
    assert loop.profiles.station_max["AHD-0"].at(NOW + timedelta(minutes=45)) == 13.0
    assert stations.sent == []


async def test_running_sessions_carry_the_coming_drop_in_their_tx_profiles(
    settings: Settings, session_factory: SessionFactory
) -> None:
    """A TxProfile overrides the default profile: each session's own schedule must hold the
    drop too, so both sessions together fit the 13 A even if the backend is away then."""
    circuit = await make_site(session_factory, "TXA", charging=2)
    stations = Stations()
    clock = [NOW]
    loop = LoadScheduler(
        settings=settings, session_factory=session_factory, bus=InProcessEventBus(),
        commander=stations, clock=lambda: clock[0],
    )  # fmt: skip
    await loop.recompute()
    before = {s: c for s, c in stations.sent if c.transaction_id}
    assert set(before) == {"TXA-0", "TXA-1"}
    assert all(c.later_periods == () and (c.limit_a or 0) > 6.5 for c in before.values())
    stations.sent.clear()
    await set_capacity_limit(
        session_factory=session_factory, bus=InProcessEventBus(), node_id=circuit,
        valid_from=NOW + timedelta(minutes=30), valid_to=NOW + timedelta(minutes=90),
        now=NOW, limit_a=13.0,
    )  # fmt: skip
    clock[0] = NOW + timedelta(minutes=1)
    await loop.recompute()
    tx = {s: c for s, c in stations.sent if c.transaction_id}
    assert set(tx) == {"TXA-0", "TXA-1"}  # limits now unchanged, schedules ahead moved
    for station_id, command in tx.items():
        assert (command.limit_a, command.starts_at) == (before[station_id].limit_a, clock[0])
        # At the drop each is held to its safe share (6.5 + 6.5 = 13 A); after it, its own.
        after = min(command.limit_a or 0.0, 16.0)
        assert command.later_periods == ((29 * 60, 6.5), (89 * 60, after))
    stations.sent.clear()
    await loop.recompute()
    assert stations.sent == []
