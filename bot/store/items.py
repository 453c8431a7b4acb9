"""Storing one source's new articles: exact repeats refused by the unique keys, reworded
reports of one event joined to its story, in a fixed handful of statements per batch.

A batch costs one query for the exact keys it repeats; one for the items stored since the
last batch, whose band keys go into the process's in-memory band index (`bot.band_index`),
which then names the stories sharing the batch's band keys and knows their dates (read with
the items; a date it lacks is read from the stories); one (now and then two) for the reports
of the stories its articles may join; one for the merged stories' topics and outlets; then
bulk writes: the new stories (INSERT … RETURNING id, in order), the items, one executemany
UPDATE of the stories joined, and the topic rows (`bot.store.batch`).
`bot.assignment` decides in memory, from what those reads return, what storing the articles
one at a time would decide; the cost per article grows with neither the archive (at most
`PER_BAND` postings per band) nor the batch's round trips.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from bot.assignment import NEW_STORY, PER_BAND, Assigner, Prepared, Ranking, StoredReports
from bot.band_index import BandIndex
from bot.db import ItemRow
from bot.store import bands
from bot.store.batch import GUID_CHARS, URL_CHARS, Writer
from bot.store.candidates import add_dates, load_reports

_KEY_BATCH = 400


class Outcome(StrEnum):
    """What storing one article did."""

    DUPLICATE = "duplicate"
    NEW_STORY = "new_story"
    MERGED = "merged"


@dataclass(frozen=True, slots=True)
class Stored:
    """The result of storing one article: the outcome and the story it landed in."""

    outcome: Outcome
    story_id: int | None = None
    outlets: int = 0


@dataclass(frozen=True, slots=True)
class KnownKeys:
    """The exact keys of a batch that the store holds already (see `known_keys`)."""

    urls: frozenset[str] = frozenset()
    guids: frozenset[str] = frozenset()
    hashes: frozenset[str] = frozenset()

    def knows(self, url: str, guid: str, content_hash: str = "") -> bool:
        """True when any key repeats a stored item; an empty key never matches."""
        return (
            (bool(url) and url[:URL_CHARS] in self.urls)
            or (bool(guid) and guid[:GUID_CHARS] in self.guids)
            or (bool(content_hash) and content_hash in self.hashes)
        )


async def known_keys(
    session: AsyncSession,
    source_id: int,
    *,
    urls: Iterable[str] = (),
    guids: Iterable[str] = (),
    hashes: Iterable[str] = (),
) -> KnownKeys:
    """Which of these keys stored items hold: URLs and content hashes anywhere, GUIDs within
    the source. One query per few hundred keys, instead of one per article."""
    wanted = [
        sorted({u[:URL_CHARS] for u in urls if u}),
        sorted({g[:GUID_CHARS] for g in guids if g}),
        sorted({h for h in hashes if h}),
    ]
    found: tuple[set[str], set[str], set[str]] = (set(), set(), set())
    for start in range(0, max(map(len, wanted)), _KEY_BATCH):
        chunk = [keys[start : start + _KEY_BATCH] for keys in wanted]
        parts = [
            select(literal(0), ItemRow.url).where(ItemRow.url.in_(chunk[0])),
            select(literal(1), ItemRow.guid).where(
                ItemRow.source_id == source_id, ItemRow.guid.in_(chunk[1])
            ),
            select(literal(2), ItemRow.content_hash).where(ItemRow.content_hash.in_(chunk[2])),
        ]
        for kind, key in (await session.execute(union_all(*parts))).all():
            found[kind].add(key)
    return KnownKeys(*(frozenset(keys) for keys in found))


def _repeats(prepared: Sequence[Prepared], known: KnownKeys) -> set[int]:
    """The articles the unique keys would refuse: a stored item's key, or an earlier
    article's of the same batch (URL, GUID within the source, content hash)."""
    seen: tuple[set[str], set[str], set[str]] = (set(), set(), set())
    refused = set()
    for index, item in enumerate(prepared):
        article = item.article
        keys = (article.url[:URL_CHARS], article.guid[:GUID_CHARS], article.content_hash)
        if known.knows(*keys) or any(key in done for key, done in zip(keys, seen, strict=True)):
            refused.add(index)
            continue
        for key, done in zip(keys, seen, strict=True):
            done.add(key)
    return refused


async def _plan(
    session: AsyncSession,
    source_name: str,
    prepared: Sequence[Prepared],
    refused: set[int],
    window: timedelta,
    held: dict[int, list[int]],
    known: tuple[dict[int, datetime | None], dict[int, StoredReports | None]],
    index_dates: Mapping[int, datetime],
) -> list[tuple[int, bool] | None]:
    """Where each article goes, (story, created) or None for a repeat: the batch replayed
    in memory. Dates and reports are read for every article's likely stories at once, and
    again (rarely) when an article needs more; an article's ranking is made again only when
    a merge before it moved one of its stories out of its window. `known` keeps the dates
    and reports read, for a second plan of the same batch."""
    dates, loaded = known
    assigner = Assigner(source_name, window, held, dates, dict(loaded))
    kept = [(index, item) for index, item in enumerate(prepared) if index not in refused]
    await _add_dates(
        session, dates, (s for _, item in kept for s in assigner.likely(item.bands)), index_dates
    )
    first = {
        index: await _ranked(
            session, assigner, item.bands, item.article.published_at - window, index_dates
        )
        for index, item in kept
    }
    likely = {story for ranking in first.values() for story in ranking.stories}
    await load_reports(session, assigner, likely)
    places: list[tuple[int, bool] | None] = []
    for index, item in enumerate(prepared):
        if index in refused:
            places.append(None)
            continue
        ranking = first[index]
        if assigner.stale(ranking):
            ranking = await _ranked(session, assigner, item.bands, ranking.since, index_dates)
            await load_reports(session, assigner, ranking.stories)
        places.append(assigner.assign(item, ranking.stories))
    loaded.update(assigner.reports)
    return places


async def _ranked(
    session: AsyncSession,
    assigner: Assigner,
    bands: Sequence[int],
    since: datetime,
    index_dates: Mapping[int, datetime],
) -> Ranking:
    """`assigner.ranked`, reading the dates it asks for first."""
    while (ranking := assigner.ranked(bands, since)) is None:
        await _add_dates(session, assigner.dates, assigner.undated, index_dates)
        assigner.undated.clear()
    return ranking


async def _add_dates(
    session: AsyncSession,
    dates: dict[int, datetime | None],
    stories: Iterable[int],
    index_dates: Mapping[int, datetime],
) -> None:
    """The dates of these stories into `dates`: from the band index where it knows them
    (nearly always), else read (`add_dates`)."""
    unknown = []
    for story in stories:
        if story not in dates:
            known = index_dates.get(story)
            if known is None:
                unknown.append(story)
            else:
                dates[story] = known
    if unknown:
        await add_dates(session, dates, unknown)


async def store_article(
    session: AsyncSession,
    source_id: int,
    source_name: str,
    prepared: Prepared,
    *,
    now: datetime,
    window_hours: float,
    breaking: bool = False,
    index: BandIndex | None = None,
) -> Stored:
    """Store one article (see `store_articles`)."""
    (stored,) = await store_articles(
        session,
        source_id,
        source_name,
        [prepared],
        now=now,
        window_hours=window_hours,
        breaking=breaking,
        index=index,
    )
    return stored


async def store_articles(
    session: AsyncSession,
    source_id: int,
    source_name: str,
    prepared: Sequence[Prepared],
    *,
    now: datetime,
    window_hours: float,
    breaking: bool = False,
    index: BandIndex | None = None,
) -> list[Stored]:
    """Store one source's new articles, in order: a repeat is dropped, a near-duplicate
    joins its story (a stored one, or one this batch started), anything else starts one.

    The unique keys decide repeats, also against another source's or another instance's
    insert of the same URL or content. Keys the store holds already are checked first; an
    item INSERT that still does nothing on conflict (a concurrent insert) undoes this
    batch's rows, and the batch is planned again without that article, so the outcome is
    what storing the articles one at a time would give. The transaction stays usable on
    PostgreSQL throughout.

    `index` is the process's band index, brought up to date here (see `bot.store.bands`);
    without one, a fresh index is loaded for this call.
    """
    if not prepared:
        return []
    window = timedelta(hours=window_hours)
    known = await known_keys(
        session,
        source_id,
        urls=[p.article.url for p in prepared],
        guids=[p.article.guid for p in prepared],
        hashes=[p.article.content_hash for p in prepared],
    )
    refused = _repeats(prepared, known)
    if index is None:
        index = new_index(window_hours)
    await bands.refresh(session, index, now)
    held = index.postings((key for item in prepared for key in item.bands), PER_BAND)
    read: tuple[dict[int, datetime | None], dict[int, StoredReports | None]] = ({}, {})
    while True:
        places = await _plan(
            session, source_name, prepared, refused, window, held, read, index.dates
        )
        writer = Writer(session, source_id, source_name, prepared, places, now)
        late = await writer.write(breaking)
        if not late:
            return _results(writer)
        refused |= late


def _results(writer: Writer) -> list[Stored]:
    """Each article's outcome, in order."""
    results = []
    for place in writer.places:
        if place is None:
            results.append(Stored(Outcome.DUPLICATE))
            continue
        story, created = place
        if created:
            results.append(Stored(Outcome.NEW_STORY, writer.story_id(story), 1))
        else:
            outlets = 1 if story >= NEW_STORY else writer.outlets[story]
            results.append(Stored(Outcome.MERGED, writer.story_id(story), outlets))
    return results


def new_index(window_hours: float) -> BandIndex:
    """A band index that keeps a day beyond the window: a report that arrives late may still
    meet a story whose reports were all stored before its window began."""
    return BandIndex(retention_s=round((window_hours + 24) * 3600))
