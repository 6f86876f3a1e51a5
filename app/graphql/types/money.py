"""Money in the API: integer minor units and an ISO 4217 currency, never a float."""

import strawberry


@strawberry.type(description="An amount: `amountMinor` in the currency's minor unit (cents).")
class Money:
    amount_minor: int = strawberry.field(description="E.g. 1234 for EUR 12.34.")
    currency: str = strawberry.field(description="ISO 4217 code, e.g. EUR.")
