"""The capacity tree compiles to exact phasor constraints: angles, lines, limits, base load."""

import cmath
import math

import pytest

from app.db.models import CapacityNode
from app.db.models.capacity import CapacityNodeKind, PhaseRotation, PhaseWiring
from app.domain.allocation import constraint_currents
from app.domain.errors import InvalidInput
from app.services.capacity_compiler import compile_site, pinned, safe_defaults

V = 230.0


def tree(
    *wirings: PhaseWiring,
    limit_a: float | None = 32.0,
    limit_w: int | None = None,
    base_load_a: float = 0.0,
) -> list[CapacityNode]:
    """A circuit (node 1) with one EVSE node per wiring (nodes 10.., EVSE ids 100..)."""
    circuit = CapacityNode(
        id=1, kind=CapacityNodeKind.CIRCUIT, name="circuit", limit_a=limit_a, limit_w=limit_w,
        base_load_a=base_load_a,
    )  # fmt: skip
    nodes = [circuit]
    for n, wiring in enumerate(wirings):
        nodes.append(
            CapacityNode(
                id=10 + n, parent_id=1, kind=CapacityNodeKind.EVSE, name=f"evse {n}",
                evse_id=100 + n, phases=wiring, max_current_a=32.0,
            )
        )  # fmt: skip
    return nodes


@pytest.mark.parametrize(
    ("wiring", "angle"),
    [
        pytest.param(PhaseWiring.L1, 0.0, id="L1"),
        pytest.param(PhaseWiring.L2, -120.0, id="L2"),
        pytest.param(PhaseWiring.L3, 120.0, id="L3"),
        pytest.param(PhaseWiring.L1L2, 30.0, id="L1-L2"),
        pytest.param(PhaseWiring.L2L3, -90.0, id="L2-L3"),
        pytest.param(PhaseWiring.L3L1, 150.0, id="L3-L1"),
    ],
)
def test_single_phase_evses_get_the_angle_of_the_current_they_draw(
    wiring: PhaseWiring, angle: float
) -> None:
    site = compile_site(tree(wiring, PhaseWiring.L1), voltage_v=V)
    assert site.network.evses[0].phase_angle_deg == angle
    assert not site.uniform_angle


def test_each_limited_node_binds_every_line_it_feeds() -> None:
    site = compile_site(tree(PhaseWiring.L1, PhaseWiring.L2, PhaseWiring.L1L2), voltage_v=V)
    by_name = {c.name: dict(c.coeffs) for c in site.network.constraints}
    assert by_name == {
        "circuit#1/L1": {"100": 1.0, "102": 1.0},
        "circuit#1/L2": {"101": 1.0, "102": -1.0},
    }
    assert all(c.limit_a == 32.0 for c in site.network.constraints)


def test_phasor_sums_are_the_line_currents() -> None:
    """A line-to-line load between L1 and L2 and a load on L2: the L2 current is their phasor
    difference, which the compiled constraint measures exactly."""
    site = compile_site(tree(PhaseWiring.L2, PhaseWiring.L1L2), voltage_v=V)
    currents = constraint_currents(site.network, [10.0, 10.0])
    expected_l2 = abs(10 * cmath.rect(1, math.radians(-120)) - 10 * cmath.rect(1, math.radians(30)))
    by_name = dict(zip((c.name for c in site.network.constraints), currents, strict=True))
    assert by_name["circuit#1/L2"] == pytest.approx(expected_l2)
    assert by_name["circuit#1/L1"] == pytest.approx(10.0)
    assert expected_l2 == pytest.approx(10 * math.sqrt(2 + math.sqrt(3)))  # more than either


def test_three_phase_evses_count_on_every_line_as_plain_sums() -> None:
    site = compile_site(tree(PhaseWiring.L1L2L3, PhaseWiring.L1L2L3, PhaseWiring.L2), voltage_v=V)
    assert site.uniform_angle
    assert {e.phase_angle_deg for e in site.network.evses} == {0.0}
    currents = constraint_currents(site.network, [10.0, 12.0, 8.0])
    assert currents == pytest.approx([22.0, 30.0, 22.0])  # L1, L2 (+ the L2 EVSE), L3
    assert site.evses[100].number_phases == 3
    assert site.evses[100].voltage_v == 3 * V


def test_a_three_phase_evse_with_rotation_keeps_its_angle_on_single_phase_sites() -> None:
    nodes = tree(PhaseWiring.L1)
    site = compile_site(nodes, voltage_v=V)
    assert site.network.evses[0].phase_angle_deg == 0.0
    rotated = CapacityNode(
        id=11, parent_id=1, kind=CapacityNodeKind.EVSE, name="rotated", evse_id=101,
        phases=PhaseWiring.L1L2L3, phase_rotation=PhaseRotation.STR,
    )  # fmt: skip
    site = compile_site([*nodes, rotated], voltage_v=V)
    assert site.uniform_angle  # exact plain sums instead of a wrong phasor


def test_three_phase_and_line_to_line_on_one_site_is_refused() -> None:
    with pytest.raises(InvalidInput, match="three-phase and line-to-line"):
        compile_site(tree(PhaseWiring.L1L2L3, PhaseWiring.L1L2), voltage_v=V)


def test_base_load_and_the_lowest_limit_in_force_reduce_the_room() -> None:
    nodes = tree(PhaseWiring.L1L2L3, base_load_a=4.0)
    site = compile_site(nodes, voltage_v=V, overrides={1: [(20.0, None), (25.0, None)]})
    assert [c.limit_a for c in site.network.constraints] == [16.0, 16.0, 16.0]


def test_a_watt_limit_on_a_three_phase_site_is_one_exact_power_constraint() -> None:
    site = compile_site(
        tree(PhaseWiring.L1L2L3, PhaseWiring.L1, limit_a=None, limit_w=11_040), voltage_v=V
    )
    (power,) = site.network.constraints
    assert dict(power.coeffs) == {"100": 3.0, "101": 1.0}
    assert power.limit_a == pytest.approx(48.0)


def test_safe_defaults_fit_all_evses_at_once_and_respect_the_6_a_floor() -> None:
    three = compile_site(
        tree(PhaseWiring.L1L2L3, PhaseWiring.L1L2L3, PhaseWiring.L1L2L3), voltage_v=V
    )
    assert safe_defaults(three) == {100: 10.6, 101: 10.6, 102: 10.6}
    crowded = compile_site(tree(*[PhaseWiring.L1] * 6, limit_a=32.0), voltage_v=V)
    assert set(safe_defaults(crowded).values()) == {0.0}  # 5.33 A each cannot be signalled


def test_pinned_takes_an_uncontrolled_evse_s_draw_off_every_line() -> None:
    site = compile_site(tree(PhaseWiring.L1L2L3, PhaseWiring.L1), voltage_v=V)
    limits = [c.limit_a for c in pinned(site, {100: 10.0})]
    assert limits == [22.0, 22.0, 22.0]
    assert constraint_currents(site.network, [10.0, 22.0])[0] == 32.0  # exactly full
