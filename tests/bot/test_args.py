"""Command arguments -> values, or a UserError with a correction and an example (#5)."""

from __future__ import annotations

from datetime import time

import pytest

from bot import args
from bot.args import Term
from bot.config import load_topics
from bot.errors import UserError
from bot.language import LANGUAGES
from bot.models import DigestMode
from bot.topics import compile_topics

TOPICS = compile_topics(load_topics(None))


def is_topic(name: str) -> bool:
    return TOPICS.resolve(name) is not None


@pytest.mark.parametrize(
    ("given", "expected"),
    [([], 5), (["1"], 1), (["20"], 20), (["07"], 7)],
)
def test_parse_count_accepts(given: list[str], expected: int) -> None:
    """A count from 1 to 20; none means the default."""
    assert args.parse_count(given) == expected


@pytest.mark.parametrize(
    ("given", "example"),
    [
        (["0"], "/latest 1"),
        (["21"], "/latest 20"),
        (["9" * 5000], "/latest 20"),
        (["-1"], "/latest 5"),
        (["²"], "/latest 5"),
        (["١٢"], "/latest 5"),
        (["1.5"], "/latest 5"),
        (["3", "4"], "/latest 5"),
    ],
)
def test_parse_count_refuses_with_a_working_example(given: list[str], example: str) -> None:
    """Out of range, negative, non-ASCII digits, fractions or two numbers: an example that
    works, the nearest count where there is one."""
    with pytest.raises(UserError) as caught:
        args.parse_count(given)
    assert caught.value.example == example


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (["23:00-07:00"], (time(23), time(7))),
        (["23:00", "-", "07:00"], (time(23), time(7))),
        (["22.30–6"], (time(22, 30), time(6))),
        (["2300-0700"], (time(23), time(7))),
        (["23h-7h"], (time(23), time(7))),
        (["22:00", "to", "24:00"], (time(22), time(0))),
        (["off"], None),
        (["OFF"], None),
    ],
)
def test_parse_quiet_accepts(given: list[str], expected: tuple[time, time] | None) -> None:
    """Quiet hours in the usual spellings; `off` turns them off."""
    assert args.parse_quiet(given) == expected


@pytest.mark.parametrize(
    "given", [[], ["25:00-07:00"], ["23:00"], ["7-7"], ["23:61-07:00"], ["soon"], ["1-2-3"]]
)
def test_parse_quiet_refuses(given: list[str]) -> None:
    """Bad hours get the HH:MM-HH:MM example."""
    with pytest.raises(UserError) as caught:
        args.parse_quiet(given)
    assert caught.value.example == "/quiet 23:00-07:00"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (["off"], (DigestMode.OFF, None)),
        (["hourly"], (DigestMode.HOURLY, None)),
        (["daily"], (DigestMode.DAILY, time(8))),
        (["Daily", "19:30"], (DigestMode.DAILY, time(19, 30))),
    ],
)
def test_parse_digest_accepts(given: list[str], expected: tuple[DigestMode, time | None]) -> None:
    """off, hourly, daily (at 08:00 unless a time is given)."""
    assert args.parse_digest(given) == expected


@pytest.mark.parametrize(
    "given", [[], ["weekly"], ["daily", "25:00"], ["hourly", "now"], ["off", "please"]]
)
def test_parse_digest_refuses(given: list[str]) -> None:
    """Anything else gets the daily example."""
    with pytest.raises(UserError) as caught:
        args.parse_digest(given)
    assert caught.value.example == "/digest daily 08:00"


@pytest.mark.parametrize(
    ("given", "zone"),
    [
        ("Europe/Kyiv", "Europe/Kyiv"),
        ("europe/kyiv", "Europe/Kyiv"),
        ("kiev", "Europe/Kyiv"),
        ("America/New York", "America/New_York"),
        ("berlin", "Europe/Berlin"),
        ("UTC", "UTC"),
        ("UTC+3", "Etc/GMT-3"),
        ("gmt-5", "Etc/GMT+5"),
        ("UTC+0", "UTC"),
        ("CET", "CET"),
        ("eet", "EET"),
        ("EST", "EST"),
        ("MST", "MST"),
        ("GMT", "UTC"),
        ("Japan", "Japan"),
        ("singapore", "Asia/Singapore"),
        ("UTC+5:30", "UTC+05:30"),
        ("utc+05:45", "UTC+05:45"),
        ("GMT-9:30", "UTC-09:30"),
        ("UTC+0530", "UTC+05:30"),
        ("UTC+03:00", "Etc/GMT-3"),
    ],
)
def test_parse_timezone_accepts(given: str, zone: str) -> None:
    """IANA names in any case (also those without a slash, such as CET), a city alone (its
    Area/City zone before a legacy name), or a fixed offset, whole or half hours (audit 7)."""
    assert args.parse_timezone([given]) == zone


@pytest.mark.parametrize(
    ("given", "example", "suggested"),
    [
        (["Europe/Kyv"], "/timezone Europe/Kyiv", True),
        (["Europe/Berln"], "/timezone Europe/Berlin", True),
        (["Mars/Olympus"], "/timezone Europe/Kyiv", False),
        (["../../etc/passwd"], "/timezone Europe/Kyiv", False),
        (["UTC+99"], "/timezone UTC+3", False),
        ([], "/timezone Europe/Kyiv", False),
        (["Europe/Kyiv", "Europe/Paris"], "/timezone Europe/Kyiv", False),
        (["z" * 100], "/timezone Europe/Kyiv", False),
        (["PST"], "/timezone Europe/Kyiv", False),
        (["IST"], "/timezone Europe/Kyiv", False),
        (["CEST"], "/timezone Europe/Kyiv", False),
        (["Australia/Wst"], "/timezone Australia/West", True),
        (["UTC+5:20"], "/timezone UTC+5:30", False),
        (["UTC+14:30"], "/timezone UTC+3", False),
    ],
)
def test_parse_timezone_refuses_with_a_suggestion(
    given: list[str], example: str, suggested: bool
) -> None:
    """A typo gets "did you mean" and the corrected command; nonsense, and an abbreviation no
    zone has (PST), a working example rather than an unrelated zone (audit 7)."""
    with pytest.raises(UserError) as caught:
        args.parse_timezone(given)
    assert caught.value.example == example
    assert ("Did you mean" in caught.value.message) is suggested


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (["en", "uk"], {"en", "uk"}),
        (["EN,UK"], {"en", "uk"}),
        (["en", "en"], {"en"}),
        (["all"], set()),
        (["ALL"], set()),
        (["fa", "zh", "ka"], {"fa", "zh", "ka"}),
    ],
)
def test_parse_languages(given: list[str], expected: set[str]) -> None:
    """Codes separated by spaces or commas; `all` means every language."""
    assert args.parse_languages(given) == expected


def test_parse_languages_accepts_every_language_detection_answers() -> None:
    """Every code the language detector can give a story is one a chat can ask for."""
    for code in LANGUAGES:
        assert args.parse_languages([code]) == {code}


def test_parse_languages_accepts_the_languages_of_configured_sources() -> None:
    """A source configured with a language detection never answers still counts (audit 4),
    region tags included: a source tagged `pt-BR` is stored as `pt-br` (chat audit 7)."""
    assert args.parse_languages(["eo"], also=frozenset({"eo"})) == {"eo"}
    assert args.parse_languages(["pt-BR", "en"], also=frozenset({"pt-br"})) == {"pt-br", "en"}


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ([], "Give language codes"),
        (["xx-yy"], "two-letter codes"),
        (["english"], "two-letter codes"),
        (["<b>"], "two-letter codes"),
        ([f"a{n:02}"[:3] for n in range(11)], "two-letter codes"),
        (["xx"], "'xx' is not a language"),
        (["en", "qq"], "'qq' is not a language"),
        (["eng"], "'eng' is not a language"),
        (["und"], "'und' is not a language"),
        (["all", "en"], "all alone"),
        (["en,all"], "all alone"),
    ],
)
def test_parse_languages_refuses(given: list[str], message: str) -> None:
    """Only known two-letter codes, at most ten, and `all` only alone; the example works
    (audit 4: `/language xx` used to be taken and then the chat got nothing)."""
    with pytest.raises(UserError) as caught:
        args.parse_languages(given)
    assert message in caught.value.message
    assert caught.value.example is not None
    assert args.parse_languages(caught.value.example.split()[1:]) is not None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("kursk", [Term("name", "kursk")]),
        ("North Korea kursk", [Term("name", "North Korea"), Term("name", "kursk")]),
        ("air defence black sea", [Term("name", "air defence"), Term("name", "black sea")]),
        ("north kore", [Term("name", "north kore")]),
        ("kursk atlantis", [Term("name", "kursk"), Term("name", "atlantis")]),
        ('"Zaporizhzhia plant"', [Term("phrase", "Zaporizhzhia plant")]),
        ("«Zaporizhzhia plant»", [Term("phrase", "Zaporizhzhia plant")]),
        ("“drone strike”", [Term("phrase", "drone strike")]),
        ("-football", [Term("exclude", "football")]),
        ('-"friendly match"', [Term("exclude", "friendly match")]),
        ("all -football", [Term("all", "all"), Term("exclude", "football")]),
        ("EVERYTHING", [Term("all", "all")]),
        ("kur\u200bsk", [Term("name", "kursk")]),
        ("\u202eksruk", [Term("name", "ksruk")]),
        ('"(ab+)+$"', [Term("phrase", "(ab+)+$")]),
        ('"drone*"', [Term("phrase", "drone*")]),
        ('"unterminated', [Term("phrase", "unterminated")]),
        (
            'foo bar "x y" baz',
            [Term("name", "foo bar"), Term("phrase", "x y"), Term("name", "baz")],
        ),
    ],
)
def test_parse_terms(text: str, expected: list[Term]) -> None:
    """Topic names (grouped up to four words when they name a topic), "phrases" in any quote
    style, -exclusions, all; invisible characters dropped; regex syntax is plain text."""
    assert args.parse_terms(text, is_topic=is_topic) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Name a topic"),
        ('""', "Name a topic"),
        ("\u200b", "Name a topic"),
        ("-", "too short"),
        ("--", "too short"),
        ("🔥🔥", "too short"),
        ("x", "too short"),
        ('"(a+)+$"', "too short"),
        ("b" * 61, "under 60"),
        (" ".join(f"w{n}x" for n in range(11)), "At most 10"),
        ("a" * 5000, "too long"),
    ],
)
def test_parse_terms_refuses(text: str, message: str) -> None:
    """Empty, too short, too long or too many terms get the follow example."""
    with pytest.raises(UserError) as caught:
        args.parse_terms(text, command="/unfollow")
    assert message in caught.value.message
    assert caught.value.example is not None and caught.value.example.startswith("/unfollow ")


@pytest.mark.parametrize(
    ("text", "addressee"),
    [
        ("/latest@OtherBot 3", "otherbot"),
        ("/latest 3", ""),
        ("/latest@conflictbot_bot", "conflictbot_bot"),
        ("hello @someone", ""),
        ("", ""),
    ],
)
def test_command_addressee(text: str, addressee: str) -> None:
    """The bot a command is addressed to, so a group's commands for other bots are left alone."""
    assert args.command_addressee(text) == addressee


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (["https://example.org/rss"], ("https://example.org/rss", None)),
        (
            ["<http://example.org/feed>", "Example", "Outlet"],
            ("http://example.org/feed", "Example Outlet"),
        ),
    ],
)
def test_parse_source_accepts(given: list[str], expected: tuple[str, str | None]) -> None:
    """/addsource URL [NAME]: an http(s) address and an optional name."""
    assert args.parse_source(given) == expected


@pytest.mark.parametrize(
    "given",
    [
        [],
        ["ftp://example.org/rss"],
        ["javascript:alert(1)"],
        ["example.org/rss"],
        ["https://x", "n" * 81],
    ],
)
def test_parse_source_refuses(given: list[str]) -> None:
    """Only http and https addresses, with a name under 80 characters."""
    with pytest.raises(UserError):
        args.parse_source(given)


@pytest.mark.parametrize("given", [["23:00-07:00", "extra"], ["23:00-07:00please"], ["now-7"]])
def test_parse_quiet_names_a_stray_word_as_the_problem(given: list[str]) -> None:
    """Valid hours with a word after them were answered "Hours look like 23:00", as if the
    hours were wrong (chat audit 4): the answer asks for hours alone."""
    with pytest.raises(UserError) as caught:
        args.parse_quiet(given)
    assert caught.value.message.startswith("Give quiet hours as HH:MM-HH:MM")
