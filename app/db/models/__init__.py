"""All tables. Importing this package registers every model on `SQLModel.metadata`."""

from app.db.models.base import NAMING_CONVENTION, metadata
from app.db.models.id_token import IdToken
from app.db.models.location import Location, Operator
from app.db.models.message_log import OcppMessageLog
from app.db.models.session import ChargingSession, MeterSample
from app.db.models.station import ChargingStation, Connector, Evse

__all__ = [
    "NAMING_CONVENTION",
    "ChargingSession",
    "ChargingStation",
    "Connector",
    "Evse",
    "IdToken",
    "Location",
    "MeterSample",
    "OcppMessageLog",
    "Operator",
    "metadata",
]
