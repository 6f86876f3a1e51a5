"""Every GraphQL operation declares who may call it; public ones are listed with a reason.

The test walks the Strawberry schema: a Query, Mutation or Subscription field without a
permission class that is not in PUBLIC fails, so a new operation cannot ship open. Public
operations must also not lead to sensitive types (another driver's data, an organisation's
data) unless the type is listed in SELF_SERVICE with why it is the caller's own (what lies
under it is then the caller's own too).
"""

from collections.abc import Iterator

from graphql import GraphQLNamedType, GraphQLObjectType, GraphQLUnionType, get_named_type
from strawberry.permission import PermissionExtension
from strawberry.types.base import StrawberryObjectDefinition

from app.graphql.schema import schema

PUBLIC: dict[str, str] = {
    "Query.locations": "open charge-point data (OCPI public locations), shown in any map",
    "Query.location": "open charge-point data",
    "Query.node": "resolves only Location, ChargingStation and Evse: open data",
    "Query.priceEstimate": "tariffs are public (AFIR price transparency)",
    "Query.adHocSession": "guest (AFIR ad hoc) session, found only with its secret receipt token",
    "Query.membershipPlans": "the plans on offer are advertised to everyone",
    "Mutation.signUp": "creates an account",
    "Mutation.logIn": "trades credentials for tokens",
    "Mutation.refreshTokens": "trades a refresh token for tokens",
    "Mutation.logOut": "revokes the refresh token presented; nothing else",
    "Mutation.operatorLogIn": "trades operator credentials for a token",
    "Mutation.createAdHocPayment": "AFIR: a guest pays without an account",
    "Mutation.confirmAdHocPayment": "AFIR: the guest confirms the payment they created",
    "Subscription.evseStatusChanged": "live availability is open data",
}

SENSITIVE = {
    "Driver", "IdToken", "Reservation", "ChargingSession", "Receipt", "PaymentMethod",
    "Alert", "AuditRecord", "ApiKey", "CapacityNode", "ChargingLimit", "UptimeReport",
    "EvseUptime", "OperatorUser", "MaintenanceWindow", "OcppMessage",
}  # fmt: skip
"""Types that belong to one driver or one organisation."""

SELF_SERVICE: dict[tuple[str, str], str] = {
    ("Mutation.signUp", "Driver"): "the account just created, the caller's own",
    ("Mutation.logIn", "Driver"): "the account whose password was given",
    ("Mutation.refreshTokens", "Driver"): "the account of the refresh token presented",
    ("Mutation.operatorLogIn", "OperatorUser"): "the operator user whose password was given",
    ("Query.adHocSession", "ChargingSession"): "the guest's own session (secret receipt token)",
    ("Query.adHocSession", "Receipt"): "the guest's own receipt (secret receipt token)",
    ("Mutation.confirmAdHocPayment", "ChargingSession"): "the guest's own session",
}

ROOTS = ("Query", "Mutation", "Subscription")


def _definition(name: str) -> StrawberryObjectDefinition | None:
    found = schema.schema_converter.type_map.get(name)
    definition = getattr(found, "definition", None) if found is not None else None
    return definition if isinstance(definition, StrawberryObjectDefinition) else None


def _permissions(type_name: str, field_name: str) -> list[str]:
    definition = _definition(type_name)
    assert definition is not None, type_name
    for field in definition.fields:
        if schema.config.name_converter.get_graphql_name(field) == field_name:
            return [
                type(permission).__name__
                for extension in field.extensions
                if isinstance(extension, PermissionExtension)
                for permission in extension.permissions
            ]
    raise AssertionError(f"{type_name}.{field_name} not found")


def operations() -> Iterator[str]:
    for root in ROOTS:
        graphql_type = schema._schema.get_type(root)
        assert isinstance(graphql_type, GraphQLObjectType)
        for name in graphql_type.fields:
            yield f"{root}.{name}"


def _reachable(start: GraphQLNamedType, owned: set[str]) -> set[str]:
    """Type names reachable from `start` through fields that declare no permission; the
    `owned` types are the caller's own: what lies under them is not followed."""
    seen: set[str] = set()
    stack = [start]
    while stack:
        current = stack.pop()
        if current.name in seen:
            continue
        seen.add(current.name)
        if current.name in owned:
            continue
        if isinstance(current, GraphQLUnionType):
            stack.extend(current.types)
        elif isinstance(current, GraphQLObjectType):
            for name, field in current.fields.items():
                if _definition(current.name) is not None and _permissions(current.name, name):
                    continue
                stack.append(get_named_type(field.type))
    return seen


def test_every_operation_declares_a_permission_or_is_public_with_a_reason() -> None:
    undeclared = [
        name for name in operations() if not _permissions(*name.split(".")) and name not in PUBLIC
    ]
    assert undeclared == [], (
        f"declare permission_classes on {undeclared} (app/graphql/permissions.py), or list "
        "them in PUBLIC with the reason they are open"
    )


def test_the_public_list_names_only_open_operations_that_exist() -> None:
    names = set(operations())
    stale = [name for name in PUBLIC if name not in names or _permissions(*name.split("."))]
    assert stale == [], f"remove {stale} from PUBLIC: gone or no longer public"


def test_public_operations_reach_no_one_elses_data() -> None:
    leaks = []
    for name in PUBLIC:
        root, field = name.split(".")
        graphql_type = schema._schema.get_type(root)
        assert isinstance(graphql_type, GraphQLObjectType)
        returned = get_named_type(graphql_type.fields[field].type)
        owned = {kind for (operation, kind) in SELF_SERVICE if operation == name}
        for reached in sorted(_reachable(returned, owned) & SENSITIVE):
            if (name, reached) not in SELF_SERVICE:
                leaks.append(f"{name} -> {reached}")
    assert leaks == [], f"public operations reach sensitive types: {leaks}"


def test_a_new_undeclared_operation_would_fail() -> None:
    """The check itself can fail: an operation with no permission is caught."""
    assert "Mutation.signUp" in PUBLIC
    assert not _permissions("Mutation", "signUp")
    assert _permissions("Mutation", "createApiKey") == ["IsOperatorAdmin"]
