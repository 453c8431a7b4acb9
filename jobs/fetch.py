"""The fetch job: one pass over due sources, then one notice to admins about long outages."""

from __future__ import annotations

import asyncio
import logging

from telegram.error import TelegramError

from bot import replies
from bot.context import BotContext
from bot.pipeline import run_fetch_pass

log = logging.getLogger(__name__)


async def fetch_job(context: BotContext) -> None:
    running = context.bot_data.fetches
    task = asyncio.current_task()  # PTB runs each job in a task of its own (shielded)
    if task is not None:
        running.add(task)
    try:
        report = await run_fetch_pass(context.deps)
    except asyncio.CancelledError:
        log.info("fetch pass interrupted by the shutdown; the next start fetches its sources")
        raise
    finally:
        if task is not None:
            running.discard(task)
    failing = [(s.name, s.error or "") for s in report.sources if s.outage]
    if not failing:
        return
    text = replies.outages(failing)
    for admin in context.deps.settings.admin_ids:
        try:
            await context.bot.send_message(admin, text, parse_mode="HTML")
        except TelegramError as exc:
            log.warning("could not tell admin %s about an outage: %s", admin, exc)
