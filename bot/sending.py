"""One message to one chat: Telegram's answer mapped to an outcome in one place, and the
per-chat spacing (1 s in private chats, 3 s in groups and channels, i.e. 20 a minute) that one
process keeps between its own sends. The database keeps the same spacing across instances
(`bot.store.pacing`); this in-process copy lets a sender skip busy chats without asking it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
)

from bot import buttons

PRIVATE_SPACING_S = 1.05
GROUP_SPACING_S = 3.05
SLOT_TOLERANCE_S = 0.05
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


class SendOutcome(StrEnum):
    """What Telegram's answer to one send means for the outbox."""

    SENT = "sent"
    RETRY_AFTER = "retry_after"
    BLOCKED = "blocked"
    MIGRATED = "migrated"
    REJECTED = "rejected"
    TRANSIENT = "transient"


@dataclass(frozen=True, slots=True)
class SendResult:
    outcome: SendOutcome
    message_id: int | None = None
    retry_after_s: float = 0.0
    new_chat_id: int | None = None
    error: str | None = None


def to_markup(keyboard: buttons.Keyboard) -> InlineKeyboardMarkup | None:
    """The core's plain keyboard as PTB's markup (None for no buttons)."""
    rows = [
        [
            InlineKeyboardButton(button.text, url=button.url)
            if button.url
            else InlineKeyboardButton(button.text, callback_data=button.callback)
            for button in row
        ]
        for row in keyboard
        if row
    ]
    return InlineKeyboardMarkup(rows) if rows else None


async def send_message(
    bot: Bot,
    chat_id: int,
    text: str,
    *,
    thread_id: int = 0,
    markup: InlineKeyboardMarkup | None = None,
    paid: bool = False,
) -> SendResult:
    """Send one HTML message and map Telegram's answer; never raises for Telegram errors.

    BadRequest is caught before NetworkError on purpose: it subclasses NetworkError, and a
    permanent 400 must not be retried. Anything else from Telegram (5xx, time-outs, resets,
    a 409 or 401 during a token change) is worth another try later.
    """
    kwargs: dict[str, Any] = {"allow_paid_broadcast": True} if paid else {}
    try:
        message = await bot.send_message(
            chat_id,
            text,
            parse_mode="HTML",
            message_thread_id=thread_id or None,
            reply_markup=markup,
            link_preview_options=NO_PREVIEW,
            **kwargs,
        )
    except RetryAfter as exc:
        return SendResult(
            SendOutcome.RETRY_AFTER, retry_after_s=_seconds(exc.retry_after), error=str(exc)
        )
    except Forbidden as exc:
        return SendResult(SendOutcome.BLOCKED, error=exc.message)
    except ChatMigrated as exc:
        return SendResult(SendOutcome.MIGRATED, new_chat_id=exc.new_chat_id, error=exc.message)
    except BadRequest as exc:
        return SendResult(SendOutcome.REJECTED, error=exc.message)
    except (NetworkError, TelegramError) as exc:
        return SendResult(SendOutcome.TRANSIENT, error=exc.message)
    return SendResult(SendOutcome.SENT, message_id=message.message_id)


def _seconds(value: float | timedelta | int) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def spacing_for(chat_id: int) -> float:
    """Seconds between two messages to one chat: groups and channels have negative ids."""
    return GROUP_SPACING_S if chat_id < 0 else PRIVATE_SPACING_S


@dataclass(slots=True)
class Pacer:
    """Per-chat spacing (1 s private, 3 s groups) and a global pause after a 429.

    Times are monotonic seconds: spacing is about real time even when a test moves the
    bot's clock by hours.
    """

    next_slot: dict[int, float] = field(default_factory=dict)
    paused_until: float = 0.0

    def reserve(self, chat_id: int) -> float:
        """The monotonic time at which this chat may get its next message (and book it)."""
        spacing = spacing_for(chat_id)
        slot = max(time.monotonic(), self.next_slot.get(chat_id, 0.0), self.paused_until)
        self.next_slot[chat_id] = slot + spacing
        return slot

    async def wait_turn(self, chat_id: int) -> None:
        """Book this chat's next slot and sleep until it comes."""
        await asyncio.sleep(max(0.0, self.reserve(chat_id) - time.monotonic()))

    def sent(self, chat_id: int) -> None:
        """Count the spacing from when a message really left: the global limiter may have
        held it back past its slot, which would bring it close to the chat's next one."""
        self.next_slot[chat_id] = max(
            self.next_slot.get(chat_id, 0.0), time.monotonic() + spacing_for(chat_id)
        )

    def busy(self) -> list[int]:
        """Chats that may not get a message yet (and forget those whose spacing has passed)."""
        ready_by = time.monotonic() + SLOT_TOLERANCE_S
        for chat_id in [c for c, slot in self.next_slot.items() if slot <= ready_by]:
            del self.next_slot[chat_id]
        return sorted(self.next_slot)

    def first_free_in(self, *, at_most: float) -> float:
        """Seconds until the earliest booked chat may get a message again (at most `at_most`)."""
        if not self.next_slot:
            return at_most
        return min(max(0.0, min(self.next_slot.values()) - time.monotonic()), at_most)

    def pause(self, seconds: float) -> None:
        self.paused_until = max(self.paused_until, time.monotonic() + seconds)
