"""Quiet-hours catch-ups and hourly/daily digests."""

from __future__ import annotations

from bot.context import BotContext
from bot.digests import send_catch_ups, send_digests
from jobs.deliver import sender_of


async def digest_job(context: BotContext) -> None:
    pacer = sender_of(context).pacer
    await send_catch_ups(context.deps, context.bot, pacer)
    await send_digests(context.deps, context.bot, pacer)
