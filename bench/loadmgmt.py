"""Benchmark chargenet's allocator inside ACN-Sim beside ACN's own EDF and LLF.

    PYTHONPATH=. python bench/loadmgmt.py [--json] [--quick] \
        [--algorithms chargenet,acn-edf,acn-llf] SCENARIO.json...
    PYTHONPATH=. python bench/loadmgmt.py --micro     # allocator time alone

Every algorithm runs on the same ACN-Sim network and events built from a v1 scenario file
(shared/loadmgmt/SCENARIO.md). All of them see the same session data: remaining energy, the
announced departure (never the true one) and the EV's maximum rate. Violations and pilots
below 6 A are counted on the pilots ACN-Sim recorded, against the file's constraints; nothing
is taken from the allocator's word. Needs `acnportal==0.3.3` (bench-only dependency).

`--quick` (what `make bench` runs) keeps the sessions arriving on the first day of each file
and drops the rest; all three algorithms still run side by side on those same events. Files
with more than ACN_MAX_EVSES EVSEs (a 10,000-EVSE fleet) are accepted, but ACN-Sim cannot run
them in useful time: chargenet runs in the built-in replay (loadmgmt_replay.py, same
semantics) and ACN's algorithms are reported as skipped. `--replay` forces the replay, to
compare it with ACN-Sim on small files.
"""

import argparse
import gc
import json
import math
import random
import statistics
import sys
import time
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import loadmgmt_replay  # bench/ is on sys.path when this file runs as a script
import numpy as np
from acnportal.acnsim import EventQueue, Simulator
from acnportal.acnsim.events import PluginEvent
from acnportal.acnsim.interface import Interface, SessionInfo
from acnportal.acnsim.models import EV, EVSE, Battery, DeadbandEVSE, FiniteRatesEVSE
from acnportal.acnsim.network import ChargingNetwork
from acnportal.algorithms import (
    BaseAlgorithm,
    SortedSchedulingAlgo,
    earliest_deadline_first,
    least_laxity_first,
)

from app.domain.allocation import (
    Constraint,
    EvseSpec,
    FleetAllocator,
    Network,
    SessionDemand,
    allocate,
    compile_network,
)

ALGORITHMS = ("chargenet", "acn-edf", "acn-llf")
VIOLATION_TOLERANCE_A = 1e-3
MET_THRESHOLD_KWH = 0.1
# Above this many EVSEs the network is built without ACN's register_evse/add_constraint, which
# rebuild their caches (and a pandas frame) on every call: O(n^2), hours for 10,000 EVSEs.
FAST_BUILD_EVSES = 500
# Above this many EVSEs ACN-Sim itself is the bottleneck (a 10,000-EVSE day ran past 15 minutes
# with chargenet alone): chargenet runs in loadmgmt_replay.py and ACN's algorithms are skipped.
ACN_MAX_EVSES = 1000


# ---------------------------------------------------------------------------------------------
# Scenario -> ACN-Sim


def load_scenario(path: str, *, quick: bool) -> dict[str, Any]:
    with open(path) as f:
        scenario: dict[str, Any] = json.load(f)
    if scenario.get("name") is None:
        scenario["name"] = Path(path).stem
    scenario["file"] = Path(path).stem
    if quick:
        day = 24 * 60 // int(scenario["period_min"])
        scenario["sessions"] = [s for s in scenario["sessions"] if s["arrival"] < day]
    return scenario


def _acn_evse(row: dict[str, Any]) -> Any:
    if row.get("allowed_A") is not None:
        return FiniteRatesEVSE(row["id"], [float(a) for a in row["allowed_A"]])
    if float(row.get("min_A", 0.0)) > 0:
        # ACN's plain EVSE refuses 0 when min_rate > 0; a deadband EVSE means "0 or >= min".
        return DeadbandEVSE(row["id"], deadband_end=float(row["min_A"]), max_rate=row["max_A"])
    return EVSE(row["id"], max_rate=float(row["max_A"]), min_rate=0.0)


def build_network(scenario: dict[str, Any]) -> ChargingNetwork:
    """ACN-Sim network with the file's EVSEs (voltage, phase angle) and constraints."""
    network = ChargingNetwork(violation_tolerance=VIOLATION_TOLERANCE_A, relative_tolerance=0.0)
    rows = scenario["evses"]
    if len(rows) <= FAST_BUILD_EVSES:
        from acnportal.acnsim.network import Current

        for row in rows:
            network.register_evse(
                _acn_evse(row), float(row["voltage_V"]), float(row["phase_angle_deg"])
            )
        for c in scenario["constraints"]:
            current = Current(dict(c["coeffs"]))
            network.add_constraint(current, float(c["limit_A"]), name=c["name"])
        return network
    # Same state register_evse/add_constraint leave behind, set in one pass each.
    network._EVSEs = OrderedDict((row["id"], _acn_evse(row)) for row in rows)
    network._voltages = np.array([float(r["voltage_V"]) for r in rows])
    network._phase_angles = np.array([float(r["phase_angle_deg"]) for r in rows])
    index = {row["id"]: i for i, row in enumerate(rows)}
    from scipy.sparse import csr_array

    data, row_idx, col_idx = [], [], []
    for k, c in enumerate(scenario["constraints"]):
        for evse_id, coeff in c["coeffs"].items():
            data.append(float(coeff))
            row_idx.append(k)
            col_idx.append(index[evse_id])
    # Sparse: a dense matrix would be (constraints x EVSEs), hundreds of MB at fleet scale.
    # ChargingNetwork only indexes rows and multiplies it, which csr_array supports.
    network.constraint_matrix = csr_array(
        (data, (row_idx, col_idx)), shape=(len(scenario["constraints"]), len(rows))
    )
    network.magnitudes = np.array([float(c["limit_A"]) for c in scenario["constraints"]])
    network.constraint_index = [c["name"] for c in scenario["constraints"]]
    network._update_info_store()
    return network


def build_events(scenario: dict[str, Any]) -> EventQueue:
    queue = EventQueue()
    for s in scenario["sessions"]:
        battery = Battery(capacity=float(s["energy_kWh"]), init_charge=0.0, max_power=s["max_kW"])
        ev = EV(
            int(s["arrival"]),
            int(s["departure"]),
            float(s["energy_kWh"]),
            s["evse"],
            s["id"],
            battery,
            estimated_departure=int(s.get("est_departure", s["departure"])),
        )
        queue.add_event(PluginEvent(int(s["arrival"]), ev))
    return queue


class ScenarioInterface(Interface):
    """ACN's interface, plus the EV's maximum rate in each session's `max_rates`.

    ACN's stock interface leaves `max_rates` infinite; the scenario says schedulers may see the
    EV's max_kW, so every algorithm (ACN's and ours) gets it the same way.
    """

    _volts: dict[str, float] | None = None

    def _active_sessions(self) -> list[SessionInfo]:
        if self._volts is None:
            net = self._simulator.network
            self._volts = dict(zip(net.station_ids, net._voltages.tolist(), strict=True))
        volts = self._volts
        return [
            SessionInfo(
                ev.station_id,
                ev.session_id,
                ev.requested_energy,
                ev.energy_delivered,
                ev.arrival,
                ev.departure,
                ev.estimated_departure,
                self.current_time,
                max_rates=ev.maximum_charging_power * 1000 / volts[ev.station_id],
            )
            for ev in self._active_evs
        ]


# ---------------------------------------------------------------------------------------------
# chargenet inside ACN-Sim


def chargenet_network(scenario: dict[str, Any]) -> Network:
    evses = [
        EvseSpec(
            id=row["id"],
            voltage_v=float(row["voltage_V"]),
            phase_angle_deg=float(row["phase_angle_deg"]),
            min_a=float(row.get("min_A", 0.0)),
            max_a=float(row["max_A"]),
            allowed_a=None if row.get("allowed_A") is None else tuple(row["allowed_A"]),
        )
        for row in scenario["evses"]
    ]
    constraints = [
        Constraint(name=c["name"], limit_a=float(c["limit_A"]), coeffs=dict(c["coeffs"]))
        for c in scenario["constraints"]
    ]
    return compile_network(evses, constraints)


class ChargenetAlgorithm(BaseAlgorithm):  # type: ignore[misc]
    """chargenet's allocator as an ACN-Sim scheduler (one period at a time)."""

    def __init__(self, network: Network, period_min: float) -> None:
        super().__init__()
        self.max_recompute = 1
        self._network = network
        self._period_s = period_min * 60
        self._volts = {e.id: e.voltage_v for e in network.evses}

    def schedule(self, active_sessions: list[SessionInfo]) -> dict[str, list[float]]:
        now = self.interface.current_time
        demands = [
            SessionDemand.from_kwh(
                evse_id=s.station_id,
                energy_kwh=s.remaining_demand,
                max_kw=float(s.max_rates[0]) * self._volts[s.station_id] / 1000
                if len(s.max_rates)
                else 0.0,
                departure_period=int(s.estimated_departure),
            )
            for s in active_sessions
        ]
        pilots = allocate(sessions=demands, now=now, period_s=self._period_s, network=self._network)
        return {evse_id: [pilot] for evse_id, pilot in pilots.items()}


def make_algorithm(name: str, scenario: dict[str, Any]) -> Any:
    if name == "chargenet":
        return ChargenetAlgorithm(chargenet_network(scenario), float(scenario["period_min"]))
    if name == "acn-edf":
        return SortedSchedulingAlgo(earliest_deadline_first)
    if name == "acn-llf":
        return SortedSchedulingAlgo(least_laxity_first)
    raise SystemExit(f"unknown algorithm {name!r}, expected one of {', '.join(ALGORITHMS)}")


# ---------------------------------------------------------------------------------------------
# Running and measuring


@dataclass
class Result:
    scenario: str
    algorithm: str
    energy_delivered_pct: float
    demands_met_pct: float
    violations: int
    pilots_below_6a: int
    peak_kw: float
    recompute_ms_p50: float
    recompute_ms_p95: float
    recompute_ms_max: float
    wall_s: float
    sessions: int
    #: "acnsim", or "replay" (loadmgmt_replay.py) for chargenet on files above ACN_MAX_EVSES.
    simulator: str


def run_one(scenario: dict[str, Any], algorithm: str, *, replay: bool = False) -> Result:
    """One algorithm on one scenario: inside ACN-Sim, or for chargenet in the replay when
    asked or when the file is too large for ACN-Sim."""
    started = time.perf_counter()
    if algorithm == "chargenet" and (replay or len(scenario["evses"]) > ACN_MAX_EVSES):
        pilots, rates, sessions, times = loadmgmt_replay.replay(
            scenario, chargenet_network(scenario)
        )
        simulator = "replay"
    else:
        pilots, rates, sessions, times = _run_acnsim(scenario, algorithm)
        simulator = "acnsim"
    requested = sum(r for r, _ in sessions)
    delivered = sum(d for _, d in sessions)
    met = sum(1 for r, d in sessions if r - d < MET_THRESHOLD_KWH)
    volts = np.array([float(r["voltage_V"]) for r in scenario["evses"]])
    return Result(
        scenario=scenario["file"],
        algorithm=algorithm,
        energy_delivered_pct=round(100 * delivered / requested, 3) if requested else 100.0,
        demands_met_pct=round(100 * met / len(sessions), 2) if sessions else 100.0,
        violations=count_violations(scenario, pilots),
        pilots_below_6a=int(np.count_nonzero((pilots > 1e-9) & (pilots < 6.0 - 1e-9))),
        peak_kw=round(float((volts @ rates).max(initial=0.0)) / 1000, 2),
        recompute_ms_p50=round(_quantile(times, 0.50), 3),
        recompute_ms_p95=round(_quantile(times, 0.95), 3),
        recompute_ms_max=round(max(times, default=0.0), 3),
        wall_s=round(time.perf_counter() - started, 1),
        sessions=len(sessions),
        simulator=simulator,
    )


def _run_acnsim(
    scenario: dict[str, Any], algorithm: str
) -> tuple[np.ndarray, np.ndarray, list[tuple[float, float]], list[float]]:
    network = build_network(scenario)
    scheduler = make_algorithm(algorithm, scenario)
    sim = Simulator(
        network,
        scheduler,
        build_events(scenario),
        datetime.fromisoformat(scenario["start"]),
        period=float(scenario["period_min"]),
        verbose=False,
        interface_type=ScenarioInterface,
    )
    with warnings.catch_warnings():
        # ACN warns on an infeasible schedule; we count violations ourselves below.
        warnings.simplefilter("ignore")
        sim.run()
    periods = sim.iteration
    pilots = np.asarray(sim.pilot_signals)[:, :periods]
    rates = np.asarray(sim.charging_rates)[:, :periods]
    sessions = [(ev.requested_energy, ev.energy_delivered) for ev in sim.ev_history.values()]
    times = [1000 * s["solve_time"] for s in scheduler.solve_stats if s["active_sessions"]]
    return pilots, rates, sessions, times


def count_violations(scenario: dict[str, Any], pilots: np.ndarray) -> int:
    """Periods in which any constraint's phasor sum exceeds its limit by more than 1e-3 A."""
    index = {row["id"]: i for i, row in enumerate(scenario["evses"])}
    phasor = np.exp(1j * np.deg2rad([float(r["phase_angle_deg"]) for r in scenario["evses"]]))
    bad = np.zeros(pilots.shape[1], dtype=bool)
    for c in scenario["constraints"]:
        idx = np.array([index[e] for e in c["coeffs"]], dtype=int)
        weights = np.array(list(c["coeffs"].values()), dtype=float) * phasor[idx]
        magnitude = np.abs(weights @ pilots[idx, :])
        bad |= magnitude > float(c["limit_A"]) + VIOLATION_TOLERANCE_A
    return int(bad.sum())


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


# ---------------------------------------------------------------------------------------------
# Allocator alone


def _random_demand(rng: random.Random, evse_id: str) -> SessionDemand:
    return SessionDemand(
        evse_id=evse_id,
        energy_wh=rng.randint(0, 40_000),
        max_power_w=rng.choice((3300.0, 6656.0, 7200.0, 11000.0)),
        departure_in_s=300.0 * rng.randint(0, 150),
        priority=1 if rng.random() < 0.05 else 0,
    )


def micro_benchmark(*, calls: int = 200, seed: int = 0) -> list[dict[str, Any]]:
    """Time the allocator alone on snapshots of a 100-EVSE site and a 1,000-site fleet.

    Two figures per case, both through `FleetAllocator` (what the scheduler holds): a full
    recompute (every session's demand moved since the last call, every site solved: the
    timer's pass) and an event-driven one (one session starts, stops or reports meter values
    on one site, so only that site is solved again). `whole_*` is one `allocate` call over the
    whole network, for comparison. The heap built before the calls (scenario, compiled
    network) is frozen out of the collector (`gc.freeze`, as a long-running server does after
    start-up): otherwise the collector's full passes, set off by the benchmark's own garbage
    (10,000 fresh demands per call), walk it inside timed calls and are charged to the
    allocator. The collector itself stays on.
    """
    import gen_scenario  # bench/ is on sys.path when this file runs as a script

    rows = []
    cases = (
        ("100evse-1site-3ph", {"evses": 100, "sites": 1, "site_kw": 60.0, "phases": "three"}),
        (
            "10000evse-1000site",
            {"evses": 10_000, "sites": 1000, "site_kw": 40.0, "phases": "mixed"},
        ),
    )
    for label, params in cases:
        scenario = gen_scenario.generate(seed=seed, steps="mixed", days=1, **params)
        network = chargenet_network(scenario)
        rng = random.Random(seed)
        evses = list(network.evses)
        constraints = list(network.constraints)
        full, full_cpu, whole, cold, event, event_cpu = [], [], [], [], [], []
        fleet = FleetAllocator(network)
        timer_fleet = FleetAllocator(network)
        current = {e.id: _random_demand(rng, e.id) for e in evses}
        fleet.allocate(sessions=list(current.values()), now=100, period_s=300.0)
        gc.collect()
        gc.freeze()
        for call in range(calls):
            now = 100 + call
            # Worst case: every EVSE has a session, demands vary from call to call.
            demands = [_random_demand(rng, e.id) for e in evses]
            t0, c0 = time.perf_counter(), time.process_time()
            timer_fleet.allocate(sessions=demands, now=now, period_s=300.0)
            full.append(1000 * (time.perf_counter() - t0))
            full_cpu.append(1000 * (time.process_time() - c0))
            assert timer_fleet.solved_parts == params["sites"], timer_fleet.solved_parts
            t0 = time.perf_counter()
            allocate(sessions=demands, now=now, period_s=300.0, network=network)
            whole.append(1000 * (time.perf_counter() - t0))
            if call < 50:
                t0 = time.perf_counter()
                allocate(
                    sessions=demands, now=now, period_s=300.0, evses=evses, constraints=constraints
                )
                cold.append(1000 * (time.perf_counter() - t0))
            # One event: one session on one site changes (started, stopped, new meter value).
            changed = rng.choice(evses).id
            current[changed] = _random_demand(rng, changed)
            sessions = list(current.values())
            t0, c0 = time.perf_counter(), time.process_time()
            fleet.allocate(sessions=sessions, now=now, period_s=300.0)
            event.append(1000 * (time.perf_counter() - t0))
            event_cpu.append(1000 * (time.process_time() - c0))
            assert fleet.solved_parts == 1, fleet.solved_parts
        gc.unfreeze()
        rows.append(
            {
                "bench": "allocator",
                "case": label,
                "evses": len(evses),
                "sites": params["sites"],
                "constraints": len(constraints),
                "calls": calls,
                "p50_ms": round(statistics.median(full), 3),
                "p95_ms": round(_quantile(full, 0.95), 3),
                "max_ms": round(max(full), 3),
                # CPU time of this process: what one core spends, whatever else the machine runs
                # (preemption does not count; a busy core's caches and a VM's steal still do).
                "cpu_p50_ms": round(statistics.median(full_cpu), 3),
                "cpu_p95_ms": round(_quantile(full_cpu, 0.95), 3),
                "cpu_min_ms": round(min(full_cpu), 3),
                "whole_network_p50_ms": round(statistics.median(whole), 3),
                "whole_network_p95_ms": round(_quantile(whole, 0.95), 3),
                "p95_ms_with_compile": round(_quantile(cold, 0.95), 3),
                "event_p50_ms": round(statistics.median(event), 3),
                "event_p95_ms": round(_quantile(event, 0.95), 3),
                "event_max_ms": round(max(event), 3),
                "event_cpu_p95_ms": round(_quantile(event_cpu, 0.95), 3),
            }
        )
    return rows


# ---------------------------------------------------------------------------------------------
# Command line

_COLUMNS = (
    ("scenario", 34, "s"),
    ("algorithm", 10, "s"),
    ("energy_delivered_pct", 8, ".2f"),
    ("demands_met_pct", 8, ".2f"),
    ("violations", 6, "d"),
    ("pilots_below_6a", 7, "d"),
    ("peak_kw", 8, ".1f"),
    ("recompute_ms_p50", 8, ".3f"),
    ("recompute_ms_p95", 8, ".3f"),
    ("recompute_ms_max", 8, ".3f"),
    ("wall_s", 7, ".1f"),
)
_HEADERS = ("scenario", "algorithm", "energy%", "met%", "viol", "<6A", "peak kW",
            "p50 ms", "p95 ms", "max ms", "wall s")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", help="scenario files (format v1)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--algorithms", default=",".join(ALGORITHMS))
    parser.add_argument("--quick", action="store_true", help="only sessions arriving on day 1")
    parser.add_argument("--micro", action="store_true", help="time the allocator alone")
    parser.add_argument(
        "--replay", action="store_true", help="chargenet in the built-in replay, not ACN-Sim"
    )
    args = parser.parse_args(argv)
    algorithms = [a.strip() for a in args.algorithms.split(",") if a.strip()]
    for name in algorithms:
        if name not in ALGORITHMS:
            parser.error(f"unknown algorithm {name!r}, expected one of {', '.join(ALGORITHMS)}")
    if not args.scenarios and not args.micro:
        parser.error("give scenario files, --micro, or both")
    if not args.json:
        print("  ".join(f"{h:>{w}}" for h, (_, w, _) in zip(_HEADERS, _COLUMNS, strict=True)))
    for path in args.scenarios:
        scenario = load_scenario(path, quick=args.quick)
        for name in algorithms:
            if name != "chargenet" and len(scenario["evses"]) > ACN_MAX_EVSES:
                skipped = {"scenario": scenario["file"], "algorithm": name, "skipped": (
                    f"{len(scenario['evses'])} EVSEs: ACN-Sim runs files of at most "
                    f"{ACN_MAX_EVSES}")}  # fmt: skip
                print(json.dumps(skipped) if args.json else f"  skipped {skipped}", flush=True)
                continue
            result = run_one(scenario, name, replay=args.replay)
            if args.json:
                print(json.dumps(result.__dict__), flush=True)
            else:
                cells = [format(getattr(result, k), f) for k, _, f in _COLUMNS]
                print("  ".join(f"{c:>{w}}" for c, (_, w, _) in zip(cells, _COLUMNS, strict=True)))
                sys.stdout.flush()
    if args.micro:
        for row in micro_benchmark(calls=40 if args.quick else 200):
            print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
