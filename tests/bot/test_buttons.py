"""Inline keyboards and the callback-data codec: compact, strict, and accepted by Telegram."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.buttons import (
    MAX_BUTTON_TEXT,
    MAX_CALLBACK_BYTES,
    Action,
    Button,
    Callback,
    Keyboard,
    alert_keyboard,
    button_text,
    decode_callback,
    encode_callback,
    follow_tag,
    following_keyboard,
    split_follow_arg,
    start_keyboard,
    stop_keyboard,
    to_reply_markup,
    undo_keyboard,
)
from bot.models import Story, Topic
from bot.telegram_rules import check_reply_markup

NOW = datetime(2024, 10, 29, 11, 5, tzinfo=UTC)
NK = Topic("north-korea", "North Korea", keywords=("North Korean", "DPRK"))
KURSK = Topic("kursk", "Kursk", keywords=("Kursk",))
TOPICS = {"kursk": KURSK, "north-korea": NK}
STORY = Story(
    id=42,
    headline="North Korean troops reach the front",
    summary="",
    url="https://news.example.org/a",
    source="Example News",
    topics=frozenset({"kursk", "north-korea"}),
    first_seen_at=NOW,
    last_seen_at=NOW,
    outlets=3,
)

VALID: list[tuple[Action, str]] = [
    (Action.MORE, "north-korea"),
    (Action.MUTE, "kursk"),
    (Action.UNDO, "zaporizhzhia-npp"),
    (Action.UNMUTE, "drones"),
    (Action.FOLLOW, "україна"),
    (Action.UNFOLLOW_TOPIC, "north korea"),
    (Action.UNFOLLOW_KEYWORD, "12345-0a1b2c"),
    (Action.STOP_CONFIRM, ""),
    (Action.STOP_CANCEL, ""),
    (Action.OUTLETS, "987654321012"),
    (Action.LATEST, "5"),
]


def callbacks(keyboard: Keyboard) -> list[Callback | None]:
    """The decoded callback of every callback button, row by row."""
    return [decode_callback(b.callback) for row in keyboard for b in row if b.callback]


@pytest.mark.parametrize(("action", "arg"), VALID)
def test_round_trip(action: Action, arg: str) -> None:
    """Every action encodes within 64 bytes and decodes back to itself and its argument."""
    data = encode_callback(action, arg)
    assert len(data.encode()) <= MAX_CALLBACK_BYTES
    assert decode_callback(data) == Callback(action, arg)


def test_every_action_has_its_own_code() -> None:
    """No two actions share an encoding (so none decodes as another)."""
    prefixes = {encode_callback(a, arg)[:2] for a, arg in VALID}
    assert len(prefixes) == len(Action) == len(VALID)


@pytest.mark.parametrize(
    ("action", "arg"),
    [
        (Action.MORE, ""),
        (Action.MORE, "x" * 62),
        (Action.MORE, "ключ" * 8),
        (Action.MORE, " padded"),
        (Action.MUTE, "new\nline"),
        (Action.OUTLETS, "abc"),
        (Action.OUTLETS, "0"),
        (Action.OUTLETS, "-5"),
        (Action.OUTLETS, "007"),
        (Action.OUTLETS, "1" * 13),
        (Action.LATEST, "٣"),
        (Action.STOP_CONFIRM, "extra"),
    ],
)
def test_encode_refuses_bad_arguments(action: Action, arg: str) -> None:
    """An argument of the wrong shape, or one that would pass 64 bytes, fails at build time."""
    with pytest.raises(ValueError):
        encode_callback(action, arg)


@pytest.mark.parametrize(
    "data",
    [
        "",
        "1",
        "1m",
        "1m:",
        "m:kursk",
        "2m:kursk",
        "1z:kursk",
        "1o:abc",
        "1o:007",
        "1o:1.5",
        "1s:extra",
        "1k:",
        "1m:" + "x" * 70,
        "1m: kursk",
        "1m:kur\x00sk",
        "1l:١",
        "\udcff",
        "north-korea",
    ],
)
def test_decode_rejects_stale_forged_and_garbled_data(data: str) -> None:
    """Anything that is not exactly what encode_callback makes decodes to None."""
    assert decode_callback(data) is None


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_decode_never_raises(data: str) -> None:
    """Decoding arbitrary text never raises, and what it accepts re-encodes to the same data."""
    result = decode_callback(data)
    if result is not None:
        assert encode_callback(result.action, result.arg) == data


def test_alert_keyboard() -> None:
    """Read, More on / Mute for the topic the headline names, and the outlets button."""
    keyboard = alert_keyboard(STORY, TOPICS)
    assert [[b.text for b in row] for row in keyboard] == [
        ["Read", "More on North Korea", "Mute North Korea"],
        ["3 outlets"],
    ]
    assert keyboard[0][0] == Button("Read", url=STORY.url)
    assert callbacks(keyboard) == [
        Callback(Action.MORE, "north-korea"),
        Callback(Action.MUTE, "north-korea"),
        Callback(Action.OUTLETS, "42"),
    ]
    assert check_reply_markup(to_reply_markup(keyboard)) is None


def test_alert_keyboard_topic_falls_back_to_file_order() -> None:
    """With no topic named in the headline, the first configured topic of the story is used."""
    story = replace(STORY, headline="Fighting continues overnight")
    assert callbacks(alert_keyboard(story, TOPICS))[0] == Callback(Action.MORE, "kursk")


@pytest.mark.parametrize(
    ("changes", "texts"),
    [
        ({"outlets": 1}, [["Read", "More on North Korea", "Mute North Korea"]]),
        (
            {"url": "javascript:alert(1)", "outlets": 1},
            [["More on North Korea", "Mute North Korea"]],
        ),
        ({"topics": frozenset({"gone"}), "outlets": 1}, [["Read"]]),
        ({"topics": frozenset(), "url": "", "outlets": 1}, []),
        ({"id": 0}, [["Read", "More on North Korea", "Mute North Korea"]]),
    ],
)
def test_alert_keyboard_variants(changes: dict[str, object], texts: list[list[str]]) -> None:
    """Buttons appear only when they can work: a web URL, a configured topic, a real story id."""
    keyboard = alert_keyboard(replace(STORY, **changes), TOPICS)  # type: ignore[arg-type]
    assert [[b.text for b in row] for row in keyboard] == texts


def test_long_labels_are_capped() -> None:
    """Button texts stay short and plain whatever the topic label."""
    topic = Topic("long", "A <b>very</b> long label " * 10, keywords=("zzz",))
    story = replace(STORY, topics=frozenset({"long"}))
    keyboard = alert_keyboard(story, {"long": topic})
    for row in keyboard:
        for b in row:
            assert len(b.text) <= MAX_BUTTON_TEXT
    assert keyboard[0][1].text.startswith("More on A <b>very</b>")
    assert keyboard[0][1].text.endswith("…")


@pytest.mark.parametrize(
    ("label", "text"),
    [
        ("Kursk", "Kursk"),
        ("  spaced \n out ", "spaced out"),
        ("", "…"),
        ("\u200b", "…"),
        ("x" * 40, "x" * 31 + "…"),
    ],
)
def test_button_text(label: str, text: str) -> None:
    """Button texts are folded, capped with "…", and never blank (Telegram refuses blank ones)."""
    assert button_text(label) == text


def test_start_keyboard() -> None:
    """One follow button per popular topic, two to a row."""
    keyboard = start_keyboard([NK, KURSK, Topic("crimea", "Crimea")])
    assert [[b.text for b in row] for row in keyboard] == [
        ["Follow North Korea", "Follow Kursk"],
        ["Follow Crimea"],
    ]
    assert callbacks(keyboard) == [
        Callback(Action.FOLLOW, "north-korea"),
        Callback(Action.FOLLOW, "kursk"),
        Callback(Action.FOLLOW, "crimea"),
    ]
    assert start_keyboard([]) == ()


def test_following_keyboard() -> None:
    """A remove button per followed topic and per keyword follow (by id and tag)."""
    tag = follow_tag("keyword", "Bakhmut")
    keyboard = following_keyboard([KURSK], [(17, "“Bakhmut”", tag), (0, "stale", tag)])
    assert [[b.text for b in row] for row in keyboard] == [["✖ Kursk", "✖ “Bakhmut”"]]
    assert callbacks(keyboard) == [
        Callback(Action.UNFOLLOW_TOPIC, "kursk"),
        Callback(Action.UNFOLLOW_KEYWORD, f"17-{tag}"),
    ]
    assert split_follow_arg(f"17-{tag}") == (17, tag) and split_follow_arg("17") == (17, None)
    assert len(tag) == 6 and tag != follow_tag("exclude", "Bakhmut")


@pytest.mark.parametrize("arg", ["17-", "17-abc", "17-ABCDEF", "17-abcdefa", "x-abcdef", "-abcdef"])
def test_a_malformed_follow_tag_is_refused(arg: str) -> None:
    assert decode_callback(f"1k:{arg}") is None


def test_stop_and_undo_keyboards() -> None:
    """/stop asks to confirm or cancel; a mute offers to follow again."""
    assert callbacks(stop_keyboard()) == [
        Callback(Action.STOP_CONFIRM),
        Callback(Action.STOP_CANCEL),
    ]
    (row,) = undo_keyboard(NK)
    assert row[0].text == "Undo: follow North Korea"
    assert callbacks(undo_keyboard(NK)) == [Callback(Action.UNDO, "north-korea")]


def test_reply_markup_shape() -> None:
    """Keyboards convert to the Bot API's JSON; an empty keyboard is no markup at all."""
    assert to_reply_markup(stop_keyboard()) == {
        "inline_keyboard": [
            [
                {"text": "Yes, stop and delete", "callback_data": "1s:"},
                {"text": "Cancel", "callback_data": "1c:"},
            ]
        ]
    }
    assert to_reply_markup(((Button("Read", url="https://x.org"),),)) == {
        "inline_keyboard": [[{"text": "Read", "url": "https://x.org"}]]
    }
    assert to_reply_markup(()) is None


def test_every_keyboard_is_accepted_by_telegram() -> None:
    """Each builder's keyboard passes Telegram's checks for inline keyboards."""
    keyboards = [
        alert_keyboard(STORY, TOPICS),
        start_keyboard([NK, KURSK]),
        following_keyboard([NK], [(1, "“x”", follow_tag("keyword", "x"))]),
        stop_keyboard(),
        undo_keyboard(KURSK),
    ]
    for keyboard in keyboards:
        assert check_reply_markup(to_reply_markup(keyboard)) is None
