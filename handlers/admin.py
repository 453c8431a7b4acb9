"""Operator commands, only for ADMIN_IDS: /stats, /addsource, /removesource, /health."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from telegram import Update

from bot import args, feeds, replies
from bot.context import BotContext
from bot.errors import SourceError, UserError
from bot.fetch import FetchStatus, fetch_url
from bot.formatting import escape
from bot.models import Source
from bot.netguard import check_public_url
from bot.store import chats, outbox, sources, stories
from handlers.common import command_text, reply


async def stats(update: Update, context: BotContext) -> None:
    """Chats, follows, stories, sources, deliveries in the last 24 h, queue depth."""
    deps = context.deps
    since = deps.clock() - timedelta(hours=24)
    async with deps.sessions() as session:
        active_chats, follows = await chats.count_chats(session)
        story_count = await stories.count_stories(session)
        new_stories = await stories.count_stories(session, since)
        source_count = len(await sources.list_sources(session))
        sent = await outbox.sent_since(session, since)
        depth = await outbox.depth(session)
    values: dict[str, int | str] = {
        "active chats": active_chats,
        "follows": follows,
        "stories": story_count,
        "stories (24 h)": new_stories,
        "sources": source_count,
        "alerts sent (24 h)": sent,
        "queue depth": depth.get("queued", 0) + depth.get("sending", 0),
        "held (quiet hours)": depth.get("held", 0),
        "waiting for digest": depth.get("digest", 0),
        "failed": depth.get("failed", 0),
    }
    await reply(update, replies.stats(values))


async def health(update: Update, context: BotContext) -> None:
    """A one-message health check: database, sources failing, queue, counters."""
    deps = context.deps
    async with deps.sessions() as session:
        states = await sources.list_sources(session)
        depth = await outbox.depth(session)
    failing = [s.source.name for s in states if s.consecutive_failures]
    values: dict[str, int | str] = {
        "database": "ok",
        "sources failing": f"{len(failing)} of {len(states)}"
        + (f" ({', '.join(failing[:5])})" if failing else ""),
        "queue depth": depth.get("queued", 0),
        "fetch passes": deps.counters.get("fetch_passes", 0),
        "alerts sent (this process)": deps.counters.get("delivery_sent", 0),
    }
    await reply(update, replies.stats(values, title="Health"))


async def add_source(update: Update, context: BotContext) -> None:
    """Add a feed after fetching it once; private addresses are refused unless allowed."""
    url, name = args.parse_source(command_text(update).split())
    deps = context.deps
    guard = None if deps.settings.allow_private_sources else check_public_url
    result = await fetch_url(deps.http, url, guard=guard, max_bytes=deps.settings.max_feed_bytes)
    if result.status is not FetchStatus.OK or not result.body:
        raise UserError(f"I could not fetch that feed: {result.error or 'empty answer'}.")
    try:
        parsed = feeds.parse_feed(result.body, base_url=url, content_type=result.content_type)
    except SourceError as exc:
        raise UserError(f"That address is not a feed I can read: {exc}.") from None
    name = name or parsed.title or urlsplit(url).hostname or url
    async with deps.sessions() as session, session.begin():
        source = Source(name=name[:80], url=url)
        if not await sources.add_source(session, source, deps.clock(), fetched=True):
            raise UserError("A source with that name or address exists already.", "/sources")
    await reply(update, replies.source_added(source.name, len(parsed.entries)))


async def remove_source(update: Update, context: BotContext) -> None:
    """Stop polling a source by name (its stories stay)."""
    name = args.parse_query(list(context.args or []), command="/removesource")
    if not name:
        raise UserError("Name the source to remove.", "/removesource Example Outlet")
    async with context.deps.sessions() as session, session.begin():
        removed = await sources.remove_source(session, name)
    if not removed:
        raise UserError(f"No source called {name!r}; /sources lists them.", "/sources")
    await reply(update, f"➖ Stopped polling <b>{escape(name)}</b>.")
