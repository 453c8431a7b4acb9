"""The send-rate limiter shared by everything that talks to Telegram in one process.

PTB's AIORateLimiter (aiolimiter buckets) with capacity 1, so no one-second window ever holds
more than SEND_RATE messages, which is how Telegram counts; `set_share` narrows the rate when
several instances send at once, so that together they stay under SEND_RATE.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from aiolimiter import AsyncLimiter
from telegram.ext import AIORateLimiter

SENDING_METHODS = ("send", "copy", "forward", "edit")

GROUP_PER_MINUTE = 20


class SharedRateLimiter(AIORateLimiter):
    """SEND_RATE overall (split across live instances), 20 a minute per group, 429s retried."""

    def __init__(self, send_rate: float) -> None:
        super().__init__(
            overall_max_rate=1,
            overall_time_period=1 / send_rate,
            group_max_rate=1,
            group_time_period=60 / GROUP_PER_MINUTE,
            max_retries=3,
        )
        self.send_rate = send_rate
        self.instances = 1

    def set_share(self, instances: int) -> None:
        """Take 1/instances of SEND_RATE (called by the heartbeat job when the fleet changes)."""
        instances = max(1, instances)
        if instances != self.instances:
            self.instances = instances
            self._base_limiter = AsyncLimiter(1, instances / self.send_rate)

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        """Only messages count against the limits: getChatAdministrators and the like are free.

        PTB's limiter paces every request that carries a chat id; a group admin check would then
        wait for the group's 3 s message slot.
        """
        if not endpoint.lower().startswith(SENDING_METHODS):
            data = {key: value for key, value in data.items() if key != "chat_id"}
        return await super().process_request(
            callback, args, kwargs, endpoint, data, rate_limit_args
        )
