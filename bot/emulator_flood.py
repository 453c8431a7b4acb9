"""The emulator's flood control: Telegram's send limits, with a clock the tests can drive.

Telegram documents its limits loosely ("about 30 messages per second", "no more than one
message per second in a chat", "no more than 20 messages per minute in a group"), and in
practice lets a chat take a short burst. These are modelled as a sliding 1 s window overall, a
token bucket per chat (a burst of 3, refilled at 1 per second, so that 2 messages/s sustained is
refused within a few seconds) and a sliding 60 s window per group, supergroup or channel.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FloodLimits:
    """The limits the emulator enforces on sendMessage and sendPhoto; `enabled=False` lifts all."""

    global_per_second: int = 30
    chat_burst: float = 3.0
    chat_per_second: float = 1.0
    group_per_minute: int = 20
    enabled: bool = True

    @classmethod
    def off(cls) -> FloodLimits:
        """No limits at all, for tests about something else."""
        return cls(enabled=False)


class FloodControl:
    """Admits or refuses each send; a refused send leaves no trace in any window."""

    def __init__(self, limits: FloodLimits, clock: Callable[[], float]) -> None:
        self.limits = limits
        self._clock = clock
        self._recent: deque[float] = deque()
        self._buckets: dict[int, tuple[float, float]] = {}
        self._group_recent: dict[int, deque[float]] = {}
        self.refusals: Counter[str] = Counter()

    def admit(self, chat_id: int, is_group: bool) -> int | None:
        """Count a send to `chat_id` now, or return the whole seconds to wait (at least 1)."""
        if not self.limits.enabled:
            return None
        now = self._clock()
        limits = self.limits
        waits: dict[str, float] = {}
        _drop_older(self._recent, now - 1.0)
        if len(self._recent) >= limits.global_per_second:
            waits["global"] = self._recent[0] + 1.0 - now
        tokens, last = self._buckets.get(chat_id, (limits.chat_burst, now))
        tokens = min(limits.chat_burst, tokens + (now - last) * limits.chat_per_second)
        if tokens < 1.0:
            waits["chat"] = (1.0 - tokens) / limits.chat_per_second
        group = self._group_recent.setdefault(chat_id, deque()) if is_group else None
        if group is not None:
            _drop_older(group, now - 60.0)
            if len(group) >= limits.group_per_minute:
                waits["group"] = group[0] + 60.0 - now
        if waits:
            self._buckets[chat_id] = (tokens, now)
            self.refusals.update(waits.keys())
            return max(1, math.ceil(max(waits.values())))
        self._recent.append(now)
        self._buckets[chat_id] = (tokens - 1.0, now)
        if group is not None:
            group.append(now)
        return None


def _drop_older(window: deque[float], cutoff: float) -> None:
    while window and window[0] <= cutoff:
        window.popleft()
