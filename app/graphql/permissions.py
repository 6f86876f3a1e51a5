"""Who may call what: permission classes declared on every non-public field."""

import hmac
from typing import Any

from strawberry.permission import BasePermission

from app.domain.errors import Forbidden, Unauthenticated
from app.graphql.context import Info


class IsDriver(BasePermission):
    """The caller is a logged-in driver (`Authorization: Bearer <access token>`)."""

    message = "log in first: send 'Authorization: Bearer <access token>'"

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        context = info.context
        if context.auth_error is not None:
            raise context.auth_error
        if context.principal is None or context.principal.driver_id is None:
            raise Unauthenticated(self.message)
        return True


def current_driver_id(info: Info) -> int:
    """The calling driver's id; use only under `IsDriver`."""
    principal = info.context.principal
    if principal is None or principal.driver_id is None:
        raise Unauthenticated(IsDriver.message)
    return principal.driver_id


OPERATOR_KEY_HEADER = "X-Operator-Key"


class IsOperator(BasePermission):
    """The caller holds the operator API key (`X-Operator-Key` header, or the same key in a
    WebSocket's `connection_init` payload). Temporary: operator accounts (issue 7) replace it
    with a principal scoped to the operator's own network."""

    message = f"operator API: send '{OPERATOR_KEY_HEADER}: <key>'"

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        context = info.context
        expected = context.settings.operator_api_key
        if expected is None:
            raise Forbidden("the operator API is disabled: OPERATOR_API_KEY is not set")
        given = context.request.headers.get(OPERATOR_KEY_HEADER)
        params = context.connection_params
        if given is None and isinstance(params, dict):
            value = params.get(OPERATOR_KEY_HEADER)
            given = value if isinstance(value, str) else None
        if not given:
            raise Unauthenticated(self.message)
        if not hmac.compare_digest(given.encode(), expected.get_secret_value().encode()):
            raise Forbidden(f"{OPERATOR_KEY_HEADER} is not the operator API key")
        return True
