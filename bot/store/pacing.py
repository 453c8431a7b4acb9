"""Who may send to whom, and when, across every sender on one database.

Two pieces of shared state, both in wall-clock seconds (time.time()), since spacing is about
real time on every instance and not about the bot's (testable) clock:

- `chat.send_after`: while a sender holds a chat's lease no other sender claims alerts for
  it; after each send the lease becomes the chat's spacing (1 s private, 3 s groups), so two
  instances never message one chat within Telegram's per-chat limit.
- the `send_schedule` row: the next free global send slot. Instances reserve slots in small
  blocks, so together they keep SEND_RATE without a leader.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import ColumnElement, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import ChatRow, SendScheduleRow
from bot.store.dialect import dialect_name, insert_for

CHAT_LEASE_S = 120.0
CLOCK_SLACK_S = 60.0
SCHEDULE = "send"


def chat_is_free(wall: float) -> ColumnElement[bool]:
    """No sender holds the chat and its spacing has passed.

    A time further ahead than any lease or spacing can be was written before the wall clock
    was set back (an NTP step, a VM restored): it is ignored rather than waited out.
    """
    return or_(
        ChatRow.send_after.is_(None),
        ChatRow.send_after <= wall,
        ChatRow.send_after > wall + CHAT_LEASE_S + CLOCK_SLACK_S,
    )


async def lease_chats(session: AsyncSession, chat_ids: Sequence[int], wall: float) -> list[int]:
    """Take the lease of those chats that are free; returns the ones this sender now holds.

    UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING: a chat another sender
    is leasing at this moment is skipped, one it leased a moment ago is no longer free.
    """
    if not chat_ids:
        return []
    free = (
        select(ChatRow.id)
        .where(ChatRow.id.in_(list(chat_ids)), chat_is_free(wall))
        .order_by(ChatRow.id)
    )
    if dialect_name(session) == "postgresql":
        free = free.with_for_update(skip_locked=True)
    statement = (
        update(ChatRow)
        .where(ChatRow.id.in_(free.scalar_subquery()))
        .values(send_after=wall + CHAT_LEASE_S)
        .returning(ChatRow.id)
        .execution_options(synchronize_session=False)
    )
    return sorted((await session.scalars(statement)).all())


async def space_chats(session: AsyncSession, free_at: Mapping[int, float]) -> None:
    """End leases: each chat may get its next message at the given wall time."""
    for chat_id, at in free_at.items():
        await session.execute(
            update(ChatRow)
            .where(ChatRow.id == chat_id)
            .values(send_after=at)
            .execution_options(synchronize_session=False)
        )


async def free_chats(session: AsyncSession, chat_ids: Sequence[int]) -> None:
    """Drop the leases of chats whose claims were taken back from a sender that died."""
    if chat_ids:
        await session.execute(
            update(ChatRow)
            .where(ChatRow.id.in_(sorted(set(chat_ids))))
            .values(send_after=None)
            .execution_options(synchronize_session=False)
        )


async def reserve_slots(session: AsyncSession, count: int, interval: float, wall: float) -> float:
    """Reserve `count` consecutive global send slots `interval` apart; returns the first.

    One row, updated in place: concurrent reservations queue on its row lock for a moment and
    get consecutive blocks. A schedule left idle restarts at `wall`, and so does one further
    ahead than CLOCK_SLACK_S (the wall clock was set back since it was written).
    """
    await session.execute(
        insert_for(session, SendScheduleRow)
        .values(name=SCHEDULE, next_slot=0.0)
        .on_conflict_do_nothing()
    )
    later = func.greatest if dialect_name(session) == "postgresql" else func.max
    start = case(
        (SendScheduleRow.next_slot > wall + CLOCK_SLACK_S, wall),
        else_=later(SendScheduleRow.next_slot, wall),
    )
    end = await session.scalar(
        update(SendScheduleRow)
        .where(SendScheduleRow.name == SCHEDULE)
        .values(next_slot=start + count * interval)
        .returning(SendScheduleRow.next_slot)
    )
    return float(end or wall) - count * interval
