"""Claiming due sources (issues #3 and #6): what counts as due, and a claim is exclusive."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import SourceRow, make_engine, make_sessionmaker
from bot.models import Source
from bot.store import sources

NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(database_url)
    maker = make_sessionmaker(engine)
    async with maker() as session, session.begin():
        await sources.sync_sources(
            session, [Source(name, f"https://{name.lower()}.example/rss") for name in "ABC"], NOW
        )
    yield maker
    await engine.dispose()


async def due_in(maker: async_sessionmaker[AsyncSession], **offsets: timedelta) -> set[str]:
    """Set each named source's next fetch time to NOW + its offset, then claim at NOW."""
    async with maker() as session, session.begin():
        for name, offset in offsets.items():
            await session.execute(
                update(SourceRow).where(SourceRow.name == name).values(next_fetch_at=NOW + offset)
            )
    async with maker() as session, session.begin():
        states = await sources.claim_due_sources(session, NOW, lease=LEASE)
    return {state.source.name for state in states}


async def test_a_source_due_a_moment_from_now_is_fetched_by_this_tick(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The job ticks a few ms before a source's next time (counted from the previous pass's
    clock reading); waiting a whole extra interval for those ms would double the latency."""
    claimed = await due_in(
        sessions,
        A=timedelta(milliseconds=-1),
        B=timedelta(milliseconds=20),
        C=timedelta(seconds=1),
    )
    assert claimed == {"A", "B"}


async def test_a_claimed_source_is_not_claimed_again_until_its_lease_ends(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    assert await due_in(sessions, A=-LEASE, B=-LEASE, C=-LEASE) == {"A", "B", "C"}
    async with sessions() as session, session.begin():
        again = await sources.claim_due_sources(session, NOW + LEASE / 2, lease=LEASE)
        after = await sources.claim_due_sources(session, NOW + LEASE, lease=LEASE)
    assert again == []
    assert {state.source.name for state in after} == {"A", "B", "C"}


async def test_processes_starting_together_sync_the_same_sources_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Instances (or `sources check` beside the bot) starting at once on one database each
    sync the sources file: every source is there once and nobody fails on a unique key."""
    wanted = [Source(name, f"https://{name.lower()}.example/rss") for name in "ABCDEFGH"]

    async def sync() -> None:
        async with sessions() as session, session.begin():
            await sources.sync_sources(session, wanted, NOW)

    await asyncio.gather(*(sync() for _ in range(6)))
    async with sessions() as session:
        names = [state.source.name for state in await sources.list_sources(session)]
    assert sorted(names) == list("ABCDEFGH")


async def test_a_shorter_interval_brings_healthy_sources_forward(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """A restart with FETCH_INTERVAL 5 after one with 300 fetched nothing for five minutes
    (ops audit 10): healthy sources due later than one new interval are due then; a failing
    source keeps its back-off."""
    async with sessions() as session, session.begin():
        await session.execute(update(SourceRow).values(next_fetch_at=NOW + timedelta(minutes=5)))
        await session.execute(
            update(SourceRow).where(SourceRow.name == "C").values(consecutive_failures=3)
        )
        await sources.bring_forward(session, NOW, timedelta(seconds=5))
    async with sessions() as session:
        rows = {s.source.name: s.next_fetch_at for s in await sources.list_sources(session)}
    assert rows == {
        "A": NOW + timedelta(seconds=5),
        "B": NOW + timedelta(seconds=5),
        "C": NOW + timedelta(minutes=5),
    }
