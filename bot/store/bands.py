"""Bringing a process's band index (`bot.band_index`) up to date from the item rows.

The first refresh loads the band keys of every item stored within the index's retention; each
later one those of the items stored since, by this process or any other instance. It runs at
the start of a batch's transaction, before the batch writes anything, so the index only ever
holds committed items (a batch that rolls back leaves no trace in it).

SQLite commits items in id order (one writer at a time), so `id > high_water` finds them all.
On PostgreSQL a transaction can commit after another that took higher ids, so the refresh
reads the ids of the last `_LOOKBACK` before the high-water mark too, and loads those it lacks.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

import numpy as np
from sqlalchemy import String, Table, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from bot import dedup
from bot.band_index import BandIndex
from bot.db import ItemRow, StoryRow
from bot.store.candidates import as_utc
from bot.store.dialect import dialect_name

_ITEM = cast(Table, ItemRow.__table__)
_STORY = cast(Table, StoryRow.__table__)
_CHUNK = 20_000
_LOOKBACK = {"postgresql": 10_000}
"""Ids below the high-water mark that may still commit (other instances' open batches)."""
_SIGNATURE_BYTES = 4 * dedup.NUM_PERM


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


async def refresh(session: AsyncSession, index: BandIndex, now: datetime) -> None:
    """Load the items `index` lacks: the retention's on the first call, then the new ones."""
    lookback = _LOOKBACK.get(dialect_name(session), 0)
    columns = (
        _ITEM.c.id,
        _ITEM.c.story_id,
        _ITEM.c.signature,
        type_coerce(_ITEM.c.fetched_at, String()),  # the driver's value: parsed faster below
        type_coerce(_STORY.c.published_at, String()),
    )
    rows: list[Any] = []
    if not index.loaded:
        cutoff = now - timedelta(seconds=index.retention_s)
        after = 0
        while True:
            chunk = (
                await session.execute(
                    select(*columns)
                    .join(_STORY, _STORY.c.id == _ITEM.c.story_id)
                    .where(_ITEM.c.id > after, _ITEM.c.fetched_at >= cutoff)
                    .order_by(_ITEM.c.id)
                    .limit(_CHUNK)
                )
            ).all()
            rows.extend(chunk)
            if len(chunk) < _CHUNK:
                break
            after = chunk[-1][0]
    elif not lookback:
        query = (
            select(*columns)
            .join(_STORY, _STORY.c.id == _ITEM.c.story_id)
            .where(_ITEM.c.id > index.high_water)
            .order_by(_ITEM.c.id)
        )
        rows = list((await session.execute(query)).all())
    else:
        floor = index.high_water - lookback
        ids = (await session.execute(select(_ITEM.c.id).where(_ITEM.c.id > floor))).scalars()
        missing = sorted(set(ids) - index.recent)
        for start in range(0, len(missing), _CHUNK):
            part = missing[start : start + _CHUNK]
            query = (
                select(*columns)
                .join(_STORY, _STORY.c.id == _ITEM.c.story_id)
                .where(_ITEM.c.id.in_(part))
                .order_by(_ITEM.c.id)
            )
            rows.extend((await session.execute(query)).all())
    _add(index, rows)
    index.settle(_epoch(now), lookback)


def _add(index: BandIndex, rows: Sequence[Any]) -> None:
    """Band keys of the rows' signatures into the index, and their stories' current dates;
    every row counts as loaded."""
    index.note([row[0] for row in rows])
    index.dates.update((row[1], as_utc(row[4])) for row in rows)
    usable = [row for row in rows if row[2] is not None and len(row[2]) >= _SIGNATURE_BYTES]
    if not usable:
        return
    minhashes = np.frombuffer(
        b"".join(row[2][:_SIGNATURE_BYTES] for row in usable), dtype="<u4"
    ).reshape(len(usable), dedup.NUM_PERM)
    keyed = ~dedup.empty_rows(minhashes)
    stories = np.array([row[1] for row in usable], dtype=np.int64)[keyed]
    seen = np.array([_epoch(as_utc(row[3])) for row in usable], dtype=np.int64)[keyed]
    index.add(stories, seen, dedup.band_key_rows(minhashes[keyed]))
