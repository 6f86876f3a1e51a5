"""The simulator's configuration (what the CLI passes) and the counters it reports back."""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

Passwords = str | Mapping[str, str] | Callable[[str], str | None] | None


@dataclass
class SimulationConfig:
    """A simulated network: `stations` chargers connecting to `url` + "/" + station id.

    `password` is the HTTP Basic password (the station id is the username): one string for every
    station, a mapping from station id, or a callable taking the station id. `time_scale` > 1
    shortens idle and charging periods and meter intervals (simulated time runs faster), not
    protocol timers such as heartbeats.
    """

    url: str
    stations: int = 5
    protocol: str = "mixed"  # "1.6" | "2.0.1" | "mixed" (alternating, 1.6 first)
    duration_s: float | None = None  # None = until cancelled or `stop` is set
    seed: int = 0
    station_prefix: str = "SIM"
    password: Passwords = None
    id_tokens: Sequence[str] = ("SIMTOKEN01",)
    evses_per_station: int = 2
    heartbeat_s: float | None = None  # None = the interval the server returns at boot
    meter_interval_s: float = 10.0
    time_scale: float = 1.0
    dc_every: int = 3  # every n-th station is a DC fast charger (reports SoC); 0 = none
    ramp_s: float = 0.0  # spread the stations' first connections over this many seconds
    reconnect_delay_s: float = 1.0  # first backoff step; doubles up to 60 s
    validate_messages: bool = True  # JSON-schema validation of our own frames (off for load)

    def __post_init__(self) -> None:
        if self.protocol not in ("1.6", "2.0.1", "mixed"):
            raise ValueError(f"protocol {self.protocol!r}: expected '1.6', '2.0.1' or 'mixed'")
        if self.stations < 0 or self.evses_per_station < 1:
            raise ValueError(
                f"stations={self.stations}, evses_per_station={self.evses_per_station}:"
                " expected stations >= 0 and at least one EVSE"
            )
        if self.time_scale <= 0 or self.meter_interval_s <= 0:
            raise ValueError(
                f"time_scale={self.time_scale}, meter_interval_s={self.meter_interval_s}:"
                " expected both > 0"
            )
        if not self.id_tokens:
            raise ValueError("id_tokens is empty: expected at least one RFID token")

    def station_id(self, index: int) -> str:
        return f"{self.station_prefix}-{index + 1:04d}"

    def station_protocol(self, index: int) -> str:
        if self.protocol == "mixed":
            return "1.6" if index % 2 == 0 else "2.0.1"
        return self.protocol

    def station_password(self, station_id: str) -> str | None:
        if self.password is None or isinstance(self.password, str):
            return self.password
        if callable(self.password):
            return self.password(station_id)
        return self.password.get(station_id)


@dataclass
class SimulationStats:
    """Counters shared by every station of one simulation (one event loop: no locking needed)."""

    messages_sent: int = 0  # CALLs we sent that got a CALLRESULT
    calls_answered: int = 0  # CALLs from the CSMS we answered
    transactions_started: int = 0
    transactions_stopped: int = 0
    errors: int = 0  # CALLERRORs, timeouts, unexpected exceptions
    reconnects: int = 0
    boots: int = 0
    energy_wh: int = 0  # energy delivered in stopped transactions
    by_action: dict[str, int] = field(default_factory=dict)  # sent CALLs per action

    def sent(self, action: str) -> None:
        self.messages_sent += 1
        self.by_action[action] = self.by_action.get(action, 0) + 1

    def as_dict(self) -> dict[str, object]:
        return asdict(self)
