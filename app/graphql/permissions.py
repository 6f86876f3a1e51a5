"""Who may call what: permission classes declared on every non-public field."""

from typing import Any

from strawberry.permission import BasePermission

from app.domain.errors import Unauthenticated
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
