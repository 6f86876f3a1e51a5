"""Cursor paging by row id, newest first: the page size argument, opaque cursors, the page info."""

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import strawberry
from strawberry import relay

from app.domain.errors import InvalidInput

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200

PageSize = Annotated[
    int | None,
    strawberry.argument(description=f"Page size, 1 to {MAX_PAGE_SIZE}; {DEFAULT_PAGE_SIZE}."),
]


def page_size(first: int | None) -> int:
    """`first` checked against the bounds (the default when not given)."""
    size = DEFAULT_PAGE_SIZE if first is None else first
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise InvalidInput(f"first must be from 1 to {MAX_PAGE_SIZE}, got {size}")
    return size


@dataclass(frozen=True, slots=True)
class IdCursor:
    """Opaque cursors of one connection (`field`): base64 of `prefix` + the row id, so a cursor
    of another connection is refused rather than read as an id."""

    prefix: str
    field: str

    def encode(self, row_id: int) -> str:
        return base64.urlsafe_b64encode(f"{self.prefix}{row_id}".encode()).decode()

    def decode(self, cursor: str | None) -> int | None:
        """The row id in `cursor` (None for None); a foreign or broken cursor is InvalidInput."""
        if cursor is None:
            return None
        try:
            text = base64.urlsafe_b64decode(cursor.encode()).decode()
            if not text.startswith(self.prefix):
                raise ValueError(text)
            return int(text.removeprefix(self.prefix))
        except (binascii.Error, UnicodeError, ValueError):
            raise InvalidInput(
                f"after {cursor!r} is not a cursor: expected an endCursor of `{self.field}`"
            ) from None


def page_info(
    edges: Sequence[relay.Edge[Any]], *, after: str | None, has_next_page: bool
) -> relay.PageInfo:
    """Forward paging only: a page after a cursor has a previous page."""
    return relay.PageInfo(
        has_next_page=has_next_page,
        has_previous_page=after is not None,
        start_cursor=edges[0].cursor if edges else None,
        end_cursor=edges[-1].cursor if edges else None,
    )
