"""One fetch pass: claim due sources, fetch them concurrently, run the core off the event loop,
store per source in one transaction, and queue alerts for the chats that follow.

Composed of small steps; the core (`bot.intake`: parse, normalise, sign, tag, summarise) is
pure and runs in a worker thread, the shell here only moves values between HTTP, the core and
the database (`bot.store.items` stores a source's new articles in a few bulk statements).
Each source is stored as soon as its own fetch ends, so a source that hangs until its
deadline delays nobody else's stories; stores run one at a time, so two outlets' reports of
one event fetched in the same pass still meet in one story.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy.exc import DBAPIError

from bot import extract, timing
from bot.assignment import Prepared
from bot.context import Deps
from bot.errors import SourceError
from bot.fetch import DEFAULT_TOTAL_TIMEOUT, FetchResult, FetchStatus, fetch_url
from bot.intake import (
    ParsedBody,
    Rules,
    Target,
    compile_rules,
    keyword_targets,
    normalise_entries,
    parse_body,
    prepare,
)
from bot.models import Article
from bot.store import items, outbox, sources
from bot.store.chats import FollowKind
from bot.store.items import Outcome
from bot.store.sources import SourceState

log = logging.getLogger(__name__)

CLAIM_LEASE = timedelta(minutes=5)
FULL_TEXT_CONCURRENCY = 4


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
    busy: int = 0
    """Sources skipped because another pass holds them (counted for forced passes only)."""

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
class _Pass:
    """What every source of one pass shares."""

    deps: Deps
    now: datetime
    rules: Rules
    notify_outages: bool
    muted: Mapping[str, tuple[Target, ...]] = field(default_factory=dict)
    """Topic key -> the chat threads that muted it."""


async def _fresh_articles(
    deps: Deps, state: SourceState, parsed: ParsedBody, now: datetime
) -> list[Article]:
    """The articles no stored item repeats, each once: keys are checked per batch, URLs and
    GUIDs before normalising (most of a feed is known), content hashes after."""
    async with deps.sessions() as session:
        known = await items.known_keys(
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
        known = await items.known_keys(
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
    if deps.bands is None:
        deps.bands = items.new_index(deps.settings.dedup_window_hours)
    async with deps.sessions() as session, session.begin():
        results = await items.store_articles(
            session,
            state.id,
            state.source.name,
            prepared,
            now=now,
            window_hours=deps.settings.dedup_window_hours,
            breaking=state.source.breaking,
            index=deps.bands,
        )
        started = {stored.story_id for stored in results if stored.outcome is Outcome.NEW_STORY}
        joined: dict[int, int] = {}
        new: list[outbox.NewStory] = []
        for item, stored in zip(prepared, results, strict=True):
            if stored.outcome is Outcome.DUPLICATE or stored.story_id is None:
                continue
            report.new_items += 1
            if stored.outcome is Outcome.MERGED:
                report.merged += 1
                if stored.story_id not in started:
                    joined[stored.story_id] = stored.outlets
                continue
            report.new_stories += 1
            report.story_ids.append(stored.story_id)
            if not backlog:
                new.append(_new_story(run, state, item, stored.story_id))
        report.queued += await outbox.queue_stories(session, new, now)
        # Once per story joined: its reports of this batch share one source, so one outlet
        # count; a story this batch started has sent nothing yet.
        await outbox.flag_edits(session, joined, since=now - timedelta(hours=6))
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


def _new_story(run: _Pass, state: SourceState, item: Prepared, story_id: int) -> outbox.NewStory:
    """A new story to queue for the chats following its topics, `all`, or one of its words."""
    targets, excluded = keyword_targets(run.rules, item.article)
    excluded += [target for topic in sorted(item.topics) for target in run.muted.get(topic, ())]
    topic_map = run.deps.topic_map
    breaking = state.source.breaking or any(
        topic_map[key].breaking for key in item.topics if key in topic_map
    )
    return outbox.NewStory(
        story_id,
        item.topics,
        item.article.language,
        priority=1 if breaking else 0,
        keyword_targets=tuple(targets),
        excluded=tuple(excluded),
    )


async def _keyword_rules(deps: Deps) -> tuple[Rules, dict[str, tuple[Target, ...]]]:
    """Every chat thread's own words and exclusions, compiled once per pass, and the chat
    threads that muted each topic."""
    async with deps.sessions() as session:
        follows = await outbox.keyword_follows(session)
    muted: dict[str, list[Target]] = {}
    for f in follows:
        if f.kind == FollowKind.MUTE:
            muted.setdefault(f.value, []).append((f.chat_id, f.thread_id))
    rules = compile_rules(
        [((f.chat_id, f.thread_id), f.kind, f.value) for f in follows if f.kind != FollowKind.MUTE]
    )
    return rules, {topic: tuple(targets) for topic, targets in muted.items()}


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


async def _release(deps: Deps, source_ids: list[int], claimed_until: datetime) -> None:
    """Give back the claims of an interrupted pass; a database that is gone too is logged,
    and the lease then runs out by itself."""
    try:
        async with deps.sessions() as session, session.begin():
            await sources.release_claims(session, source_ids, claimed_until)
    except Exception as exc:
        log.warning("could not release the claims of an interrupted pass: %s", exc)


def _first_line(error: BaseException) -> str:
    """An error's own words, first line only (a database error's SQL stays out of reports)."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


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
        if force:
            report.busy = await sources.count_claimed(session, now) - len(states)
    if not states:
        return report
    rules, muted = await _keyword_rules(deps)
    run = _Pass(deps, now, rules, notify_outages, muted)
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
            deps.counters["pipeline_source_crash"] += 1
            failed = SourceReport(state.source.name, "error")
            if isinstance(exc, DBAPIError):
                error = f"database error: {_first_line(exc.orig or exc)}"
                log.warning("source %s could not be stored: %s", state.source.name, error)
            else:
                error = f"internal error: {type(exc).__name__}"
                log.exception("source %s could not be processed", state.source.name)
            try:
                return await _fail(run, state, failed, error)
            except Exception as again:  # the database is still away: report, record nothing
                log.warning("could not record the failure of %s: %s", state.source.name, again)
                failed.error = error
                return failed

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(state)) for state in states]
    except BaseException:
        # Interrupted (Ctrl-C, shutdown): the next pass takes the unfinished sources at once.
        # A finished source's claim is already gone, so all of them can be named.
        await _release(deps, [state.id for state in states], now + CLAIM_LEASE)
        raise
    report.sources = [task.result() for task in tasks]
    report.duration_s = time.monotonic() - started
    log.info("%s", report.summary_line())
    deps.counters["fetch_passes"] += 1
    return report
