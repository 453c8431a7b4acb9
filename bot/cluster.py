"""Several instances on one PostgreSQL database: who polls Telegram, and how many share the rate.

Telegram allows one getUpdates poller per token, so in polling mode the instance holding a
PostgreSQL advisory lock (on a connection of its own) polls and the others stand by, trying
again every few seconds; when the leader dies its connection closes, the lock is released and
a stand-by takes over. Instances also beat a heartbeat row, so each can take its share of
SEND_RATE (the rate divided by the live instances) and the fleet stays under the limit.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from bot.db import WorkerRow
from bot.ratelimit import Reserve
from bot.store import pacing
from bot.store.dialect import insert_for

log = logging.getLogger(__name__)

POLLER_LOCK_KEY = 0x636F6E666C696374  # "conflict"
HEARTBEAT_STALE = timedelta(seconds=30)


class PollerLock:
    """The poller's advisory lock, held on a dedicated connection for as long as it lives."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.connection: AsyncConnection | None = None

    async def try_acquire(self) -> bool:
        """Take the lock if nobody holds it; True while this instance is the poller."""
        if self.connection is not None:
            return await self.still_held()
        if self.engine.dialect.name != "postgresql":
            return True
        connection = await self.engine.connect()
        try:
            got = await connection.scalar(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": POLLER_LOCK_KEY}
            )
        except Exception:
            await connection.close()
            raise
        if not got:
            await connection.rollback()
            await connection.close()
            return False
        await connection.commit()
        self.connection = connection
        log.info("this instance is now the poller")
        return True

    async def still_held(self) -> bool:
        """Check the lock's connection is alive (a dead connection has released the lock)."""
        if self.connection is None:
            return self.engine.dialect.name != "postgresql"
        try:
            await self.connection.scalar(text("SELECT 1"))
            await self.connection.commit()
        except Exception:
            log.warning("lost the poller lock's connection; standing by", exc_info=True)
            await self.release()
            return False
        return True

    async def release(self) -> None:
        if self.connection is None:
            return
        connection, self.connection = self.connection, None
        try:
            await connection.execute(
                text("SELECT pg_advisory_unlock(:key)"), {"key": POLLER_LOCK_KEY}
            )
            await connection.commit()
        except Exception:
            log.debug("the lock's connection was already gone", exc_info=True)
        finally:
            await connection.close()


async def beat(session: AsyncSession, worker_id: str, role: str, now: datetime) -> int:
    """Record this instance as alive; returns how many instances are alive now (>= 1)."""
    await session.execute(
        insert_for(session, WorkerRow)
        .values(id=worker_id, role=role, started_at=now, heartbeat_at=now, sent_per_s=0)
        .on_conflict_do_update(index_elements=["id"], set_={"heartbeat_at": now})
    )
    await session.execute(
        delete(WorkerRow).where(WorkerRow.heartbeat_at < now - HEARTBEAT_STALE * 10)
    )
    alive = await session.scalar(
        select(func.count()).where(
            WorkerRow.heartbeat_at >= now - HEARTBEAT_STALE, WorkerRow.role != "poller"
        )
    )
    return max(int(alive or 0), 1)


async def leave(session: AsyncSession, worker_id: str) -> None:
    await session.execute(delete(WorkerRow).where(WorkerRow.id == worker_id))


def slot_reserver(sessions: async_sessionmaker[AsyncSession]) -> Reserve:
    """The rate limiter's way to reserve global send slots in the database."""

    async def reserve(count: int, interval: float) -> float:
        async with sessions() as session, session.begin():
            return await pacing.reserve_slots(session, count, interval, time.time())

    return reserve
