"""The LSH band postings of recent reports, held in memory: which stories hold a band key.

Keeping them as database rows (64 per report, in an index ordered by a random key) cost a
page write per row: at 100k stories in the window, storing a report spent more time writing
its band rows than everything else together. The database keeps what the postings are made
of (every item's signature, story and id); each process keeps the postings, built from the
items of the retention at its first store and brought up to date, before every batch, with
the items stored since by any instance (`bot.store.bands`). `postings` answers what the
former query did: the newest `keep` stories per key.

Layout: one sorted array of (key, story) pairs packed into 64-bit integers (a key is 38 bits,
`bot.dedup.band_keys`; a story is its offset from the oldest story held, 26 bits), at most
`keep` per key, since no query reads more; plus the postings added since the last merge in a
dict. A merge (once enough are pending) sorts them in, and drops the stories none of whose
reports was stored within the retention.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import numpy.typing as npt

_MERGE_AT = 65_536
"""Pending postings that trigger a merge (or an eighth of the merged ones, if more)."""
_STORY_BITS = 26
_KEY_LIMIT = 1 << (64 - _STORY_BITS)
_SPAN = 1 << _STORY_BITS
"""Story ids held at once span less than this (67M; older stories leave first)."""

Int64s = npt.NDArray[np.int64]
_U64 = npt.NDArray[np.uint64]


@dataclass(slots=True)
class BandIndex:
    """Band key -> the newest `keep` stories holding it, for the items loaded so far.

    `high_water` is the highest item id loaded and `recent` the ids loaded near it: on
    PostgreSQL an item can commit after one with a higher id, so the loader looks back a
    little and skips what it holds. Times are whole seconds since the epoch.
    """

    retention_s: int
    keep: int = 20
    loaded: bool = False
    high_water: int = 0
    recent: set[int] = field(default_factory=set)
    _pairs: _U64 = field(default_factory=lambda: np.empty(0, dtype=np.uint64))
    _base: int = 0
    _seen: dict[int, int] = field(default_factory=dict)
    """Each story's latest report's time: a story leaves the index a retention after it."""
    dates: dict[int, datetime] = field(default_factory=dict)
    """Each story's `published_at` as last read, read again with each new report of it (only
    a merge moves it, and a merge stores a report): the batch planner's dates, without a
    query for thousands of stories per batch."""
    _pending: dict[int, set[int]] = field(default_factory=dict)
    _pending_count: int = 0
    _bulk: list[tuple[Int64s, Int64s]] = field(default_factory=list)
    """The first load's postings, as arrays: sorted in at once by the first merge."""

    def __len__(self) -> int:
        """Postings held, merged or pending."""
        return len(self._pairs) + self._pending_count

    def note(self, items: Iterable[int]) -> None:
        """Mark items as loaded, whether or not they had band keys."""
        ids = list(items)
        if ids:
            self.high_water = max(self.high_water, max(ids))
            self.recent.update(ids)

    def add(self, stories: Int64s, seen: Int64s, keys: Int64s) -> None:
        """Add postings: row i of `keys` holds the band keys (each below 2**38) of a report
        of `stories[i]` stored at `seen[i]`."""
        if not len(stories):
            return
        story_seen = self._seen
        for story, at in zip(stories.tolist(), seen.tolist(), strict=True):
            if story_seen.get(story, at - 1) < at:
                story_seen[story] = at
        width = keys.shape[1]
        if not self.loaded:
            self._bulk.append((keys.reshape(-1), np.repeat(stories, width)))
            self._pending_count += keys.size
            return
        pending = self._pending
        for key, story in zip(
            keys.reshape(-1).tolist(), np.repeat(stories, width).tolist(), strict=True
        ):
            held = pending.get(key)
            if held is None:
                pending[key] = {story}
            elif story not in held:
                held.add(story)
            else:
                continue
            self._pending_count += 1

    def settle(self, now_s: int, lookback: int) -> None:
        """After a load: merge the pending postings when there are enough of them (at once
        after the first load), and forget the recent ids below the look-back."""
        first = not self.loaded
        self.loaded = True
        if first or self._pending_count >= max(_MERGE_AT, len(self._pairs) // 8):
            self.merge(now_s)
        if len(self.recent) > 2 * lookback + 1024:
            floor = self.high_water - lookback
            self.recent = {item for item in self.recent if item > floor}

    def merge(self, now_s: int) -> None:
        """Sort the pending postings in, keep the newest `keep` stories of each key, and drop
        the stories whose latest report is older than the retention."""
        cutoff = now_s - self.retention_s
        expired = {story for story, at in self._seen.items() if at < cutoff}
        keys, stories = self._unpack(self._pairs)
        if self._pending:
            new_keys = np.fromiter(
                (key for key, held in self._pending.items() for _ in held),
                dtype=np.int64,
                count=self._pending_count,
            )
            new_stories = np.fromiter(
                (story for held in self._pending.values() for story in held),
                dtype=np.int64,
                count=self._pending_count,
            )
            keys, stories = np.concatenate([keys, new_keys]), np.concatenate([stories, new_stories])
        if self._bulk:
            keys = np.concatenate([keys, *(part for part, _ in self._bulk)])
            stories = np.concatenate([stories, *(part for _, part in self._bulk)])
        live = stories > (stories.max() if len(stories) else 0) - _SPAN
        if expired:
            live &= ~np.isin(stories, np.fromiter(expired, dtype=np.int64))
        keys, stories = keys[live], stories[live]
        for story in expired:
            del self._seen[story]
            self.dates.pop(story, None)
        self._base = int(stories.min()) if len(stories) else 0
        self._pairs = _newest_per_key(self._pack(keys, stories), self.keep)
        self._pending, self._pending_count, self._bulk = {}, 0, []

    def postings(self, keys: Iterable[int], per_band: int) -> dict[int, list[int]]:
        """Each key held -> its newest `per_band` stories (highest id first, at most `keep`),
        as the former `SELECT story_id … WHERE band_key = ? ORDER BY story_id DESC LIMIT ?`."""
        wanted = np.unique(np.fromiter(keys, dtype=np.int64))
        wanted = wanted[(wanted >= 0) & (wanted < _KEY_LIMIT)]
        found: dict[int, list[int]] = {}
        if len(wanted) and len(self._pairs):
            starts = wanted.astype(np.uint64) << np.uint64(_STORY_BITS)
            low = np.searchsorted(self._pairs, starts, side="left")
            high = np.searchsorted(self._pairs, starts + np.uint64(_SPAN), side="left")
            hit = np.flatnonzero(high > low)
            lengths = high[hit] - low[hit]
            # Every held pair of every key hit, gathered at once and reversed (newest first),
            # then cut per key: key i's stories end where the keys after it begin.
            firsts = np.repeat(low[hit] - np.cumsum(lengths) + lengths, lengths)
            held = self._pairs[firsts + np.arange(int(lengths.sum()))][::-1]
            stories = ((held & np.uint64(_SPAN - 1)).astype(np.int64) + self._base).tolist()
            after = (lengths[::-1].cumsum()[::-1] - lengths).tolist()
            for key, end, length in zip(wanted[hit].tolist(), after, lengths.tolist(), strict=True):
                found[key] = stories[end : end + length]
        if per_band < self.keep:
            found = {key: newest[:per_band] for key, newest in found.items()}
        pending = self._pending
        if pending:
            for key in filter(pending.__contains__, wanted.tolist()):
                extra, older = sorted(pending[key], reverse=True), found.get(key)
                if older and extra[-1] <= older[0]:
                    extra = sorted(pending[key].union(older), reverse=True)
                elif older:
                    extra += older  # all newer than the merged ones (the usual case)
                found[key] = extra[:per_band]
        return found

    def _pack(self, keys: Int64s, stories: Int64s) -> _U64:
        return (keys.astype(np.uint64) << np.uint64(_STORY_BITS)) | (stories - self._base).astype(
            np.uint64
        )

    def _unpack(self, pairs: _U64) -> tuple[Int64s, Int64s]:
        keys = (pairs >> np.uint64(_STORY_BITS)).astype(np.int64)
        stories = (pairs & np.uint64(_SPAN - 1)).astype(np.int64) + self._base
        return keys, stories


def _newest_per_key(pairs: _U64, keep: int) -> _U64:
    """The sorted distinct pairs, at most `keep` (the highest stories) per key."""
    pairs = np.unique(pairs)
    if len(pairs) <= keep:
        return pairs
    keys = pairs >> np.uint64(_STORY_BITS)
    ends = np.flatnonzero(np.append(keys[1:] != keys[:-1], True))
    group_end = np.repeat(ends, np.diff(np.append(-1, ends)))
    return pairs[group_end - np.arange(len(pairs)) < keep]
