"""Reading Bot API parameters the way the server does, from any of the encodings clients use.

python-telegram-bot sends form fields (multipart when a file goes along) whose non-string values
are JSON-encoded; other clients send a JSON body or a query string. Each method declares the
parameters it reads (`Param`), and a handler can read no other: that table is what the spec test
checks against the published Bot API.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bot.emulator_world import ApiError, bad_request


class Kind(StrEnum):
    """How a parameter is decoded; the value names the Bot API type it corresponds to."""

    INT = "Integer"
    STR = "String"
    BOOL = "Boolean"
    CHAT_ID = "Integer or String"
    FILE = "InputFile or String"
    JSON = "JSON-serialized object or array"


@dataclass(frozen=True, slots=True)
class Upload:
    """A file that came as a multipart part."""

    data: bytes
    filename: str | None = None


@dataclass(frozen=True, slots=True)
class Param:
    """A parameter a method reads; `missing` is Telegram's description when it must be given."""

    name: str
    kind: Kind
    missing: str | None = None


class Args:
    """The decoded parameters of one call, readable only by their declared names."""

    def __init__(self, params: tuple[Param, ...], values: dict[str, Any]) -> None:
        self._kinds = {param.name: param.kind for param in params}
        self._values = values

    def _get(self, name: str, kind: Kind) -> Any:
        if self._kinds.get(name) != kind:
            raise KeyError(f"parameter {name!r} is not declared as {kind.name} for this method")
        return self._values.get(name)

    def integer(self, name: str) -> int | None:
        """An Integer parameter, or None when absent."""
        value = self._get(name, Kind.INT)
        return value if isinstance(value, int) else None

    def string(self, name: str) -> str | None:
        """A String parameter, or None when absent."""
        value = self._get(name, Kind.STR)
        return value if isinstance(value, str) else None

    def flag(self, name: str) -> bool:
        """A Boolean parameter, False when absent."""
        return self._get(name, Kind.BOOL) is True

    def json(self, name: str) -> Any:
        """A JSON-serialized parameter, decoded, or None when absent."""
        return self._get(name, Kind.JSON)

    def chat(self, name: str = "chat_id") -> int | str | None:
        """A chat_id: an integer id or an "@username"."""
        value = self._get(name, Kind.CHAT_ID)
        return value if isinstance(value, int | str) else None

    def file(self, name: str) -> Upload | str | None:
        """An uploaded file, or a file_id / URL string."""
        value = self._get(name, Kind.FILE)
        return value if isinstance(value, Upload | str) else None


def decode(params: tuple[Param, ...], raw: Mapping[str, Any]) -> Args:
    """Convert the raw fields of a call; a missing required field gets Telegram's 400."""
    values: dict[str, Any] = {}
    for param in params:
        value = raw.get(param.name)
        if value is None or (value == "" and param.kind != Kind.STR):
            value = None
        if value is None or (value == "" and param.missing):
            if param.missing:
                raise ApiError(400, param.missing)
            continue
        values[param.name] = _convert(param, value)
    return Args(params, values)


def _convert(param: Param, value: Any) -> Any:
    name, kind = param.name, param.kind
    if kind == Kind.JSON:
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except ValueError:
            raise bad_request(f"can't parse {name} JSON object") from None
    if kind == Kind.FILE and isinstance(value, Upload | str):
        return value
    if kind == Kind.STR and isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value)
    if kind == Kind.BOOL:
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "1", "false", "0"):
            return str(value).lower() in ("true", "1")
    if kind in (Kind.INT, Kind.CHAT_ID) and not isinstance(value, bool):
        if isinstance(value, int):
            return value
        text = str(value).strip()
        if text.lstrip("-").isdigit():
            return int(text)
        if kind == Kind.CHAT_ID and text.startswith("@"):
            return text
        if kind == Kind.CHAT_ID:
            raise bad_request("chat not found")
    raise bad_request(f"invalid {name} specified")
