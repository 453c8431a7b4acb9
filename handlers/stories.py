"""/latest and /topic: reading stories (also what the More and Latest buttons show)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
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
    """Without a name: topics with 24 h counts. With one: that topic's newest, or a search.

    Both lists keep to the chat's /language setting, as /latest does.
    """
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
    prefs = await _prefs(update, context)
    async with deps.sessions() as session:
        found = await stories.search(session, query, SEARCH_RESULTS, languages=prefs.languages)
        hidden = await _hidden(found, prefs, lambda: stories.search(session, query, 1))
    if not found and not hidden:
        await reply(update, replies.no_matches(query, [t.key for t in deps.topics.suggest(query)]))
        return
    await _send_list(update, context, found, f"Stories matching “{query}”", prefs, hidden)


async def show_latest(update: Update, context: BotContext, count: int) -> None:
    """The newest stories in the languages this chat wants, in its time zone."""
    prefs = await _prefs(update, context)
    async with context.deps.sessions() as session:
        found = await stories.latest(session, count, languages=prefs.languages, items=True)
        hidden = await _hidden(found, prefs, lambda: stories.latest(session, 1))
    heading = f"Latest {len(found)} stories" if len(found) > 1 else "Latest story"
    await _send_list(update, context, found, heading if found else "Latest stories", prefs, hidden)


async def show_topic(update: Update, context: BotContext, key: str) -> None:
    """The newest stories on one topic in the chat's languages, in its time zone."""
    deps = context.deps
    prefs = await _prefs(update, context)
    async with deps.sessions() as session:
        found = await stories.latest(
            session, TOPIC_RESULTS, topic=key, languages=prefs.languages, items=True
        )
        hidden = await _hidden(found, prefs, lambda: stories.latest(session, 1, topic=key))
    heading = f"Latest on {deps.topic_map[key].label}"
    await _send_list(update, context, found, heading, prefs, hidden)


async def _hidden(
    found: list[Story], prefs: ChatPrefs, everywhere: Callable[[], Awaitable[list[Story]]]
) -> bool:
    """Is the list empty only because of the chat's languages? Then the answer says so;
    `everywhere` asks again without them (only for an empty list, so rarely)."""
    return not found and bool(prefs.languages) and bool(await everywhere())


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
    prefs: ChatPrefs,
    hidden: bool = False,
) -> None:
    if hidden:
        await reply(update, replies.none_in_languages(heading, prefs.languages))
        return
    deps = context.deps
    for text in formatting.render_story_list(
        found, tz=prefs.timezone, topics=deps.topic_map, now=deps.clock(), heading=heading
    ):
        await reply(update, text)
