"""Chats, their settings and what they follow."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time
from enum import StrEnum

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.buttons import follow_tag
from bot.db import ChatRow, DeliveryRow, FollowRow
from bot.models import ChatPrefs, DigestMode
from bot.store.dialect import insert_for

MAX_FOLLOWS = 50
MAX_FOLLOW_ID = 2**31 - 1  # follow.id is a 32-bit INTEGER


class FollowKind(StrEnum):
    """What a follow row means."""

    ALL = "all"
    TOPIC = "topic"
    KEYWORD = "keyword"
    EXCLUDE = "exclude"
    MUTE = "mute"
    """A topic muted from an alert: its stories skip this chat, whatever else it follows."""


@dataclass(frozen=True, slots=True)
class Follow:
    id: int
    chat_id: int
    thread_id: int
    kind: FollowKind
    value: str


def _time(value: str | None) -> time | None:
    return time.fromisoformat(value) if value else None


def to_prefs(row: ChatRow) -> ChatPrefs:
    """A chat row as the plain settings value the core works with."""
    return ChatPrefs(
        chat_id=row.id,
        timezone=row.timezone,
        quiet_start=_time(row.quiet_start),
        quiet_end=_time(row.quiet_end),
        digest=DigestMode(row.digest),
        digest_at=_time(row.digest_at),
        languages=frozenset(row.languages.split()),
        active=row.active,
    )


async def ensure_chat(
    session: AsyncSession,
    chat_id: int,
    *,
    type: str,
    now: datetime,
    title: str | None = None,
    username: str | None = None,
) -> None:
    """Create the chat on first contact; a chat that talks to us again is active again."""
    await session.execute(
        insert_for(session, ChatRow)
        .values(
            id=chat_id,
            type=type,
            title=title,
            username=username,
            timezone="UTC",
            digest="off",
            languages="",
            active=True,
            created_at=now,
        )
        .on_conflict_do_nothing()
    )
    await session.execute(
        update(ChatRow)
        .where(ChatRow.id == chat_id)
        .values(active=True, type=type, title=title, username=username)
    )


async def get_prefs(session: AsyncSession, chat_id: int) -> ChatPrefs | None:
    row = await session.get(ChatRow, chat_id)
    return None if row is None else to_prefs(row)


async def get_prefs_many(session: AsyncSession, chat_ids: list[int]) -> dict[int, ChatPrefs]:
    rows = (await session.scalars(select(ChatRow).where(ChatRow.id.in_(chat_ids)))).all()
    return {row.id: to_prefs(row) for row in rows}


async def chat_type(session: AsyncSession, chat_id: int) -> str | None:
    return await session.scalar(select(ChatRow.type).where(ChatRow.id == chat_id))


async def find_chat_by_username(
    session: AsyncSession, username: str, *, chat_type: str | None = None
) -> int | None:
    """The id of the active chat known by @username (of one type, if given), or None."""
    query = select(ChatRow.id).where(
        func.lower(ChatRow.username) == username.lower().lstrip("@"), ChatRow.active.is_(True)
    )
    if chat_type is not None:
        query = query.where(ChatRow.type == chat_type)
    return await session.scalar(query.limit(1))


async def update_settings(session: AsyncSession, chat_id: int, **values: object) -> None:
    """Change settings columns (timezone, quiet_start, quiet_end, digest, digest_at, languages)."""
    await session.execute(update(ChatRow).where(ChatRow.id == chat_id).values(**values))


async def follows(
    session: AsyncSession, chat_id: int, thread_id: int | None = None
) -> list[Follow]:
    """What a chat follows (all threads, or one), in the order they were added."""
    query = select(FollowRow).where(FollowRow.chat_id == chat_id).order_by(FollowRow.id)
    if thread_id is not None:
        query = query.where(FollowRow.thread_id == thread_id)
    return [
        Follow(row.id, row.chat_id, row.thread_id, FollowKind(row.kind), row.value)
        for row in (await session.scalars(query)).all()
    ]


async def add_follow(
    session: AsyncSession, chat_id: int, thread_id: int, kind: FollowKind, value: str, now: datetime
) -> bool:
    """Follow something; False when it was followed already. Following a topic unmutes it."""
    if kind is FollowKind.TOPIC:
        await remove_follow(session, chat_id, thread_id, FollowKind.MUTE, value)
    result = await session.execute(
        insert_for(session, FollowRow)
        .values(chat_id=chat_id, thread_id=thread_id, kind=kind.value, value=value, created_at=now)
        .on_conflict_do_nothing()
        .returning(FollowRow.id)
    )
    return result.scalar() is not None


async def add_follows(
    session: AsyncSession,
    chat_id: int,
    thread_id: int,
    wanted: Sequence[tuple[FollowKind, str]],
    now: datetime,
) -> list[bool]:
    """Follow several things; for each, whether it is new (False: followed already)."""
    return [
        await add_follow(session, chat_id, thread_id, kind, value, now) for kind, value in wanted
    ]


async def follows_anything(session: AsyncSession, chat_id: int, thread_id: int) -> bool:
    """True when this chat thread still gets alerts for something (a topic, a word, all)."""
    found = await session.scalar(
        select(FollowRow.id)
        .where(
            FollowRow.chat_id == chat_id,
            FollowRow.thread_id == thread_id,
            FollowRow.kind.in_((FollowKind.ALL, FollowKind.TOPIC, FollowKind.KEYWORD)),
        )
        .limit(1)
    )
    return found is not None


async def remove_first(
    session: AsyncSession,
    chat_id: int,
    thread_id: int,
    candidates: Sequence[tuple[FollowKind, str]],
) -> int | None:
    """Remove the first of `candidates` that is followed; its index, or None if none was."""
    for index, (kind, value) in enumerate(candidates):
        if await remove_follow(session, chat_id, thread_id, kind, value):
            return index
    return None


async def remove_follow(
    session: AsyncSession, chat_id: int, thread_id: int, kind: FollowKind, value: str
) -> bool:
    result = await session.execute(
        delete(FollowRow)
        .where(
            FollowRow.chat_id == chat_id,
            FollowRow.thread_id == thread_id,
            FollowRow.kind == kind.value,
            FollowRow.value == value,
        )
        .returning(FollowRow.id)
    )
    return result.first() is not None


async def remove_follow_by_id(
    session: AsyncSession, chat_id: int, follow_id: int, tag: str | None = None
) -> Follow | None:
    """Remove one word or exclusion follow of this chat by id (a /following button); None if
    it is not there, or the id now belongs to another follow (its `follow_tag` differs, or it
    is a topic: SQLite may reuse a removed follow's id).

    The id comes from callback data, which anyone can forge: one beyond the column's range
    is simply not there (PostgreSQL would refuse to compare it).
    """
    if not 0 < follow_id <= MAX_FOLLOW_ID:
        return None
    row = await session.scalar(
        select(FollowRow).where(
            FollowRow.id == follow_id,
            FollowRow.chat_id == chat_id,
            FollowRow.kind.in_((FollowKind.KEYWORD, FollowKind.EXCLUDE)),
        )
    )
    if row is None or (tag is not None and follow_tag(row.kind, row.value) != tag):
        return None
    follow = Follow(row.id, row.chat_id, row.thread_id, FollowKind(row.kind), row.value)
    await session.delete(row)
    return follow


async def remove_all_follows(session: AsyncSession, chat_id: int, thread_id: int) -> int:
    result = await session.execute(
        delete(FollowRow)
        .where(FollowRow.chat_id == chat_id, FollowRow.thread_id == thread_id)
        .returning(FollowRow.id)
    )
    return len(result.all())


async def count_follows(session: AsyncSession, chat_id: int, thread_id: int) -> int:
    return int(
        await session.scalar(
            select(func.count()).where(
                FollowRow.chat_id == chat_id, FollowRow.thread_id == thread_id
            )
        )
        or 0
    )


async def delete_chat(session: AsyncSession, chat_id: int) -> None:
    """Forget a chat: its settings, follows and queued alerts (/stop)."""
    await session.execute(delete(DeliveryRow).where(DeliveryRow.chat_id == chat_id))
    await session.execute(delete(FollowRow).where(FollowRow.chat_id == chat_id))
    await session.execute(delete(ChatRow).where(ChatRow.id == chat_id))


async def deactivate_chat(session: AsyncSession, chat_id: int, reason: str) -> None:
    """The bot was blocked or removed: stop sending and drop what is queued for the chat."""
    await session.execute(update(ChatRow).where(ChatRow.id == chat_id).values(active=False))
    await session.execute(
        update(DeliveryRow)
        .where(
            DeliveryRow.chat_id == chat_id,
            DeliveryRow.status.in_(("queued", "held", "digest", "sending")),
        )
        .values(status="dropped", error=reason[:300])
    )


async def migrate_chat(session: AsyncSession, old_id: int, new_id: int, now: datetime) -> None:
    """A group became a supergroup: move settings, follows and alerts to the new id."""
    old = await session.get(ChatRow, old_id)
    if old is None or old_id == new_id:
        return
    existing = await session.get(ChatRow, new_id)
    if existing is None:
        await session.execute(
            insert_for(session, ChatRow).values(
                id=new_id,
                type="supergroup",
                title=old.title,
                username=old.username,
                timezone=old.timezone,
                quiet_start=old.quiet_start,
                quiet_end=old.quiet_end,
                digest=old.digest,
                digest_at=old.digest_at,
                last_digest_at=old.last_digest_at,
                languages=old.languages,
                active=True,
                created_at=now,
            )
        )
    for row in (await session.scalars(select(FollowRow).where(FollowRow.chat_id == old_id))).all():
        await session.execute(
            insert_for(session, FollowRow)
            .values(
                chat_id=new_id,
                thread_id=row.thread_id,
                kind=row.kind,
                value=row.value,
                created_at=row.created_at,
            )
            .on_conflict_do_nothing()
        )
    moved = (await session.scalars(select(DeliveryRow).where(DeliveryRow.chat_id == old_id))).all()
    for delivery in moved:
        await session.execute(
            insert_for(session, DeliveryRow)
            .values(
                chat_id=new_id,
                thread_id=delivery.thread_id,
                story_id=delivery.story_id,
                status=delivery.status if delivery.status != "sending" else "queued",
                priority=delivery.priority,
                attempts=delivery.attempts,
                next_attempt_at=delivery.next_attempt_at,
                sent_at=delivery.sent_at,
                message_id=delivery.message_id,
                outlets_sent=delivery.outlets_sent,
                needs_edit=False,
                error=delivery.error,
                created_at=delivery.created_at,
            )
            .on_conflict_do_nothing()
        )
    await delete_chat(session, old_id)


async def count_chats(session: AsyncSession) -> tuple[int, int]:
    """(active chats, follows)."""
    chats = await session.scalar(
        select(func.count()).select_from(ChatRow).where(ChatRow.active.is_(True))
    )
    follow_count = await session.scalar(select(func.count()).select_from(FollowRow))
    return int(chats or 0), int(follow_count or 0)


async def last_digests(session: AsyncSession, chat_ids: list[int]) -> dict[int, datetime | None]:
    rows = await session.execute(
        select(ChatRow.id, ChatRow.last_digest_at).where(ChatRow.id.in_(chat_ids))
    )
    return dict(rows.all())
