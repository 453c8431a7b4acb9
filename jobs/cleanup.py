"""Housekeeping: take back claims of dead senders."""

from __future__ import annotations

from datetime import timedelta

from bot.context import BotContext
from bot.delivery import release_stale_claims

CLAIM_LEASE = timedelta(minutes=2)


async def cleanup_job(context: BotContext) -> None:
    sender = context.bot_data.extras.get("sender")
    in_flight = sorted(sender.claimed) if sender is not None else []
    await release_stale_claims(context.deps, lease=CLAIM_LEASE, in_flight=in_flight)
