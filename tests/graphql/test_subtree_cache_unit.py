"""The executor's reuse of fingerprinted fields: kept per selection and fingerprint, never for a
failed completion, a variable below the field, or an unhashable fingerprint."""

from collections.abc import Hashable
from typing import Any

import strawberry

from app.graphql.execution import ChargenetExecutor
from app.graphql.extensions import DOCUMENT_CACHES
from app.graphql.subtree_cache import fingerprinted


def build_schema(fingerprint: Any, *, fail: bool = False) -> tuple[strawberry.Schema, list[int]]:
    """`boxes { inner { text } }` with `inner` fingerprinted; `calls` counts its resolutions."""
    calls: list[int] = []

    @strawberry.type
    class Inner:
        text: str | None

    @strawberry.type
    class Box:
        key: int

        @strawberry.field
        @fingerprinted(fingerprint)
        def inner(self) -> Inner | None:
            calls.append(self.key)
            if fail:
                raise ValueError(f"no inner for {self.key}")
            return Inner(text=f"box {self.key}")

    @strawberry.type
    class Query:
        @strawberry.field
        def boxes(self) -> list[Box]:
            return [Box(key=1), Box(key=2)]

    schema = strawberry.Schema(
        query=Query, execution_context_class=ChargenetExecutor, extensions=[*DOCUMENT_CACHES]
    )
    return schema, calls


def by_key(box: Any, _context: Any) -> Hashable:
    return box.key


EXPECTED = {"boxes": [{"inner": {"text": "box 1"}}, {"inner": {"text": "box 2"}}]}


def test_a_fingerprinted_field_is_resolved_once_per_selection_and_fingerprint() -> None:
    schema, calls = build_schema(by_key)
    for _ in range(3):
        result = schema.execute_sync("{ boxes { inner { text } } }")
        assert result.errors is None
        assert result.data == EXPECTED
    assert calls == [1, 2]
    other = schema.execute_sync("{ boxes { inner { __typename text } } }")  # another selection
    assert other.data is not None
    assert calls == [1, 2, 1, 2]


def test_a_variable_below_the_field_is_never_kept() -> None:
    schema, calls = build_schema(by_key)
    query = "query Q($show: Boolean!) { boxes { inner { text @include(if: $show) } } }"
    shown = schema.execute_sync(query, variable_values={"show": True})
    hidden = schema.execute_sync(query, variable_values={"show": False})
    assert shown.data == EXPECTED
    assert hidden.data == {"boxes": [{"inner": {}}, {"inner": {}}]}
    assert calls == [1, 2, 1, 2]


def test_an_unhashable_fingerprint_answers_without_the_cache() -> None:
    schema, calls = build_schema(lambda box, _context: (box.key, [box.key]))
    for _ in range(2):
        result = schema.execute_sync("{ boxes { inner { text } } }")
        assert result.errors is None
        assert result.data == EXPECTED
    assert calls == [1, 2, 1, 2]


def test_a_failed_completion_is_not_kept() -> None:
    schema, calls = build_schema(by_key, fail=True)
    for _ in range(2):
        result = schema.execute_sync("{ boxes { key inner { text } } }")
        assert result.data == {"boxes": [{"key": 1, "inner": None}, {"key": 2, "inner": None}]}
        assert result.errors is not None
        assert sorted(tuple(e.path or ()) for e in result.errors) == [
            ("boxes", 0, "inner"),
            ("boxes", 1, "inner"),
        ]
    assert calls == [1, 2, 1, 2]  # resolved again: each position reports its own error
