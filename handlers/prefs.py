"""/timezone, /quiet, /digest, /language and /stop: a chat's settings."""

from __future__ import annotations

from telegram import Update

from bot import args, buttons
from bot.context import BotContext
from bot.models import DigestMode
from bot.store import chats
from handlers.common import reply, require_manager


async def timezone(update: Update, context: BotContext) -> None:
    """Set the chat's IANA time zone (times, quiet hours and digests follow it)."""
    zone = args.parse_timezone(list(context.args or []))
    place = await require_manager(update, context)
    async with context.deps.sessions() as session, session.begin():
        await chats.update_settings(session, place.chat_id, timezone=zone)
    await reply(update, f"🕒 Time zone set to <code>{zone}</code>.")


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
    if start is None or end is None or prefs is None:
        await reply(update, "🔔 Quiet hours are off.")
        return
    await reply(
        update,
        f"🌙 Quiet from {start:%H:%M} to {end:%H:%M} ({prefs.timezone}); "
        "what arrives then comes as one catch-up message after.",
    )


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
    text = {
        DigestMode.OFF: "🔔 Instant alerts: each story as it arrives.",
        DigestMode.HOURLY: "🗞 One digest an hour instead of single alerts.",
    }.get(mode, f"🗞 One digest a day at {at:%H:%M} (your time zone) instead of single alerts.")
    await reply(update, text)


async def language(update: Update, context: BotContext) -> None:
    """Which story languages this chat wants (all by default)."""
    codes = args.parse_languages(list(context.args or []))
    place = await require_manager(update, context)
    async with context.deps.sessions() as session, session.begin():
        await chats.update_settings(session, place.chat_id, languages=" ".join(sorted(codes)))
    shown = " ".join(sorted(codes)) or "all languages"
    await reply(update, f"🌐 Stories in: {shown}.")


async def stop(update: Update, context: BotContext) -> None:
    """Ask before stopping everything and deleting this chat's data."""
    await require_manager(update, context)
    await reply(
        update,
        "Stop all alerts here and delete everything stored about this chat?",
        buttons.stop_keyboard(),
    )
