"""Housekeeping: take back claims of dead senders (every 15 s, so a killed instance's alerts
are sent by the others within about 45 s: 30 s of missed heartbeats, then the next run)."""

from __future__ import annotations

from datetime import timedelta

from bot.context import BotContext
from bot.delivery import release_stale_claims

CLAIM_LEASE = timedelta(minutes=2)


async def cleanup_job(context: BotContext) -> None:
    sender = context.bot_data.extras.get("sender")
    in_flight = sorted(sender.claimed) if sender is not None else []
    await release_stale_claims(context.deps, lease=CLAIM_LEASE, in_flight=in_flight)
