"""Access vocabulary: operator roles (ordered) and the scopes a partner API key may carry."""

from enum import StrEnum


class OperatorRole(StrEnum):
    """What an operator user may do in their organisation; each role includes the ones below."""

    VIEWER = "viewer"  # read the network: alerts, uptime, capacity, sessions
    TECHNICIAN = "technician"  # act on stations: remote operations, alerts
    ADMIN = "admin"  # manage the organisation: users, API keys, capacity tree, refunds, audit

    @property
    def rank(self) -> int:
        return _RANK[self]

    def includes(self, other: "OperatorRole") -> bool:
        return self.rank >= other.rank


_RANK = {OperatorRole.VIEWER: 0, OperatorRole.TECHNICIAN: 1, OperatorRole.ADMIN: 2}


class ApiScope(StrEnum):
    """What a partner API key may do. A key carries a set of these; nothing else is implied."""

    LOCATIONS_READ = "locations:read"  # locations, EVSEs and live availability
    SESSIONS_READ = "sessions:read"  # reserved: sessions started with the partner's tokens
    SESSIONS_START = "sessions:start"  # reserved: start sessions for the partner's own tokens
    ALERTS_READ = "alerts:read"  # the owning organisation's alerts (keys made by an org admin)
