"""Claims in the outbox (issues #6 and #7): one alert per chat per claim, and claims that
come back to the queue when their sender died or lost them, never while they are in flight."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import DeliveryRow, StoryRow, make_engine, make_sessionmaker
from bot.store import chats, outbox
from bot.store.chats import FollowKind

NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)
WALL = 1_800_000_000.0
CHATS = [201, 202, 203]


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Three chats, each with two alerts queued (two stories)."""
    engine = make_engine(database_url)
    maker = make_sessionmaker(engine)
    async with maker() as session, session.begin():
        for chat_id in CHATS:
            await chats.ensure_chat(session, chat_id, type="private", now=NOW)
        for story_id in (1, 2):
            await add_story(session, story_id)
            for chat_id in CHATS:
                await session.execute(
                    insert(DeliveryRow).values(
                        chat_id=chat_id, story_id=story_id, next_attempt_at=NOW, created_at=NOW
                    )
                )
    yield maker
    await engine.dispose()


async def add_story(session: AsyncSession, story_id: int) -> None:
    await session.execute(
        insert(StoryRow).values(
            id=story_id,
            headline=f"Story {story_id}",
            summary="",
            url=f"https://example.org/{story_id}",
            source_name="Wire",
            first_seen_at=NOW,
            last_seen_at=NOW,
            published_at=NOW,
        )
    )


async def statuses(maker: async_sessionmaker[AsyncSession]) -> dict[int, str]:
    async with maker() as session:
        rows = await session.execute(select(DeliveryRow.id, DeliveryRow.status))
    return {row.id: row.status for row in rows.all()}


async def test_a_claim_takes_one_alert_per_chat_oldest_first(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        first = await outbox.claim(session, "me", NOW, 10, wall=WALL)
    assert sorted((c.chat_id, c.story_id) for c in first) == [(201, 1), (202, 1), (203, 1)]
    async with sessions() as session, session.begin():
        again = await outbox.claim(session, "other", NOW, 10, wall=WALL)
    assert again == [], "every chat is leased to the first sender"


async def test_stale_claims_come_back_but_not_those_in_flight(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        claims = await outbox.claim(session, "me", NOW, 10, wall=WALL)
    in_flight = [claims[0].id]
    later = NOW + timedelta(minutes=3)
    async with sessions() as session, session.begin():
        released = await outbox.release_stale(
            session,
            older_than=later - timedelta(minutes=2),
            orphaned_before=later - timedelta(seconds=30),
            keep="me",
            in_flight=in_flight,
        )
    assert released == 2
    status = await statuses(sessions)
    assert [status[c.id] for c in claims] == ["sending", "queued", "queued"]
    async with sessions() as session, session.begin():
        again = await outbox.claim(session, "me", later, 10, wall=WALL)
    assert sorted(c.chat_id for c in again) == [202, 203], "their chats were freed with them"


async def test_a_sender_gives_back_what_a_failed_batch_did_not_send(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        claims = await outbox.claim(session, "me", NOW, 10, wall=WALL)
        await outbox.mark_sent(session, [claims[0].id], message_id=7, outlets=1, now=NOW)
    async with sessions() as session, session.begin():
        given = await outbox.release_worker(session, "me", [c.id for c in claims[:2]])
    status = await statuses(sessions)
    assert given == 1
    assert [status[c.id] for c in claims] == ["sent", "queued", "sending"]


async def test_an_alert_whose_story_grew_while_it_was_sending_is_marked_for_an_edit(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The merge that adds an outlet can land between claim and send, when `flag_edits` skips
    the row (still "sending"); marking it sent with the count it showed flags the edit then.
    A digest (no message id to edit) and an alert that showed the current count are not."""
    async with sessions() as session, session.begin():
        claims = await outbox.claim(session, "me", NOW, 10, wall=WALL)
    async with sessions() as session, session.begin():
        await session.execute(update(StoryRow).where(StoryRow.id == 1).values(outlets=2))
        await outbox.flag_edits(session, {1: 2}, since=NOW - timedelta(hours=6))
    grew, digested, current = claims
    async with sessions() as session, session.begin():
        await outbox.mark_sent(session, [grew.id], message_id=7, outlets=1, now=NOW)
        await outbox.mark_sent(session, [digested.id], message_id=None, outlets=0, now=NOW)
        await outbox.mark_sent(session, [current.id], message_id=8, outlets=2, now=NOW)
    async with sessions() as session, session.begin():
        edits = await outbox.claim_edits(session, "me", NOW, 10)
    assert [(c.id, c.message_id) for c in edits] == [(grew.id, 7)]


async def test_a_batch_of_new_stories_is_queued_for_each_follower_in_story_order(
    database_url: str,
) -> None:
    """One statement queues a batch's stories: topic, "all" and keyword follows, language
    filters, exclusions and follows made after the pass started, and each chat's alerts go in
    in story order (the sender takes the oldest row first)."""
    engine = make_engine(database_url)
    maker = make_sessionmaker(engine)
    later = NOW + timedelta(minutes=5)
    follows = {
        301: [("topic", "kursk")],
        302: [("all", "all"), ("topic", "kursk")],  # two follows, one alert per story
        303: [("topic", "north-korea")],
        304: [("topic", "kursk")],  # reads Ukrainian only
        305: [("keyword", "drone")],
        306: [("topic", "kursk", later)],  # followed after the pass began
        307: [("all", "all")],  # excluded from story 11 by its own words
    }
    async with maker() as session, session.begin():
        for chat_id, chat_follows in follows.items():
            await chats.ensure_chat(session, chat_id, type="private", now=NOW)
            for kind, value, *when in chat_follows:
                await chats.add_follow(
                    session, chat_id, 0, FollowKind(kind), value, when[0] if when else NOW
                )
        await chats.update_settings(session, 304, languages="uk")
        for story_id in (10, 11, 12):
            await add_story(session, story_id)
    stories = [
        outbox.NewStory(12, frozenset({"kursk", "drones"}), "en"),
        outbox.NewStory(10, frozenset({"north-korea"}), "en", priority=1),
        outbox.NewStory(
            11, frozenset(), "en", keyword_targets=((305, 0), (307, 0)), excluded=((307, 0),)
        ),
    ]
    async with maker() as session, session.begin():
        queued = await outbox.queue_stories(session, stories, NOW)
    async with maker() as session:
        rows = await session.execute(
            select(DeliveryRow.chat_id, DeliveryRow.story_id, DeliveryRow.priority).order_by(
                DeliveryRow.id
            )
        )
        got = rows.all()
    await engine.dispose()
    per_chat: dict[int, list[int]] = {}
    for chat_id, story_id, _ in got:
        per_chat.setdefault(chat_id, []).append(story_id)
    assert per_chat == {
        301: [12],
        302: [12, 10, 11],
        303: [10],
        305: [11],
        307: [12, 10],
    }
    assert queued == len(got) == 8
    assert {story: priority for _, story, priority in got} == {12: 0, 10: 1, 11: 0}
