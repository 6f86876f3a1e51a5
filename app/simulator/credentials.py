"""Simulated chargers take a new Basic-auth password from the CSMS (security profiles 1 and 2).

1.6 ChangeConfiguration(AuthorizationKey) and 2.0.1 SetVariables(SecurityCtrlr.BasicAuthPassword)
land here. The station keeps its open connection and presents the new password from its next
connection on (the CSMS keeps the old one valid meanwhile).
"""

from typing import Protocol

AUTHORIZATION_KEY = "AuthorizationKey"
BASIC_AUTH_PASSWORD = ("SecurityCtrlr", "BasicAuthPassword")  # (component, variable)


class HasPassword(Protocol):
    station_id: str
    password: str | None


def accept_password(station: HasPassword, value: str) -> str:
    """Store `value` as the password of the next connection: "Accepted", or "Rejected" for one
    OCPP does not allow (16 to 40 printable ASCII characters)."""
    if not 16 <= len(value) <= 40 or not all(" " < ch <= "~" for ch in value):
        return "Rejected"
    station.password = value
    return "Accepted"
