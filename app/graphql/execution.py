"""The GraphQL executor: shared objects completed once per operation, enums serialised by lookup,
plain resolvers called directly, fingerprinted subtrees reused across operations."""

from collections.abc import Callable
from enum import Enum
from typing import Any
from weakref import WeakKeyDictionary, WeakSet

from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLLeafType,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLSchema,
    get_named_type,
)
from graphql.pyutils import AwaitableOrValue, Path
from strawberry import relay
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import CustomGraphQLEnumType, GraphQLCoreConverter
from strawberry.types.base import StrawberryObjectDefinition
from strawberry.types.field import StrawberryField

from app.graphql.subtree_cache import FINGERPRINT, Fingerprint, SubtreeCache

DIRECT = "_chargenet_direct"
"""Marks a resolver `(self, info)` that only reads `info.context` and returns its value or an
awaitable (types/station.py `eager_field`): graphql-core calls it directly, without Strawberry's
per-call wrapper (an Info object, argument conversion, the field-extension chain), ~10 us of a
~12 us call. A page of 50 locations makes ~650 such calls (ids, evses, connectors, tariffs)."""

_INSTALLED: "WeakSet[GraphQLSchema]" = WeakSet()

_FINGERPRINTED: "WeakKeyDictionary[GraphQLSchema, dict[GraphQLObjectType, dict[str, Fingerprint]]]"
_FINGERPRINTED = WeakKeyDictionary()
_SUBTREES: "WeakKeyDictionary[GraphQLSchema, SubtreeCache]" = WeakKeyDictionary()


def subtree_cache(schema: GraphQLSchema) -> SubtreeCache:
    """The completed subtrees kept for `schema` (app/graphql/subtree_cache.py)."""
    cache = _SUBTREES.get(schema)
    if cache is None:
        cache = _SUBTREES[schema] = SubtreeCache()
    return cache


def _direct(function: Callable[..., Any]) -> Callable[..., Any]:
    def resolve(source: Any, info: "GraphQLResolveInfo[Any]") -> Any:
        return function(source, info)

    return resolve


def _direct_node_id(id_attr: str) -> Callable[..., Any]:
    """relay.Node's `id` as Strawberry answers it for a node that keeps the default
    resolve_id/resolve_typename: the path's type name and the id attribute as a string."""

    def resolve(source: Any, info: "GraphQLResolveInfo[Any]") -> relay.GlobalID:
        return relay.GlobalID(
            type_name=info.path.typename or "", node_id=str(getattr(source, id_attr))
        )

    return resolve


def _direct_resolver(owner: type, field: StrawberryField) -> Callable[..., Any] | None:
    if field.permission_classes or field.extensions or field.arguments:
        return None
    resolver = field.base_resolver
    if resolver is None:
        return None
    function = resolver.wrapped_func
    if callable(function) and getattr(function, DIRECT, False):
        return _direct(function)
    node = relay.Node
    if (
        field.python_name == "_id"
        and issubclass(owner, node)
        and owner.resolve_id.__func__ is node.resolve_id.__func__  # type: ignore[attr-defined]
        and owner.resolve_typename.__func__ is node.resolve_typename.__func__  # type: ignore[attr-defined]
    ):
        return _direct_node_id(owner.resolve_id_attr())
    return None


def _plain_below(schema: GraphQLSchema, graphql_type: Any) -> bool:
    """Whether every field reachable below `graphql_type` answers the same for every viewer
    and request: no permission classes, field extensions or arguments, object types only."""
    seen: set[str] = set()
    stack = [graphql_type]
    while stack:
        current = get_named_type(stack.pop())
        if current.name in seen or isinstance(current, GraphQLLeafType):
            continue
        seen.add(current.name)
        if not isinstance(current, GraphQLObjectType):
            return False  # an interface or union: its members are not checked here
        for graphql_field in current.fields.values():
            field = graphql_field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
            if not isinstance(field, StrawberryField) or graphql_field.args:
                return False
            if field.permission_classes or field.extensions:
                return False
            stack.append(graphql_field.type)
    return True


def install_direct_resolvers(schema: GraphQLSchema) -> None:
    """Swap the marked resolvers (and default relay ids) for direct calls, and collect the
    fingerprinted fields, once per schema."""
    if schema in _INSTALLED:
        return
    fingerprinted: dict[GraphQLObjectType, dict[str, Fingerprint]] = {}
    for graphql_type in schema.type_map.values():
        definition = (graphql_type.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
        if not isinstance(graphql_type, GraphQLObjectType) or not isinstance(
            definition, StrawberryObjectDefinition
        ):
            continue
        for name, graphql_field in graphql_type.fields.items():
            field = graphql_field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
            if isinstance(field, StrawberryField):
                resolve = _direct_resolver(definition.origin, field)
                if resolve is not None:
                    _set_resolve(graphql_field, resolve)
                fingerprint = _fingerprint(field)
                if fingerprint is not None and _plain_below(schema, graphql_field.type):
                    fingerprinted.setdefault(graphql_type, {})[name] = fingerprint
    _FINGERPRINTED[schema] = fingerprinted
    _INSTALLED.add(schema)


def _fingerprint(field: StrawberryField) -> Fingerprint | None:
    if field.permission_classes or field.extensions or field.arguments:
        return None
    resolver = field.base_resolver
    function = resolver.wrapped_func if resolver is not None else None
    found: Fingerprint | None = getattr(function, FINGERPRINT, None)
    return found


def _set_resolve(graphql_field: GraphQLField, resolve: Callable[..., Any]) -> None:
    graphql_field.resolve = resolve


SHARED_OBJECT_TYPES: set[str] = {"Tariff"}
"""GraphQL object types whose fields depend only on the object itself (not on where it sits in
the response): when a resolver returns the same Python object again for the same selection in
one operation, its completed fields are reused instead of executed again. A page of 50
locations shows one tariff under 150 connectors: ~2,000 of its ~3,800 fields. Add a type only
if no field below it reads `info.path` or has side effects."""

_ENUM_NAMES: dict[GraphQLEnumType, dict[object, str]] = {}


def _enum_name(return_type: CustomGraphQLEnumType, value: Enum) -> str | None:
    names = _ENUM_NAMES.get(return_type)
    if names is None:
        names = _ENUM_NAMES[return_type] = {
            defined.value: name for name, defined in return_type.values.items()
        }
    return names.get(value.value)


class ChargenetExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor with two shortcuts that leave every response unchanged."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        install_direct_resolvers(self.schema)
        self._fingerprinted = _FINGERPRINTED.get(self.schema, {})
        self._subtrees = subtree_cache(self.schema)
        # (id of the object, id of the selection) -> (object, selection, completed fields);
        # the object and selection are held so that their ids stay theirs.
        self._completed: dict[tuple[int, int], tuple[object, object, dict[str, Any]]] = {}

    @staticmethod
    def complete_leaf_value(return_type: GraphQLLeafType, result: Any) -> Any:
        """Strawberry's enum type scans every value per call (19 % of a fan-out's CPU); a dict
        lookup by the member's value gives the same name."""
        if isinstance(return_type, CustomGraphQLEnumType) and isinstance(
            result, return_type.wrapped_cls
        ):
            name = _enum_name(return_type, result)
            if name is not None:
                return name
        return StrawberryGraphQLCoreExecutionContext.complete_leaf_value(return_type, result)

    def complete_object_value(
        self,
        return_type: GraphQLObjectType,
        field_details_list: Any,
        info: "GraphQLResolveInfo[Any]",
        path: Path,
        result: Any,
        position_context: Any,
    ) -> AwaitableOrValue[dict[str, Any]]:
        if return_type.name not in SHARED_OBJECT_TYPES or position_context is not None:
            return super().complete_object_value(
                return_type, field_details_list, info, path, result, position_context
            )
        key = (id(result), id(field_details_list))
        done = self._completed.get(key)
        if done is not None:
            return done[2]
        errors = len(self.collected_errors.errors)
        completed = super().complete_object_value(
            return_type, field_details_list, info, path, result, position_context
        )
        # Only a synchronous, error-free completion is reused: errors carry their own path.
        if isinstance(completed, dict) and len(self.collected_errors.errors) == errors:
            self._completed[key] = (result, field_details_list, completed)
        return completed

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Path,
        position_context: Any,
    ) -> Any:
        """A fingerprinted field's completed value from an earlier operation when the same
        selection meets equal data (app/graphql/subtree_cache.py), else executed and kept."""
        by_name = self._fingerprinted.get(parent_type)
        fingerprint_of = by_name and by_name.get(field_details_list[0].node.name.value)
        fingerprint = selection = None
        middleware = self.middleware_manager and self.middleware_manager.middlewares
        if fingerprint_of and position_context is None and not middleware:
            nodes = tuple(details.node for details in field_details_list)
            if all(details.fragment_variable_values is None for details in field_details_list):
                selection = self._subtrees.selection_key(nodes, self.fragments)
            if selection is not None:
                fingerprint = fingerprint_of(source, self.context_value)
        if fingerprint is None:
            return super().execute_field(
                parent_type, source, field_details_list, path, position_context
            )
        key = (selection, fingerprint)
        try:
            found = self._subtrees.get(key)
        except TypeError:  # an unhashable value in the rows (say a JSON column): not kept
            return super().execute_field(
                parent_type, source, field_details_list, path, position_context
            )
        if found is not None:
            return found[1]
        errors = len(self.collected_errors.errors)
        completed = super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )
        # Only a synchronous, error-free completion is kept: errors carry their own path, and
        # an awaited one read something the fingerprint could not see.
        if not self.is_awaitable(completed) and len(self.collected_errors.errors) == errors:
            self._subtrees.put(key, nodes, completed)
        return completed
