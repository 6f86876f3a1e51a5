"""Enumerations of the charging domain, named after OCPI 2.2.1 and OCPP 2.0.1."""

from enum import StrEnum


class OcppVersion(StrEnum):
    V16 = "ocpp1.6"
    V201 = "ocpp2.0.1"


class RegistrationStatus(StrEnum):
    """Whether the CSMS accepts a station (OCPP BootNotification answer)."""

    ACCEPTED = "ACCEPTED"
    PENDING = "PENDING"
    REJECTED = "REJECTED"


class EvseStatus(StrEnum):
    """OCPI 2.2.1 EVSE status: what a driver app shows."""

    AVAILABLE = "AVAILABLE"
    BLOCKED = "BLOCKED"
    CHARGING = "CHARGING"
    INOPERATIVE = "INOPERATIVE"
    OUTOFORDER = "OUTOFORDER"
    PLANNED = "PLANNED"
    REMOVED = "REMOVED"
    RESERVED = "RESERVED"
    UNKNOWN = "UNKNOWN"


class ConnectorStandard(StrEnum):
    """OCPI 2.2.1 ConnectorType (the common subset)."""

    CHADEMO = "CHADEMO"
    DOMESTIC_F = "DOMESTIC_F"
    IEC_62196_T1 = "IEC_62196_T1"
    IEC_62196_T1_COMBO = "IEC_62196_T1_COMBO"
    IEC_62196_T2 = "IEC_62196_T2"
    IEC_62196_T2_COMBO = "IEC_62196_T2_COMBO"
    NACS = "NACS"


class ConnectorFormat(StrEnum):
    SOCKET = "SOCKET"
    CABLE = "CABLE"


class PowerType(StrEnum):
    AC_1_PHASE = "AC_1_PHASE"
    AC_3_PHASE = "AC_3_PHASE"
    DC = "DC"


class IdTokenType(StrEnum):
    """OCPP 2.0.1 IdTokenEnumType / OCPI TokenType."""

    RFID = "RFID"
    APP = "APP"
    CENTRAL = "CENTRAL"
    EMAID = "EMAID"
    OTHER = "OTHER"


class AuthorizationStatus(StrEnum):
    """Verdict on an ID token (OCPP 2.0.1 AuthorizationStatusEnumType, common subset)."""

    ACCEPTED = "ACCEPTED"
    BLOCKED = "BLOCKED"
    EXPIRED = "EXPIRED"
    INVALID = "INVALID"
    UNKNOWN = "UNKNOWN"


class SessionStatus(StrEnum):
    """OCPI 2.2.1 SessionStatus."""

    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    INVALID = "INVALID"
    PENDING = "PENDING"


class MessageDirection(StrEnum):
    INBOUND = "INBOUND"
    OUTBOUND = "OUTBOUND"


class MessageKind(StrEnum):
    """OCPP-J message type."""

    CALL = "CALL"
    CALLRESULT = "CALLRESULT"
    CALLERROR = "CALLERROR"
    INVALID = "INVALID"
