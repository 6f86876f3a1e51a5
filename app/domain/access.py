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

    LOCATIONS_READ = "locations:read"
    """Locations, EVSEs, prices and live availability. These are public (open charge-point
    data), so the key only identifies the partner (its own rate-limit budget, its audit name)."""
    NETWORK_READ = "network:read"
    """Read the owning organisation's operator views (alerts, uptime, capacity) like a viewer.
    Only for keys an organisation owns: a key of no organisation cannot carry it."""


ORG_ONLY_SCOPES = frozenset({ApiScope.NETWORK_READ.value})
