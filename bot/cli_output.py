"""The command line's one-shot commands: fetch, sources check, stories.

Results go to stdout (stories, alerts, the JSON array, one line per source), progress and
failures to stderr, so `conflictbot stories --json | jq` and `conflictbot fetch > log` work.
On a terminal the progress is a bar; otherwise it is one plain line per source fetched, so
a captured run still shows what happened.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from bot import formatting
from bot.app import close_deps, open_deps
from bot.config import Settings
from bot.errors import ConfigError, SourceError
from bot.fetch import FetchRequest, FetchResult, FetchStatus, fetch_many
from bot.intake import parse_body
from bot.models import Source, Story
from bot.pipeline import CLAIM_LEASE, run_fetch_pass
from bot.store import sources, stories
from bot.telegram_html import html_to_plain
from bot.topics import TopicIndex

_FETCHED = {
    FetchStatus.OK: "fetched",
    FetchStatus.NOT_MODIFIED: "not modified",
    FetchStatus.ERROR: "failed",
}
"""What a progress line says of a response: "fetched", not "ok", since a fetched feed may
still fail to parse, as the lines after the pass then say."""


@contextmanager
def _progress(
    console: Console, sources: tuple[Source, ...]
) -> Iterator[Callable[[FetchResult], None]]:
    """A callback to call as each source is fetched: a bar on a terminal, lines otherwise."""
    names = {source.url: source.name for source in sources}
    total = len(sources)
    if not console.is_terminal:
        done = 0

        def line(result: FetchResult) -> None:
            nonlocal done
            done += 1
            name = names.get(result.url, result.url)
            said = _FETCHED.get(result.status, result.status.value)
            console.print(f"[{done}/{total}] {name}: {said}", highlight=False)

        yield line
        return
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=True,
    )
    with bar:
        task = bar.add_task("fetching", total=total)
        yield lambda result: bar.advance(task)


async def fetch_once(settings: Settings) -> int:
    """One pass over every source with progress on stderr; the new stories on stdout.

    Outages are reported here but left unannounced, so the running bot still tells the
    admins about them once. Exits 1 when a source was fetched but could not be stored.
    """
    console = Console(stderr=True, soft_wrap=True)  # a captured line is never cut at 80
    deps = await open_deps(settings)
    try:
        with _progress(console, deps.sources) as advance:
            report = await run_fetch_pass(
                deps, force=True, on_fetched=advance, notify_outages=False
            )
        async with deps.sessions() as session:
            new = await stories.get_stories(session, report.new_story_ids)
        for story_id in report.new_story_ids:
            if story_id in new:
                alert = formatting.render_alert(new[story_id], tz="UTC", topics=deps.topic_map)
                print(html_to_plain(alert), end="\n\n")
        for source in report.sources:
            if source.status == "error":
                console.print(f"✗ {source.name}: {source.error}", highlight=False, markup=False)
            elif source.warning:
                console.print(f"! {source.name}: {source.warning}", highlight=False, markup=False)
        print(report.summary_line())
        if report.busy:
            console.print(
                f"{_sources(report.busy)} skipped: another fetch pass holds them (the running "
                f"bot or another fetch); they are free again when it ends, within "
                f"{CLAIM_LEASE.seconds // 60} minutes at most",
                highlight=False,
                markup=False,
            )
        unstored = deps.counters["pipeline_source_crash"]
    finally:
        await close_deps(deps)
    if unstored:
        # Not the outlets' fault (their failures exit 0): the bot could not keep what it
        # fetched, typically a full disk or an unusable database, and the operator must act.
        print(
            f"conflictbot: {_sources(unstored)} fetched but could not be stored (the error is "
            "logged above); nothing of them was kept, so the next fetch takes them again",
            file=sys.stderr,
        )
        return 1
    return 0


def _sources(count: int) -> str:
    return "1 source was" if count == 1 else f"{count} sources were"


def _health(source: Source, result: FetchResult) -> tuple[bool, str]:
    """Whether one fetched source is usable, and what to say about it (the pass's rules)."""
    if result.status is FetchStatus.ERROR:
        return False, result.error or "failed"
    if result.body is None:
        return True, "an empty answer (no items yet)"
    try:
        parsed = parse_body(source, result.body, result.content_type)
    except SourceError as exc:
        return False, str(exc)
    detail = f"{len(parsed.entries)} items"
    if parsed.warning:
        detail += f" (flawed, entries kept: {parsed.warning})"
    return True, detail


async def check_sources(settings: Settings) -> int:
    """Fetch each source once and report its health; exit 1 when any failed."""
    deps = await open_deps(settings)
    try:
        async with deps.sessions() as session:
            states = await sources.list_sources(session)
        requests = [
            FetchRequest(url=state.source.url, max_bytes=settings.max_feed_bytes)
            for state in states
        ]
        results = await fetch_many(deps.http, requests, concurrency=settings.fetch_concurrency)
        checks = [
            await asyncio.to_thread(_health, state.source, result)
            for state, result in zip(states, results, strict=True)
        ]
    finally:
        await close_deps(deps)
    width = max((len(state.source.name) for state in states), default=0)
    for state, result, (healthy, detail) in zip(states, results, checks, strict=True):
        mark = "ok  " if healthy else "FAIL"
        print(f"{mark} {state.source.name:<{width}}  {result.elapsed_s:5.1f}s  {detail}")
    failed = sum(1 for healthy, _ in checks if not healthy)
    print(f"{len(states) - failed} ok, {failed} failed")
    return 1 if failed else 0


def story_json(story: Story) -> dict[str, Any]:
    """PRODUCT.md's JSON shape for one story; times in ISO 8601, UTC."""
    return {
        "id": story.id,
        "headline": story.headline,
        "summary": story.summary,
        "topics": sorted(story.topics),
        "first_seen": story.first_seen_at.isoformat(),
        "items": [
            {
                "source": item.source,
                "url": item.url,
                "title": item.title,
                "published": item.published_at.isoformat(),
            }
            for item in story.items
        ],
    }


def resolve_topic(topics: TopicIndex, name: str, *, shown: int = 8) -> str:
    """The key of the topic `name` (a key, label or alias), or a ConfigError listing some keys."""
    found = topics.resolve(name)
    if found is not None:
        return found.key
    keys = [topic.key for topic in topics.topics]
    listed = ", ".join(keys[:shown]) + (
        f" and {len(keys) - shown} more" if len(keys) > shown else ""
    )
    raise ConfigError(f"unknown topic {name!r}; topics are: {listed or 'none'} (see TOPICS_FILE)")


async def print_stories(
    settings: Settings, *, since: timedelta, topic: str | None, as_json: bool, limit: int
) -> int:
    """The stored stories, newest first, as text or one JSON array.

    `topic` may be a key, a label or an alias, as in the chat's /topic. One that is none of
    these is an error: printing no stories would look like a quiet day, not a typo.
    """
    deps = await open_deps(settings, sync_sources=False)
    try:
        key = None
        if topic is not None:
            key = resolve_topic(deps.topics, topic)
        async with deps.sessions() as session:
            listed = await stories.latest(
                session, limit, topic=key, since=deps.clock() - since, items=True
            )
    finally:
        await close_deps(deps)
    if as_json:
        json.dump([story_json(story) for story in listed], sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    if not listed:
        print("No stories" + (f" on {topic}" if topic else "") + " in that time.")
    for story in listed:
        print(f"#{story.id} {story.headline}")
        print(f"  {story.summary}")
        print(
            f"  topics: {', '.join(sorted(story.topics)) or '-'}"
            f"  first seen {story.first_seen_at:%Y-%m-%d %H:%M} UTC"
        )
        for item in story.items:
            print(
                f"  - {item.source}: {item.title} <{item.url}> ({item.published_at:%Y-%m-%d %H:%M})"
            )
        print()
    return 0
