"""/timezone, /quiet, /digest, /language and /stop: a chat's settings.

Arguments are checked first, so a mistake gets its correction whoever made it; then only a
manager of the chat (anyone in a private chat, admins in groups) may change anything.
"""

from __future__ import annotations

from telegram import Update

from bot import args, buttons, replies
from bot.context import BotContext
from bot.store import chats
from handlers.common import reply, require_manager


async def timezone(update: Update, context: BotContext) -> None:
    """Set the chat's IANA time zone (times, quiet hours and digests follow it)."""
    zone = args.parse_timezone(list(context.args or []))
    place = await require_manager(update, context)
    async with context.deps.sessions() as session, session.begin():
        await chats.update_settings(session, place.chat_id, timezone=zone)
    await reply(update, replies.timezone_set(zone))


async def quiet(update: Update, context: BotContext) -> None:
    """Quiet hours: alerts are held, then sent as one catch-up message."""
    hours = args.parse_quiet(list(context.args or []))
    place = await require_manager(update, context)
    start, end = hours if hours else (None, None)
    async with context.deps.sessions() as session, session.begin():
        await chats.update_settings(
            session,
            place.chat_id,
            quiet_start=start.strftime("%H:%M") if start else None,
            quiet_end=end.strftime("%H:%M") if end else None,
        )
        prefs = await chats.get_prefs(session, place.chat_id)
    await reply(update, replies.quiet_set(hours, prefs.timezone if prefs else "UTC"))


async def digest(update: Update, context: BotContext) -> None:
    """Instant alerts, or one digest message hourly or daily at a time."""
    mode, at = args.parse_digest(list(context.args or []))
    place = await require_manager(update, context)
    async with context.deps.sessions() as session, session.begin():
        await chats.update_settings(
            session,
            place.chat_id,
            digest=mode.value,
            digest_at=at.strftime("%H:%M") if at else None,
        )
    await reply(update, replies.digest_set(mode, at))


async def language(update: Update, context: BotContext) -> None:
    """Which story languages this chat wants (all by default).

    A source's configured language is what a story gets when detection cannot tell, so it
    is accepted too, whatever detection itself answers.
    """
    configured = {source.language for source in context.deps.sources if source.language}
    codes = args.parse_languages(list(context.args or []), also=configured)
    place = await require_manager(update, context)
    async with context.deps.sessions() as session, session.begin():
        await chats.update_settings(session, place.chat_id, languages=" ".join(sorted(codes)))
    await reply(update, replies.languages_set(codes))


async def stop(update: Update, context: BotContext) -> None:
    """Ask before stopping everything and deleting this chat's data."""
    await require_manager(update, context)
    await reply(update, replies.STOP_QUESTION, buttons.stop_keyboard())
