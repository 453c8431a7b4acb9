"""The one error handler: user mistakes get a correction, faults a log line and an apology."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter

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
    if isinstance(error, BadRequest) and not _stale(error):
        # The answer itself was refused (its markup, its buttons): say so in plain text
        # rather than leave the chat without an answer.
        log.warning("Telegram refused a reply: %s", error)
        await _plain_apology(update, "Sorry, Telegram refused my answer. Please try again.")
        return
    if isinstance(error, (Forbidden, RetryAfter, NetworkError)):
        if isinstance(update, Update):
            log.warning("Telegram refused or failed a reply: %s", error)
        else:  # polling itself (getUpdates), retried by PTB with back-off
            log.warning("a Telegram request failed (retried): %s", error)
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


def _stale(error: BadRequest) -> bool:
    """Refusals that need no answer: a button pressed long ago, an edit that changes nothing,
    a message already gone."""
    text = error.message.lower()
    return any(
        marker in text
        for marker in (
            "query is too old",
            "not modified",
            "message to edit not found",
            "message to delete not found",
            "chat not found",
        )
    )


async def _plain_apology(update: object, text: str) -> None:
    """A reply without parse mode or buttons, which any chat accepts; never raises."""
    if not isinstance(update, Update) or update.effective_message is None:
        return
    try:
        await update.effective_message.reply_text(text, do_quote=False)
    except Exception:  # the error handler must never raise
        log.warning("could not send the plain apology either", exc_info=True)
