"""The fetch job: one pass over due sources, then a notice to admins about long outages."""

from __future__ import annotations

import logging

from telegram.error import TelegramError

from bot.context import BotContext
from bot.formatting import escape
from bot.pipeline import run_fetch_pass

log = logging.getLogger(__name__)


async def fetch_job(context: BotContext) -> None:
    report = await run_fetch_pass(context.deps)
    for source in report.sources:
        if not source.outage:
            continue
        text = f"⚠️ Source <b>{escape(source.name)}</b> keeps failing: {escape(source.error or '')}"
        for admin in context.deps.settings.admin_ids:
            try:
                await context.bot.send_message(admin, text, parse_mode="HTML")
            except TelegramError as exc:
                log.warning("could not tell admin %s about an outage: %s", admin, exc)
