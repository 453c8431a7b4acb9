"""The outbox: alerts queued with their story, claimed by a sender, then marked.

Idempotency is the unique (chat_id, thread_id, story_id) key plus ON CONFLICT DO NOTHING. A
claim is one UPDATE … WHERE id IN (SELECT … LIMIT n [FOR UPDATE SKIP LOCKED]) RETURNING, which
is atomic on SQLite and PostgreSQL alike, so several senders never take the same row.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import (
    ColumnElement,
    Table,
    Update,
    and_,
    bindparam,
    delete,
    func,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import ChatRow, DeliveryRow, FollowRow, StoryRow, UtcDateTime, WorkerRow
from bot.store import pacing
from bot.store.dialect import dialect_name, insert_for


@dataclass(frozen=True, slots=True)
class Claim:
    """A delivery this sender now owns."""

    id: int
    chat_id: int
    thread_id: int
    story_id: int
    attempts: int
    message_id: int | None = None
    queued_at: datetime | None = None


# The columns every claim returns, in Claim's field order.
CLAIM_COLUMNS = (
    DeliveryRow.id,
    DeliveryRow.chat_id,
    DeliveryRow.thread_id,
    DeliveryRow.story_id,
    DeliveryRow.attempts,
)


@dataclass(frozen=True, slots=True)
class KeywordFollow:
    chat_id: int
    thread_id: int
    kind: str
    value: str


async def keyword_follows(session: AsyncSession) -> list[KeywordFollow]:
    """Every keyword follow, exclusion and muted topic of active chats (matched in Python,
    per pass)."""
    rows = await session.execute(
        select(FollowRow.chat_id, FollowRow.thread_id, FollowRow.kind, FollowRow.value)
        .join(ChatRow, ChatRow.id == FollowRow.chat_id)
        .where(ChatRow.active.is_(True), FollowRow.kind.in_(("keyword", "exclude", "mute")))
    )
    return [KeywordFollow(*row) for row in rows.all()]


@dataclass(frozen=True, slots=True)
class NewStory:
    """A story to queue: who follows it is matched on its topics and language in SQL; the
    chats whose own words it matches (`keyword_targets`) or excludes come from the caller."""

    story_id: int
    topics: frozenset[str]
    language: str
    priority: int = 0
    keyword_targets: tuple[tuple[int, int], ...] = ()
    excluded: tuple[tuple[int, int], ...] = ()


# The topic and "all" follows of a whole batch's new stories, matched in one INSERT … SELECT:
# the stories come in as one parameter (JSON rows on SQLite, arrays on PostgreSQL), with their
# topics space-padded so that a follow matches a whole key. Rows are inserted in story order,
# so the sender, which takes the oldest row first, sends a chat its alerts in that order.
_COLUMNS = (
    "chat_id, thread_id, story_id, status, priority, attempts, next_attempt_at, created_at, "
    "outlets_sent, needs_edit"
)
_MATCH = (
    "JOIN follow AS f ON f.kind = 'all' OR (f.kind = 'topic' AND {find}(s.topics, "
    "' ' || f.value || ' ') > 0) JOIN chat AS c ON c.id = f.chat_id "
    "WHERE c.active AND (c.languages = '' OR {find}(' ' || c.languages || ' ', "
    "' ' || s.language || ' ') > 0) AND f.created_at <= :now "
)
_QUEUE = {
    "sqlite": f"INSERT INTO delivery ({_COLUMNS}) SELECT DISTINCT f.chat_id, f.thread_id, "
    "s.story_id, 'queued', s.priority, 0, :now, :now, 0, 0 FROM (SELECT "
    "json_extract(value, '$[0]') AS story_id, json_extract(value, '$[1]') AS priority, "
    "json_extract(value, '$[2]') AS language, json_extract(value, '$[3]') AS topics, "
    "key AS position FROM json_each(:stories)) AS s "
    + _MATCH.format(find="instr")
    + "ORDER BY s.position ON CONFLICT DO NOTHING",
    "postgresql": f"INSERT INTO delivery ({_COLUMNS}) SELECT chat_id, thread_id, story_id, "
    "'queued', priority, 0, :now, :now, 0, false FROM (SELECT DISTINCT f.chat_id, f.thread_id, "
    "s.story_id, s.priority, s.position FROM unnest(CAST(:ids AS BIGINT[]), "
    "CAST(:priorities AS INTEGER[]), CAST(:languages AS TEXT[]), CAST(:topics AS TEXT[])) "
    "WITH ORDINALITY AS s(story_id, priority, language, topics, position) "
    + _MATCH.format(find="strpos")
    + ") AS chosen ORDER BY position ON CONFLICT DO NOTHING",
}


def _stories_param(dialect: str, stories: Sequence[NewStory]) -> dict[str, object]:
    padded = [f" {' '.join(sorted(story.topics))} " for story in stories]
    if dialect == "postgresql":
        return {
            "ids": [story.story_id for story in stories],
            "priorities": [story.priority for story in stories],
            "languages": [story.language for story in stories],
            "topics": padded,
        }
    rows = [
        [story.story_id, story.priority, story.language, topics]
        for story, topics in zip(stories, padded, strict=True)
    ]
    return {"stories": json.dumps(rows)}


async def queue_stories(session: AsyncSession, stories: Sequence[NewStory], now: datetime) -> int:
    """Queue one alert per matching active chat thread for each story; returns how many.

    Topic and "all" follows are matched in SQL, for all the stories in one statement (fast
    for 100k chats); keyword targets are inserted in one more, exclusions removed in one
    more. Only follows that existed before `now` count, so nobody gets a story stored earlier.
    """
    if not stories:
        return 0
    dialect = dialect_name(session)
    statement = text(_QUEUE[dialect]).bindparams(bindparam("now", type_=UtcDateTime()))
    result = await session.execute(statement, {"now": now, **_stories_param(dialect, stories)})
    queued = max(result.rowcount or 0, 0)  # type: ignore[attr-defined]
    queued += await _queue_keyword_targets(session, stories, now)
    excluded = sorted(
        (story.story_id, chat, thread) for story in stories for chat, thread in set(story.excluded)
    )
    if excluded:
        result = await session.execute(
            delete(DeliveryRow).where(
                DeliveryRow.status == "queued",
                tuple_(DeliveryRow.story_id, DeliveryRow.chat_id, DeliveryRow.thread_id).in_(
                    excluded
                ),
            )
        )
        queued -= max(result.rowcount or 0, 0)  # type: ignore[attr-defined]
    return queued


async def _queue_keyword_targets(
    session: AsyncSession, stories: Sequence[NewStory], now: datetime
) -> int:
    """The alerts of the chats that follow words the stories contain (and are not excluded
    from), for the chats that read the story's language."""
    wanted = [
        (story, target)
        for story in stories
        for target in sorted(set(story.keyword_targets) - set(story.excluded))
    ]
    if not wanted:
        return 0
    chats = {chat for _, (chat, _) in wanted}
    rows = await session.execute(
        select(ChatRow.id, ChatRow.languages).where(
            ChatRow.id.in_(sorted(chats)), ChatRow.active.is_(True)
        )
    )
    languages = dict(rows.all())
    values = [
        {
            "chat_id": chat,
            "thread_id": thread,
            "story_id": story.story_id,
            "status": "queued",
            "priority": story.priority,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "outlets_sent": 0,
            "needs_edit": False,
        }
        for story, (chat, thread) in wanted
        if chat in languages and (not languages[chat] or story.language in languages[chat].split())
    ]
    if not values:
        return 0
    result = await session.execute(
        insert_for(session, DeliveryRow).values(values).on_conflict_do_nothing()
    )
    return max(result.rowcount or 0, 0)  # type: ignore[attr-defined]


async def queue_story(
    session: AsyncSession,
    story_id: int,
    *,
    topics: frozenset[str],
    language: str,
    now: datetime,
    priority: int = 0,
    keyword_targets: Iterable[tuple[int, int]] = (),
    excluded: Iterable[tuple[int, int]] = (),
) -> int:
    """`queue_stories` for one story."""
    story = NewStory(story_id, topics, language, priority, tuple(keyword_targets), tuple(excluded))
    return await queue_stories(session, [story], now)


async def claim(
    session: AsyncSession,
    worker: str,
    now: datetime,
    limit: int,
    *,
    wall: float,
    exclude_chats: Sequence[int] = (),
) -> list[Claim]:
    """Take up to `limit` due alerts, breaking ones first, then oldest first, one per chat.

    Only chats that are free at `wall` (see `pacing`) are considered, and their leases are
    taken in the same transaction: while this sender holds a chat, no other sender on the
    database claims for it, and after the send the lease turns into the chat's spacing.
    `exclude_chats` are chats this process itself is still spacing.
    """
    due = (
        select(DeliveryRow.id, DeliveryRow.chat_id)
        .join(ChatRow, ChatRow.id == DeliveryRow.chat_id)
        .where(
            DeliveryRow.status == "queued",
            DeliveryRow.next_attempt_at <= now,
            pacing.chat_is_free(wall),
        )
        .order_by(DeliveryRow.priority.desc(), DeliveryRow.id)
        .limit(limit)
    )
    if exclude_chats:
        due = due.where(DeliveryRow.chat_id.not_in(list(exclude_chats)))
    first: dict[int, int] = {}
    for delivery_id, chat_id in (await session.execute(due)).all():
        first.setdefault(chat_id, delivery_id)
    leased = await pacing.lease_chats(session, sorted(first), wall)
    if not leased:
        return []
    statement = (
        update(DeliveryRow)
        .where(DeliveryRow.id.in_([first[chat_id] for chat_id in leased]))
        .where(DeliveryRow.status == "queued")
        .values(status="sending", claimed_by=worker, claimed_at=now)
        .returning(*CLAIM_COLUMNS, DeliveryRow.created_at)
        .execution_options(synchronize_session=False)
    )
    rows = (await session.execute(statement)).all()
    claims = (Claim(*row[:5], queued_at=row[5]) for row in rows)
    return sorted(claims, key=lambda claim: claim.id)


async def claim_gathered(
    session: AsyncSession, chat_id: int, status: str, worker: str, now: datetime
) -> list[Claim]:
    """Take all of a chat's rows in `status` ('held' or 'digest') to send as one message.

    One UPDATE … RETURNING, so two digest runs (or instances) never both take a row.
    """
    statement = (
        update(DeliveryRow)
        .where(DeliveryRow.chat_id == chat_id, DeliveryRow.status == status)
        .values(status="sending", claimed_by=worker, claimed_at=now)
        .returning(
            *CLAIM_COLUMNS,
        )
        .execution_options(synchronize_session=False)
    )
    rows = (await session.execute(statement)).all()
    return sorted((Claim(*row) for row in rows), key=lambda claim: claim.id)


async def claim_edits(session: AsyncSession, worker: str, now: datetime, limit: int) -> list[Claim]:
    """Take sent alerts whose story gained outlets, to edit their message."""
    due = (
        select(DeliveryRow.id)
        .where(DeliveryRow.status == "sent", DeliveryRow.needs_edit.is_(True))
        .order_by(DeliveryRow.id)
        .limit(limit)
    )
    if dialect_name(session) == "postgresql":
        due = due.with_for_update(skip_locked=True)
    statement = (
        update(DeliveryRow)
        .where(DeliveryRow.id.in_(due.scalar_subquery()))
        .values(needs_edit=False, claimed_by=worker, claimed_at=now)
        .returning(
            *CLAIM_COLUMNS,
            DeliveryRow.message_id,
        )
        .execution_options(synchronize_session=False)
    )
    return [Claim(*row) for row in (await session.execute(statement)).all()]


async def mark_sent(
    session: AsyncSession,
    ids: Sequence[int],
    *,
    message_id: int | None,
    outlets: int,
    now: datetime,
) -> None:
    """Record alerts as sent showing `outlets` outlets; `message_id` None for a digest, whose
    message lists many stories and is never edited into one.

    An alert whose story gained outlets while it was on its way (the merge ran between claim
    and send, when `flag_edits` skips rows still "sending") is marked for an edit here, so
    the "N outlets" update is never lost to that race. On PostgreSQL the story's row is read
    FOR SHARE, which waits for a merge still in flight and then sees its count.
    """
    needs_edit: ColumnElement[bool] | bool = False
    if message_id is not None:
        current = select(StoryRow.outlets).where(StoryRow.id == DeliveryRow.story_id)
        if dialect_name(session) == "postgresql":
            current = current.with_for_update(read=True)
        needs_edit = current.scalar_subquery() > outlets
    await session.execute(
        update(DeliveryRow)
        .where(DeliveryRow.id.in_(list(ids)))
        .values(
            status="sent",
            sent_at=now,
            message_id=message_id,
            outlets_sent=outlets,
            needs_edit=needs_edit,
            error=None,
        )
    )


async def mark_edited(session: AsyncSession, delivery_id: int, outlets: int) -> None:
    await session.execute(
        update(DeliveryRow).where(DeliveryRow.id == delivery_id).values(outlets_sent=outlets)
    )


async def mark_retry(
    session: AsyncSession, delivery_id: int, *, next_at: datetime, attempts: int, error: str
) -> None:
    await session.execute(
        update(DeliveryRow)
        .where(DeliveryRow.id == delivery_id)
        .values(status="queued", next_attempt_at=next_at, attempts=attempts, error=error[:300])
    )


async def mark_failed(session: AsyncSession, delivery_id: int, error: str) -> None:
    """Dead-letter: kept with its reason, never retried, never blocking others."""
    await session.execute(
        update(DeliveryRow)
        .where(DeliveryRow.id == delivery_id)
        .values(status="failed", error=error[:300])
    )


async def set_status(
    session: AsyncSession, ids: Sequence[int], status: str, *, next_at: datetime | None = None
) -> None:
    """Move claimed rows to another state: queued (given back), held (quiet) or digest."""
    values: dict[str, object] = {"status": status, "claimed_by": None}
    if next_at is not None:
        values["next_attempt_at"] = next_at
    await session.execute(update(DeliveryRow).where(DeliveryRow.id.in_(list(ids))).values(**values))


async def release_stale(
    session: AsyncSession,
    *,
    older_than: datetime,
    orphaned_before: datetime,
    keep: str,
    in_flight: Sequence[int] = (),
) -> int:
    """Give back claims left by a sender that died (crash, kill -9) or lost (a batch that
    failed half way), so they are sent.

    Stale: claimed before `older_than` by anyone, the caller `keep` included, or claimed
    before `orphaned_before` by another worker with no heartbeat since then. The caller's
    claims `in_flight` (delivery ids it is sending now) always stay.
    """
    alive = select(WorkerRow.id).where(WorkerRow.heartbeat_at >= orphaned_before)
    someone_else = or_(DeliveryRow.claimed_by.is_(None), DeliveryRow.claimed_by != keep)
    statement = update(DeliveryRow).where(
        DeliveryRow.status == "sending",
        or_(
            DeliveryRow.claimed_at < older_than,
            and_(
                someone_else,
                DeliveryRow.claimed_at < orphaned_before,
                or_(DeliveryRow.claimed_by.is_(None), DeliveryRow.claimed_by.not_in(alive)),
            ),
        ),
    )
    if in_flight:
        statement = statement.where(DeliveryRow.id.not_in(sorted(in_flight)))
    return await _requeue(session, statement)


async def release_worker(
    session: AsyncSession, worker: str, ids: Sequence[int] | None = None
) -> int:
    """Give back what this sender claimed but did not send (graceful stop), or of `ids` only
    those still unsent (a batch that failed half way)."""
    statement = update(DeliveryRow).where(
        DeliveryRow.status == "sending", DeliveryRow.claimed_by == worker
    )
    if ids is not None:
        statement = statement.where(DeliveryRow.id.in_(sorted(ids)))
    return await _requeue(session, statement)


async def _requeue(session: AsyncSession, claimed: Update) -> int:
    """Put the claimed rows `claimed` selects back in the queue and free their chats' leases."""
    result = await session.execute(
        claimed.values(status="queued", claimed_by=None).returning(DeliveryRow.chat_id)
    )
    chat_ids = list(result.scalars().all())
    await pacing.free_chats(session, chat_ids)
    return len(chat_ids)


async def chats_with(session: AsyncSession, status: str) -> list[int]:
    """Chats that have alerts in a state (held for quiet hours, waiting for a digest)."""
    rows = await session.scalars(
        select(DeliveryRow.chat_id).where(DeliveryRow.status == status).distinct()
    )
    return list(rows.all())


async def restatus_chat(session: AsyncSession, chat_id: int, old: str, new: str) -> None:
    """Move a chat's rows between states (held to digest, digest back to queued)."""
    await session.execute(
        update(DeliveryRow)
        .where(DeliveryRow.chat_id == chat_id, DeliveryRow.status == old)
        .values(status=new)
    )


async def restatus_worker_chat(
    session: AsyncSession, worker: str, chat_id: int, new: str, *, error: str | None = None
) -> None:
    """Give back (or dead-letter) what this worker claimed for one chat and did not send."""
    values: dict[str, object] = {"status": new, "claimed_by": None}
    if error is not None:
        values["error"] = error[:300]
    await session.execute(
        update(DeliveryRow)
        .where(
            DeliveryRow.chat_id == chat_id,
            DeliveryRow.status == "sending",
            DeliveryRow.claimed_by == worker,
        )
        .values(**values)
    )


async def flag_edits(session: AsyncSession, outlets: Mapping[int, int], *, since: datetime) -> None:
    """Mark each story's alerts sent since `since` with fewer outlets than it now has (story
    id -> outlets), for an edit: one executemany for all the stories of a batch."""
    if not outlets:
        return
    table = cast(Table, DeliveryRow.__table__)
    await session.execute(
        update(table)
        .where(
            table.c.story_id == bindparam("story"),
            table.c.status == "sent",
            table.c.sent_at >= bindparam("since", type_=UtcDateTime()),
            table.c.outlets_sent < bindparam("outlets"),
            table.c.message_id.is_not(None),
        )
        .values(needs_edit=True),
        [
            {"story": story, "outlets": count, "since": since}
            for story, count in sorted(outlets.items())
        ],
    )


async def depth(session: AsyncSession) -> dict[str, int]:
    """Rows per status."""
    rows = await session.execute(
        select(DeliveryRow.status, func.count()).group_by(DeliveryRow.status)
    )
    return {status: int(count) for status, count in rows.all()}


async def sent_since(session: AsyncSession, since: datetime) -> int:
    return int(
        await session.scalar(
            select(func.count()).where(DeliveryRow.status == "sent", DeliveryRow.sent_at >= since)
        )
        or 0
    )
