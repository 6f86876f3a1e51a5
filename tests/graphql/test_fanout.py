"""Shared fan-out: who shares a group, one execution per event and group, masked errors."""

import asyncio
import base64
import json
from datetime import UTC, datetime
from typing import Any, cast

from graphql import ExecutionResult, GraphQLError

from app.domain.errors import InvalidInput
from app.events import InProcessEventBus, topics
from app.graphql.context import Context
from app.graphql.fanout import Delivery, FanoutHub, Request, encode_payload
from app.graphql.schema import schema
from app.graphql.types.events import EvseStatusChanged

QUERY = """
subscription Watch($ids: [ID!]!) {
  evseStatusChanged(locationIds: $ids) { evseUid status previousStatus changedAt }
}
"""
LOCATION = base64.b64encode(b"Location:1").decode()
# The executor reads nothing of the context below evseStatusChanged (public data).
CONTEXT = cast(Context, object())


def request(ids: list[str]) -> Request:
    return Request(QUERY, "Watch", json.dumps({"ids": ids}, sort_keys=True, separators=(",", ":")))


def test_only_equal_requests_with_equal_visibility_share_a_group() -> None:
    hub = FanoutHub(schema)
    mine, other = request([LOCATION]), request([LOCATION, LOCATION])
    with hub.join(mine, None, CONTEXT) as a, hub.join(mine, None, CONTEXT) as b:
        assert a is b
        with (
            hub.join(mine, ("operator", 1), CONTEXT) as org_1,
            hub.join(mine, ("operator", 2), CONTEXT) as org_2,
            hub.join(other, None, CONTEXT) as c,
        ):
            assert len({id(group) for group in (a, org_1, org_2, c)}) == 4
            assert len(hub) == 4
        assert len(hub) == 1
    assert len(hub) == 0


async def test_each_event_is_executed_once_for_every_member_in_publish_order() -> None:
    bus = InProcessEventBus()
    hub = FanoutHub(schema)
    sent: dict[str, list[str]] = {"a": [], "b": []}
    got_all = asyncio.Event()
    executed: list[str] = []

    def root(topic: str, payload: dict[str, Any]) -> EvseStatusChanged | None:
        executed.append(payload["evse_uid"])
        return EvseStatusChanged.from_payload(payload) if payload["evse_uid"] else None

    def sender(name: str) -> Any:
        async def send(text: str) -> None:
            sent[name].append(text)
            if all(len(texts) == 3 for texts in sent.values()):
                got_all.set()

        return send

    async def member(name: str, opened: asyncio.Event) -> None:
        delivery = Delivery(hub, request([LOCATION]), CONTEXT, sender(name))
        async with bus.subscribe(topics.evse_status(1)) as events:
            opened.set()
            await delivery.forward(events, visibility=None, root=root)

    opened = [asyncio.Event(), asyncio.Event()]
    tasks = [asyncio.create_task(member(name, o)) for name, o in zip("ab", opened, strict=True)]
    try:
        async with asyncio.timeout(10):
            await asyncio.gather(*(o.wait() for o in opened))
            for uid in ("CS-1*1", "", "CS-1*2", "CS-1*3"):  # "" is skipped by `root`
                await bus.publish(topics.evse_status(1), event(uid))
            await got_all.wait()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert sent["a"] == sent["b"]
    payloads = [json.loads(text) for text in sent["a"]]
    assert [p["data"]["evseStatusChanged"]["evseUid"] for p in payloads] == [
        "CS-1*1",
        "CS-1*2",
        "CS-1*3",
    ]
    assert payloads[0]["data"]["evseStatusChanged"]["status"] == "CHARGING"
    assert executed == ["CS-1*1", "", "CS-1*2", "CS-1*3"]  # once per event, not per member
    assert len(hub) == 0  # the last member out removed the group


def event(uid: str) -> dict[str, Any]:
    return topics.evse_status_event(
        location_id=1,
        station_id="CS-1",
        evse_id=1,
        evse_uid=uid,
        status="CHARGING",
        previous_status="AVAILABLE",
        error_code=None,
        changed_at=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
    )


def test_unexpected_errors_are_masked_and_expected_ones_shown() -> None:
    secret = GraphQLError("boom", path=["a"], original_error=RuntimeError("db password x"))
    expected = GraphQLError("bad id", path=["b"], original_error=InvalidInput("bad id"))
    payload = json.loads(encode_payload(ExecutionResult(None, [secret, expected])))
    masked, shown = payload["errors"]
    assert masked["message"] == "Unexpected error."
    assert masked["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert "password" not in json.dumps(payload)
    assert shown["message"] == "bad id"
    assert payload["data"] is None
