"""The heartbeat: this instance is alive; take a fair share of SEND_RATE."""

from __future__ import annotations

from bot import cluster
from bot.context import BotContext
from bot.ratelimit import SharedRateLimiter


async def heartbeat_job(context: BotContext) -> None:
    deps = context.deps
    async with deps.sessions() as session, session.begin():
        alive = await cluster.beat(session, deps.worker_id, deps.role, deps.clock())
    limiter = context.bot.rate_limiter
    if isinstance(limiter, SharedRateLimiter):
        limiter.set_share(alive)
