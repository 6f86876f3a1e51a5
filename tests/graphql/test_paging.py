"""The id-cursor paging shared by `alerts` and `auditLog`: bounds, round trip, foreign cursors."""

import base64

import pytest
from strawberry import relay

from app.domain.errors import InvalidInput
from app.graphql.paging import IdCursor, page_info, page_size
from app.graphql.queries import alerts, audit


@pytest.mark.parametrize(("first", "size"), [(None, 50), (1, 1), (200, 200)], ids=str)
def test_page_size_defaults_and_accepts_its_bounds(first: int | None, size: int) -> None:
    assert page_size(first) == size


@pytest.mark.parametrize("first", [0, -1, 201], ids=str)
def test_page_size_out_of_bounds_names_the_value(first: int) -> None:
    with pytest.raises(InvalidInput, match=f"first must be from 1 to 200, got {first}"):
        page_size(first)


def test_a_cursor_round_trips_and_a_missing_one_is_none() -> None:
    cursor = alerts.CURSOR.encode(4711)
    assert alerts.CURSOR.decode(cursor) == 4711
    assert alerts.CURSOR.decode(None) is None


@pytest.mark.parametrize(
    "cursor",
    [
        audit.CURSOR.encode(12),  # another connection's cursor is not read as an id
        base64.urlsafe_b64encode(b"alert:twelve").decode(),
        "not base64 at all!",
    ],
    ids=["foreign", "not-an-id", "garbage"],
)
def test_a_cursor_that_is_not_ours_is_refused_naming_the_connection(cursor: str) -> None:
    with pytest.raises(InvalidInput, match="expected an endCursor of `alerts`"):
        alerts.CURSOR.decode(cursor)


def test_page_info_of_forward_pages() -> None:
    cursor = IdCursor(prefix="x:", field="xs")
    edges = [relay.Edge(cursor=cursor.encode(n), node=n) for n in (9, 8, 7)]
    first = page_info(edges, after=None, has_next_page=True)
    assert (first.has_previous_page, first.has_next_page) == (False, True)
    assert (first.start_cursor, first.end_cursor) == (cursor.encode(9), cursor.encode(7))
    empty = page_info([], after=cursor.encode(7), has_next_page=False)
    assert (empty.has_previous_page, empty.start_cursor, empty.end_cursor) == (True, None, None)
