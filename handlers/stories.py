"""/latest and /topic: reading stories (also what the More and Latest buttons show)."""

from __future__ import annotations

from datetime import timedelta

from telegram import Update

from bot import args, formatting, replies
from bot.context import BotContext
from bot.models import ChatPrefs, Story
from bot.store import chats, stories
from handlers.common import reply, where

SEARCH_RESULTS = 10
TOPIC_RESULTS = 10


async def latest(update: Update, context: BotContext) -> None:
    """The N newest stories (default 5, 1 to 20), newest first."""
    await show_latest(update, context, args.parse_count(list(context.args or [])))


async def topic(update: Update, context: BotContext) -> None:
    """Without a name: topics with 24 h counts. With one: that topic's newest, or a search."""
    deps = context.deps
    query = args.parse_query(list(context.args or []))
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
        found = await stories.search(session, query, SEARCH_RESULTS)
    if not found:
        await reply(update, replies.no_matches(query, [t.key for t in deps.topics.suggest(query)]))
        return
    await _send_list(update, context, found, f"Stories matching “{query}”")


async def show_latest(update: Update, context: BotContext, count: int) -> None:
    """The newest stories in the languages this chat wants, in its time zone."""
    prefs = await _prefs(update, context)
    async with context.deps.sessions() as session:
        found = await stories.latest(session, count, languages=prefs.languages, items=True)
    heading = f"Latest {len(found)} stories" if len(found) != 1 else "Latest story"
    await _send_list(update, context, found, heading, prefs)


async def show_topic(update: Update, context: BotContext, key: str) -> None:
    """The newest stories on one topic, in the chat's time zone."""
    deps = context.deps
    async with deps.sessions() as session:
        found = await stories.latest(session, TOPIC_RESULTS, topic=key, items=True)
    await _send_list(update, context, found, f"Latest on {deps.topic_map[key].label}")


async def _prefs(update: Update, context: BotContext) -> ChatPrefs:
    """The chat's settings, or the defaults for a chat that never changed any."""
    chat_id = where(update).chat_id
    async with context.deps.sessions() as session:
        prefs = await chats.get_prefs(session, chat_id)
    return prefs or ChatPrefs(chat_id=chat_id)


async def _send_list(
    update: Update,
    context: BotContext,
    found: list[Story],
    heading: str,
    prefs: ChatPrefs | None = None,
) -> None:
    prefs = prefs or await _prefs(update, context)
    deps = context.deps
    for text in formatting.render_story_list(
        found, tz=prefs.timezone, topics=deps.topic_map, now=deps.clock(), heading=heading
    ):
        await reply(update, text)
