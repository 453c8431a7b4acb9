"""Command arguments -> values, or a UserError that says what was wrong and shows an example.

Every limit on user input lives here: lengths, counts, formats. Nothing here trusts the text;
nothing here builds regular expressions from it.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
import zoneinfo
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import time
from functools import lru_cache

from bot.errors import UserError
from bot.language import LANGUAGES
from bot.models import DigestMode

MAX_ARG_CHARS = 200
MAX_TERMS = 10
MAX_TERM_CHARS = 60
MAX_NAME_WORDS = 4
LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}$")
_HHMM = re.compile(r"^(\d{1,2})(?::|\.|h)?(\d{2})?$")
_OFFSET = re.compile(r"^(?:utc|gmt)([+-])(\d{1,2})(?::?(\d{2}))?$")
_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "«": '"', "»": '"'})


@dataclass(frozen=True, slots=True)
class Term:
    """One thing to follow or unfollow: a topic name, a phrase, an exclusion, or everything."""

    kind: str  # "all" | "name" | "phrase" | "exclude"
    value: str


def _clean(text: str) -> str:
    """NFC, folded whitespace; invisible format characters dropped, control characters spaced.

    Zero-width spaces and bidi overrides (category Cf) are removed rather than turned into
    spaces, so `kur\u200bsk` reads as the `kursk` it looks like.
    """
    text = unicodedata.normalize("NFC", text)
    text = "".join(
        ch if ch.isprintable() else ("" if unicodedata.category(ch) == "Cf" else " ") for ch in text
    )
    return " ".join(text.split())


def tokens(text: str, *, example: str = "/help") -> list[str]:
    """Split arguments on whitespace, keeping "quoted phrases" (any quote style) together."""
    text = _clean(text)
    if len(text) > MAX_ARG_CHARS * 5:
        raise UserError("That is too long for a command.", example)
    parts: list[str] = []
    for match in re.finditer(r'(-?)"([^"]*)"?|(\S+)', text.translate(_QUOTES)):
        if match.group(3) is not None:
            parts.append(match.group(3))
        elif match.group(2).strip():
            parts.append(f'{match.group(1)}"{match.group(2).strip()}"')
    return parts


def command_addressee(text: str) -> str:
    """The bot a command names (`/latest@OtherBot 3` -> "otherbot"), casefolded; "" if none."""
    first = text.split(maxsplit=1)[0] if text.strip() else ""
    return first.partition("@")[2].casefold() if first.startswith("/") else ""


def parse_count(
    args: list[str], *, default: int = 5, low: int = 1, high: int = 20, command: str = "/latest"
) -> int:
    """A count such as `/latest 3`; missing means the default."""
    if not args:
        return default
    if len(args) > 1 or not (args[0].isascii() and args[0].isdigit()):
        raise UserError(f"{command} takes one number from {low} to {high}.", f"{command} {default}")
    value = int(args[0]) if len(args[0]) < 6 else high + 1
    if not low <= value <= high:
        raise UserError(
            f"Pick a number from {low} to {high}.", f"{command} {min(max(value, low), high)}"
        )
    return value


def parse_time(text: str) -> time:
    """HH:MM (also H:MM, HHMM, HH) as a time of day."""
    match = _HHMM.match(text.strip())
    if not match:
        raise ValueError(text)
    hour, minute = int(match.group(1)), int(match.group(2) or 0)
    if hour == 24 and minute == 0:
        hour = 0
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise ValueError(text)
    return time(hour, minute)


_WORDS = re.compile(r"[^\W\dh_]|h[^\W\d_]")
"""Letters other than an hour's "h" (`23h`): a word that is no part of quiet hours."""


def parse_quiet(args: list[str]) -> tuple[time, time] | None:
    """`/quiet 23:00-07:00` -> (start, end); `/quiet off` -> None."""
    example = "/quiet 23:00-07:00"
    joined = "".join(args).lower()
    if joined in {"off", "none", "0"}:
        return None
    parts = re.split(r"[-–—]|to", joined) if joined else []
    if len(parts) != 2 or _WORDS.search(joined.replace("to", " ")):
        raise UserError("Give quiet hours as HH:MM-HH:MM in your time zone, or off.", example)
    try:
        start, end = parse_time(parts[0]), parse_time(parts[1])
    except ValueError:
        raise UserError("Hours look like 23:00 (00:00 to 23:59).", example) from None
    if start == end:
        raise UserError("Start and end are the same; use /quiet off for no quiet hours.", example)
    return start, end


def parse_digest(args: list[str]) -> tuple[DigestMode, time | None]:
    """`/digest off|hourly|daily HH:MM`."""
    example = "/digest daily 08:00"
    if not args:
        raise UserError("Say off, hourly, or daily with a time.", example)
    mode = args[0].lower()
    if mode in {"off", "instant", "none"} and len(args) == 1:
        return DigestMode.OFF, None
    if mode == "hourly" and len(args) == 1:
        return DigestMode.HOURLY, None
    if mode == "daily" and len(args) <= 2:
        if len(args) == 1:
            return DigestMode.DAILY, time(8, 0)
        try:
            return DigestMode.DAILY, parse_time(args[1])
        except ValueError:
            raise UserError("The time of a daily digest looks like 08:00.", example) from None
    raise UserError("Say off, hourly, or daily with a time.", example)


_NOT_ZONES = frozenset({"factory", "localtime", "posixrules"})
"""Names zoneinfo may list that are no place's time (Factory is "-00", localtime the host's)."""
_SUGGEST_MIN_CHARS = 5
"""Shorter input is an abbreviation (PST, IST, CEST) more often than a typo: no near letters
make it a zone, and a wrong zone sets every time and quiet hour off by hours."""
_SUGGEST_CUTOFF = 0.8


@lru_cache(maxsize=1)
def _zones() -> dict[str, str]:
    """Every IANA name zoneinfo knows, casefolded -> as spelt (CET and Japan as well)."""
    return {
        name.casefold(): name
        for name in zoneinfo.available_timezones()
        if name.casefold() not in _NOT_ZONES
    }


@lru_cache(maxsize=1)
def _cities() -> dict[str, str]:
    """The city part of each Area/City name, casefolded -> the full name."""
    return {name.rsplit("/", 1)[-1]: full for name, full in _zones().items() if "/" in name}


def parse_timezone(args: list[str]) -> str:
    """An IANA zone name such as Europe/Kyiv, matched case-insensitively, with a suggestion.

    A city alone (`kyiv`) finds its Area/City zone, before a legacy name spelt the same
    (`singapore` is Asia/Singapore); names without a slash (CET, EST) are zones too. A
    whole-hour offset (`UTC+3`) becomes `Etc/GMT-3` (the Etc names count the other way
    round, which nobody should have to know); a half-hour one (`UTC+5:30`), for which no
    IANA name exists, is kept as the fixed offset `UTC+05:30` (see `timing.zone`). A
    suggestion is offered only for a close typo of a name or a city.
    """
    example = "/timezone Europe/Kyiv"
    if len(args) != 1 or len(args[0]) > 60:
        raise UserError("Give one IANA time zone name.", example)
    wanted = args[0].strip().replace(" ", "_").casefold()
    aliases = {"kiev": "europe/kyiv", "kyiv": "europe/kyiv", "utc": "utc", "gmt": "utc"}
    offset = _offset_zone(wanted)
    if offset is not None and offset.startswith("UTC"):
        return offset
    wanted = aliases.get(wanted, offset or wanted)
    zones, cities = _zones(), _cities()
    if wanted in aliases.values() or ("/" in wanted and wanted in zones):
        return zones[wanted]
    if wanted in cities:
        return cities[wanted]
    if wanted in zones:
        return zones[wanted]
    hint = _suggest_zone(wanted)
    message = f"I don't know the time zone {args[0][:60]!r}."
    if hint:
        message += f" Did you mean {hint}?"
    return _raise(message, f"/timezone {hint}" if hint else example)


def _suggest_zone(wanted: str) -> str | None:
    """The zone a typo most likely meant: Area/City against full names, a word against
    cities; None when nothing is close (the letters of "est" are in "West" too)."""
    if len(wanted) < _SUGGEST_MIN_CHARS:
        return None
    zones, cities = _zones(), _cities()
    names = {name: full for name, full in zones.items() if "/" in name} if "/" in wanted else cities
    close = difflib.get_close_matches(wanted, list(names), n=1, cutoff=_SUGGEST_CUTOFF)
    return names[close[0]] if close else None


def _offset_zone(wanted: str) -> str | None:
    """`utc+3` -> `etc/gmt-3`, `utc+5:30` -> `UTC+05:30`; None for anything else.

    An offset no zone has (beyond UTC-12..UTC+14, or minutes other than :30 and :45) is
    refused.
    """
    match = _OFFSET.match(wanted)
    if match is None:
        return None
    hours, minutes = int(match.group(2)), int(match.group(3) or 0)
    if minutes not in (0, 30, 45):
        raise UserError("Offsets are whole hours, or :30 or :45 past.", "/timezone UTC+5:30")
    if hours * 60 + minutes > 14 * 60:
        raise UserError("Offsets go from UTC-12 to UTC+14.", "/timezone UTC+3")
    if minutes:
        return f"UTC{match.group(1)}{hours:02}:{minutes:02}"
    if hours == 0:
        return "utc"
    sign = "-" if match.group(1) == "+" else "+"
    return f"etc/gmt{sign}{hours}"


def _raise(message: str, example: str) -> str:
    raise UserError(message, example)


def parse_languages(args: list[str], *, also: Collection[str] = ()) -> frozenset[str]:
    """`/language en uk` -> {"en", "uk"}; `/language all` -> empty (everything).

    A code must be one a story can carry: one language detection answers, or one of `also`
    (the configured sources' languages, which detection falls back to). Anything else would
    be stored and then match no story, so the chat would silently get nothing.
    """
    example = "/language en uk"
    if not args:
        raise UserError("Give language codes, or all.", example)
    codes = {code for arg in args for code in arg.lower().split(",") if code}
    if "all" in codes:
        if len(codes) > 1:
            raise UserError("Say all alone for every language, or only codes.", "/language all")
        return frozenset()
    bad = sorted(code for code in codes if not LANGUAGE_CODE.match(code) and code not in also)
    if bad or len(codes) > 10:
        raise UserError("Languages are two-letter codes such as en, uk or ru.", example)
    known = frozenset(LANGUAGES) | frozenset(also)
    unknown = sorted(codes - known)
    if unknown:
        raise UserError(
            f"{unknown[0][:3]!r} is not a language I can tell; codes are such as en, uk or ru.",
            example,
        )
    return frozenset(codes)


def parse_terms(
    text: str,
    *,
    command: str = "/follow",
    is_topic: Callable[[str], bool] = lambda name: False,
) -> list[Term]:
    """`/follow kursk "Zaporizhzhia plant" -football` -> terms; `all` alone means everything.

    Bare words are grouped into topic names of up to four words when `is_topic` knows the
    group (`North Korea`); a run of bare words of which none names a topic stays one name
    (`/follow foo bar` -> "foo bar"), so the answer can offer it as a quoted keyword.
    """
    example = f'{command} kursk "Zaporizhzhia plant" -football'
    parts = tokens(text, example=example)
    if not parts:
        raise UserError('Name a topic, a "phrase" in quotes, or all.', example)
    if len(parts) > MAX_TERMS:
        raise UserError(f"At most {MAX_TERMS} at a time.", example)
    terms: list[Term] = []
    run: list[str] = []
    for part in parts:
        term = _term(part, example)
        if term.kind == "name":
            run.append(term.value)
            continue
        terms += _names(run, is_topic)
        run = []
        terms.append(term)
    return terms + _names(run, is_topic)


def _term(part: str, example: str) -> Term:
    """One token as a term: `-word` excludes, `"a b"` is a phrase, `all` is everything."""
    exclude = part.startswith("-") and len(part) > 1
    body = part[1:] if exclude else part
    quoted = body.startswith('"') and body.endswith('"') and len(body) >= 2
    value = _clean(body.strip('"'))
    if len(value) > MAX_TERM_CHARS:
        raise UserError(f"Keep each term under {MAX_TERM_CHARS} characters.", example)
    if sum(ch.isalnum() for ch in value) < 2:  # "(a+)+$" would follow every "a"
        raise UserError(f"{value[:20]!r} is too short to follow.", example)
    if exclude:
        return Term("exclude", value)
    if quoted:
        return Term("phrase", value)
    if value.casefold() in {"all", "everything", "*"}:
        return Term("all", "all")
    return Term("name", value)


def _names(words: list[str], is_topic: Callable[[str], bool]) -> list[Term]:
    """Bare words as topic names: the longest known group at each place, else one word."""
    names: list[str] = []
    start = 0
    while start < len(words):
        longest = min(MAX_NAME_WORDS, len(words) - start)
        size = next(
            (n for n in range(longest, 1, -1) if is_topic(" ".join(words[start : start + n]))), 1
        )
        names.append(" ".join(words[start : start + size]))
        start += size
    joined = " ".join(words)
    if len(names) > 1 and not any(map(is_topic, names)) and len(joined) <= MAX_TERM_CHARS:
        names = [joined]
    return [Term("name", name) for name in names]


def parse_query(args: list[str], *, command: str = "/topic") -> str:
    """Free text for a search or a topic name, bounded."""
    text = _clean(" ".join(args))
    if len(text) > MAX_ARG_CHARS:
        raise UserError(f"Keep it under {MAX_ARG_CHARS} characters.", f"{command} kursk")
    return text


def parse_source(args: list[str]) -> tuple[str, str | None]:
    """`/addsource URL [NAME]`."""
    example = "/addsource https://example.org/rss Example Outlet"
    if not args:
        raise UserError("Give the feed's address, and optionally a name.", example)
    url = args[0].strip("<>")
    if len(url) > 500 or not re.match(r"^https?://[^\s/]+", url, re.IGNORECASE):
        raise UserError("The address must start with http:// or https://.", example)
    name = _clean(" ".join(args[1:])) or None
    if name is not None and len(name) > 80:
        raise UserError("Keep the name under 80 characters.", example)
    return url, name
