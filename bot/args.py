"""Command arguments -> values, or a UserError that says what was wrong and shows an example.

Every limit on user input lives here: lengths, counts, formats. Nothing here trusts the text;
nothing here builds regular expressions from it.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
import zoneinfo
from dataclasses import dataclass
from datetime import time
from functools import lru_cache

from bot.errors import UserError
from bot.models import DigestMode

MAX_ARG_CHARS = 200
MAX_TERMS = 10
MAX_TERM_CHARS = 60
LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}$")
_HHMM = re.compile(r"^(\d{1,2})(?::|\.|h)?(\d{2})?$")
_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "«": '"', "»": '"'})


@dataclass(frozen=True, slots=True)
class Term:
    """One thing to follow or unfollow: a topic name, a phrase, an exclusion, or everything."""

    kind: str  # "all" | "name" | "phrase" | "exclude"
    value: str


def _clean(text: str) -> str:
    """NFC, no control characters, folded whitespace."""
    text = unicodedata.normalize("NFC", text)
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    return " ".join(text.split())


def tokens(text: str) -> list[str]:
    """Split arguments on whitespace, keeping "quoted phrases" (any quote style) together."""
    text = _clean(text)
    if len(text) > MAX_ARG_CHARS * 5:
        raise UserError("That is too long for a command.", "/help")
    parts: list[str] = []
    for match in re.finditer(r'(-?)"([^"]*)"?|(\S+)', text.translate(_QUOTES)):
        if match.group(3) is not None:
            parts.append(match.group(3))
        elif match.group(2).strip():
            parts.append(f'{match.group(1)}"{match.group(2).strip()}"')
    return parts


def parse_count(
    args: list[str], *, default: int = 5, low: int = 1, high: int = 20, command: str = "/latest"
) -> int:
    """A count such as `/latest 3`; missing means the default."""
    if not args:
        return default
    if len(args) > 1 or not args[0].isdigit():
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


def parse_quiet(args: list[str]) -> tuple[time, time] | None:
    """`/quiet 23:00-07:00` -> (start, end); `/quiet off` -> None."""
    example = "/quiet 23:00-07:00"
    joined = "".join(args).lower()
    if joined in {"off", "none", "0"}:
        return None
    parts = re.split(r"[-–—]|to", joined) if joined else []
    if len(parts) != 2:
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


@lru_cache(maxsize=1)
def _zones() -> dict[str, str]:
    return {
        name.casefold(): name
        for name in zoneinfo.available_timezones()
        if "/" in name or name == "UTC"
    }


def parse_timezone(args: list[str]) -> str:
    """An IANA zone name such as Europe/Kyiv, matched case-insensitively, with a suggestion."""
    example = "/timezone Europe/Kyiv"
    if len(args) != 1 or len(args[0]) > 60:
        raise UserError("Give one IANA time zone name.", example)
    wanted = args[0].strip().replace(" ", "_").casefold()
    aliases = {"kiev": "europe/kyiv", "kyiv": "europe/kyiv", "utc": "utc", "gmt": "utc"}
    wanted = aliases.get(wanted, wanted)
    zones = _zones()
    if wanted in zones:
        return zones[wanted]
    by_city = {name.rsplit("/", 1)[-1]: full for name, full in zones.items()}
    if wanted in by_city:
        return by_city[wanted]
    close = difflib.get_close_matches(wanted, list(zones) + list(by_city), n=1, cutoff=0.6)
    hint = zones.get(close[0]) or by_city.get(close[0]) if close else None
    message = f"I don't know the time zone {args[0][:60]!r}."
    if hint:
        message += f" Did you mean {hint}?"
    return _raise(message, f"/timezone {hint}" if hint else example)


def _raise(message: str, example: str) -> str:
    raise UserError(message, example)


def parse_languages(args: list[str]) -> frozenset[str]:
    """`/language en uk` -> {"en", "uk"}; `/language all` -> empty (everything)."""
    example = "/language en uk"
    if not args:
        raise UserError("Give language codes, or all.", example)
    if [arg.lower() for arg in args] == ["all"]:
        return frozenset()
    codes = {arg.lower().strip(",") for arg in args}
    bad = sorted(code for code in codes if not LANGUAGE_CODE.match(code))
    if bad or len(codes) > 10:
        raise UserError("Languages are two-letter codes such as en, uk or ru.", example)
    return frozenset(codes)


def parse_terms(text: str, *, command: str = "/follow") -> list[Term]:
    """`/follow kursk "Zaporizhzhia plant" -football` -> terms; `all` alone means everything."""
    example = f'{command} kursk "Zaporizhzhia plant" -football'
    parts = tokens(text)
    if not parts:
        raise UserError('Name a topic, a "phrase" in quotes, or all.', example)
    if len(parts) > MAX_TERMS:
        raise UserError(f"At most {MAX_TERMS} at a time.", example)
    terms: list[Term] = []
    for part in parts:
        exclude = part.startswith("-") and len(part) > 1
        body = part[1:] if exclude else part
        quoted = body.startswith('"') and body.endswith('"') and len(body) >= 2
        value = _clean(body.strip('"'))
        if len(value) > MAX_TERM_CHARS:
            raise UserError(f"Keep each term under {MAX_TERM_CHARS} characters.", example)
        if len(value) < 2 or not any(ch.isalnum() for ch in value):
            raise UserError(f"{value[:20]!r} is too short to follow.", example)
        if exclude:
            terms.append(Term("exclude", value))
        elif quoted:
            terms.append(Term("phrase", value))
        elif value.lower() in {"all", "everything", "*"}:
            terms.append(Term("all", "all"))
        else:
            terms.append(Term("name", value))
    return terms


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
