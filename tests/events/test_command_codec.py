"""The command codec: every command of app.domain.commands survives JSON, new ones included."""

import dataclasses
import json
import types
import typing
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any

import pytest

from app.domain.commands import (
    CommandOutcome,
    CommandStatus,
    RequestStart,
    SetChargingLimit,
)
from app.events.command_codec import (
    COMMAND_TYPES,
    CodecError,
    decode_command,
    decode_outcome,
    encode_command,
    encode_outcome,
)


def _sample(hint: Any, depth: int = 0) -> Any:
    """A value of type `hint`, never None where the type allows something else."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return _sample(next(a for a in args if a is not type(None)), depth)
    if origin is typing.Literal:
        return args[0]
    if origin in (list, set, frozenset):
        return origin([_sample(args[0], depth + 1)]) if args else origin()
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return (_sample(args[0], depth + 1),)
        return tuple(_sample(a, depth + 1) for a in args)
    if origin is dict:
        return {"key": _sample(args[1], depth + 1)} if args else {}
    if hint is Any:
        return {"free": "form"}
    if isinstance(hint, type):
        if dataclasses.is_dataclass(hint):
            return _instance(hint, depth + 1)
        if issubclass(hint, Enum):
            return list(hint)[-1]
        if issubclass(hint, datetime):
            return datetime(2026, 11, 26, 23, 59, 30, 123000, tzinfo=UTC)
        if issubclass(hint, date):
            return date(2026, 11, 26)
        if hint is bool:
            return True
        if hint is int:
            return 7
        if hint is float:
            return 16.5
        if hint is str:
            return "value-ü"
        if hint is bytes:
            pytest.fail("bytes are not JSON: a command field must not be bytes")
    pytest.fail(f"no sample for {hint!r}: teach this test the new field type")


def _instance(cls: type[Any], depth: int = 0) -> Any:
    hints = typing.get_type_hints(cls)
    return cls(**{f.name: _sample(hints[f.name], depth) for f in dataclasses.fields(cls)})


@pytest.mark.parametrize("name", sorted(COMMAND_TYPES))
def test_every_command_type_round_trips_through_json(name: str) -> None:
    command = _instance(COMMAND_TYPES[name])
    wire = json.loads(json.dumps(encode_command(command)))
    assert wire["type"] == name
    assert decode_command(wire) == command


def test_optional_fields_left_none_stay_none() -> None:
    command = SetChargingLimit(ocpp_evse_id=2, limit_a=10.0)
    assert decode_command(json.loads(json.dumps(encode_command(command)))) == command


def test_an_unknown_type_is_refused_by_name() -> None:
    with pytest.raises(CodecError, match="unknown command type 'Explode'"):
        decode_command({"type": "Explode", "fields": {}})


def test_a_missing_field_is_refused_naming_the_command() -> None:
    with pytest.raises(CodecError, match="RequestStart"):
        decode_command({"type": "RequestStart", "fields": {"ocpp_evse_id": 1}})


def test_a_field_of_the_wrong_type_is_refused() -> None:
    wire = encode_command(RequestStart(ocpp_evse_id=1, id_token="T", remote_start_id=3))
    wire["fields"]["ocpp_evse_id"] = "one"
    with pytest.raises(CodecError, match="'one' is not a int"):
        decode_command(wire)


def test_an_outcome_round_trips() -> None:
    outcome = CommandOutcome(CommandStatus.REJECTED, {"status_info": {"reason": "Occupied"}})
    assert decode_outcome(json.loads(json.dumps(encode_outcome(outcome)))) == outcome
