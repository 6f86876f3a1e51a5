"""`priceEstimate`: what charging would cost at an EVSE, before logging in (public)."""

from datetime import UTC, datetime

import strawberry

from app.domain.errors import InvalidInput, NotFound
from app.graphql import fields
from app.graphql.context import Info
from app.graphql.types import node
from app.graphql.types.tariff import PriceEstimate, Tariff, cost_lines, money
from app.services import pricing


@strawberry.type
class PricingQueries:
    @fields.field(
        description=(
            "The price of `kwh` within `minutes` at an EVSE, starting now in the location's time "
            "zone: charging at the connector's maximum power, then idle. Public."
        )
    )
    async def price_estimate(
        self, info: Info, evse_id: strawberry.ID, kwh: float, minutes: int
    ) -> PriceEstimate:
        key = node.decode_int(evse_id, node.EVSE)
        if key is None:
            raise NotFound("EVSE", evse_id)
        if not kwh > 0 or kwh > 10_000:
            raise InvalidInput(f"kwh must be > 0 and at most 10000, got {kwh}")
        if minutes <= 0 or minutes > 7 * 24 * 60:
            raise InvalidInput(f"minutes must be from 1 to {7 * 24 * 60}, got {minutes}")
        now = datetime.now(UTC)
        quote = await pricing.estimate_price(
            session_factory=info.context.session_factory,
            evse_id=key,
            energy_wh=round(kwh * 1000),
            duration_s=minutes * 60,
            now=now,
        )
        cost = quote.cost
        return PriceEstimate(
            tariff=Tariff.from_domain(quote.tariff),
            starts_at=now,
            time_zone=quote.time_zone,
            charging_power_kw=quote.max_power_w / 1000,
            total_excl_vat=money(cost.total_excl_vat, cost.currency),
            total_vat=money(cost.total_vat, cost.currency),
            total_incl_vat=money(cost.total_incl_vat, cost.currency),
            breakdown=cost_lines(cost),
            price_limit=cost.price_limit,
        )
