"""Typed wrappers of `strawberry.field`/`subscription` with arguments (those return Any)."""

from collections.abc import Callable
from typing import Any, TypeVar

import strawberry

ResolverT = TypeVar("ResolverT", bound=Callable[..., Any])


def field(*, description: str) -> Callable[[ResolverT], ResolverT]:
    """A resolver field with a description, keeping the resolver's type for mypy."""
    decorator: Callable[[ResolverT], ResolverT] = strawberry.field(description=description)
    return decorator


def subscription(*, description: str) -> Callable[[ResolverT], ResolverT]:
    decorator: Callable[[ResolverT], ResolverT] = strawberry.subscription(description=description)
    return decorator
