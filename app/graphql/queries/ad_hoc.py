"""`adHocSession`: a guest follows their session and reads its receipt by token. Public."""

import strawberry

from app.domain.errors import NotFound
from app.graphql.context import Info
from app.graphql.types.ad_hoc import AdHocSession
from app.services import adhoc_payments


async def ad_hoc_session(info: Info, receipt_token: str) -> AdHocSession | None:
    try:
        view = await adhoc_payments.view(
            session_factory=info.context.session_factory, receipt_token=receipt_token
        )
    except NotFound:
        return None
    return AdHocSession.from_view(view)


@strawberry.type
class AdHocQueries:
    ad_hoc_session: AdHocSession | None = strawberry.field(
        resolver=ad_hoc_session,
        description="A guest's session by the receipt token createAdHocPayment returned "
        "(public: the token is the secret). Null for an unknown token.",
    )
