"""Money in the API: integer minor units and an ISO 4217 currency, never a float."""

from decimal import Decimal

import strawberry

from app.domain.tariffs import CURRENCY_EXPONENTS
from app.graphql import fields

_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥"}


@strawberry.type(description="An amount: `amountMinor` in the currency's minor unit (cents).")
class Money:
    amount_minor: int = strawberry.field(description="E.g. 1234 for EUR 12.34.")
    currency: str = strawberry.field(description="ISO 4217 code, e.g. EUR.")

    @fields.field(description="For display: '€12.34', '12.345 KWD'.")
    def formatted(self) -> str:
        amount = Decimal(self.amount_minor).scaleb(-CURRENCY_EXPONENTS.get(self.currency, 2))
        symbol = _SYMBOLS.get(self.currency)
        return f"{symbol}{amount:f}" if symbol else f"{amount:f} {self.currency}"
