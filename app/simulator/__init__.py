"""Charge point simulator: OCPP 1.6 and 2.0.1 clients for demos, tests and load benchmarks."""

from app.simulator.config import SimulationConfig, SimulationStats
from app.simulator.model import Sample, Transaction
from app.simulator.runner import create_station, run_simulation
from app.simulator.station import SimulatedStation
from app.simulator.v16 import SimulatedStation16
from app.simulator.v201 import SimulatedStation201

__all__ = [
    "Sample",
    "SimulatedStation",
    "SimulatedStation16",
    "SimulatedStation201",
    "SimulationConfig",
    "SimulationStats",
    "Transaction",
    "create_station",
    "run_simulation",
]
