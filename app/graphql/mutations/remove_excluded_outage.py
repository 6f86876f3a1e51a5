"""`removeExcludedOutage`: withdraw an excluded-outage flag (its outage counts again)."""

from typing import Annotated

import strawberry

from app.domain.uptime import ExclusionKind
from app.graphql.context import Info
from app.graphql.mutations.cancel_maintenance import RemoveResult, remove_window
from app.graphql.permissions import IsOperatorTechnician

RemoveExcludedOutageResult = Annotated[RemoveResult, strawberry.union("RemoveExcludedOutageResult")]


async def remove_excluded_outage(info: Info, id: strawberry.ID) -> RemoveExcludedOutageResult:
    return await remove_window(info, id, ExclusionKind.EXCLUDED_OUTAGE)


@strawberry.type
class RemoveExcludedOutageMutation:
    remove_excluded_outage: RemoveExcludedOutageResult = strawberry.mutation(
        resolver=remove_excluded_outage,
        description="Withdraw an excluded-outage flag; returns it as it was. Audited.",
        permission_classes=[IsOperatorTechnician],
    )
