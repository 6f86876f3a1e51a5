"""Who may call what: permission classes declared on every non-public field."""

import hmac
from typing import Any

from strawberry.permission import BasePermission

from app.domain.errors import Forbidden, Unauthenticated
from app.graphql.context import Info
from app.services.alerts import NETWORK, OperatorScope


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


class IsOperatorTechnician(IsOperator):
    """An operator user who may act on their network's stations (technician or admin role):
    remote operations, acknowledging alerts. Until issue 7 lands roles, same as `IsOperator`."""


class IsOperatorAdmin(IsOperator):
    """An operator admin: manages the organisation (users, API keys, capacity tree, tariffs,
    refunds, audit log). Until issue 7 lands roles, same as `IsOperator`."""


def operator_scope(info: Info) -> OperatorScope:
    """Whose network the caller sees. The temporary operator key sees all of it; issue 7
    derives the operator organisation from the caller's account."""
    return NETWORK


def actor(info: Info) -> str:
    """Who is acting, for audit records: `driver:<id>`, and for operators the temporary
    `operator-key` (issue 7: `operator-user:<id>`, `api-key:<id>`)."""
    principal = info.context.principal
    if principal is not None:
        return f"{principal.kind.value}:{principal.subject_id}"
    return "operator-key"
