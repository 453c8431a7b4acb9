"""Export and import: chats and their follows as JSON, sources as OPML 2.0.

Pure: text in, values out (and back). The CLI reads and writes the database and the files.
An operator moves a bot to another machine, or keeps a copy before an experiment, with
`conflictbot export > follows.json` and `conflictbot import follows.json`; OPML is what every
feed reader exports, so sources can come from one and go to one.

Imports are checked field by field and refused with a message naming the chat or outline
at fault (a `ConfigError`, which the CLI prints without a traceback): a file edited by hand
must not put a value into the database that the bot cannot use later.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any, TypeGuard
from xml.sax.saxutils import quoteattr

from bot.errors import ConfigError
from bot.models import ChatPrefs, DigestMode, Source, SourceKind
from bot.timing import find_zone

FOLLOWS_FORMAT = "conflictbot-follows"
FOLLOWS_VERSION = 1
CHAT_TYPES = frozenset({"private", "group", "supergroup", "channel"})
FOLLOW_KINDS = frozenset({"all", "topic", "keyword", "exclude"})
MAX_VALUE_CHARS = 200
MAX_NAME_CHARS = 200
OPML_NAMESPACE = "urn:x-conflictbot:opml:1"
"""Our own outline attributes (kind, fullText, breaking), which other readers ignore."""

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_DTD = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class FollowRecord:
    """One follow of a chat thread (thread 0 outside forums)."""

    thread_id: int
    kind: str
    value: str


@dataclass(frozen=True, slots=True)
class ChatRecord:
    """A chat as exported: who it is, its settings, and what it follows."""

    prefs: ChatPrefs
    type: str
    title: str | None = None
    username: str | None = None
    follows: tuple[FollowRecord, ...] = ()


@dataclass(frozen=True, slots=True)
class OpmlImport:
    """The sources an OPML file holds, and why any outline was skipped."""

    sources: tuple[Source, ...]
    skipped: tuple[str, ...] = ()


def render_follows(chats: Sequence[ChatRecord], *, exported_at: datetime) -> str:
    """The JSON document `conflictbot export` prints (stable order, one chat per object)."""
    document = {
        "format": FOLLOWS_FORMAT,
        "version": FOLLOWS_VERSION,
        "exported_at": exported_at.isoformat(),
        "chats": [_chat_json(chat) for chat in sorted(chats, key=lambda c: c.prefs.chat_id)],
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def _chat_json(chat: ChatRecord) -> dict[str, Any]:
    prefs = chat.prefs
    return {
        "id": prefs.chat_id,
        "type": chat.type,
        "title": chat.title,
        "username": chat.username,
        "active": prefs.active,
        "timezone": prefs.timezone,
        "languages": sorted(prefs.languages),
        "quiet_start": _hhmm(prefs.quiet_start),
        "quiet_end": _hhmm(prefs.quiet_end),
        "digest": prefs.digest.value,
        "digest_at": _hhmm(prefs.digest_at),
        "follows": [
            {"thread_id": f.thread_id, "kind": f.kind, "value": f.value} for f in chat.follows
        ],
    }


def _hhmm(value: time | None) -> str | None:
    return None if value is None else value.strftime("%H:%M")


def parse_follows(text: str | bytes) -> list[ChatRecord]:
    """Chats from an export; raises ConfigError naming the first thing that is wrong."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ConfigError(f"the follows file is not valid JSON: {exc}") from None
    if not isinstance(document, dict) or document.get("format") != FOLLOWS_FORMAT:
        raise ConfigError(
            f'the follows file is not a conflictbot export (no "format": "{FOLLOWS_FORMAT}")'
        )
    version = document.get("version")
    if version != FOLLOWS_VERSION:
        raise ConfigError(
            f"the follows file has version {version!r}; this conflictbot reads version "
            f"{FOLLOWS_VERSION} (export it again with the same release)"
        )
    chats = document.get("chats")
    if not isinstance(chats, list):
        raise ConfigError('the follows file needs a "chats" list')
    records, seen = [], set()
    for index, raw in enumerate(chats, start=1):
        record = _chat_record(raw, f"chat #{index}")
        if record.prefs.chat_id in seen:
            raise ConfigError(f"chat #{index}: the id {record.prefs.chat_id} is listed twice")
        seen.add(record.prefs.chat_id)
        records.append(record)
    return records


def _chat_record(raw: object, where: str) -> ChatRecord:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected an object")
    chat_id = raw.get("id")
    if not _is_int(chat_id) or chat_id == 0:
        raise ConfigError(f"{where}: id must be a non-zero integer (a Telegram chat id)")
    where = f"{where} (id {chat_id})"
    kind = raw.get("type", "private")
    if kind not in CHAT_TYPES:
        raise ConfigError(f"{where}: type must be one of {', '.join(sorted(CHAT_TYPES))}")
    digest = raw.get("digest", "off")
    try:
        mode = DigestMode(digest)
    except ValueError:
        modes = ", ".join(m.value for m in DigestMode)
        raise ConfigError(f"{where}: digest must be one of {modes}") from None
    languages = raw.get("languages", [])
    if not isinstance(languages, list) or not all(
        isinstance(code, str) and _LANGUAGE.match(code) for code in languages
    ):
        raise ConfigError(f'{where}: languages must be a list of codes such as ["en", "uk"]')
    quiet_start = _time_field(raw, "quiet_start", where)
    quiet_end = _time_field(raw, "quiet_end", where)
    if (quiet_start is None) != (quiet_end is None):
        raise ConfigError(f"{where}: quiet_start and quiet_end go together (or both null)")
    prefs = ChatPrefs(
        chat_id=chat_id,
        timezone=_timezone(raw.get("timezone", "UTC"), where),
        quiet_start=quiet_start,
        quiet_end=quiet_end,
        digest=mode,
        digest_at=_time_field(raw, "digest_at", where),
        languages=frozenset(languages),
        active=_bool_field(raw, "active", where),
    )
    return ChatRecord(
        prefs=prefs,
        type=kind,
        title=_optional_text(raw, "title", where),
        username=_optional_text(raw, "username", where),
        follows=_follows(raw.get("follows", []), where),
    )


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**63


def _time_field(raw: dict[str, Any], key: str, where: str) -> time | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not _HHMM.match(value):
        raise ConfigError(f'{where}: {key} must be "HH:MM" (00:00 to 23:59) or null')
    return time.fromisoformat(value)


def _timezone(value: object, where: str) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= 60:
        raise ConfigError(f'{where}: timezone must be an IANA name such as "Europe/Kyiv"')
    if find_zone(value) is None:
        raise ConfigError(f"{where}: unknown timezone {value[:60]!r}")
    return value


def _bool_field(raw: dict[str, Any], key: str, where: str) -> bool:
    value = raw.get(key, True)
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: {key} must be true or false")
    return value


def _optional_text(raw: dict[str, Any], key: str, where: str) -> str | None:
    value = raw.get(key)
    if value is not None and (not isinstance(value, str) or len(value) > 1000):
        raise ConfigError(f"{where}: {key} must be text (at most 1000 characters) or null")
    return value


def _follows(raw: object, where: str) -> tuple[FollowRecord, ...]:
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: follows must be a list")
    follows = []
    for index, item in enumerate(raw, start=1):
        at = f"{where}, follow #{index}"
        if not isinstance(item, dict):
            raise ConfigError(f"{at}: expected an object")
        thread_id, kind, value = item.get("thread_id", 0), item.get("kind"), item.get("value")
        if not _is_int(thread_id) or not 0 <= thread_id < 2**31:
            raise ConfigError(f"{at}: thread_id must be 0 or a forum thread id")
        if kind not in FOLLOW_KINDS:
            raise ConfigError(f"{at}: kind must be one of {', '.join(sorted(FOLLOW_KINDS))}")
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_VALUE_CHARS:
            raise ConfigError(f"{at}: value must be text of 1 to {MAX_VALUE_CHARS} characters")
        follows.append(FollowRecord(thread_id, kind, value))
    return tuple(follows)


def render_opml(sources: Sequence[Source], *, created: datetime) -> str:
    """OPML 2.0 with one outline per source; our extras live in their own namespace."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<opml version="2.0" xmlns:cb="{OPML_NAMESPACE}">',
        "  <head>",
        "    <title>conflictbot sources</title>",
        f"    <dateCreated>{created.strftime('%a, %d %b %Y %H:%M:%S %z')}</dateCreated>",
        "  </head>",
        "  <body>",
    ]
    for source in sorted(sources, key=lambda s: s.name.casefold()):
        name = _xml_text(source.name)
        attributes = [
            f"text={quoteattr(name)}",
            f"title={quoteattr(name)}",
            'type="rss"',
            f"xmlUrl={quoteattr(_xml_text(source.url))}",
        ]
        if source.language:
            attributes.append(f"language={quoteattr(_xml_text(source.language))}")
        if source.kind is not SourceKind.FEED:
            attributes.append(f'cb:kind="{source.kind.value}"')
        if source.full_text:
            attributes.append('cb:fullText="true"')
        if source.breaking:
            attributes.append('cb:breaking="true"')
        lines.append(f"    <outline {' '.join(attributes)}/>")
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines)


def _xml_text(text: str) -> str:
    """Drop the characters XML 1.0 cannot carry at all (they would make the file unreadable)."""
    return _NOT_XML.sub("", text)


def parse_opml(data: str | bytes) -> OpmlImport:
    """The feeds of an OPML file (any reader's), folders flattened; ConfigError if unreadable.

    A DTD is refused outright: OPML never needs one, and entity definitions are how an XML
    file makes a parser expand it to gigabytes.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if _DTD.search(raw):
        raise ConfigError("the OPML file declares a DTD or entities; OPML needs neither")
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as exc:
        raise ConfigError(f"the OPML file is not well-formed XML: {exc}") from None
    except (ValueError, LookupError) as exc:
        raise ConfigError(f"the OPML file cannot be read: {exc}") from None
    if root.tag != "opml" or root.find("body") is None:
        raise ConfigError("the file is not OPML (no <opml> with a <body>)")
    sources: list[Source] = []
    skipped: list[str] = []
    names: set[str] = set()
    urls: set[str] = set()
    for index, outline in enumerate(root.iter("outline"), start=1):
        attrs = {_local(key): value for key, value in outline.attrib.items()}
        url = (attrs.get("xmlurl") or "").strip()
        if not url:
            continue
        name = " ".join((attrs.get("title") or attrs.get("text") or url).split())
        name = name[:MAX_NAME_CHARS]
        where = f"outline #{index} ({name[:60]})"
        if not re.match(r"^https?://[^\s/]+", url, re.IGNORECASE) or len(url) > 2000:
            skipped.append(f"{where}: only http(s) addresses can be polled, not {url[:80]!r}")
            continue
        if name.casefold() in names or url in urls:
            skipped.append(f"{where}: the name or address is listed twice")
            continue
        try:
            kind = SourceKind((attrs.get("kind") or "feed").strip().lower())
        except ValueError:
            skipped.append(f"{where}: unknown kind {attrs.get('kind', '')[:20]!r}")
            continue
        language = (attrs.get("language") or "").strip().lower().split("-")[0] or None
        names.add(name.casefold())
        urls.add(url)
        sources.append(
            Source(
                name=name,
                url=url,
                kind=kind,
                language=language if language and _LANGUAGE.match(language) else None,
                full_text=attrs.get("fulltext", "").strip().lower() == "true",
                breaking=attrs.get("breaking", "").strip().lower() == "true",
            )
        )
    return OpmlImport(tuple(sources), tuple(skipped))


def _local(key: str) -> str:
    """An attribute's name without its namespace, lower-cased (`xmlUrl`, `xmlurl` alike)."""
    return key.rpartition("}")[2].lower()
