"""The in-memory band index answers what the band rows' query answered: for each key, the
newest `per_band` distinct stories holding it, whatever mix of first load, pending postings
and merges it holds them in."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import band_index
from bot.band_index import BandIndex

WIDTH = 4
AT = datetime(2026, 5, 20, tzinfo=UTC)
KEYS = st.integers(min_value=0, max_value=10)  # a small key space: keys shared often
REPORT = st.tuples(
    st.integers(min_value=1, max_value=60), st.lists(KEYS, min_size=WIDTH, max_size=WIDTH)
)
BATCHES = st.lists(st.lists(REPORT, min_size=1, max_size=8), min_size=1, max_size=8)


def expected(
    reports: list[tuple[int, list[int]]], keys: list[int], per_band: int
) -> dict[int, list[int]]:
    """The former query, by brute force."""
    held: dict[int, set[int]] = {}
    for story, report_keys in reports:
        for key in report_keys:
            held.setdefault(key, set()).add(story)
    return {key: sorted(held[key], reverse=True)[:per_band] for key in set(keys) if key in held}


def add(index: BandIndex, batch: list[tuple[int, list[int]]], seen: int = 0) -> None:
    stories = np.array([story for story, _ in batch], dtype=np.int64)
    keys = np.array([report_keys for _, report_keys in batch], dtype=np.int64)
    index.add(stories, np.full(len(batch), seen, dtype=np.int64), keys)


@settings(max_examples=150, deadline=None)
@given(BATCHES, st.integers(min_value=1, max_value=6), st.integers(min_value=0, max_value=3))
def test_postings_match_the_query_through_loads_and_merges(
    batches: list[list[tuple[int, list[int]]]], per_band: int, merge_every: int
) -> None:
    """Pending postings, merged ones and both mixed give the brute-force answer."""
    index = BandIndex(retention_s=10**9, keep=6)
    stored: list[tuple[int, list[int]]] = []
    for number, batch in enumerate(batches):
        add(index, batch)
        stored.extend(batch)
        index.settle(now_s=0, lookback=0)
        if merge_every and number % merge_every == 0:
            index.merge(now_s=0)
        wanted = list(range(12))
        assert index.postings(wanted, per_band) == expected(stored, wanted, per_band)


def test_a_merge_drops_the_postings_older_than_the_retention() -> None:
    """Postings stored longer ago than the retention go at the next merge; the others stay."""
    index = BandIndex(retention_s=100)
    add(index, [(1, [7, 8, 9, 10])], seen=0)
    index.settle(now_s=0, lookback=0)
    add(index, [(2, [7, 8, 9, 11])], seen=500)
    add(index, [(3, [7, 1, 2, 3])], seen=50)
    index.dates.update({1: AT, 2: AT, 3: AT})
    index.merge(now_s=560)
    assert index.postings([7, 10, 11, 1], 5) == {7: [2], 11: [2]}
    assert len(index) == WIDTH
    assert index.dates == {2: AT}, "a story that leaves the index takes its date along"


def test_settle_merges_once_enough_postings_are_pending() -> None:
    """Pending postings are merged in bulk, not per batch: the dict stays small."""
    index = BandIndex(retention_s=10**9)
    index.settle(now_s=0, lookback=0)
    reports = band_index._MERGE_AT // WIDTH
    add(
        index,
        [(story, [story, story + 10**6, story + 2 * 10**6, 0]) for story in range(1, reports)],
    )
    index.settle(now_s=0, lookback=0)
    assert index._pending  # below the threshold: still pending
    add(index, [(reports, [1, 2, 3, 4])])
    index.settle(now_s=0, lookback=0)
    assert not index._pending and len(index) == len(index._pairs)
    assert index.postings([1, 0], 3) == {
        1: [reports, 1],
        0: [reports - 1, reports - 2, reports - 3],
    }


def test_noted_items_raise_the_high_water_mark_and_old_ones_are_forgotten() -> None:
    """The loader skips items it holds: `recent` keeps the ids near the high-water mark."""
    index = BandIndex(retention_s=10**9)
    index.note(range(1, 5000))
    index.settle(now_s=0, lookback=100)
    assert index.high_water == 4999
    assert min(index.recent) > 4999 - 100 - 1
