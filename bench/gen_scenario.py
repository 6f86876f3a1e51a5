"""Generate load-management scenario files (format v1, see shared/loadmgmt/SCENARIO.md).

    python bench/gen_scenario.py --seed 1 --evses 100 --sites 1 --site-kw 100 \
        --phases three --steps 1A --days 3 -o bench/scenarios/x.json

Workplace sites: arrivals around 8:30, stays around 7.5 h, some second sessions in the
afternoon. Single-phase sites have a site breaker and feeders; three-phase sites connect EVSEs
line to line (30, -90, 150 degrees) with a limit per line and per-pod breakers; on an
unbalanced site half the EVSEs are on one line pair (3:2:1).
"""

import argparse
import json
import math
import random
import sys
from typing import Any

VOLTAGE_V = 208.0
MAX_A = 32.0
POD_SIZE = 8
FEEDER_SIZE = 25
LL_ANGLES = (30.0, -90.0, 150.0)  # line-to-line loads AB, BC, CA on a 208 V wye supply
STEPS = {
    "1A": [0.0, *(float(a) for a in range(6, 33))],
    "coarse": [0.0, 8.0, 16.0, 24.0, 32.0],
}
EV_MAX_KW = (6.656, 6.656, 6.6, 7.2, 3.3, 11.0)


def generate(
    *,
    seed: int,
    evses: int,
    sites: int,
    site_kw: float,
    phases: str,
    steps: str,
    days: int,
    period_min: int = 5,
    occupancy: float = 0.85,
    departure_noise_min: float = 0.0,
) -> dict[str, Any]:
    """Build one scenario as a JSON-ready dict (deterministic for a given seed)."""
    rng = random.Random(seed)
    per_day = 24 * 60 // period_min
    evse_rows: list[dict[str, Any]] = []
    constraints: list[dict[str, Any]] = []
    per_site = [evses // sites + (1 if s < evses % sites else 0) for s in range(sites)]
    for s, count in enumerate(per_site):
        three = phases in ("three", "unbalanced") or (phases == "mixed" and s % 2 == 1)
        ids = [f"S{s:04d}-E{j:03d}" for j in range(count)]
        pair_of = [_pair(j, unbalanced=phases == "unbalanced") for j in range(count)]
        for j, evse_id in enumerate(ids):
            step_kind = steps if steps != "mixed" else ("1A", "coarse", "none")[j % 3]
            allowed = STEPS.get(step_kind)
            evse_rows.append(
                {
                    "id": evse_id,
                    "voltage_V": VOLTAGE_V,
                    "phase_angle_deg": LL_ANGLES[pair_of[j]] if three else 0.0,
                    "min_A": 0.0,
                    "max_A": MAX_A,
                    "allowed_A": allowed,
                }
            )
        constraints.extend(_site_constraints(s, ids, site_kw, three, pair_of))
    sessions = _sessions(rng, evse_rows, days, per_day, period_min, occupancy, departure_noise_min)
    return {
        "name": f"gen-{evses}evse-{sites}site-{site_kw:g}kW-{phases}-{steps}-seed{seed}",
        "period_min": period_min,
        "start": "2019-07-08T00:00:00-07:00",
        "horizon_periods": days * per_day,
        "evses": evse_rows,
        "constraints": constraints,
        "sessions": sessions,
    }


def _pair(j: int, *, unbalanced: bool) -> int:
    """Line pair (AB, BC, CA) of the j-th EVSE: in turn, or 3:2:1 on an unbalanced site."""
    return (0, 0, 0, 1, 1, 2)[j % 6] if unbalanced else j % 3


def _site_constraints(
    s: int, ids: list[str], site_kw: float, three: bool, pair_of: list[int]
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    if not three:
        rows.append(
            {
                "name": f"S{s:04d}-site",
                "limit_A": site_kw * 1000 / VOLTAGE_V,
                "coeffs": dict.fromkeys(ids, 1.0),
            }
        )
        for f in range(0, len(ids), FEEDER_SIZE):
            group = ids[f : f + FEEDER_SIZE]
            rows.append(
                {
                    "name": f"S{s:04d}-feeder-{f // FEEDER_SIZE}",
                    "limit_A": 0.4 * MAX_A * len(group),
                    "coeffs": dict.fromkeys(group, 1.0),
                }
            )
        return rows
    # Line currents of line-to-line loads: I_A = I_AB - I_CA, I_B = I_BC - I_AB, I_C = I_CA - I_BC.
    line_a = site_kw * 1000 / (math.sqrt(3) * VOLTAGE_V)
    by_pair = [[i for i, p in zip(ids, pair_of, strict=True) if p == q] for q in range(3)]
    for line, (plus, minus) in zip("ABC", ((0, 2), (1, 0), (2, 1)), strict=True):
        coeffs = dict.fromkeys(by_pair[plus], 1.0) | dict.fromkeys(by_pair[minus], -1.0)
        rows.append({"name": f"S{s:04d}-line-{line}", "limit_A": line_a, "coeffs": coeffs})
    for p, pair_ids in enumerate(by_pair):
        for f in range(0, len(pair_ids), POD_SIZE):
            group = pair_ids[f : f + POD_SIZE]
            rows.append(
                {
                    "name": f"S{s:04d}-pod-{p}-{f // POD_SIZE}",
                    "limit_A": 0.5 * MAX_A * len(group),
                    "coeffs": dict.fromkeys(group, 1.0),
                }
            )
    return rows


def _sessions(
    rng: random.Random,
    evse_rows: list[dict[str, Any]],
    days: int,
    per_day: int,
    period_min: int,
    occupancy: float,
    departure_noise_min: float,
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for day in range(days):
        for evse in evse_rows:
            free_from = day * per_day
            for visit in range(2):
                if rng.random() > (occupancy if visit == 0 else 0.3):
                    break
                mean_h = 8.5 if visit == 0 else 14.0
                arrival_h = min(max(rng.gauss(mean_h, 1.2), 5.0), 20.0)
                stay_h = min(max(rng.gauss(7.5 if visit == 0 else 3.0, 2.0), 0.5), 12.0)
                arrival = max(day * per_day + round(arrival_h * 60 / period_min), free_from)
                departure = arrival + max(1, round(stay_h * 60 / period_min))
                noise = round(rng.gauss(0.0, departure_noise_min) / period_min)
                est = max(arrival + 1, departure + noise) if departure_noise_min else departure
                max_kw = rng.choice(EV_MAX_KW)
                hours = (departure - arrival) * period_min / 60
                can_take_kw = min(max_kw, VOLTAGE_V * MAX_A / 1000)
                energy = min(rng.lognormvariate(math.log(11.0), 0.6), 0.95 * hours * can_take_kw)
                rows.append(
                    {
                        "id": f"{evse['id']}-d{day}-v{visit}",
                        "evse": evse["id"],
                        "arrival": arrival,
                        "departure": departure,
                        "est_departure": est,
                        "energy_kWh": round(max(energy, 0.2), 3),
                        "max_kW": max_kw,
                    }
                )
                free_from = departure + 1
    rows.sort(key=lambda r: (r["arrival"], r["id"]))
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--evses", type=int, default=100)
    parser.add_argument("--sites", type=int, default=1)
    parser.add_argument("--site-kw", type=float, default=100.0, help="capacity of each site")
    parser.add_argument(
        "--phases", choices=("single", "three", "unbalanced", "mixed"), default="single"
    )
    parser.add_argument("--steps", choices=("none", "1A", "coarse", "mixed"), default="none")
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--period-min", type=int, default=5)
    parser.add_argument("--departure-noise-min", type=float, default=0.0)
    parser.add_argument("-o", "--output", help="file to write (default: stdout)")
    args = parser.parse_args(argv)
    scenario = generate(
        seed=args.seed,
        evses=args.evses,
        sites=args.sites,
        site_kw=args.site_kw,
        phases=args.phases,
        steps=args.steps,
        days=args.days,
        period_min=args.period_min,
        departure_noise_min=args.departure_noise_min,
    )
    text = json.dumps(scenario, separators=(",", ":"))
    if args.output:
        with open(args.output, "w") as f:
            f.write(text + "\n")
    else:
        sys.stdout.write(text + "\n")


if __name__ == "__main__":
    main()
