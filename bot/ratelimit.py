"""The send-rate limiter shared by everything that talks to Telegram in one process.

PTB's AIORateLimiter keeps its 429 handling (wait `retry_after` for every request, retry up
to three times) and its per-group limiter (20 a minute); the overall rate is a schedule
instead of its leaky bucket. Messages get evenly spaced slots at HEADROOM x SEND_RATE, so
no one-second window holds more than SEND_RATE of them even when requests arrive with a few
tens of milliseconds of jitter, and a timer that wakes late does not lose its slot: the
schedule runs on from where it was, not from when the sleeper woke.

On PostgreSQL the slots come from one schedule in the database that every instance reserves
from (`share_schedule`); otherwise, and as a fallback, `set_share` narrows this process's
rate to its share of SEND_RATE among the live instances.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from telegram.ext import AIORateLimiter

log = logging.getLogger(__name__)

SENDING_METHODS = ("send", "copy", "forward", "edit")

GROUP_PER_MINUTE = 20
HEADROOM = 0.97
CATCH_UP_S = 0.005
WINDOW_GUARD_S = 0.03
LATE_S = 0.015
LATE_RETRIES = 3
SHARED_BLOCK = 4
LOCAL_FALLBACK_S = 5.0

Result = bool | dict[str, Any] | list[dict[str, Any]]
# (count, interval) -> the first of `count` consecutive send slots, in wall-clock seconds.
Reserve = Callable[[int, float], Awaitable[float]]


class Schedule:
    """Evenly spaced send slots, and never more than the rate's sends in any window of
    1 s + WINDOW_GUARD_S.

    A request goes at the later of its booked slot and now (less CATCH_UP_S, so a few
    milliseconds of timer lateness are made up). The window check is the hard limit: when
    the event loop stalls, requests whose slots have passed wake together, and without it
    they would crowd into the second after the oldest of the last `rate` sends.

    With a `reserve` function (PostgreSQL, several instances) slots come from one schedule in
    the database, reserved as many as there are requests waiting (at most SHARED_BLOCK) at a
    time, so the fleet together keeps the rate
    whoever is busy. Without one, or while the database fails to answer, each process keeps
    its `share` of the rate (SEND_RATE divided by the live instances).
    """

    def __init__(self, rate: float, headroom: float = HEADROOM) -> None:
        self.rate = rate
        self.headroom = headroom
        self.share = 1
        self.next_slot = 0.0
        self.recent: deque[float] = deque()
        self.reserve: Reserve | None = None
        self.reserved: deque[float] = deque()
        self.local_until = 0.0
        self.waiting = 0
        self._refilling = asyncio.Lock()

    @property
    def shared(self) -> bool:
        return self.reserve is not None and asyncio.get_running_loop().time() >= self.local_until

    @property
    def interval(self) -> float:
        """Seconds between this process's slots (the fleet's, when the schedule is shared)."""
        share = 1 if self.shared else self.share
        return share / (self.rate * self.headroom)

    @property
    def window_size(self) -> int:
        share = 1 if self.shared else self.share
        return max(1, math.floor(self.rate / share))

    async def take(self) -> None:
        """Wait for this request's slot. A sleeper that wakes more than LATE_S after its slot
        takes the next one instead (up to LATE_RETRIES times): sent late, it would land in
        the next second on top of that second's own sends."""
        loop = asyncio.get_running_loop()
        self.waiting += 1
        try:
            await self._wait_for_slot(loop)
        finally:
            self.waiting -= 1
        while len(self.recent) >= self.window_size:
            free_at = self.recent[-self.window_size] + 1.0 + WINDOW_GUARD_S
            if loop.time() >= free_at:
                break
            await asyncio.sleep(free_at - loop.time())
        self.recent.append(loop.time())
        while len(self.recent) > self.window_size:
            self.recent.popleft()

    async def _wait_for_slot(self, loop: asyncio.AbstractEventLoop) -> None:
        for _ in range(LATE_RETRIES + 1):
            slot = await self._shared_slot() if self.shared else None
            if slot is None:
                now = loop.time()
                slot = max(self.next_slot, now - CATCH_UP_S)
                self.next_slot = slot + self.interval
            if slot > loop.time():
                await asyncio.sleep(slot - loop.time())
            if loop.time() - slot <= LATE_S:
                break

    async def _shared_slot(self) -> float | None:
        """The next reserved slot in loop time; None (go local for a while) if the database
        cannot be reached. Slots that passed unused are dropped, not sent in a burst."""
        assert self.reserve is not None
        loop = asyncio.get_running_loop()
        async with self._refilling:
            to_loop = loop.time() - time.time()
            while self.reserved and self.reserved[0] < time.time() - CATCH_UP_S:
                self.reserved.popleft()
            if not self.reserved:
                interval = 1.0 / (self.rate * self.headroom)
                count = max(1, min(SHARED_BLOCK, self.waiting))
                try:
                    first = await self.reserve(count, interval)
                except Exception:
                    log.warning("the shared send schedule is unreachable; pacing locally")
                    self.local_until = loop.time() + LOCAL_FALLBACK_S
                    return None
                self.reserved.extend(first + i * interval for i in range(count))
            return self.reserved.popleft() + to_loop


class SharedRateLimiter(AIORateLimiter):
    """SEND_RATE overall (split across live instances), 20 a minute per group, 429s retried."""

    def __init__(self, send_rate: float) -> None:
        super().__init__(
            overall_max_rate=0,
            overall_time_period=0,
            group_max_rate=1,
            group_time_period=60 / GROUP_PER_MINUTE,
            max_retries=3,
        )
        self.send_rate = send_rate
        self.instances = 1
        self.schedule = Schedule(send_rate)

    def share_schedule(self, reserve: Reserve) -> None:
        """Take slots from the database's schedule, shared by every instance."""
        self.schedule.reserve = reserve

    def set_share(self, instances: int) -> None:
        """Take 1/instances of SEND_RATE (called by the heartbeat job when the fleet changes)."""
        instances = max(1, instances)
        if instances != self.instances:
            self.instances = instances
            self.schedule.share = instances

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Result]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Result:
        """Only messages count against the limits: getChatAdministrators and the like are free.

        PTB's limiter paces every request that carries a chat id; a group admin check would then
        wait for the group's 3 s message slot.
        """
        if not endpoint.lower().startswith(SENDING_METHODS):
            data = {key: value for key, value in data.items() if key != "chat_id"}
        return await super().process_request(
            callback, args, kwargs, endpoint, data, rate_limit_args
        )

    async def _run_request(
        self,
        chat: bool,
        group: str | int | bool,
        allow_paid_broadcast: bool,
        callback: Callable[..., Coroutine[Any, Any, Result]],
        args: Any,
        kwargs: dict[str, Any],
    ) -> Result:
        """Wait out any 429 pause *before* taking a slot, and again after it.

        PTB's own order (slot first, then the pause) lets every request that queued during a
        pause leave at once when it ends: a burst that earns the next 429.
        """
        if allow_paid_broadcast:
            async with self._apb_limiter:
                await self._retry_after_event.wait()
                return await callback(*args, **kwargs)
        if group and self._group_max_rate:
            await self._retry_after_event.wait()
            await self._get_group_limiter(group).acquire()
        while chat:
            await self._retry_after_event.wait()
            await self.schedule.take()
            if self._retry_after_event.is_set():
                break
        return await callback(*args, **kwargs)
