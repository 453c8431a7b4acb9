"""Sources and their fetch state: sync from the file, claim due ones, record results."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import SourceRow
from bot.models import Source, SourceKind
from bot.store.dialect import dialect_name, insert_for

DUE_EARLY = timedelta(milliseconds=500)


@dataclass(frozen=True, slots=True)
class SourceState:
    """A source with what a fetch needs to be conditional and to judge its health."""

    id: int
    source: Source
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    consecutive_failures: int
    first_fetch_done: bool
    outage_notified: bool
    last_error: str | None
    last_success_at: datetime | None
    last_attempt_at: datetime | None
    next_fetch_at: datetime | None
    origin: str
    active: bool


def _state(row: SourceRow) -> SourceState:
    return SourceState(
        id=row.id,
        source=Source(
            name=row.name,
            url=row.url,
            kind=SourceKind(row.kind),
            language=row.language,
            full_text=row.full_text,
            breaking=row.breaking,
        ),
        etag=row.etag,
        last_modified=row.last_modified,
        body_hash=row.body_hash,
        consecutive_failures=row.consecutive_failures,
        first_fetch_done=row.first_fetch_done,
        outage_notified=row.outage_notified,
        last_error=row.last_error,
        last_success_at=row.last_success_at,
        last_attempt_at=row.last_attempt_at,
        next_fetch_at=row.next_fetch_at,
        origin=row.origin,
        active=row.active,
    )


async def sync_sources(session: AsyncSession, sources: Sequence[Source], now: datetime) -> None:
    """Make the table match the sources file; chat-added sources are left alone.

    A source whose URL changed starts over (no ETag, and its next items count as backlog).
    New sources go in first, with INSERT … ON CONFLICT DO NOTHING: several processes may
    start at once on one database (instances, a `sources check` beside the bot), and the
    write also takes SQLite's lock before anything is read, so the reads are never stale.
    """
    if sources:
        await session.execute(
            insert_for(session, SourceRow)
            .values([_new_row(source, now) for source in sources])
            .on_conflict_do_nothing(index_elements=["name"])
        )
    rows = {row.name: row for row in (await session.scalars(select(SourceRow))).all()}
    wanted = {source.name for source in sources}
    for source in sources:
        row = rows[source.name]
        if row.url != source.url:
            row.url, row.etag, row.last_modified, row.body_hash = source.url, None, None, None
            row.first_fetch_done = False
        row.kind, row.language = source.kind.value, source.language
        row.full_text, row.breaking, row.active = source.full_text, source.breaking, True
    for name, row in rows.items():
        if row.origin == "file" and name not in wanted:
            row.active = False
    await session.flush()


async def bring_forward(session: AsyncSession, now: datetime, interval: timedelta) -> None:
    """Healthy sources due later than one `interval` from now are due then: after a restart
    with a shorter FETCH_INTERVAL, the times the longer one set would hold them back. A
    failing source keeps its back-off."""
    await session.execute(
        update(SourceRow)
        .where(SourceRow.consecutive_failures == 0, SourceRow.next_fetch_at > now + interval)
        .values(next_fetch_at=now + interval)
    )


def _new_row(source: Source, now: datetime) -> dict[str, object]:
    """A sources-file source as a new row: due at once, its first items a backlog."""
    return {
        "name": source.name,
        "url": source.url,
        "kind": source.kind.value,
        "language": source.language,
        "full_text": source.full_text,
        "breaking": source.breaking,
        "origin": "file",
        "active": True,
        "consecutive_failures": 0,
        "first_fetch_done": False,
        "outage_notified": False,
        "next_fetch_at": now,
        "created_at": now,
    }


async def add_source(
    session: AsyncSession, source: Source, now: datetime, *, fetched: bool = False
) -> bool:
    """Add a chat-added source; False when the name or URL is taken already.

    `fetched` says the caller fetched and read it just now (as /addsource does), which
    /sources then shows as its last success instead of "never". Its first pass still takes
    the backlog without alerts.
    """
    taken = await session.scalar(
        select(SourceRow.id).where((SourceRow.name == source.name) | (SourceRow.url == source.url))
    )
    if taken is not None:
        return False
    session.add(
        SourceRow(
            name=source.name,
            url=source.url,
            kind=source.kind.value,
            language=source.language,
            full_text=source.full_text,
            breaking=False,
            origin="chat",
            active=True,
            consecutive_failures=0,
            first_fetch_done=False,
            outage_notified=False,
            next_fetch_at=now,
            created_at=now,
            last_success_at=now if fetched else None,
        )
    )
    await session.flush()
    return True


async def remove_source(session: AsyncSession, name: str) -> bool:
    """Stop polling a source (kept for its stored items); False when no such active source."""
    row = await session.scalar(
        select(SourceRow).where(SourceRow.name == name, SourceRow.active.is_(True))
    )
    if row is None:
        row = await session.scalar(
            select(SourceRow).where(SourceRow.active.is_(True)).where(SourceRow.name.ilike(name))
        )
    if row is None:
        return False
    row.active = False
    await session.flush()
    return True


async def list_sources(session: AsyncSession, *, active_only: bool = True) -> list[SourceState]:
    """All sources, by name."""
    query = select(SourceRow).order_by(SourceRow.name)
    if active_only:
        query = query.where(SourceRow.active.is_(True))
    return [_state(row) for row in (await session.scalars(query)).all()]


async def claim_due_sources(
    session: AsyncSession, now: datetime, *, lease: timedelta, limit: int = 500, force: bool = False
) -> list[SourceState]:
    """Claim the sources due now for this pass, so another instance skips them.

    One UPDATE … WHERE id IN (SELECT … [FOR UPDATE SKIP LOCKED]) RETURNING claims atomically on
    both engines. `force` claims every active source (the CLI's one-off pass).

    A source due within DUE_EARLY counts as due: the fetch job ticks every FETCH_INTERVAL
    from its start, while a source's next time is counted from the pass's clock reading a
    few milliseconds later, so without this slack half the ticks would find it not yet due
    and its news would wait a whole extra interval.
    """
    due_by = now + DUE_EARLY
    due = select(SourceRow.id).where(SourceRow.active.is_(True))
    if not force:
        due = due.where((SourceRow.next_fetch_at.is_(None)) | (SourceRow.next_fetch_at <= due_by))
    due = due.where((SourceRow.claimed_until.is_(None)) | (SourceRow.claimed_until <= now))
    due = due.order_by(SourceRow.next_fetch_at).limit(limit)
    if dialect_name(session) == "postgresql":
        due = due.with_for_update(skip_locked=True)
    statement = (
        update(SourceRow)
        .where(SourceRow.id.in_(due.scalar_subquery()))
        .values(claimed_until=now + lease, last_attempt_at=now)
        .returning(SourceRow)
        .execution_options(synchronize_session=False)
    )
    rows = (await session.scalars(statement)).all()
    return [_state(row) for row in rows]


async def release_claims(
    session: AsyncSession, source_ids: Sequence[int], claimed_until: datetime
) -> None:
    """Give back a pass's claims on sources it did not finish (it was interrupted), so the
    next pass takes them at once instead of after the lease; a claim another pass has made
    since (another `claimed_until`) is left alone."""
    if not source_ids:
        return
    await session.execute(
        update(SourceRow)
        .where(SourceRow.id.in_(source_ids), SourceRow.claimed_until == claimed_until)
        .values(claimed_until=None)
    )


async def count_claimed(session: AsyncSession, now: datetime) -> int:
    """Active sources another pass holds right now (claimed and not yet released)."""
    query = select(func.count()).where(SourceRow.active.is_(True), SourceRow.claimed_until > now)
    return int(await session.scalar(query) or 0)


async def record_success(
    session: AsyncSession,
    source_id: int,
    *,
    now: datetime,
    next_fetch_at: datetime,
    etag: str | None,
    last_modified: str | None,
    body_hash: str | None,
    first_fetch_done: bool = True,
) -> None:
    """A fetch worked (or the source said "not modified"): reset its health.

    `first_fetch_done` stays False while a source has not yet given any entry (an empty or
    unchanged first answer), so its backlog, when it comes, still alerts nobody.
    """
    await session.execute(
        update(SourceRow)
        .where(SourceRow.id == source_id)
        .values(
            consecutive_failures=0,
            last_error=None,
            last_success_at=now,
            next_fetch_at=next_fetch_at,
            claimed_until=None,
            first_fetch_done=first_fetch_done,
            outage_notified=False,
            etag=etag,
            last_modified=last_modified,
            body_hash=body_hash,
        )
    )


async def record_failure(
    session: AsyncSession,
    source_id: int,
    *,
    error: str,
    next_fetch_at: datetime,
    failures: int,
) -> None:
    """A fetch failed: count it and back off."""
    await session.execute(
        update(SourceRow)
        .where(SourceRow.id == source_id)
        .values(
            consecutive_failures=failures,
            last_error=error[:500],
            next_fetch_at=next_fetch_at,
            claimed_until=None,
        )
    )


async def mark_outage_notified(session: AsyncSession, source_id: int) -> None:
    """Remember that the admins were told about this outage, so they are told once."""
    await session.execute(
        update(SourceRow).where(SourceRow.id == source_id).values(outage_notified=True)
    )
