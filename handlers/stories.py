"""/latest and /topic: reading stories."""

from __future__ import annotations

from datetime import timedelta

from telegram import Update

from bot import args, formatting
from bot.context import BotContext
from bot.store import chats, stories
from handlers.common import reply, where


async def _prefs_zone(context: BotContext, chat_id: int) -> tuple[str, frozenset[str]]:
    async with context.deps.sessions() as session:
        prefs = await chats.get_prefs(session, chat_id)
    return (prefs.timezone, prefs.languages) if prefs else ("UTC", frozenset())


async def latest(update: Update, context: BotContext) -> None:
    """The N newest stories (default 5, 1 to 20), newest first."""
    count = args.parse_count(list(context.args or []))
    place = where(update)
    tz, languages = await _prefs_zone(context, place.chat_id)
    async with context.deps.sessions() as session:
        found = await stories.latest(session, count, languages=languages, items=True)
    heading = f"Latest {len(found)} stories" if len(found) != 1 else "Latest story"
    for text in formatting.render_story_list(
        found, tz=tz, topics=context.deps.topic_map, now=context.deps.clock(), heading=heading
    ):
        await reply(update, text)


async def topic(update: Update, context: BotContext) -> None:
    """Without a name: topics with 24 h counts. With one: that topic's newest, or a search."""
    deps = context.deps
    query = args.parse_query(list(context.args or []))
    place = where(update)
    tz, _ = await _prefs_zone(context, place.chat_id)
    if not query:
        async with deps.sessions() as session:
            counts = await stories.topic_counts(session, deps.clock() - timedelta(hours=24))
        rows = [(t, counts.get(t.key, 0)) for t in deps.topics.topics]
        await reply(update, formatting.render_topic_counts(rows))
        return
    found_topic = deps.topics.resolve(query)
    if found_topic is not None:
        await show_topic(update, context, found_topic.key)
        return
    async with deps.sessions() as session:
        found = await stories.search(session, query, 10)
    heading = f"Stories matching “{query}”"
    for text in formatting.render_story_list(
        found, tz=tz, topics=deps.topic_map, now=deps.clock(), heading=heading
    ):
        await reply(update, text)


async def show_topic(update: Update, context: BotContext, key: str) -> None:
    """The newest stories on one topic, in the chat's time zone."""
    deps = context.deps
    tz, _ = await _prefs_zone(context, where(update).chat_id)
    async with deps.sessions() as session:
        found = await stories.latest(session, 10, topic=key, items=True)
    heading = f"Latest on {deps.topic_map[key].label}"
    for text in formatting.render_story_list(
        found, tz=tz, topics=deps.topic_map, now=deps.clock(), heading=heading
    ):
        await reply(update, text)
