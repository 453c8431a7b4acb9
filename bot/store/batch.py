"""Writing one planned batch (see `bot.store.items`) in bulk statements: the new stories
with their final dates and topics (INSERT … RETURNING id, in order), the items, one
executemany UPDATE of the stored stories joined, then the topic rows. Band keys are not
written: they are read back from the items' signatures (`bot.store.bands`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Table,
    bindparam,
    case,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.assignment import NEW_STORY, Prepared
from bot.db import ItemRow, StoryRow, StoryTopicRow, UtcDateTime
from bot.store.dialect import insert_for

GUID_CHARS = 700
URL_CHARS = 2000
_ITEM = cast(Table, ItemRow.__table__)
_STORY = cast(Table, StoryRow.__table__)
_TOPIC = cast(Table, StoryTopicRow.__table__)


def topics_text(topics: Iterable[str]) -> str:
    """A story's topics column: its topic keys, sorted, space-separated."""
    return " ".join(sorted(topics))


@dataclass(slots=True)
class Writer:
    """Writes one planned batch in bulk statements."""

    session: AsyncSession
    source_id: int
    source_name: str
    prepared: Sequence[Prepared]
    places: list[tuple[int, bool] | None]
    now: datetime
    ids: list[int] = field(default_factory=list)
    outlets: dict[int, int] = field(default_factory=dict)
    topic_rows: dict[tuple[int, str], datetime] = field(default_factory=dict)

    def story_id(self, story: int) -> int:
        return self.ids[story - NEW_STORY] if story >= NEW_STORY else story

    async def write(self, breaking: bool) -> set[int]:
        """Write the batch; returns the articles an INSERT refused (then nothing is left)."""
        await self._new_stories(breaking)
        rows = [
            {
                "source_id": self.source_id,
                "story_id": self.story_id(place[0]),
                "guid": item.article.guid[:GUID_CHARS],
                "url": item.article.url[:URL_CHARS],
                "title": item.article.title,
                "text": item.article.text,
                "language": item.article.language,
                "content_hash": item.article.content_hash,
                "signature": item.signature,
                "published_at": item.article.published_at,
                "fetched_at": self.now,
            }
            for item, place in zip(self.prepared, self.places, strict=True)
            if place is not None
        ]
        inserted: dict[str, int] = {}
        if rows:
            statement = insert_for(self.session, _ITEM).on_conflict_do_nothing()
            result = await self.session.execute(statement.returning(_ITEM.c.url, _ITEM.c.id), rows)
            inserted = dict(iter(result.all()))
        late = {
            index
            for index, (item, place) in enumerate(zip(self.prepared, self.places, strict=True))
            if place is not None and item.article.url[:URL_CHARS] not in inserted
        }
        if late:
            await self._undo(inserted.values())
            return late
        await self._merged_stories()
        await self._topics()
        return set()

    async def _new_stories(self, breaking: bool) -> None:
        """Insert the stories the batch starts, with their final dates and topics."""
        rows: list[dict[str, Any]] = []
        for item, place in zip(self.prepared, self.places, strict=True):
            if place is None or place[0] < NEW_STORY:
                continue
            article = item.article
            if place[1]:
                rows.append(
                    {
                        "headline": article.title,
                        "summary": item.summary,
                        "url": article.url,
                        "source_name": self.source_name,
                        "language": article.language,
                        "topics": set(item.topics),
                        "outlets": 1,
                        "breaking": breaking,
                        "first_seen_at": self.now,
                        "last_seen_at": self.now,
                        "published_at": min(article.published_at, self.now),
                    }
                )
                continue
            row = rows[place[0] - NEW_STORY]
            row["topics"] |= item.topics
            row["published_at"] = min(row["published_at"], article.published_at)
        if not rows:
            return
        for row in rows:
            row["topics"] = topics_text(row["topics"])
        result = await self.session.execute(
            insert(_STORY).returning(_STORY.c.id, sort_by_parameter_order=True), rows
        )
        self.ids = list(result.scalars().all())

    async def _undo(self, items: Iterable[int]) -> None:
        """Remove what this attempt inserted (its items, then the stories it started)."""
        ids = list(items)
        if ids:
            await self.session.execute(delete(_ITEM).where(_ITEM.c.id.in_(ids)))
        if self.ids:
            await self.session.execute(delete(_STORY).where(_STORY.c.id.in_(self.ids)))
        self.ids = []

    async def _merged_stories(self) -> None:
        """Move the dates of the stored stories the batch joined, add their new topics,
        recount their outlets, and note the topic rows that go with it."""
        joined: dict[int, list[Prepared]] = {}
        for item, place in zip(self.prepared, self.places, strict=True):
            if place is not None and not place[1] and place[0] < NEW_STORY:
                joined.setdefault(place[0], []).append(item)
        self.topic_rows = {}
        if not joined:
            return
        others = (
            select(func.count(func.distinct(_ITEM.c.source_id)))
            .where(_ITEM.c.story_id == _STORY.c.id, _ITEM.c.source_id != self.source_id)
            .scalar_subquery()
        )
        rows = await self.session.execute(
            select(_STORY.c.id, _STORY.c.topics, _STORY.c.first_seen_at, others).where(
                _STORY.c.id.in_(sorted(joined))
            )
        )
        updates = []
        for story, current, first_seen, count in rows.all():
            topics = set(current.split())
            text = current
            for item in joined[story]:
                if not item.topics <= topics:
                    topics |= item.topics
                    text = topics_text(topics)
                    self.topic_rows.update({(story, t): first_seen for t in item.topics})
            self.outlets[story] = int(count) + 1
            updates.append(
                {
                    "sid": story,
                    "seen": self.now,
                    "earliest": min(item.article.published_at for item in joined[story]),
                    "tags": text,
                }
            )
        outlets = (
            select(func.count(func.distinct(_ITEM.c.source_id)))
            .where(_ITEM.c.story_id == _STORY.c.id)
            .scalar_subquery()
        )
        earliest = bindparam("earliest", type_=UtcDateTime())
        await self.session.execute(
            update(_STORY)
            .where(_STORY.c.id == bindparam("sid"))
            .values(
                outlets=outlets,
                last_seen_at=bindparam("seen", type_=UtcDateTime()),
                published_at=case(
                    (_STORY.c.published_at > earliest, earliest), else_=_STORY.c.published_at
                ),
                topics=bindparam("tags"),
            ),
            updates,
        )

    async def _topics(self) -> None:
        """Topic rows for new stories and for the new topics of stories joined."""
        topics = self.topic_rows
        for item, place in zip(self.prepared, self.places, strict=True):
            if place is not None and place[0] >= NEW_STORY:
                story = self.story_id(place[0])
                topics.update({(story, topic): self.now for topic in item.topics})
        if topics:
            await self.session.execute(
                insert_for(self.session, _TOPIC).on_conflict_do_nothing(),
                [{"story_id": s, "topic": t, "first_seen_at": at} for (s, t), at in topics.items()],
            )
