"""Plain values passed between the core and the shell.

Nothing here knows about Telegram, HTTP or SQL: the core takes and returns these, the shell
(`store`, `pipeline`, handlers) turns them into rows and messages. All datetimes are aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from enum import StrEnum


class SourceKind(StrEnum):
    """How a source's response body is parsed."""

    FEED = "feed"
    RELIEFWEB = "reliefweb"
    GDELT = "gdelt"


@dataclass(frozen=True, slots=True)
class Source:
    """One outlet to poll, as configured in the sources file (or added with /addsource)."""

    name: str
    url: str
    kind: SourceKind = SourceKind.FEED
    language: str | None = None
    full_text: bool = False
    breaking: bool = False


@dataclass(frozen=True, slots=True)
class Entry:
    """One item as the feed gave it, before any cleaning.

    `summary` and `content` may hold HTML; `url` may be relative to the feed or carry
    tracking parameters; `published` is None when the feed gave no usable date.
    """

    title: str
    url: str
    guid: str | None = None
    summary: str = ""
    content: str = ""
    published: datetime | None = None
    author: str | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Article:
    """One outlet's report after normalisation: clean text, canonical URL, a language."""

    source: str
    guid: str
    url: str
    title: str
    text: str
    language: str
    published_at: datetime
    content_hash: str


@dataclass(frozen=True, slots=True)
class Topic:
    """A followable subject with multilingual keywords (from the topics file)."""

    key: str
    label: str
    aliases: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    breaking: bool = False
    place: bool = False
    """A region or city: reports naming only other places are other events (`bot.dedup`)."""


@dataclass(frozen=True, slots=True)
class StoryItem:
    """One outlet's article as it appears inside a story."""

    source: str
    url: str
    title: str
    published_at: datetime
    source_url: str | None = None


@dataclass(frozen=True, slots=True)
class Story:
    """One event, merged from the reports of one or more outlets.

    `source`/`url` are the representative item's; `items` holds every report, the
    representative first. `outlets` counts distinct sources (so "+N outlets" is outlets - 1).
    """

    id: int
    headline: str
    summary: str
    url: str
    source: str
    topics: frozenset[str]
    first_seen_at: datetime
    last_seen_at: datetime
    language: str = "en"
    outlets: int = 1
    items: tuple[StoryItem, ...] = ()
    source_url: str | None = None
    published_at: datetime | None = None

    @property
    def happened_at(self) -> datetime:
        """When the event was first reported: the earliest item's time, else first seen."""
        return self.published_at or self.first_seen_at


class DigestMode(StrEnum):
    """How a chat wants its alerts: one by one, or gathered."""

    OFF = "off"
    HOURLY = "hourly"
    DAILY = "daily"


@dataclass(frozen=True, slots=True)
class ChatPrefs:
    """What one chat (or one forum thread of it) wants and when."""

    chat_id: int
    thread_id: int = 0
    timezone: str = "UTC"
    quiet_start: time | None = None
    quiet_end: time | None = None
    digest: DigestMode = DigestMode.OFF
    digest_at: time | None = None
    languages: frozenset[str] = field(default_factory=frozenset)
    active: bool = True
