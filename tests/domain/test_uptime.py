"""Port uptime per NEVI 23 CFR 680.116(b) from known interval histories: exact percentages."""

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.enums import EvseStatus
from app.domain.uptime import Span, StatusSpan, UptimeBreakdown, port_uptime, worst

T0 = datetime(2026, 1, 1, tzinfo=UTC)
WINDOW = Span(T0, T0 + timedelta(hours=100))
A, C, F, U = (
    EvseStatus.AVAILABLE,
    EvseStatus.CHARGING,
    EvseStatus.OUTOFORDER,
    EvseStatus.INOPERATIVE,
)


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def statuses(*spans: tuple[EvseStatus, float, float | None]) -> list[StatusSpan]:
    return [StatusSpan(s, h(a), h(b) if b is not None else None) for s, a, b in spans]


CASES = [
    # (statuses, offline, excluded, expected uptime %, expected outage hours, excluded hours)
    ([(A, 0, None)], [], [], 100.0, 0, 0),
    ([(A, 0, 50), (C, 50, None)], [], [], 100.0, 0, 0),
    ([(A, 0, 10), (F, 10, 13), (A, 13, None)], [], [], 97.0, 3, 0),
    ([(A, 0, 10), (U, 10, 20), (A, 20, None)], [], [], 90.0, 10, 0),
    # Offline station: the port is down even though its last status was AVAILABLE.
    ([(A, 0, None)], [(40, 45)], [], 95.0, 5, 0),
    # No report for the first 2 hours: unknown counts as outage.
    ([(A, 2, None)], [], [], 98.0, 2, 0),
    # Maintenance covering the whole fault: forgiven, µ back to 100.
    ([(A, 0, 10), (F, 10, 14), (A, 14, None)], [], [(9, 15)], 100.0, 4, 4),
    # Maintenance covering half the fault; maintenance while up changes nothing.
    ([(A, 0, 10), (F, 10, 14), (A, 14, None)], [], [(12, 20)], 98.0, 4, 2),
    # Offline and faulted at once count once; an excluded grid outage forgives the offline part.
    ([(A, 0, 10), (F, 10, 20), (A, 20, None)], [(15, 25)], [(20, 25)], 90.0, 15, 5),
    # Overlapping exclusions do not double count.
    ([(A, 0, 10), (F, 10, 20), (A, 20, None)], [], [(10, 15), (12, 18)], 98.0, 10, 8),
    # Intervals outside the window are clipped.
    ([(F, -10, 5), (A, 5, 200)], [(-5, 1)], [], 95.0, 5, 0),
]


@pytest.mark.parametrize(
    ("spans", "offline", "excluded", "percent", "outage_h", "excluded_h"),
    CASES,
    ids=[
        "always-up", "charging-is-up", "3h-fault", "10h-inoperative", "5h-offline",
        "2h-unreported", "fault-in-maintenance", "half-in-maintenance", "offline-and-faulted",
        "overlapping-exclusions", "clipped-to-window",
    ],
)  # fmt: skip
def test_port_uptime_follows_the_nevi_formula(
    spans: list[tuple[EvseStatus, float, float | None]],
    offline: list[tuple[float, float]],
    excluded: list[tuple[float, float]],
    percent: float,
    outage_h: float,
    excluded_h: float,
) -> None:
    result = port_uptime(
        window=WINDOW,
        statuses=statuses(*spans),
        offline=[Span(h(a), h(b)) for a, b in offline],
        excluded=[Span(h(a), h(b)) for a, b in excluded],
    )
    assert result.uptime_percent == percent
    assert result.outage_s == outage_h * 3600
    assert result.excluded_s == excluded_h * 3600
    assert result.up_s + result.outage_s == result.window_s


def test_breakdown_splits_outage_by_cause() -> None:
    result = port_uptime(
        window=WINDOW,
        statuses=statuses((A, 1, 10), (F, 10, 20), (A, 20, None)),
        offline=[Span(h(15), h(25))],
    )
    assert (result.unknown_s, result.faulted_s, result.offline_s) == (3600, 5 * 3600, 10 * 3600)
    assert result.outage_s == 16 * 3600


def test_a_window_without_an_end_is_refused() -> None:
    with pytest.raises(ValueError, match="expected an end"):
        port_uptime(window=Span(T0, None), statuses=[])


def test_worst_ranks_the_lowest_uptime_first() -> None:
    def outage(hours: float) -> UptimeBreakdown:
        return port_uptime(window=WINDOW, statuses=statuses((A, hours, None)))

    ranked = worst([("a", outage(1)), ("b", outage(7)), ("c", outage(0))], limit=2)
    assert [key for key, _ in ranked] == ["b", "a"]


BOTH_FIGURES = [
    # (statuses, offline, excluded, NEVI µ, excluded-removed-from-denominator figure)
    ([(A, 0, 10), (F, 10, 13), (A, 13, None)], [], [], 97.0, 97.0),
    # Maintenance covering the whole 4 h fault: µ forgives it, the other drops 4 h from T.
    ([(A, 0, 10), (F, 10, 14), (A, 14, None)], [], [(9, 15)], 100.0, 100.0),
    # Half the fault in maintenance: µ = (100 - (4 - 2)) / 100; other = 96 / (100 - 2).
    ([(A, 0, 10), (F, 10, 14), (A, 14, None)], [], [(12, 20)], 98.0, 97.9592),
    # Grid outage flagged over the offline part: µ = 90; other = 85 / (100 - 5).
    ([(A, 0, 10), (F, 10, 20), (A, 20, None)], [(15, 25)], [(20, 25)], 90.0, 89.4737),
    # Two exclusions, one while up (forgives nothing): µ = 98; other = 90 / (100 - 8).
    ([(A, 0, 10), (F, 10, 20), (A, 20, None)], [], [(10, 15), (12, 18), (50, 60)], 98.0, 97.8261),
    # Everything excluded: both 100 (nothing left to measure).
    ([(F, 0, None)], [], [(0, 100)], 100.0, 100.0),
]


@pytest.mark.parametrize(
    ("spans", "offline", "excluded", "nevi", "removed"),
    BOTH_FIGURES,
    ids=["no-exclusion", "all-in-maintenance", "half-in-maintenance", "grid-outage",
         "exclusion-while-up", "all-excluded"],
)  # fmt: skip
def test_nevi_and_excluded_removed_figures(
    spans: list[tuple[EvseStatus, float, float | None]],
    offline: list[tuple[float, float]],
    excluded: list[tuple[float, float]],
    nevi: float,
    removed: float,
) -> None:
    result = port_uptime(
        window=WINDOW,
        statuses=statuses(*spans),
        offline=[Span(h(a), h(b)) for a, b in offline],
        excluded=[Span(h(a), h(b)) for a, b in excluded],
    )
    assert (result.uptime_percent, result.excluded_removed_percent) == (nevi, removed)
