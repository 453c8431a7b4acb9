"""The send-rate limiter (issues #6 and #7): evenly spaced sends under SEND_RATE, a 429 pause
that ends without a burst, and one rate for several instances through the database."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

from telegram.error import RetryAfter

from bot import cluster
from bot.db import make_engine, make_sessionmaker
from bot.ratelimit import HEADROOM, SharedRateLimiter


def busiest_second(times: list[float]) -> int:
    """The most sends in any one-second window (Telegram's way of counting)."""
    times = sorted(times)
    return max(
        sum(1 for other in times[i:] if other < start + 1.0) for i, start in enumerate(times)
    )


class Recorder:
    """The request a limiter lets through: records when it went (loop time)."""

    def __init__(self) -> None:
        self.sent: list[float] = []

    async def __call__(self, chat_id: int) -> bool:
        self.sent.append(asyncio.get_running_loop().time())
        return True


async def send_all(limiter: SharedRateLimiter, chat_ids: list[int], callback: Any) -> None:
    await asyncio.gather(
        *(
            limiter.process_request(
                callback, (chat_id,), {}, "sendMessage", {"chat_id": chat_id}, None
            )
            for chat_id in chat_ids
        )
    )


async def test_sends_are_spaced_evenly_below_send_rate() -> None:
    limiter = SharedRateLimiter(send_rate=40)
    callback = Recorder()
    sent = callback.sent

    await send_all(limiter, list(range(1, 61)), callback)
    span = max(sent) - min(sent)
    assert busiest_second(sent) <= 40
    assert 59 / (40 * HEADROOM) - 0.02 <= span <= 59 / (40 * HEADROOM) + 0.3


async def test_a_stalled_event_loop_does_not_crowd_one_second() -> None:
    """The loop freezes for 0.3 s (a long synchronous step elsewhere in the bot): requests
    whose slots passed wake together, yet no one-second window holds more than SEND_RATE."""
    limiter = SharedRateLimiter(send_rate=20)
    callback = Recorder()
    sent = callback.sent

    async def stall() -> None:
        await asyncio.sleep(0.5)
        time.sleep(0.3)  # noqa: ASYNC251 - the stall is the point

    await asyncio.gather(stall(), send_all(limiter, list(range(1, 46)), callback))
    assert len(sent) == 45
    assert busiest_second(sent) <= 20


async def test_requests_that_wait_out_a_429_leave_evenly_not_in_a_burst() -> None:
    """One send gets a 429 (retry_after 1 s) while 40 more queue behind it: after the pause
    they go out at the rate, not all in the first moment."""
    limiter = SharedRateLimiter(send_rate=20)
    sent: list[float] = []
    loop = asyncio.get_running_loop()
    refused = False

    async def callback(chat_id: int) -> bool:
        nonlocal refused
        if not refused:
            refused = True
            raise RetryAfter(timedelta(seconds=1))
        sent.append(loop.time())
        return True

    started = loop.time()
    await send_all(limiter, list(range(1, 41)), callback)
    assert len(sent) == 40
    assert min(sent) >= started + 1.0, "nothing goes out during the pause"
    assert busiest_second(sent) <= 20


async def test_a_share_of_the_rate_for_each_of_several_instances() -> None:
    limiter = SharedRateLimiter(send_rate=60)
    limiter.set_share(3)
    callback = Recorder()
    sent = callback.sent

    await send_all(limiter, list(range(1, 31)), callback)
    assert busiest_second(sent) <= 20


async def test_requests_without_a_message_are_not_paced() -> None:
    """An admin check for a group must not wait for the group's 3 s message slot."""
    limiter = SharedRateLimiter(send_rate=1)
    loop = asyncio.get_running_loop()
    started = loop.time()

    async def callback(chat_id: int) -> bool:
        return True

    await asyncio.gather(
        *(
            limiter.process_request(
                callback, (-100,), {}, "getChatAdministrators", {"chat_id": -100}, None
            )
            for _ in range(10)
        )
    )
    assert loop.time() - started < 0.5


async def send_from_instances(database_url: str, counts: list[int]) -> list[list[float]]:
    """Limiters of len(counts) instances at SEND_RATE 20, taking slots from one schedule in
    the database, each sending its count of messages at once; their send times."""
    engine = make_engine(database_url)
    reserve = cluster.slot_reserver(make_sessionmaker(engine))
    limiters = [SharedRateLimiter(send_rate=20) for _ in counts]
    recorders = [Recorder() for _ in counts]
    for limiter in limiters:
        limiter.share_schedule(reserve)
        limiter.set_share(len(counts))
    try:
        await asyncio.gather(
            *(
                send_all(limiter, list(range(1, count + 1)), recorder)
                for limiter, recorder, count in zip(limiters, recorders, counts, strict=True)
            )
        )
    finally:
        await engine.dispose()
    return [recorder.sent for recorder in recorders]


async def test_instances_sharing_the_database_schedule_stay_under_send_rate(
    database_url: str,
) -> None:
    sent = await send_from_instances(database_url, [30, 30, 30])
    every = sorted(t for times in sent for t in times)
    assert len(every) == 90
    assert busiest_second(every) <= 20
    assert (len(every) - 1) / (every[-1] - every[0]) >= 20 * 0.85


async def test_a_busy_instance_uses_the_rate_the_idle_ones_leave(database_url: str) -> None:
    """A fixed third of SEND_RATE each would hold the busy instance to ~6.5/s."""
    busy, *_ = await send_from_instances(database_url, [40, 1, 1])
    assert (len(busy) - 1) / (max(busy) - min(busy)) >= 20 * 0.85


async def test_without_the_database_an_instance_keeps_its_share() -> None:
    """If slots cannot be reserved, each instance paces itself at SEND_RATE / instances."""

    async def unreachable(count: int, interval: float) -> float:
        raise ConnectionRefusedError("the database is away")

    limiter = SharedRateLimiter(send_rate=30)
    limiter.share_schedule(unreachable)
    limiter.set_share(3)
    callback = Recorder()
    await send_all(limiter, list(range(1, 21)), callback)
    assert busiest_second(callback.sent) <= 10
