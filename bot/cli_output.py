"""The command line's one-shot commands: fetch, sources check, stories."""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from bot import formatting
from bot.app import close_deps, open_deps
from bot.config import Settings
from bot.fetch import FetchRequest, FetchResult, fetch_many
from bot.models import Story
from bot.pipeline import run_fetch_pass
from bot.store import sources, stories
from bot.telegram_rules import html_to_plain


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=True,
    )


async def fetch_once(settings: Settings) -> int:
    """One pass over every source with a progress bar; prints the new stories."""
    console = Console(stderr=True)
    deps = await open_deps(settings)
    try:
        with _progress(console) as progress:
            task = progress.add_task("fetching", total=len(deps.sources))

            def advance(result: FetchResult) -> None:
                progress.advance(task)

            report = await run_fetch_pass(deps, force=True, on_fetched=advance)
        async with deps.sessions() as session:
            new = await stories.get_stories(session, report.new_story_ids)
        for story_id in report.new_story_ids:
            if story_id in new:
                print(
                    html_to_plain(
                        formatting.render_alert(new[story_id], tz="UTC", topics=deps.topic_map)
                    )
                )
                print()
        for source in report.sources:
            if source.status == "error":
                console.print(f"[red]✗[/red] {source.name}: {source.error}")
        print(report.summary_line())
    finally:
        await close_deps(deps)
    return 0


async def check_sources(settings: Settings) -> int:
    """Fetch each source once and report its health; exit 1 when any failed."""
    from bot import feeds
    from bot.errors import SourceError

    deps = await open_deps(settings)
    failed = 0
    try:
        async with deps.sessions() as session:
            states = await sources.list_sources(session)
        results = await fetch_many(deps.http, [FetchRequest(url=s.source.url) for s in states])
        for state, result in zip(states, results, strict=True):
            detail = result.error or ""
            if result.body is not None and not detail:
                try:
                    parsed = feeds.parse_feed(
                        result.body, kind=state.source.kind, base_url=state.source.url
                    )
                    detail = f"{len(parsed.entries)} items"
                except SourceError as exc:
                    detail = f"not a feed: {exc}"
                    failed += 1
            elif result.error:
                failed += 1
            mark = "ok " if not result.error and not detail.startswith("not a feed") else "ERR"
            print(f"{mark} {state.source.name:<32} {result.elapsed_s:5.1f}s  {detail}")
    finally:
        await close_deps(deps)
    print(f"{len(states) - failed} ok, {failed} failed")
    return 1 if failed else 0


def story_json(story: Story) -> dict[str, Any]:
    """PRODUCT.md's JSON shape for one story."""
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


async def print_stories(
    settings: Settings, *, since: timedelta, topic: str | None, as_json: bool, limit: int
) -> int:
    """The stored stories, newest first, as text or one JSON array."""
    deps = await open_deps(settings)
    try:
        key = None
        if topic is not None:
            found = deps.topics.resolve(topic)
            key = found.key if found else topic
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
