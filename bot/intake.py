"""The pure steps of a fetch pass between a response's bytes and the store: parse, normalise,
then sign, tag and summarise the new articles; and which chats' own words a story matches.

Everything here runs in a worker thread (`bot.pipeline` moves the values); nothing does I/O.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot import dedup, feeds, normalise, summariser
from bot.assignment import Prepared
from bot.errors import SourceError
from bot.models import Article, Entry, Source
from bot.topics import KeywordMatcher, TopicIndex, compile_keywords

log = logging.getLogger(__name__)

MAX_ITEMS_PER_SOURCE = 500

Target = tuple[int, int]
"""A chat id and a forum thread id (0 outside forums)."""

Rules = Mapping[Target, tuple[KeywordMatcher | None, KeywordMatcher | None]]
"""Each chat thread's own words and exclusions, compiled."""


@dataclass(frozen=True, slots=True)
class ParsedBody:
    """A response's usable entries, with the exact keys that are cheap to know before
    normalising (canonical URL, feed GUID), so known entries skip the costly steps."""

    entries: tuple[Entry, ...]
    keys: tuple[tuple[str, str], ...]
    warning: str | None = None


def parse_body(source: Source, body: bytes, content_type: str | None) -> ParsedBody:
    """Bytes of one response -> entries.

    Entries with neither a title nor a link are dropped. A malformed feed that gives no
    usable entry is an error (feedparser may still hand back an empty shell of one).
    """
    parsed = feeds.parse_feed(
        body, kind=source.kind, base_url=source.url, content_type=content_type
    )
    entries = tuple(
        entry
        for entry in parsed.entries[:MAX_ITEMS_PER_SOURCE]
        if entry.title.strip() or entry.url.strip()
    )
    if not entries and parsed.warning:
        raise SourceError(f"the feed is malformed and no entry could be read: {parsed.warning}")
    keys = tuple(
        (
            normalise.canonical_url(entry.url, base=source.url) if entry.url.strip() else "",
            (entry.guid or "").strip(),
        )
        for entry in entries
    )
    return ParsedBody(entries, keys, parsed.warning)


def normalise_entries(entries: Sequence[Entry], source: Source, now: datetime) -> list[Article]:
    """Entries -> clean articles.

    An article without a link is dropped: an alert needs something to open, and the item
    table's unique URL cannot tell two linkless items apart.
    """
    articles = []
    for entry in entries:
        article = normalise.normalise_entry(entry, source, now=now)
        if article is not None and article.url:
            articles.append(article)
    return articles


PLACE_CHARS = 300
"""The lede, where a report names the places it is about (a long text names others too)."""


def sign(
    title: str,
    text: str,
    language: str,
    topics: TopicIndex,
    matched: frozenset[str] | None = None,
) -> dedup.Signature:
    """A report's signature, with the places its title and lede name. The lede is cut at a
    word, so its places are among the whole report's topics: `matched`, those topics when
    known, spares the lede's match when the report names no place at all."""
    places: frozenset[str] = frozenset()
    if matched is None or topics.any_place(matched):
        lede = text if len(text) <= PLACE_CHARS else text[:PLACE_CHARS].rsplit(None, 1)[0]
        places = topics.places(f"{title}\n{lede}")
    return dedup.signature(title, text, language, places)


def prepare(articles: Sequence[Article], topics: TopicIndex) -> list[Prepared]:
    """Sign, tag and summarise new articles."""
    prepared = []
    for article in articles:
        matched = topics.match(f"{article.title}\n{article.text}")
        signature = sign(article.title, article.text, article.language, topics, matched)
        prepared.append(
            Prepared(
                article=article,
                signature=signature.to_bytes(),
                bands=tuple(dedup.band_keys(signature)),
                topics=matched,
                summary=summariser.summarise(
                    article.title, [article.text], language=article.language
                ),
            )
        )
    return prepared


def compile_rules(follows: Sequence[tuple[Target, str, str]]) -> Rules:
    """(target, kind, phrase) follows -> each target's compiled words and exclusions; a kind
    other than "keyword" is an exclusion."""
    phrases: dict[Target, tuple[list[str], list[str]]] = {}
    for target, kind, value in follows:
        words, excludes = phrases.setdefault(target, ([], []))
        (words if kind == "keyword" else excludes).append(value)
    return {
        target: (_matcher(target, words), _matcher(target, excludes))
        for target, (words, excludes) in phrases.items()
    }


def _matcher(target: Target, phrases: list[str]) -> KeywordMatcher | None:
    """A compiled follow list, or None; a stored phrase that cannot match is skipped."""
    usable = []
    for phrase in phrases:
        try:
            compile_keywords([phrase])
        except ValueError:
            log.warning("chat %s: ignoring the follow phrase %r", target, phrase)
            continue
        usable.append(phrase)
    return compile_keywords(usable) if usable else None


def keyword_targets(rules: Rules, article: Article) -> tuple[list[Target], list[Target]]:
    """The chat threads whose own words the article matches, and those it is excluded from."""
    text = f"{article.title}\n{article.text}"
    targets, excluded = [], []
    for target, (words, excludes) in rules.items():
        if excludes is not None and excludes.matches(text):
            excluded.append(target)
        elif words is not None and words.matches(text):
            targets.append(target)
    return targets, excluded
