"""Shared send pacing in the database (issues #6 and #7): a chat's lease is held by one
sender at a time and turns into its spacing; the global schedule hands out consecutive
slots to whoever asks, so several instances together keep one rate."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import make_engine, make_sessionmaker
from bot.store import chats, pacing

NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)
WALL = 1_800_000_000.0
CHATS = [101, 102, 103, -104]


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(database_url)
    maker = make_sessionmaker(engine)
    async with maker() as session, session.begin():
        for chat_id in CHATS:
            await chats.ensure_chat(
                session, chat_id, type="group" if chat_id < 0 else "private", now=NOW
            )
    yield maker
    await engine.dispose()


async def lease(maker: async_sessionmaker[AsyncSession], ids: list[int], wall: float) -> list[int]:
    async with maker() as session, session.begin():
        return await pacing.lease_chats(session, ids, wall)


async def test_a_leased_chat_is_not_leased_again_until_its_spacing_ends(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    assert await lease(sessions, [101, 102], WALL) == [101, 102]
    assert await lease(sessions, CHATS, WALL + 1) == [-104, 103]
    async with sessions() as session, session.begin():
        await pacing.space_chats(session, {101: WALL + 3.0})
    assert await lease(sessions, [101, 102], WALL + 2.0) == []
    assert await lease(sessions, [101, 102], WALL + 3.0) == [101]
    assert await lease(sessions, [102], WALL + pacing.CHAT_LEASE_S) == [102], "a lease ends"


async def test_freed_chats_can_be_leased_at_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    assert await lease(sessions, CHATS, WALL) == [-104, 101, 102, 103]
    async with sessions() as session, session.begin():
        await pacing.free_chats(session, [101, 103, 101])
    assert await lease(sessions, CHATS, WALL) == [101, 103]


async def test_concurrent_senders_never_hold_one_chat(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Ten senders lease the same chats at the same moment: each chat goes to exactly one."""
    results = await asyncio.gather(*(lease(sessions, CHATS, WALL) for _ in range(10)))
    held = [chat_id for result in results for chat_id in result]
    assert sorted(held) == sorted(CHATS)


async def test_the_schedule_hands_out_consecutive_blocks(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async def reserve(wall: float) -> float:
        async with sessions() as session, session.begin():
            return await pacing.reserve_slots(session, 4, 0.1, wall)

    first = await reserve(WALL)
    assert first == pytest.approx(WALL)
    starts = sorted(await asyncio.gather(*(reserve(WALL) for _ in range(5))))
    assert starts == pytest.approx([WALL + 0.4 * n for n in range(1, 6)])
    assert await reserve(WALL + 100) == pytest.approx(WALL + 100), "an idle schedule restarts"


async def test_times_written_before_the_clock_was_set_back_are_not_waited_out(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The wall clock steps back an hour (NTP, a restored VM): chats spaced and the schedule
    booked by the old clock would otherwise stay blocked for that hour."""
    assert await lease(sessions, [101], WALL) == [101]
    async with sessions() as session, session.begin():
        await pacing.space_chats(session, {101: WALL + 1.0})
        booked = await pacing.reserve_slots(session, 4, 0.1, WALL)
    assert booked == pytest.approx(WALL)
    earlier = WALL - 3600
    assert await lease(sessions, [101], earlier) == [101]
    async with sessions() as session, session.begin():
        first = await pacing.reserve_slots(session, 4, 0.1, earlier)
    assert first == pytest.approx(earlier)
