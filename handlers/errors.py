"""The one error handler: user mistakes get a correction, faults a log line and an apology."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import Forbidden, NetworkError, RetryAfter

from bot import replies
from bot.context import BotContext
from bot.errors import UserError
from handlers.common import reply

log = logging.getLogger(__name__)


async def on_error(update: object, context: BotContext) -> None:
    """Render UserError to the chat; log anything else with its traceback (jobs too)."""
    error = context.error
    if isinstance(error, UserError):
        if isinstance(update, Update):
            await reply(update, replies.error(error.message, error.example))
        return
    if isinstance(error, (Forbidden, RetryAfter, NetworkError)):
        log.warning("Telegram refused or failed a reply: %s", error)
        return
    bot_data = getattr(context, "bot_data", None)
    deps = getattr(bot_data, "deps", None)
    if deps is not None:
        deps.counters["handler_errors"] += 1
    log.error("unhandled error (update=%s)", type(update).__name__, exc_info=error)
    if isinstance(update, Update) and update.effective_message is not None:
        try:
            await reply(
                update, "Sorry, something went wrong on my side. Please try again in a minute."
            )
        except Exception:  # the error handler must never raise
            log.warning("could not apologise to the chat", exc_info=True)
