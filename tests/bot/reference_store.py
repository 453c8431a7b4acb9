"""The article-at-a-time store that `bot.store.items` replaced (commit 270dc8b), kept as the
oracle the bulk store is tested against: a candidates query, INSERTs and an UPDATE per
article. Only tests import it.

It reads the LSH band rows it wrote itself (`story_band`), which the bot no longer writes (it
keeps the postings in memory, `bot.band_index`): each call first writes the band rows of
every stored item, as the former store would have written them, so both stores start from
the same postings."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any, cast

from sqlalchemy import Table, bindparam, case, delete, func, or_, select, union_all, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import dedup
from bot.assignment import CANDIDATE_STORIES, ITEMS_PER_CANDIDATE, PER_BAND, Prepared
from bot.db import ItemRow, SourceRow, StoryBandRow, StoryRow, StoryTopicRow, UtcDateTime
from bot.models import Article
from bot.store.batch import GUID_CHARS, URL_CHARS
from bot.store.dialect import insert_for
from bot.store.items import Outcome, Stored

_ITEM = cast(Table, ItemRow.__table__)
_STORY = cast(Table, StoryRow.__table__)
_BAND = cast(Table, StoryBandRow.__table__)
_TOPIC = cast(Table, StoryTopicRow.__table__)


def _topics_text(topics: Iterable[str]) -> str:
    return " ".join(sorted(topics))


@cache
def _candidates_query(bands: int) -> Any:
    """Reports of the stories sharing most bands with an article, built once per band count.

    Each band reads at most PER_BAND postings, newest story first (a range scan of the
    (band_key, story_id) key, which covers it), and each story gives its first report and
    its latest few, so the cost grows with neither the archive nor the size of a big story.
    A report of the same event shares several bands with its story, and is recent.

    A story whose first report is older than the window takes no more: otherwise recurring
    reports (a mission's "Daily Report 221", "222"…) chain into one story for ever, and
    nobody hears of the new ones. `dedup.choose_story` applies the window per report too.
    """
    postings = [
        select(StoryBandRow.story_id)
        .where(StoryBandRow.band_key == bindparam(f"b{index}"))
        .order_by(StoryBandRow.story_id.desc())
        .limit(PER_BAND)
        .subquery()
        for index in range(bands)
    ]
    hits = union_all(*(select(p.c.story_id) for p in postings)).subquery()
    ranked = (
        select(hits.c.story_id)
        .join(StoryRow, StoryRow.id == hits.c.story_id)
        .where(StoryRow.published_at >= bindparam("since", type_=UtcDateTime()))
        .group_by(hits.c.story_id)
        .order_by(func.count().desc(), hits.c.story_id.desc())
        .limit(CANDIDATE_STORIES)
    )
    items = (
        select(
            ItemRow.story_id,
            ItemRow.signature,
            SourceRow.name,
            ItemRow.title,
            ItemRow.published_at,
            func.row_number()
            .over(partition_by=ItemRow.story_id, order_by=ItemRow.id.desc())
            .label("newest"),
            func.row_number()
            .over(partition_by=ItemRow.story_id, order_by=ItemRow.id)
            .label("oldest"),
        )
        .join(SourceRow, SourceRow.id == ItemRow.source_id)
        .where(ItemRow.story_id.in_(ranked.scalar_subquery()))
        .subquery()
    )
    return select(
        items.c.story_id, items.c.signature, items.c.name, items.c.title, items.c.published_at
    ).where(or_(items.c.newest <= ITEMS_PER_CANDIDATE, items.c.oldest == 1))


async def _candidates(
    session: AsyncSession, bands: Sequence[int], since: datetime
) -> list[dedup.Candidate]:
    """Stored reports of the stories sharing LSH bands with an article, first seen since `since`."""
    if not bands:
        return []
    params: dict[str, object] = {f"b{index}": key for index, key in enumerate(bands)}
    params["since"] = since
    rows = await session.execute(_candidates_query(len(bands)), params)
    return [
        dedup.Candidate(
            story_id=story_id,
            signature=dedup.Signature.from_bytes(signature),
            source=source,
            title=title,
            published_at=published_at,
        )
        for story_id, signature, source, title, published_at in rows.all()
    ]


@dataclass
class _Batch:
    """What a batch stored so far, so that its own articles meet before its bands are written
    (band and topic rows go in once, at the end: two statements per batch, not per article)."""

    stories_by_band: dict[int, set[int]] = field(default_factory=dict)
    reports: dict[int, list[dedup.Candidate]] = field(default_factory=dict)
    bands: dict[tuple[int, int], datetime] = field(default_factory=dict)
    topics: dict[tuple[int, str], datetime] = field(default_factory=dict)

    def candidates(self, bands: Sequence[int]) -> list[dedup.Candidate]:
        near = {story for key in bands for story in self.stories_by_band.get(key, ())}
        return [report for story in sorted(near) for report in self.reports[story]]

    def add(
        self, story_id: int, report: dedup.Candidate, bands: Sequence[int], now: datetime
    ) -> None:
        self.reports.setdefault(story_id, []).append(report)
        for key in bands:
            self.stories_by_band.setdefault(key, set()).add(story_id)
            self.bands[(key, story_id)] = now

    async def flush(self, session: AsyncSession) -> None:
        if self.bands:
            await session.execute(
                insert_for(session, _BAND).on_conflict_do_nothing(),
                [
                    {"band_key": k, "story_id": s, "seen_at": at}
                    for (k, s), at in self.bands.items()
                ],
            )
        if self.topics:
            await session.execute(
                insert_for(session, _TOPIC).on_conflict_do_nothing(),
                [
                    {"story_id": s, "topic": t, "first_seen_at": at}
                    for (s, t), at in self.topics.items()
                ],
            )


async def _write_missing_band_rows(session: AsyncSession, now: datetime) -> None:
    """The band rows of every stored item's story (those already there are kept)."""
    rows = await session.execute(select(ItemRow.story_id, ItemRow.signature))
    bands = {
        (key, story): None
        for story, signature in rows.all()
        for key in dedup.band_keys(dedup.Signature.from_bytes(signature))
    }
    if bands:
        await session.execute(
            insert_for(session, _BAND).on_conflict_do_nothing(),
            [{"band_key": k, "story_id": s, "seen_at": now} for k, s in bands],
        )


async def store_articles(
    session: AsyncSession,
    source_id: int,
    source_name: str,
    prepared: Sequence[Prepared],
    *,
    now: datetime,
    window_hours: float,
    breaking: bool = False,
) -> list[Stored]:
    """Store one source's new articles, in order: a duplicate is dropped, a near-duplicate
    joins its story (a stored one, or one this batch started), anything else starts one.

    The unique keys decide duplicates, also against another source's or another instance's
    insert of the same URL or content: the item INSERT does nothing on conflict (so the
    transaction stays usable on PostgreSQL), and a story created for it is removed again.
    Callers drop known articles first (`known_keys`), so that path is rare.
    """
    await _write_missing_band_rows(session, now)
    window = timedelta(hours=window_hours)
    batch = _Batch()
    results = []
    for item in prepared:
        article = item.article
        signature = dedup.Signature.from_bytes(item.signature)
        candidates = await _candidates(session, item.bands, article.published_at - window)
        candidates += batch.candidates(item.bands)
        story_id = dedup.choose_story(
            article.title,
            article.text,
            signature,
            source_name,
            article.published_at,
            candidates,
            window=window,
        )
        created = story_id is None
        if story_id is None:
            story_id = await _new_story(session, source_name, item, now, breaking)
        if not await _insert_item(session, source_id, story_id, item, now):
            if created:
                await session.execute(delete(_STORY).where(StoryRow.id == story_id))
            results.append(Stored(Outcome.DUPLICATE))
            continue
        report = dedup.Candidate(
            story_id, signature, source_name, article.title, article.published_at
        )
        batch.add(story_id, report, item.bands, now)
        if created:
            batch.topics.update({(story_id, topic): now for topic in item.topics})
            results.append(Stored(Outcome.NEW_STORY, story_id, 1))
        else:
            outlets = await _merge_into(session, story_id, article, item.topics, now, batch)
            results.append(Stored(Outcome.MERGED, story_id, outlets))
    await batch.flush(session)
    return results


async def _insert_item(
    session: AsyncSession, source_id: int, story_id: int, item: Prepared, now: datetime
) -> bool:
    """Insert an article's item row; False when a unique key says it is a repeat."""
    article = item.article
    inserted = await session.scalar(
        insert_for(session, _ITEM)
        .values(
            source_id=source_id,
            story_id=story_id,
            guid=article.guid[:GUID_CHARS],
            url=article.url[:URL_CHARS],
            title=article.title,
            text=article.text,
            language=article.language,
            content_hash=article.content_hash,
            signature=item.signature,
            published_at=article.published_at,
            fetched_at=now,
        )
        .on_conflict_do_nothing()
        .returning(ItemRow.id)
    )
    return inserted is not None


async def _new_story(
    session: AsyncSession, source_name: str, prepared: Prepared, now: datetime, breaking: bool
) -> int:
    """Insert the story an article starts; the article is its representative item."""
    article = prepared.article
    story_id = await session.scalar(
        insert_for(session, _STORY)
        .values(
            headline=article.title,
            summary=prepared.summary,
            url=article.url,
            source_name=source_name,
            language=article.language,
            topics=_topics_text(prepared.topics),
            outlets=1,
            breaking=breaking,
            first_seen_at=now,
            last_seen_at=now,
            published_at=min(article.published_at, now),
        )
        .returning(StoryRow.id)
    )
    assert story_id is not None
    return int(story_id)


async def _merge_into(
    session: AsyncSession,
    story_id: int,
    article: Article,
    topics: frozenset[str],
    now: datetime,
    batch: _Batch,
) -> int:
    """Recount a story's outlets, move its times, add the new item's topics; returns outlets."""
    outlets = (
        select(func.count(func.distinct(ItemRow.source_id)))
        .where(ItemRow.story_id == story_id)
        .scalar_subquery()
    )
    earliest = case(
        (StoryRow.published_at > article.published_at, article.published_at),
        else_=StoryRow.published_at,
    )
    count, current, first_seen = (
        await session.execute(
            update(_STORY)
            .where(StoryRow.id == story_id)
            .values(outlets=outlets, last_seen_at=now, published_at=earliest)
            .returning(StoryRow.outlets, StoryRow.topics, StoryRow.first_seen_at)
        )
    ).one()
    if not topics <= set(current.split()):
        merged = _topics_text(set(current.split()) | topics)
        await session.execute(update(_STORY).where(StoryRow.id == story_id).values(topics=merged))
        batch.topics.update({(story_id, topic): first_seen for topic in topics})
    return int(count)
