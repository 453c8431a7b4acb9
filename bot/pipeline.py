"""One fetch pass: claim due sources, fetch them concurrently, run the core off the event loop,
store per source in one transaction, and queue alerts for the chats that follow.

Composed of small steps; the core (parse, normalise, sign, tag, summarise) is pure and runs in
a worker thread, the shell here only moves values between HTTP, the core and the database.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from bot import dedup, extract, feeds, normalise, summariser, timing
from bot.context import Deps
from bot.errors import SourceError
from bot.fetch import FetchRequest, FetchResult, FetchStatus, fetch_many, fetch_url
from bot.models import Article, Source
from bot.store import outbox, sources, stories
from bot.store.sources import SourceState
from bot.store.stories import Outcome, Prepared
from bot.topics import TopicIndex, compile_keywords

log = logging.getLogger(__name__)

CLAIM_LEASE = timedelta(minutes=5)
FULL_TEXT_CONCURRENCY = 4
MAX_ITEMS_PER_SOURCE = 500


@dataclass(slots=True)
class SourceReport:
    """What one source gave in this pass."""

    name: str
    status: str
    error: str | None = None
    new_items: int = 0
    new_stories: int = 0
    merged: int = 0
    queued: int = 0
    story_ids: list[int] = field(default_factory=list)
    backlog: bool = False
    outage: bool = False


@dataclass(slots=True)
class PassReport:
    """One fetch pass, summed up for the log line, the CLI and the admins."""

    sources: list[SourceReport] = field(default_factory=list)
    duration_s: float = 0.0

    @property
    def new_story_ids(self) -> list[int]:
        return [story_id for report in self.sources for story_id in report.story_ids]

    def count(self, status: str) -> int:
        return sum(1 for report in self.sources if report.status == status)

    @property
    def new_items(self) -> int:
        return sum(report.new_items for report in self.sources)

    @property
    def new_stories(self) -> int:
        return sum(report.new_stories for report in self.sources)

    @property
    def merged(self) -> int:
        return sum(report.merged for report in self.sources)

    @property
    def queued(self) -> int:
        return sum(report.queued for report in self.sources)

    def summary_line(self) -> str:
        return (
            f"fetch pass: sources ok={self.count('ok')} failed={self.count('error')} "
            f"not_modified={self.count('not_modified')} new_items={self.new_items} "
            f"new_stories={self.new_stories} merged={self.merged} queued={self.queued} "
            f"in {self.duration_s:.1f}s"
        )


def parse_articles(
    source: Source, body: bytes, content_type: str | None, now: datetime
) -> list[Article]:
    """Bytes of one response -> normalised articles (pure; runs in a worker thread)."""
    parsed = feeds.parse_feed(
        body, kind=source.kind, base_url=source.url, content_type=content_type
    )
    articles = []
    for entry in parsed.entries[:MAX_ITEMS_PER_SOURCE]:
        article = normalise.normalise_entry(entry, source, now=now)
        if article is not None:
            articles.append(article)
    return articles


def prepare(articles: Sequence[Article], topics: TopicIndex) -> list[Prepared]:
    """Sign, tag and summarise new articles (pure; runs in a worker thread)."""
    prepared = []
    for article in articles:
        signature = dedup.signature(article.title, article.text, article.language)
        prepared.append(
            Prepared(
                article=article,
                signature=signature.to_bytes(),
                bands=tuple(dedup.band_keys(signature)),
                topics=topics.match(f"{article.title}\n{article.text}"),
                summary=summariser.summarise(
                    article.title, [article.text], language=article.language
                ),
            )
        )
    return prepared


async def _new_only(deps: Deps, state: SourceState, articles: list[Article]) -> list[Article]:
    """Drop articles already stored, before the costlier steps (and dedupe within the batch)."""
    fresh: list[Article] = []
    seen: set[str] = set()
    async with deps.sessions() as session:
        for article in articles:
            keys = {article.url, article.guid, article.content_hash}
            if keys & seen:
                continue
            seen |= keys
            if not await stories.is_known(session, state.id, article):
                fresh.append(article)
    return fresh


async def _with_full_text(deps: Deps, articles: list[Article]) -> list[Article]:
    """Replace each article's text by its page's main text, where the page gives more."""
    limit = asyncio.Semaphore(FULL_TEXT_CONCURRENCY)

    async def one(article: Article) -> Article:
        async with limit:
            result = await fetch_url(deps.http, article.url, max_bytes=deps.settings.max_page_bytes)
        if result.status is not FetchStatus.OK or not result.body:
            return article
        text = await asyncio.to_thread(extract.extract_main_text, result.body, article.url)
        if len(text) <= len(article.text):
            return article
        return replace(article, text=text)

    return list(await asyncio.gather(*(one(article) for article in articles)))


async def _store(
    deps: Deps,
    state: SourceState,
    result: FetchResult,
    prepared: list[Prepared],
    report: SourceReport,
    now: datetime,
) -> None:
    """Store one source's new articles and queue alerts, in one transaction."""
    backlog = not state.first_fetch_done
    report.backlog = backlog
    window = deps.settings.dedup_window_hours
    async with deps.sessions() as session, session.begin():
        follows = [] if backlog else await outbox.keyword_follows(session)
        rules = _keyword_rules(follows)
        for item in prepared:
            stored = await stories.store_article(
                session,
                state.id,
                state.source.name,
                item,
                now=now,
                window_hours=window,
                breaking=state.source.breaking,
            )
            if stored.outcome is Outcome.DUPLICATE or stored.story_id is None:
                continue
            report.new_items += 1
            if stored.outcome is Outcome.MERGED:
                report.merged += 1
                await outbox.flag_edits(
                    session, stored.story_id, since=now - timedelta(hours=6), outlets=stored.outlets
                )
                continue
            report.new_stories += 1
            report.story_ids.append(stored.story_id)
            if backlog:
                continue
            text = f"{item.article.title}\n{item.article.text}"
            targets, excluded = _keyword_targets(rules, text)
            breaking = state.source.breaking or any(
                deps.topic_map[key].breaking for key in item.topics if key in deps.topic_map
            )
            report.queued += await outbox.queue_story(
                session,
                stored.story_id,
                topics=item.topics,
                language=item.article.language,
                now=now,
                priority=1 if breaking else 0,
                keyword_targets=targets,
                excluded=excluded,
            )
        await sources.record_success(
            session,
            state.id,
            now=now,
            next_fetch_at=timing.next_fetch_at(now, deps.settings.fetch_interval, 0),
            etag=result.etag,
            last_modified=result.last_modified,
            body_hash=result.body_hash,
        )


KeywordRules = dict[tuple[int, int], tuple[list[str], list[str]]]


def _keyword_rules(follows: Sequence[outbox.KeywordFollow]) -> KeywordRules:
    rules: KeywordRules = {}
    for follow in follows:
        words, excludes = rules.setdefault((follow.chat_id, follow.thread_id), ([], []))
        (words if follow.kind == "keyword" else excludes).append(follow.value)
    return rules


def _keyword_targets(
    rules: KeywordRules, text: str
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Which chat threads want this text for a keyword, and which exclude it."""
    targets, excluded = [], []
    for target, (words, excludes) in rules.items():
        if excludes and compile_keywords(excludes).matches(text):
            excluded.append(target)
        elif words and compile_keywords(words).matches(text):
            targets.append(target)
    return targets, excluded


async def _process(
    deps: Deps, state: SourceState, result: FetchResult, now: datetime
) -> SourceReport:
    """Everything after the fetch for one source; failures become the report, never raise."""
    report = SourceReport(name=state.source.name, status=result.status.value)
    interval = deps.settings.fetch_interval
    if result.status is FetchStatus.ERROR:
        return await _fail(deps, state, report, result.error or "unknown error", now)
    if result.status is FetchStatus.NOT_MODIFIED:
        async with deps.sessions() as session, session.begin():
            await sources.record_success(
                session,
                state.id,
                now=now,
                next_fetch_at=timing.next_fetch_at(now, interval, 0),
                etag=result.etag or state.etag,
                last_modified=result.last_modified or state.last_modified,
                body_hash=state.body_hash,
            )
        return report
    try:
        articles = await asyncio.to_thread(
            parse_articles, state.source, result.body or b"", result.content_type, now
        )
    except SourceError as exc:
        return await _fail(deps, state, report, str(exc), now)
    fresh = await _new_only(deps, state, articles)
    if fresh and state.source.full_text:
        fresh = await _with_full_text(deps, fresh)
    prepared = await asyncio.to_thread(prepare, fresh, deps.topics)
    await _store(deps, state, result, prepared, report, now)
    return report


async def _fail(
    deps: Deps, state: SourceState, report: SourceReport, error: str, now: datetime
) -> SourceReport:
    failures = state.consecutive_failures + 1
    report.status, report.error = "error", error
    report.outage = timing.is_outage(failures) and not state.outage_notified
    async with deps.sessions() as session, session.begin():
        await sources.record_failure(
            session,
            state.id,
            error=error,
            failures=failures,
            next_fetch_at=timing.next_fetch_at(now, deps.settings.fetch_interval, failures),
        )
        if report.outage:
            await sources.mark_outage_notified(session, state.id)
    log.warning("source %s failed (%d in a row): %s", state.source.name, failures, error)
    return report


async def run_fetch_pass(
    deps: Deps, *, force: bool = False, on_fetched: Callable[[FetchResult], None] | None = None
) -> PassReport:
    """Fetch every due source once and store what is new; returns what happened."""
    started = time.monotonic()
    now = deps.clock()
    report = PassReport()
    async with deps.sessions() as session, session.begin():
        states = await sources.claim_due_sources(session, now, lease=CLAIM_LEASE, force=force)
    if not states:
        return report
    requests = [
        FetchRequest(
            url=state.source.url,
            etag=state.etag,
            last_modified=state.last_modified,
            previous_hash=state.body_hash,
            max_bytes=deps.settings.max_feed_bytes,
        )
        for state in states
    ]
    results = await fetch_many(
        deps.http, requests, concurrency=deps.settings.fetch_concurrency, on_done=on_fetched
    )
    for state, result in zip(states, results, strict=True):
        try:
            source_report = await _process(deps, state, result, now)
        except Exception as exc:  # the per-source boundary: one source never stops the others
            log.exception("source %s could not be processed", state.source.name)
            deps.counters["pipeline_source_crash"] += 1
            source_report = await _fail(
                deps,
                state,
                SourceReport(state.source.name, "error"),
                f"internal error: {type(exc).__name__}",
                now,
            )
        report.sources.append(source_report)
    report.duration_s = time.monotonic() - started
    log.info("%s", report.summary_line())
    deps.counters["fetch_passes"] += 1
    return report
