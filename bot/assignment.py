"""Which story each new report of one source's batch joins, decided in memory.

Storing a batch one article at a time costs a candidates query, an INSERT or two and an
UPDATE per article. Instead the store reads, once per batch, what those queries would have
read (the band postings of every band key in the batch, the stories they name with their
dates, and the first and latest reports of the stories an article may join), and `Assigner`
replays the articles in order against that snapshot plus what the batch itself has done so
far. The decisions are the ones the article-at-a-time store made: the same candidate stories
(the `CANDIDATE_STORIES` sharing most bands among at most `PER_BAND` postings per band, first
reported inside the window), the same reports of each (its first and its latest
`ITEMS_PER_CANDIDATE`, counting the batch's own), through `dedup.choose_story`; the store
then writes the outcome in a few bulk statements. tests/bot/test_store_stories.py checks the
outcome against the former store, kept as tests/bot/reference_store.py.

Stories the batch starts have no database id yet: they get provisional ids from `NEW_STORY`
upwards, above any real id and in creation order, so that sorting by id orders them as the
database will.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import chain

import numpy as np

from bot import dedup
from bot.models import Article

PER_BAND = 20
"""Postings read per LSH band, newest first: a band shared by hundreds of stories is noise."""
CANDIDATE_STORIES = 20
"""Stories verified per article: those sharing the most bands with it."""
ITEMS_PER_CANDIDATE = 4
"""A candidate story's latest reports that are verified (besides its first)."""
NEW_STORY = 1 << 62
"""The first provisional id of a story the batch starts (real ids stay far below)."""
_SPARE = 5
"""Dates read beyond an article's best stories, in case some are outside its window."""
_UNKNOWN = datetime.min


@dataclass(frozen=True, slots=True)
class Report:
    """One stored report of a story; `order` sorts a story's reports as their item ids do."""

    order: int
    candidate: dedup.Candidate


@dataclass(slots=True)
class StoredReports:
    """What the store read of one stored story's reports: its first, and its latest few."""

    first: Report
    latest: list[Report]


@dataclass(frozen=True, slots=True)
class Prepared:
    """An article with everything the core computed for it, ready to store."""

    article: Article
    signature: bytes
    bands: tuple[int, ...]
    topics: frozenset[str]
    summary: str


@dataclass(frozen=True, slots=True)
class Ranking:
    """`Assigner.ranked`'s answer: the stories to verify, best first, for an article whose
    window starts at `since`."""

    stories: list[int]
    since: datetime


@dataclass(slots=True)
class Assigner:
    """Replays one source's batch: which stored or new story each article joins.

    `postings` maps each band key of the batch to the stored stories holding it (at most
    `PER_BAND`, newest first). `dates` holds stored stories' `published_at` as read (None:
    no such story), `published` the dates a merge of this batch moved back, as the database
    row would move. Dates and reports of stored stories are read on demand (`undated`, then
    `add_dates`; `missing`, then `load`): which stories an article verifies depends on the
    articles before it, and most of the stories the postings name are never verified.
    """

    source: str
    window: timedelta
    postings: Mapping[int, Sequence[int]]
    dates: dict[int, datetime | None]
    reports: dict[int, StoredReports | None] = field(default_factory=dict)
    published: dict[int, datetime] = field(default_factory=dict)
    added: dict[int, list[Report]] = field(default_factory=dict)
    stories_by_band: dict[int, set[int]] = field(default_factory=dict)
    batch_reports: dict[int, list[dedup.Candidate]] = field(default_factory=dict)
    undated: set[int] = field(default_factory=set)
    """Stored stories whose date a ranking needs and `dates` lacks."""
    new_stories: int = 0
    _order: int = 0
    _ranked_hits: dict[tuple[int, ...], list[int]] = field(default_factory=dict)

    def _hits(self, bands: Sequence[int]) -> list[int]:
        """The stored stories holding one of `bands`, most shared bands first, then newest;
        made once per article (the postings do not change during a batch)."""
        memo = tuple(bands)
        ranked = self._ranked_hits.get(memo)
        if ranked is None:
            postings = self.postings
            held = np.fromiter(
                chain.from_iterable(postings[key] for key in bands if key in postings),
                dtype=np.int64,
            )
            stories, counts = np.unique(held, return_counts=True)
            ranked = stories[np.lexsort((-stories, -counts))].tolist()
            self._ranked_hits[memo] = ranked
        return ranked

    def likely(self, bands: Sequence[int]) -> list[int]:
        """The stories an article will most likely verify (its best ones, dates unknown)."""
        return self._hits(bands)[: CANDIDATE_STORIES + _SPARE]

    def ranked(self, bands: Sequence[int], since: datetime) -> Ranking | None:
        """The stored stories an article verifies: most shared bands first, then newest,
        among those first reported since `since`; None when a date must be read first (the
        stories it needs are then in `undated`)."""
        top: list[int] = []
        hits = self._hits(bands)
        for index, story in enumerate(hits):
            at = self.published.get(story) or self.dates.get(story, _UNKNOWN)
            if at is _UNKNOWN:
                ahead = hits[index : index + CANDIDATE_STORIES + _SPARE]
                self.undated.update(s for s in ahead if s not in self.dates)
                return None
            if at is not None and at >= since:
                top.append(story)
                if len(top) == CANDIDATE_STORIES:
                    break
        return Ranking(top, since)

    def stale(self, ranking: Ranking) -> bool:
        """True when a merge since `ranking` moved the date of a story it took back before its
        window (dates only move back, so a story it left out cannot come in)."""
        return any(
            story in self.published and self.published[story] < ranking.since
            for story in ranking.stories
        )

    def missing(self, stories: Iterable[int]) -> set[int]:
        """Which of these stored stories' reports are not loaded yet."""
        return {story for story in stories if story not in self.reports}

    def load(self, reports: Mapping[int, StoredReports | None]) -> None:
        """Take the reports read for some stories (None: a story with no items)."""
        self.reports.update(reports)

    def candidates(self, ranked: Sequence[int], bands: Sequence[int]) -> list[dedup.Candidate]:
        """The reports an article is verified against: the ranked stories', by story and item
        id, then those of the batch's stories sharing a band, by story.

        The order only settles exact ties of margin between two stories (the first wins);
        the former query left it to the database, this one is the same on every engine. A
        ranked story never loaded (it has no items) gives no report.
        """
        found = []
        for story in sorted(ranked):
            stored = self.reports.get(story)
            if stored is None:
                continue
            latest = (stored.latest + self.added.get(story, []))[-ITEMS_PER_CANDIDATE:]
            if all(report.order != stored.first.order for report in latest):
                found.append(stored.first.candidate)
            found.extend(report.candidate for report in latest)
        near = {story for key in bands for story in self.stories_by_band.get(key, ())}
        found.extend(report for story in sorted(near) for report in self.batch_reports[story])
        return found

    def assign(self, item: Prepared, ranked: Sequence[int]) -> tuple[int, bool]:
        """The story the article joins (a provisional id when new) and whether it is new."""
        article = item.article
        signature = dedup.Signature.from_bytes(item.signature)
        story = dedup.choose_story(
            article.title,
            article.text,
            signature,
            self.source,
            article.published_at,
            self.candidates(ranked, item.bands),
            window=self.window,
        )
        created = story is None
        if story is None:
            story = NEW_STORY + self.new_stories
            self.new_stories += 1
        elif story < NEW_STORY:
            at = self.published.get(story) or self.dates.get(story)
            if at is not None and article.published_at < at:
                self.published[story] = article.published_at
        report = dedup.Candidate(story, signature, self.source, article.title, article.published_at)
        self._order += 1
        if story < NEW_STORY:
            self.added.setdefault(story, []).append(Report(-self._order, report))
        self.batch_reports.setdefault(story, []).append(report)
        for key in item.bands:
            self.stories_by_band.setdefault(key, set()).add(story)
        return story, created
