"""All tables. Importing this package registers every model on `SQLModel.metadata`."""

from app.db.models.api_key import ApiKey
from app.db.models.audit import AuditRecord
from app.db.models.base import NAMING_CONVENTION, metadata
from app.db.models.capacity import CapacityLimit, CapacityNode, EvseAllocation
from app.db.models.cdr import Cdr
from app.db.models.command import RemoteCommand
from app.db.models.driver import Driver, Favorite, RefreshToken
from app.db.models.id_token import IdToken
from app.db.models.location import Location, Operator
from app.db.models.membership import Membership, MembershipPlan
from app.db.models.message_log import OcppMessageLog
from app.db.models.monitoring import (
    Alert,
    EvseStatusInterval,
    MaintenanceWindow,
    StationBoot,
    StationConnectivityInterval,
)
from app.db.models.operator_user import OperatorUser
from app.db.models.payment import (
    AdHocPayment,
    HoldSetting,
    Payment,
    PaymentLedgerEntry,
    PaymentRefund,
    StripeCustomer,
    StripeEvent,
)
from app.db.models.reservation import Reservation
from app.db.models.session import ChargingSession, MeterSample
from app.db.models.station import ChargingStation, Connector, Evse
from app.db.models.station_ops import DiagnosticsUpload, FirmwareUpdate, StationConfigurationEntry
from app.db.models.tariff import Tariff

__all__ = [
    "NAMING_CONVENTION",
    "AdHocPayment",
    "Alert",
    "ApiKey",
    "AuditRecord",
    "CapacityLimit",
    "CapacityNode",
    "Cdr",
    "ChargingSession",
    "ChargingStation",
    "Connector",
    "DiagnosticsUpload",
    "Driver",
    "Evse",
    "EvseAllocation",
    "EvseStatusInterval",
    "Favorite",
    "FirmwareUpdate",
    "HoldSetting",
    "IdToken",
    "Location",
    "MaintenanceWindow",
    "Membership",
    "MembershipPlan",
    "MeterSample",
    "OcppMessageLog",
    "Operator",
    "OperatorUser",
    "Payment",
    "PaymentLedgerEntry",
    "PaymentRefund",
    "RefreshToken",
    "RemoteCommand",
    "Reservation",
    "StationBoot",
    "StationConfigurationEntry",
    "StationConnectivityInterval",
    "StripeCustomer",
    "StripeEvent",
    "Tariff",
    "metadata",
]
