"""Domain commands as JSON, so an instance can forward one to the instance holding the socket.

The codec is generic: every dataclass in `app.domain.commands` is known by its class name, and
fields are converted by their type hints (datetimes as ISO 8601, enums by value, nested
dataclasses, lists, tuples, dicts, optionals). A command type added there works here unchanged.
"""

import dataclasses
import types
import typing
from collections.abc import Mapping
from datetime import date, datetime
from enum import Enum
from typing import Any

from app.domain import commands
from app.domain.commands import CommandOutcome, CommandStatus, StationCommand


class CodecError(ValueError):
    """A payload that does not describe a known command."""


def _known_types() -> dict[str, type[Any]]:
    return {
        name: value
        for name, value in vars(commands).items()
        if isinstance(value, type)
        and dataclasses.is_dataclass(value)
        and value.__module__ == commands.__name__
    }


COMMAND_TYPES: dict[str, type[Any]] = _known_types()


def _to_json(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: _to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"type": type(value).__name__, "fields": fields}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple | set | frozenset):
        return [_to_json(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): _to_json(item) for key, item in value.items()}
    return value


def encode_command(command: StationCommand) -> dict[str, Any]:
    """`{"type": <class name>, "fields": {...}}`, JSON-serialisable."""
    if type(command).__name__ not in COMMAND_TYPES:
        raise CodecError(f"{type(command).__name__} is not a command of app.domain.commands")
    encoded: dict[str, Any] = _to_json(command)
    return encoded


def decode_command(data: Any) -> StationCommand:
    """The command `encode_command` gave `data` for; `CodecError` names what is wrong."""
    command: StationCommand = _dataclass_from(data, None)
    return command


def _dataclass_from(data: Any, expected: type[Any] | None) -> Any:
    if not isinstance(data, Mapping) or not isinstance(data.get("fields"), Mapping):
        raise CodecError(f"expected {{'type': ..., 'fields': {{...}}}}, got {data!r:.200}")
    name = data.get("type")
    # A nested dataclass may come from another module: its field's type hint names it.
    cls = expected if expected is not None else COMMAND_TYPES.get(str(name))
    if cls is None or name != cls.__name__:
        raise CodecError(f"unknown command type {name!r}: expected one of {sorted(COMMAND_TYPES)}")
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):
        if field.name in data["fields"]:
            values[field.name] = _from_json(data["fields"][field.name], hints[field.name])
    try:
        return cls(**values)
    except TypeError as error:
        raise CodecError(f"{name}: {error}") from error


def _from_json(value: Any, hint: Any) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arg in (a for a in args if a is not type(None)):
            try:
                return _from_json(value, arg)
            except (CodecError, ValueError, TypeError):
                continue
        raise CodecError(f"{value!r:.100} matches none of {hint}")
    if hint is Any or value is None:
        return value
    if origin in (list, tuple, set, frozenset) and isinstance(value, list):
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            return tuple(_from_json(v, a) for v, a in zip(value, args, strict=True))
        item = args[0] if args else Any
        return origin(_from_json(v, item) for v in value)
    if origin is dict and isinstance(value, Mapping):
        item = args[1] if len(args) == 2 else Any
        return {k: _from_json(v, item) for k, v in value.items()}
    if isinstance(hint, type):
        if dataclasses.is_dataclass(hint):
            return _dataclass_from(value, hint)
        if issubclass(hint, Enum):
            return hint(value)
        if issubclass(hint, datetime):
            return datetime.fromisoformat(value)
        if issubclass(hint, date):
            return date.fromisoformat(value)
        if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if not isinstance(value, hint):
            raise CodecError(f"{value!r:.100} is not a {hint.__name__}")
    return value


def encode_outcome(outcome: CommandOutcome) -> dict[str, Any]:
    return {"status": outcome.status.value, "detail": _to_json(outcome.detail)}


def decode_outcome(data: Mapping[str, Any]) -> CommandOutcome:
    try:
        status = CommandStatus(data["status"])
    except (KeyError, ValueError) as error:
        raise CodecError(f"not a command outcome: {dict(data)!r:.200}") from error
    detail = data.get("detail")
    return CommandOutcome(status, dict(detail) if isinstance(detail, Mapping) else {})
