"""Who may call what: permission classes declared on every non-public field.

Principals (app/services/auth.py): drivers, operator users (an organisation and a role:
viewer < technician < admin), partner API keys (scopes). Failures raise `Unauthenticated` (no or
bad credentials) or `Forbidden` (valid credentials that may not do this); both reach the client
with `extensions.code` UNAUTHENTICATED / FORBIDDEN. Operator data is always filtered to the
caller's organisation by `operator_scope(info)`.
"""

from typing import Any

from strawberry.permission import BasePermission

from app.domain.access import ApiScope, OperatorRole
from app.domain.errors import Forbidden, Unauthenticated
from app.graphql.context import Info
from app.services.alerts import OperatorScope
from app.services.auth import Principal, PrincipalKind

LOG_IN = "log in first: send 'Authorization: Bearer <access token>'"


def _principal(info: Info, message: str = LOG_IN) -> Principal:
    """The caller; the reason its credentials were refused, or Unauthenticated without any."""
    context = info.context
    if context.auth_error is not None:
        raise context.auth_error
    if context.principal is None:
        raise Unauthenticated(message)
    return context.principal


class IsDriver(BasePermission):
    """The caller is a logged-in driver (`Authorization: Bearer <access token>`)."""

    message = LOG_IN

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        principal = _principal(info)
        if principal.driver_id is None:
            raise Forbidden("this is for drivers: log in with a driver account")
        return True


def current_driver_id(info: Info) -> int:
    """The calling driver's id; use only under `IsDriver`."""
    principal = info.context.principal
    if principal is None or principal.driver_id is None:
        raise Unauthenticated(IsDriver.message)
    return principal.driver_id


class IsOperator(BasePermission):
    """Any operator user of an organisation (viewer, technician or admin); also an API key
    the organisation owns that carries `network:read`. Read the network, never change it."""

    message = "operator API: log in as an operator user (operatorLogIn)"
    role = OperatorRole.VIEWER
    key_scope: ApiScope | None = ApiScope.NETWORK_READ

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        principal = _principal(info, self.message)
        if principal.kind is PrincipalKind.API_KEY and self.key_scope is not None:
            if principal.operator_id is not None and self.key_scope.value in principal.scopes:
                return True
            raise Forbidden(f"this API key lacks the scope {self.key_scope.value!r}")
        if principal.kind is not PrincipalKind.OPERATOR_USER or principal.role is None:
            raise Forbidden(f"this is for operator users: {self.message}")
        if principal.operator_id is None:
            raise Forbidden("this operator account belongs to no organisation")
        if not principal.role.includes(self.role):
            raise Forbidden(
                f"this needs the {self.role.value} role or above; you are {principal.role.value}"
            )
        return True


class IsOperatorTechnician(IsOperator):
    """An operator user who may act on their network's stations (technician or admin role):
    remote operations, acknowledging and resolving alerts. No API key qualifies."""

    role = OperatorRole.TECHNICIAN
    key_scope = None


class IsOperatorAdmin(IsOperator):
    """An operator admin: manages the organisation (users, API keys, capacity tree, tariffs,
    refunds, audit log). No API key qualifies."""

    role = OperatorRole.ADMIN
    key_scope = None


def HasScope(scope: str) -> type[BasePermission]:
    """A permission class: the caller is a partner API key carrying `scope`.

    Use as `permission_classes=[HasScope("locations:read")]`."""
    ApiScope(scope)  # a typo fails at import, not at request time

    class _HasScope(BasePermission):
        message = f"send a partner API key with the scope {scope!r} (X-Api-Key)"

        def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
            principal = _principal(info, self.message)
            if principal.kind is not PrincipalKind.API_KEY:
                raise Forbidden(f"this is for partner API keys: {self.message}")
            if scope not in principal.scopes:
                raise Forbidden(f"this API key lacks the scope {scope!r}")
            return True

    _HasScope.__name__ = _HasScope.__qualname__ = f"HasScope_{scope.replace(':', '_')}"
    _HasScope.scope = scope  # type: ignore[attr-defined]
    return _HasScope


def operator_scope(info: Info) -> OperatorScope:
    """Whose network the caller sees: their organisation. Call only under an operator
    permission; a caller without an organisation sees nothing (never the whole network)."""
    principal = info.context.principal
    if principal is None or principal.operator_id is None:
        raise Forbidden("this operation is for an operator organisation's users")
    return OperatorScope(operator_id=principal.operator_id)


def actor(info: Info) -> str:
    """Who is acting, for audit records: `operator-user:<id>`, `api-key:<id>`, `driver:<id>`
    (`operator-user:idp:<sub>` for operators of the external identity provider)."""
    principal = info.context.principal
    if principal is None:
        raise Unauthenticated(LOG_IN)
    return principal.actor
