"""`flagExcludedOutage`: mark an outage outside the operator's control (grid outage, vandalism,
disaster...) so it does not count against uptime. Technicians may do it; audited."""

from datetime import datetime
from typing import Annotated

import strawberry

from app.domain.uptime import ExclusionKind, OutageCause
from app.graphql.context import Info
from app.graphql.mutations.schedule_maintenance import add_window
from app.graphql.permissions import IsOperatorTechnician
from app.graphql.types import uptime as types


@strawberry.input
class FlagExcludedOutageInput:
    station_id: strawberry.ID
    evse_id: strawberry.ID | None = strawberry.field(
        default=None, description="One EVSE of the station; null for the whole station."
    )
    from_: datetime = strawberry.field(name="from")
    to: datetime
    kind: OutageCause
    note: str = strawberry.field(default="", description="Evidence or context, up to 255 chars.")


FlagExcludedOutageResult = Annotated[
    types.MaintenanceWindowPayload | types.MaintenanceNotFound | types.InvalidMaintenance,
    strawberry.union("FlagExcludedOutageResult"),
]


async def flag_excluded_outage(
    info: Info, input: FlagExcludedOutageInput
) -> FlagExcludedOutageResult:
    return await add_window(
        info, station_id=input.station_id, evse_id=input.evse_id, start=input.from_,
        end=input.to, reason=input.note, kind=ExclusionKind.EXCLUDED_OUTAGE, cause=input.kind,
    )  # fmt: skip


@strawberry.type
class FlagExcludedOutageMutation:
    flag_excluded_outage: FlagExcludedOutageResult = strawberry.mutation(
        resolver=flag_excluded_outage,
        description="Flag [from, to) of a station or one EVSE as an outage outside your control "
        "(23 CFR 680.116(b)(3)): outage inside it does not count against uptime. Audited.",
        permission_classes=[IsOperatorTechnician],
    )
