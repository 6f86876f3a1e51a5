"""Completed field values reused across operations, keyed by the data they show.

A field marked with a fingerprint (`fingerprinted`) gives, for its source object, a hashable
value made of every row the field's subtree can show (or a marker where this operation has
not loaded something: then the subtree would have to await it, and an awaited completion is
never stored). Its completed value (plain dicts and lists, as graphql-core builds them) is
kept under (the selection's field nodes, the fingerprint) and reused when the same selection
meets equal data again. Nothing is invalidated: the rows are read fresh by every operation
and a changed row is a different key, so a reused value is never stale, on any instance.

Only selections with no variables anywhere below (arguments, directives, fragments) are
keyed, so the field nodes alone fix what is asked; documents are cached by text, so the
nodes are the same objects from one request to the next and are keyed by identity (each
entry holds them, so an identity cannot be reused while its entry lives).
"""

from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Sequence
from typing import Any

from graphql import DirectiveNode, FieldNode, FragmentSpreadNode, Node, VariableNode

FINGERPRINT = "_chargenet_fingerprint"
"""The attribute on a resolver that holds its fingerprint function `(source, context)`."""

Fingerprint = Callable[[Any, Any], Hashable | None]

MAX_ENTRIES = 4096
"""Completed subtrees kept per schema (LRU). One entry is a location's EVSE list (~3 EVSEs
with their connectors) and the rows keying it: ~5 KB of RSS measured, so ~20 MB when full.
The driver app's hot areas fit; a uniform search over 10,000 locations hits ~40 %."""

MAX_SELECTIONS = 256


def fingerprinted(fingerprint: Fingerprint) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a resolver's completed value as reusable under `fingerprint(source, context)`."""

    def decorator(resolver: Callable[..., Any]) -> Callable[..., Any]:
        setattr(resolver, FINGERPRINT, fingerprint)
        return resolver

    return decorator


class _Absent:
    """Stands in a fingerprint for data this operation did not load."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Hashable = _Absent()


class Interned:
    """A value compared by identity with a hash computed once: values with the same `repr`
    are interned to one object (`intern`), so two keys holding the same tariff compare in one
    step. `repr`, not `==`: Decimal("0.39") == Decimal("0.390"), but the API shows them
    differently."""

    __slots__ = ("_hash", "value")

    def __init__(self, value: object, text: str) -> None:
        self.value = value
        self._hash = hash(text)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return other is self


_INTERNED: dict[tuple[type, str], Interned] = {}


def intern(value: object) -> Interned:
    """The one `Interned` for values of this type with this `repr` (the table is cleared past
    1,024 values: later keys then miss until refilled, none is ever wrong)."""
    key = (type(value), repr(value))
    found = _INTERNED.get(key)
    if found is None:
        if len(_INTERNED) >= 1024:
            _INTERNED.clear()
        found = _INTERNED[key] = Interned(value, key[1])
    return found


def _children(node: Node) -> Iterator[Node]:
    for key in node.keys:
        if key == "loc":
            continue
        value = getattr(node, key, None)
        if isinstance(value, Node):
            yield value
        elif isinstance(value, tuple | list):
            yield from (item for item in value if isinstance(item, Node))


_INCREMENTAL = frozenset({"defer", "stream"})


def keyable(nodes: Sequence[Node], fragments: dict[str, Any]) -> bool:
    """Whether `nodes` alone fix what their subtree shows: no variable anywhere in them or in
    a fragment they spread, and no @defer/@stream (their payloads are sent apart)."""
    seen: set[str] = set()
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if isinstance(node, VariableNode):
            return False
        if isinstance(node, DirectiveNode) and node.name.value in _INCREMENTAL:
            return False
        if isinstance(node, FragmentSpreadNode) and node.name.value not in seen:
            seen.add(node.name.value)
            details = fragments.get(node.name.value)
            if details is None:
                return False  # cannot tell what it selects
            stack.append(details.definition)
        stack.extend(_children(node))
    return True


class SubtreeCache:
    """The LRU of completed values for one schema, and which selections may be keyed."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._values: OrderedDict[Hashable, tuple[tuple[FieldNode, ...], Any]] = OrderedDict()
        # node ids -> (the nodes, whether they may be keyed)
        self._selections: dict[tuple[int, ...], tuple[tuple[FieldNode, ...], bool]] = {}

    def __len__(self) -> int:
        return len(self._values)

    def selection_key(
        self, nodes: tuple[FieldNode, ...], fragments: dict[str, Any]
    ) -> tuple[int, ...] | None:
        """The identity key of these field nodes, or None when a variable is below them."""
        key = tuple(map(id, nodes))
        known = self._selections.get(key)
        if known is None:
            if len(self._selections) >= MAX_SELECTIONS:
                self._selections.clear()
            known = self._selections[key] = (nodes, keyable(nodes, fragments))
        return key if known[1] else None

    def get(self, key: Hashable) -> tuple[tuple[FieldNode, ...], Any] | None:
        found = self._values.get(key)
        if found is not None:
            self._values.move_to_end(key)
        return found

    def put(self, key: Hashable, nodes: tuple[FieldNode, ...], value: Any) -> None:
        self._values[key] = (nodes, value)
        if len(self._values) > self.max_entries:
            self._values.popitem(last=False)

    def clear(self) -> None:
        self._values.clear()
        self._selections.clear()
