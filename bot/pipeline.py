"""One fetch pass: claim due sources, fetch them concurrently, run the core off the event loop,
store per source in one transaction, and queue alerts for the chats that follow.

Composed of small steps; the core (parse, normalise, sign, tag, summarise) is pure and runs in
a worker thread, the shell here only moves values between HTTP, the core and the database.
Each source is stored as soon as its own fetch ends, so a source that hangs until its
deadline delays nobody else's stories; stores run one at a time, so two outlets' reports of
one event fetched in the same pass still meet in one story.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot import dedup, extract, feeds, normalise, summariser, timing
from bot.context import Deps
from bot.errors import SourceError
from bot.fetch import DEFAULT_TOTAL_TIMEOUT, FetchResult, FetchStatus, fetch_url
from bot.models import Article, Entry, Source
from bot.store import outbox, sources, stories
from bot.store.sources import SourceState
from bot.store.stories import Outcome, Prepared
from bot.topics import KeywordMatcher, TopicIndex, compile_keywords

log = logging.getLogger(__name__)

CLAIM_LEASE = timedelta(minutes=5)
FULL_TEXT_CONCURRENCY = 4
MAX_ITEMS_PER_SOURCE = 500


@dataclass(slots=True)
class SourceReport:
    """What one source gave in this pass.

    `warning` is set when the feed was malformed or mis-encoded but still gave entries;
    `outage` when this failure is the one the admins should hear about (once per outage).
    """

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
    warning: str | None = None


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


@dataclass(frozen=True, slots=True)
class ParsedBody:
    """A response's usable entries, with the exact keys that are cheap to know before
    normalising (canonical URL, feed GUID), so known entries skip the costly steps."""

    entries: tuple[Entry, ...]
    keys: tuple[tuple[str, str], ...]
    warning: str | None = None


def parse_body(source: Source, body: bytes, content_type: str | None) -> ParsedBody:
    """Bytes of one response -> entries (pure; runs in a worker thread).

    Entries with neither a title nor a link are dropped. A malformed feed that gives no
    usable entry is an error (feedparser may still hand back an empty shell of one).
    """
    parsed = feeds.parse_feed(
        body, kind=source.kind, base_url=source.url, content_type=content_type
    )
    entries = tuple(
        entry
        for entry in parsed.entries[:MAX_ITEMS_PER_SOURCE]
        if entry.title.strip() or entry.url.strip()
    )
    if not entries and parsed.warning:
        raise SourceError(f"the feed is malformed and no entry could be read: {parsed.warning}")
    keys = tuple(
        (
            normalise.canonical_url(entry.url, base=source.url) if entry.url.strip() else "",
            (entry.guid or "").strip(),
        )
        for entry in entries
    )
    return ParsedBody(entries, keys, parsed.warning)


def normalise_entries(entries: Sequence[Entry], source: Source, now: datetime) -> list[Article]:
    """Entries -> clean articles (pure; runs in a worker thread).

    An article without a link is dropped: an alert needs something to open, and the item
    table's unique URL cannot tell two linkless items apart.
    """
    articles = []
    for entry in entries:
        article = normalise.normalise_entry(entry, source, now=now)
        if article is not None and article.url:
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


Target = tuple[int, int]
"""A chat id and a forum thread id (0 outside forums)."""


@dataclass(frozen=True, slots=True)
class _Pass:
    """What every source of one pass shares."""

    deps: Deps
    now: datetime
    rules: dict[Target, tuple[KeywordMatcher | None, KeywordMatcher | None]]
    notify_outages: bool


async def _fresh_articles(
    deps: Deps, state: SourceState, parsed: ParsedBody, now: datetime
) -> list[Article]:
    """The articles no stored item repeats, each once: keys are checked per batch, URLs and
    GUIDs before normalising (most of a feed is known), content hashes after."""
    async with deps.sessions() as session:
        known = await stories.known_keys(
            session,
            state.id,
            urls=[url for url, _ in parsed.keys],
            guids=[guid for _, guid in parsed.keys],
        )
    unknown = [
        entry
        for entry, (url, guid) in zip(parsed.entries, parsed.keys, strict=True)
        if not known.knows(url, guid)
    ]
    if not unknown:
        return []
    articles = await asyncio.to_thread(normalise_entries, unknown, state.source, now)
    async with deps.sessions() as session:
        known = await stories.known_keys(
            session,
            state.id,
            urls=[a.url for a in articles],
            guids=[a.guid for a in articles],
            hashes=[a.content_hash for a in articles],
        )
    fresh: list[Article] = []
    seen: set[tuple[str, str]] = set()
    for article in articles:
        keys = {("url", article.url), ("guid", article.guid), ("hash", article.content_hash)}
        if keys & seen or known.knows(article.url, article.guid, article.content_hash):
            continue
        seen |= keys
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
    run: _Pass,
    state: SourceState,
    result: FetchResult,
    prepared: list[Prepared],
    report: SourceReport,
    *,
    had_entries: bool,
) -> None:
    """Store one source's new articles and queue alerts, in one transaction.

    The first pass that finds entries in a source is its backlog: stored, alerting nobody.
    """
    deps, now = run.deps, run.now
    backlog = not state.first_fetch_done
    report.backlog = backlog
    async with deps.sessions() as session, session.begin():
        results = await stories.store_articles(
            session,
            state.id,
            state.source.name,
            prepared,
            now=now,
            window_hours=deps.settings.dedup_window_hours,
            breaking=state.source.breaking,
        )
        for item, stored in zip(prepared, results, strict=True):
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
            if not backlog:
                report.queued += await _queue(run, session, state, item, stored.story_id)
        await sources.record_success(
            session,
            state.id,
            now=now,
            next_fetch_at=timing.next_fetch_at(now, deps.settings.fetch_interval, 0),
            etag=result.etag,
            last_modified=result.last_modified,
            body_hash=result.body_hash,
            first_fetch_done=state.first_fetch_done or had_entries,
        )


async def _queue(
    run: _Pass, session: AsyncSession, state: SourceState, item: Prepared, story_id: int
) -> int:
    """Queue a new story for the chats following its topics, `all`, or one of its words."""
    text = f"{item.article.title}\n{item.article.text}"
    targets, excluded = [], []
    for target, (words, excludes) in run.rules.items():
        if excludes is not None and excludes.matches(text):
            excluded.append(target)
        elif words is not None and words.matches(text):
            targets.append(target)
    topic_map = run.deps.topic_map
    breaking = state.source.breaking or any(
        topic_map[key].breaking for key in item.topics if key in topic_map
    )
    return await outbox.queue_story(
        session,
        story_id,
        topics=item.topics,
        language=item.article.language,
        now=run.now,
        priority=1 if breaking else 0,
        keyword_targets=targets,
        excluded=excluded,
    )


async def _keyword_rules(
    deps: Deps,
) -> dict[Target, tuple[KeywordMatcher | None, KeywordMatcher | None]]:
    """Every chat thread's own words and exclusions, compiled once per pass."""
    async with deps.sessions() as session:
        follows = await outbox.keyword_follows(session)
    phrases: dict[Target, tuple[list[str], list[str]]] = {}
    for follow in follows:
        words, excludes = phrases.setdefault((follow.chat_id, follow.thread_id), ([], []))
        (words if follow.kind == "keyword" else excludes).append(follow.value)
    return {
        target: (_matcher(target, words), _matcher(target, excludes))
        for target, (words, excludes) in phrases.items()
    }


def _matcher(target: Target, phrases: list[str]) -> KeywordMatcher | None:
    """A compiled follow list, or None; a stored phrase that cannot match is skipped."""
    usable = []
    for phrase in phrases:
        try:
            compile_keywords([phrase])
        except ValueError:
            log.warning("chat %s: ignoring the follow phrase %r", target, phrase)
            continue
        usable.append(phrase)
    return compile_keywords(usable) if usable else None


async def _process(run: _Pass, state: SourceState, result: FetchResult) -> SourceReport:
    """Everything after the fetch for one source; failures become the report, never raise."""
    deps, now = run.deps, run.now
    report = SourceReport(name=state.source.name, status=result.status.value)
    if result.status is FetchStatus.ERROR:
        return await _fail(run, state, report, result.error or "unknown error")
    if result.status is FetchStatus.NOT_MODIFIED:
        async with deps.sessions() as session, session.begin():
            await sources.record_success(
                session,
                state.id,
                now=now,
                next_fetch_at=timing.next_fetch_at(now, deps.settings.fetch_interval, 0),
                etag=result.etag or state.etag,
                last_modified=result.last_modified or state.last_modified,
                body_hash=state.body_hash,
                first_fetch_done=state.first_fetch_done,
            )
        return report
    try:
        parsed = await asyncio.to_thread(
            parse_body, state.source, result.body or b"", result.content_type
        )
    except SourceError as exc:
        return await _fail(run, state, report, str(exc))
    if parsed.warning:
        report.warning = parsed.warning
        log.warning("source %s sent a flawed feed (entries kept): %s", report.name, parsed.warning)
    fresh = await _fresh_articles(deps, state, parsed, now)
    if fresh and state.source.full_text:
        fresh = await _with_full_text(deps, fresh)
    prepared = await asyncio.to_thread(prepare, fresh, deps.topics) if fresh else []
    await _store(run, state, result, prepared, report, had_entries=bool(parsed.entries))
    return report


async def _fail(run: _Pass, state: SourceState, report: SourceReport, error: str) -> SourceReport:
    """Count a failure and back off; flag the outage once, when it gets long."""
    failures = state.consecutive_failures + 1
    report.status, report.error = "error", error
    report.outage = timing.is_outage(failures) and not state.outage_notified
    async with run.deps.sessions() as session, session.begin():
        await sources.record_failure(
            session,
            state.id,
            error=error,
            failures=failures,
            next_fetch_at=timing.next_fetch_at(run.now, run.deps.settings.fetch_interval, failures),
        )
        if report.outage and run.notify_outages:
            await sources.mark_outage_notified(session, state.id)
    log.warning("source %s failed (%d in a row): %s", state.source.name, failures, error)
    return report


async def run_fetch_pass(
    deps: Deps,
    *,
    force: bool = False,
    on_fetched: Callable[[FetchResult], None] | None = None,
    total_timeout: float = DEFAULT_TOTAL_TIMEOUT,
    notify_outages: bool = True,
) -> PassReport:
    """Fetch every due source once and store what is new; returns what happened.

    `force` takes every active source, due or not (the CLI's one-off pass). `total_timeout`
    is each source's deadline, redirects and body included. `notify_outages=False` is for
    callers that tell no admin (the CLI): a new outage is reported but stays unannounced,
    so the bot's own pass still tells the admins once.
    """
    started = time.monotonic()
    now = deps.clock()
    report = PassReport()
    async with deps.sessions() as session, session.begin():
        states = await sources.claim_due_sources(session, now, lease=CLAIM_LEASE, force=force)
    if not states:
        return report
    run = _Pass(deps, now, await _keyword_rules(deps), notify_outages)
    fetch_slots = asyncio.Semaphore(deps.settings.fetch_concurrency)
    store_turn = asyncio.Lock()

    async def one(state: SourceState) -> SourceReport:
        try:
            async with fetch_slots:
                result = await fetch_url(
                    deps.http,
                    state.source.url,
                    etag=state.etag,
                    last_modified=state.last_modified,
                    previous_hash=state.body_hash,
                    max_bytes=deps.settings.max_feed_bytes,
                    total_timeout=total_timeout,
                )
            if on_fetched is not None:
                on_fetched(result)
            async with store_turn:
                return await _process(run, state, result)
        except Exception as exc:  # the per-source boundary: one source never stops the others
            log.exception("source %s could not be processed", state.source.name)
            deps.counters["pipeline_source_crash"] += 1
            failed = SourceReport(state.source.name, "error")
            return await _fail(run, state, failed, f"internal error: {type(exc).__name__}")

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(one(state)) for state in states]
    report.sources = [task.result() for task in tasks]
    report.duration_s = time.monotonic() - started
    log.info("%s", report.summary_line())
    deps.counters["fetch_passes"] += 1
    return report
