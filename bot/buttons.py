"""Inline keyboards as plain values, and the compact codec for their callback data.

Why plain values: the core builds keyboards without importing Telegram; the shell turns a
`Keyboard` into PTB's markup (or `to_reply_markup` gives the Bot API's JSON shape).

Callback data is `<version><code>:<arg>`, e.g. `1m:north-korea`. Telegram allows 64 bytes, so
each action is one letter; the version digit makes buttons from an older format decode to None
rather than to a wrong action. Decoding checks the shape of the argument for its action (a topic
key, a positive number, or nothing) and returns None for anything else: data is only ever a
request, and the handler still checks that the presser may do it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bot.formatting import is_web_url
from bot.models import Story, Topic

__all__ = [
    "MAX_BUTTON_TEXT",
    "MAX_CALLBACK_BYTES",
    "Action",
    "Button",
    "Callback",
    "Keyboard",
    "alert_keyboard",
    "button_text",
    "decode_callback",
    "encode_callback",
    "follow_tag",
    "following_keyboard",
    "split_follow_arg",
    "start_keyboard",
    "stop_keyboard",
    "to_reply_markup",
    "undo_keyboard",
]

log = logging.getLogger(__name__)

MAX_CALLBACK_BYTES = 64
# Telegram shows about this much of a button on a phone; longer labels are cut with "…".
MAX_BUTTON_TEXT = 32
_VERSION = "1"
_MAX_NUMBER_DIGITS = 12


class Action(StrEnum):
    """What a button press asks for."""

    MORE = "more"  # arg: topic key; the newest stories on it
    MUTE = "mute"  # arg: topic key; stop alerts for it (answered with an undo button)
    UNDO = "undo"  # arg: topic key; follow it again after a mute (and unmute it)
    UNMUTE = "unmute"  # arg: topic key; undo a mute of a topic the chat did not follow
    FOLLOW = "follow"  # arg: topic key; from /start
    UNFOLLOW_TOPIC = "unfollow_topic"  # arg: topic key; from /following
    UNFOLLOW_KEYWORD = "unfollow_keyword"  # arg: the follow's id and tag; from /following
    STOP_CONFIRM = "stop_confirm"  # no arg; /stop confirmed
    STOP_CANCEL = "stop_cancel"  # no arg; /stop cancelled
    OUTLETS = "outlets"  # arg: story id; every outlet that reported the story
    LATEST = "latest"  # arg: how many stories


_CODES: dict[Action, str] = {
    Action.MORE: "m",
    Action.MUTE: "x",
    Action.UNDO: "u",
    Action.UNMUTE: "n",
    Action.FOLLOW: "f",
    Action.UNFOLLOW_TOPIC: "t",
    Action.UNFOLLOW_KEYWORD: "k",
    Action.STOP_CONFIRM: "s",
    Action.STOP_CANCEL: "c",
    Action.OUTLETS: "o",
    Action.LATEST: "l",
}
_ACTIONS = {code: action for action, code in _CODES.items()}
_TOPIC_ARG = frozenset(
    {Action.MORE, Action.MUTE, Action.UNDO, Action.UNMUTE, Action.FOLLOW, Action.UNFOLLOW_TOPIC}
)
_NUMBER_ARG = frozenset({Action.OUTLETS, Action.LATEST})
_TAG_HEX = 6


@dataclass(frozen=True, slots=True)
class Button:
    """One inline button: opens `url`, or sends `callback` data back to the bot."""

    text: str
    url: str | None = None
    callback: str | None = None


Keyboard = tuple[tuple[Button, ...], ...]


@dataclass(frozen=True, slots=True)
class Callback:
    """A decoded button press: `arg` is already checked to have its action's shape."""

    action: Action
    arg: str = ""


def encode_callback(action: Action, arg: str = "") -> str:
    """Callback data for a button; raises ValueError for an argument its action cannot carry.

    A topic key too long for 64 bytes is refused here, at build time, rather than by Telegram
    at send time (topic keys are short by configuration).
    """
    if not _arg_ok(action, arg):
        raise ValueError(f"{action.name} cannot carry the argument {arg!r}")
    data = f"{_VERSION}{_CODES[action]}:{arg}"
    if len(data.encode("utf-8")) > MAX_CALLBACK_BYTES:
        raise ValueError(f"callback data for {action.name} is over {MAX_CALLBACK_BYTES} bytes")
    return data


def decode_callback(data: str) -> Callback | None:
    """The press that `data` encodes, or None for stale, forged or garbled data; never raises."""
    if not isinstance(data, str) or len(data.encode("utf-8", "replace")) > MAX_CALLBACK_BYTES:
        return None
    if len(data) < 3 or data[0] != _VERSION or data[2] != ":":
        return None
    action = _ACTIONS.get(data[1])
    arg = data[3:]
    if action is None or not _arg_ok(action, arg):
        return None
    return Callback(action, arg)


def _arg_ok(action: Action, arg: str) -> bool:
    """Whether `arg` has the shape `action` expects."""
    if action in _TOPIC_ARG:
        return bool(arg) and arg.isprintable() and arg == arg.strip()
    if action in _NUMBER_ARG:
        return _is_number(arg)
    if action is Action.UNFOLLOW_KEYWORD:
        number, dash, tag = arg.partition("-")
        tagged = len(tag) == _TAG_HEX and all(c in "0123456789abcdef" for c in tag)
        return _is_number(number) and (not dash or tagged)
    return arg == ""


def _is_number(arg: str) -> bool:
    return (
        arg.isascii()
        and arg.isdigit()
        and not arg.startswith("0")
        and len(arg) <= _MAX_NUMBER_DIGITS
    )


def follow_tag(kind: str, value: str) -> str:
    """A short fingerprint of a follow, carried beside its id by a /following ✖ button: SQLite
    may give a removed follow's id to the next one, and an old button must not remove that."""
    return hashlib.blake2s(f"{kind}\n{value}".encode(), digest_size=_TAG_HEX // 2).hexdigest()


def split_follow_arg(arg: str) -> tuple[int, str | None]:
    """An UNFOLLOW_KEYWORD argument -> (follow id, tag or None for a button made before tags)."""
    number, _, tag = arg.partition("-")
    return int(number), tag or None


def button_text(text: str, limit: int = MAX_BUTTON_TEXT) -> str:
    """Plain text for a button: whitespace folded, at most `limit` characters, never blank.

    Telegram does not parse HTML in button texts, so nothing is escaped here.
    """
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text or "…"


def alert_keyboard(story: Story, topics: Mapping[str, Topic]) -> Keyboard:
    """[Read] [More on LABEL] [Mute LABEL] for the story's most relevant topic, and [N outlets].

    The most relevant topic is the first whose label or keyword occurs in the headline, else the
    first of the story's topics in the topics file's order; topics no longer configured are
    skipped. A story URL that is not http(s) gets no Read button.
    """
    first_row: list[Button | None] = []
    if is_web_url(story.url):
        first_row.append(Button("Read", url=story.url))
    topic = _main_topic(story, topics)
    if topic is not None:
        label = topic.label
        first_row.append(_callback_button("More on ", label, Action.MORE, topic.key))
        first_row.append(_callback_button("Mute ", label, Action.MUTE, topic.key))
    rows = [_row(first_row)]
    if story.outlets > 1:
        rows.append(
            _row([_callback_button(f"{story.outlets} outlets", "", Action.OUTLETS, str(story.id))])
        )
    return tuple(row for row in rows if row)


def start_keyboard(topics: Sequence[Topic]) -> Keyboard:
    """Follow buttons for the given (popular) topics, two to a row."""
    return _rows([_callback_button("Follow ", t.label, Action.FOLLOW, t.key) for t in topics], 2)


def following_keyboard(
    topic_keys: Sequence[Topic], keywords: Sequence[tuple[int, str, str]]
) -> Keyboard:
    """One remove button per followed topic and per followed keyword: (follow id, the label
    shown, its `follow_tag`)."""
    buttons = [_callback_button("✖ ", t.label, Action.UNFOLLOW_TOPIC, t.key) for t in topic_keys]
    buttons += [
        _callback_button("✖ ", label, Action.UNFOLLOW_KEYWORD, f"{follow_id}-{tag}")
        for follow_id, label, tag in keywords
    ]
    return _rows(buttons, 2)


def stop_keyboard() -> Keyboard:
    """Confirm or cancel /stop, which deletes everything stored about the chat."""
    return _rows(
        [
            _callback_button("Yes, stop and delete", "", Action.STOP_CONFIRM, ""),
            _callback_button("Cancel", "", Action.STOP_CANCEL, ""),
        ],
        2,
    )


def undo_keyboard(topic: Topic, *, was_followed: bool = True) -> Keyboard:
    """One button that undoes a mute: follows the topic again if the mute unfollowed it,
    else lifts the mute."""
    if was_followed:
        return _rows([_callback_button("Undo: follow ", topic.label, Action.UNDO, topic.key)], 1)
    return _rows([_callback_button("Undo: unmute ", topic.label, Action.UNMUTE, topic.key)], 1)


def to_reply_markup(keyboard: Keyboard) -> dict[str, Any] | None:
    """The Bot API's InlineKeyboardMarkup JSON for `keyboard`, or None when it has no buttons."""
    rows = [
        [
            {"text": b.text, "url": b.url}
            if b.url
            else {"text": b.text, "callback_data": b.callback}
            for b in row
        ]
        for row in keyboard
        if row
    ]
    return {"inline_keyboard": rows} if rows else None


def _main_topic(story: Story, topics: Mapping[str, Topic]) -> Topic | None:
    """The story's topic that best names it (see `alert_keyboard`)."""
    known = [topic for key, topic in topics.items() if key in story.topics]
    headline = story.headline.casefold()
    for topic in known:
        if any(word.casefold() in headline for word in (topic.label, *topic.keywords) if word):
            return topic
    return known[0] if known else None


def _callback_button(prefix: str, label: str, action: Action, arg: str) -> Button | None:
    """A button reading `prefix` + `label` (the label cut to fit), or None for an argument
    the codec refuses (a stale id, a topic key too long): better no button than a failed send.
    """
    try:
        data = encode_callback(action, arg)
    except ValueError:
        log.warning("no %s button for the argument %r", action.name, arg)
        return None
    text = prefix + button_text(label, MAX_BUTTON_TEXT - len(prefix)) if label else prefix
    return Button(text, callback=data)


def _row(buttons: Sequence[Button | None]) -> tuple[Button, ...]:
    """The buttons that could be built."""
    return tuple(b for b in buttons if b is not None)


def _rows(buttons: Sequence[Button | None], width: int) -> Keyboard:
    """The buttons that could be built, laid out `width` to a row."""
    built = _row(buttons)
    return tuple(built[i : i + width] for i in range(0, len(built), width))
