"""The domain enums, registered as GraphQL enums under their own names."""

import strawberry

from app.domain.enums import ConnectorFormat, ConnectorStandard, EvseStatus, PowerType

strawberry.enum(EvseStatus, description="OCPI 2.2.1 EVSE status: what a driver app shows.")
strawberry.enum(ConnectorStandard, description="OCPI 2.2.1 connector type (common subset).")
strawberry.enum(ConnectorFormat, description="Whether the connector is a socket or a fixed cable.")
strawberry.enum(PowerType, description="AC single phase, AC three phases, or DC.")

__all__ = ["ConnectorFormat", "ConnectorStandard", "EvseStatus", "PowerType"]
