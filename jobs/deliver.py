"""The delivery job: every second, make sure the sender is draining the outbox.

The sender runs as an Application task until nothing is due, rather than inside the job: a
job that ran for minutes would make the scheduler skip (and log) every tick meanwhile, and a
job with a budget would leave the rate idle between its end and the next tick. Application.stop
waits for the task, whose current batch finishes and is recorded; then it returns.
"""

from __future__ import annotations

from bot.context import BotContext
from bot.delivery import Sender
from jobs.guard import run_guarded


def sender_of(context: BotContext) -> Sender:
    """The process's one Sender (its per-chat pacing must outlive a single job run)."""
    sender = context.bot_data.extras.get("sender")
    if sender is None:
        sender = context.bot_data.extras["sender"] = Sender(context.deps, context.bot)
    return sender


async def deliver_job(context: BotContext) -> None:
    application = context.application
    sender = sender_of(context)
    if sender.running or not application.running:
        return
    sender.running = True
    application.create_task(
        run_guarded(
            "deliver", context, lambda: sender.run_once(keep_going=lambda: application.running)
        ),
        name="deliver",
    )
