"""The delivery job: send due alerts for a few seconds, then return (the next run continues)."""

from __future__ import annotations

from bot.context import BotContext
from bot.delivery import Sender


def sender_of(context: BotContext) -> Sender:
    """The process's one Sender (its per-chat pacing must outlive a single job run)."""
    sender = context.bot_data.extras.get("sender")
    if sender is None:
        sender = context.bot_data.extras["sender"] = Sender(context.deps, context.bot)
    return sender


async def deliver_job(context: BotContext) -> None:
    application = context.application
    await sender_of(context).run_once(budget_s=5.0, keep_going=lambda: application.running)
