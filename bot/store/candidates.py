"""The reads a batch is planned from, besides the band index (`bot.store.bands`): the dates
of the stories its articles may join, and their reports (see `bot.assignment`).

Each is one query for the whole batch (a long batch is cut into chunks), with the keys
passed as one parameter: a JSON array read by `json_each` on SQLite, an array on PostgreSQL.
The dates query is plain SQL per dialect, read raw (see `_DATES`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot import dedup
from bot.assignment import ITEMS_PER_CANDIDATE, Assigner, Report, StoredReports
from bot.db import ItemRow, SourceRow
from bot.store.dialect import dialect_name

_BAND_BATCH = 5000
_STORY_BATCH = 500
_ITEM = cast(Table, ItemRow.__table__)
_SOURCE = cast(Table, SourceRow.__table__)


# The stories' dates, read raw: the driver's own value (SQLite's text, asyncpg's datetime)
# is turned into an aware datetime here, several times faster than the column type's
# converter, which matters for the thousands of stories a batch may verify.
_DATES = {
    "sqlite": "SELECT id, published_at FROM story WHERE id IN (SELECT value FROM json_each(:ids))",
    "postgresql": "SELECT id, published_at FROM story WHERE id = ANY(CAST(:ids AS BIGINT[]))",
}


def as_utc(value: datetime | str) -> datetime:
    """A naive UTC time as stored (text on SQLite) -> an aware datetime."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC)


async def add_dates(
    session: AsyncSession, dates: dict[int, datetime | None], stories: Iterable[int]
) -> None:
    """Read the `published_at` of these stories into `dates` (None: no such story)."""
    dialect = dialect_name(session)
    wanted = sorted(set(stories) - dates.keys())
    for start in range(0, len(wanted), _BAND_BATCH):
        chunk = wanted[start : start + _BAND_BATCH]
        dates.update(dict.fromkeys(chunk))
        rows = await session.execute(text(_DATES[dialect]), {"ids": _key_values(dialect, chunk)})
        dates.update((story, as_utc(at)) for story, at in rows.all())


def _key_values(dialect: str, values: list[int]) -> object:
    """Integers as one parameter: a list for PostgreSQL's arrays, JSON for `json_each`."""
    return values if dialect == "postgresql" else json.dumps(values)


def _reports_query() -> Any:
    """The first report and the latest few of each given story, by item id."""
    items = (
        select(
            _ITEM.c.id,
            _ITEM.c.story_id,
            _ITEM.c.signature,
            _SOURCE.c.name,
            _ITEM.c.title,
            _ITEM.c.published_at,
            func.row_number()
            .over(partition_by=_ITEM.c.story_id, order_by=_ITEM.c.id.desc())
            .label("newest"),
            func.row_number()
            .over(partition_by=_ITEM.c.story_id, order_by=_ITEM.c.id)
            .label("oldest"),
        )
        .join(_SOURCE, _SOURCE.c.id == _ITEM.c.source_id)
        .where(_ITEM.c.story_id.in_(bindparam("stories", expanding=True)))
        .subquery()
    )
    return (
        select(items)
        .where(or_(items.c.newest <= ITEMS_PER_CANDIDATE, items.c.oldest == 1))
        .order_by(items.c.story_id, items.c.id)
    )


async def load_reports(session: AsyncSession, assigner: Assigner, stories: Iterable[int]) -> None:
    """Read the reports of the stories `assigner` has not seen yet (none when all are)."""
    missing = sorted(assigner.missing(stories))
    for start in range(0, len(missing), _STORY_BATCH):
        chunk = missing[start : start + _STORY_BATCH]
        found: dict[int, StoredReports | None] = dict.fromkeys(chunk)
        rows = await session.execute(_reports_query(), {"stories": chunk})
        for item_id, story, signature, source, title, published_at, newest, _ in rows:
            report = Report(
                item_id,
                dedup.Candidate(
                    story, dedup.Signature.from_bytes(signature), source, title, published_at
                ),
            )
            stored = found[story]
            if stored is None:  # rows come oldest first, so this is the story's first
                stored = found[story] = StoredReports(report, [])
            if newest <= ITEMS_PER_CANDIDATE:
                stored.latest.append(report)
        assigner.load(found)
