"""/sources: every source with its health and last success."""

from __future__ import annotations

from telegram import Update

from bot import replies
from bot.context import BotContext
from bot.store import chats, sources
from handlers.common import reply, where


async def list_sources(update: Update, context: BotContext) -> None:
    """Every active source: healthy or failing, and when it last worked (chat's time zone)."""
    place = where(update)
    async with context.deps.sessions() as session:
        states = await sources.list_sources(session)
        prefs = await chats.get_prefs(session, place.chat_id)
    rows = [
        (
            s.source.name,
            s.source.url,
            s.consecutive_failures == 0,
            s.consecutive_failures,
            s.last_error,
            s.last_success_at,
        )
        for s in states
    ]
    await reply(update, replies.sources_health(rows, prefs.timezone if prefs else "UTC"))
