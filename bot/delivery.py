"""Sending queued alerts: claim, send under Telegram's limits, mark; Telegram's answers mapped
to outcomes in one place.

Pacing: the Application's AIORateLimiter holds the global rate (SEND_RATE) and retries a 429
after waiting `retry_after` globally; this module spaces messages per chat (1 s in private
chats, 3 s in groups and channels, i.e. 20 a minute) and decides what each final error means.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
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
    TimedOut,
)

from bot import buttons, formatting, timing
from bot.context import Deps
from bot.models import ChatPrefs, DigestMode, Story
from bot.store import chats, outbox, stories

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
PRIVATE_SPACING_S = 1.05
GROUP_SPACING_S = 3.05
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
    permanent 400 must not be retried.
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
    except (TimedOut, NetworkError) as exc:
        return SendResult(SendOutcome.TRANSIENT, error=exc.message)
    except TelegramError as exc:
        return SendResult(SendOutcome.TRANSIENT, error=exc.message)
    return SendResult(SendOutcome.SENT, message_id=message.message_id)


def _seconds(value: float | timedelta | int) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def retry_delay(attempts: int) -> timedelta:
    """Exponential back-off for 5xx and network errors: 2, 4, 8 … s, capped at 10 min."""
    return timedelta(seconds=min(2 ** max(attempts, 1), 600))


@dataclass(slots=True)
class Pacer:
    """Per-chat spacing (1 s private, 3 s groups) and a global pause after a 429."""

    next_slot: dict[int, float] = field(default_factory=dict)
    paused_until: float = 0.0

    def reserve(self, chat_id: int) -> float:
        """The monotonic time at which this chat may get its next message (and book it)."""
        spacing = GROUP_SPACING_S if chat_id < 0 else PRIVATE_SPACING_S
        slot = max(time.monotonic(), self.next_slot.get(chat_id, 0.0), self.paused_until)
        self.next_slot[chat_id] = slot + spacing
        return slot

    def pause(self, seconds: float) -> None:
        self.paused_until = max(self.paused_until, time.monotonic() + seconds)


@dataclass(slots=True)
class BatchReport:
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def summary_line(self) -> str:
        parts = " ".join(f"{key}={value}" for key, value in sorted(self.counts.items()))
        return f"delivery batch: {parts}"


class Sender:
    """Claims due alerts and sends them; one per process, driven by the delivery job."""

    def __init__(self, deps: Deps, bot: Bot) -> None:
        self.deps = deps
        self.bot = bot
        self.pacer = Pacer()

    async def run_once(self, *, budget_s: float = 10.0, keep_going: Any = None) -> BatchReport:
        """Send due alerts for up to `budget_s` seconds; every claim is resolved before return."""
        report = BatchReport()
        deadline = time.monotonic() + budget_s
        batch = max(5, int(self.deps.settings.send_rate * 2))
        while time.monotonic() < deadline and (keep_going is None or keep_going()):
            now = self.deps.clock()
            async with self.deps.sessions() as session, session.begin():
                claims = await outbox.claim(session, self.deps.worker_id, now, batch)
            if not claims:
                break
            await self._send_batch(claims, report, deadline)
        await self._edit_updated(report)
        if report.counts:
            log.info("%s", report.summary_line())
        for key, value in report.counts.items():
            self.deps.counters[f"delivery_{key}"] += value
        return report

    async def _send_batch(
        self, claims: Sequence[outbox.Claim], report: BatchReport, deadline: float
    ) -> None:
        now = self.deps.clock()
        async with self.deps.sessions() as session:
            prefs = await chats.get_prefs_many(session, sorted({c.chat_id for c in claims}))
            story_map = await stories.get_stories(session, sorted({c.story_id for c in claims}))
        to_send, digest, held = [], [], []
        for claim in claims:
            chat = prefs.get(claim.chat_id)
            if chat is None or claim.story_id not in story_map:
                held.append(claim)
                continue
            if chat.digest is not DigestMode.OFF:
                digest.append(claim.id)
            elif timing.in_quiet_hours(now, chat):
                held.append(claim)
            else:
                to_send.append(claim)
        async with self.deps.sessions() as session, session.begin():
            if digest:
                await outbox.set_status(session, digest, "digest")
            if held:
                await outbox.set_status(session, [c.id for c in held], "held")
        report.add("digest", len(digest))
        report.add("held", len(held))
        late: list[int] = []

        async def one(claim: outbox.Claim) -> None:
            slot = self.pacer.reserve(claim.chat_id)
            if slot > deadline + 1:
                late.append(claim.id)
                return
            await asyncio.sleep(max(0.0, slot - time.monotonic()))
            await self._deliver(claim, story_map[claim.story_id], prefs[claim.chat_id], report)

        await asyncio.gather(*(one(claim) for claim in to_send))
        if late:
            async with self.deps.sessions() as session, session.begin():
                await outbox.set_status(session, late, "queued")

    async def _deliver(
        self, claim: outbox.Claim, story: Story, prefs: ChatPrefs, report: BatchReport
    ) -> None:
        """Send one alert and record what happened, in its own short transaction."""
        topics = self.deps.topic_map
        text = formatting.render_alert(
            story, tz=prefs.timezone, topics=topics, now=self.deps.clock()
        )
        markup = to_markup(buttons.alert_keyboard(story, topics))
        result = await send_message(
            self.bot,
            claim.chat_id,
            text,
            thread_id=claim.thread_id,
            markup=markup,
            paid=self.deps.settings.paid_broadcast,
        )
        report.add(result.outcome.value)
        await self.record(claim, story, result)

    async def record(self, claim: outbox.Claim, story: Story, result: SendResult) -> None:
        """Apply a send's outcome to the outbox (and the chat, for blocks and migrations)."""
        now = self.deps.clock()
        async with self.deps.sessions() as session, session.begin():
            match result.outcome:
                case SendOutcome.SENT:
                    await outbox.mark_sent(
                        session,
                        [claim.id],
                        message_id=result.message_id,
                        outlets=story.outlets,
                        now=now,
                    )
                case SendOutcome.RETRY_AFTER:
                    self.pacer.pause(result.retry_after_s)
                    await outbox.set_status(
                        session,
                        [claim.id],
                        "queued",
                        next_at=now + timedelta(seconds=result.retry_after_s),
                    )
                case SendOutcome.BLOCKED:
                    log.info("chat %s blocked or removed the bot: deactivated", claim.chat_id)
                    await chats.deactivate_chat(session, claim.chat_id, result.error or "forbidden")
                case SendOutcome.MIGRATED:
                    assert result.new_chat_id is not None
                    log.info("chat %s migrated to %s", claim.chat_id, result.new_chat_id)
                    await chats.migrate_chat(session, claim.chat_id, result.new_chat_id, now)
                case SendOutcome.REJECTED:
                    log.warning(
                        "alert %s to %s rejected: %s", claim.id, claim.chat_id, result.error
                    )
                    await outbox.mark_failed(session, claim.id, result.error or "bad request")
                case SendOutcome.TRANSIENT:
                    attempts = claim.attempts + 1
                    if attempts >= MAX_ATTEMPTS:
                        await outbox.mark_failed(session, claim.id, f"gave up: {result.error}")
                    else:
                        await outbox.mark_retry(
                            session,
                            claim.id,
                            next_at=now + retry_delay(attempts),
                            attempts=attempts,
                            error=result.error or "network error",
                        )

    async def _edit_updated(self, report: BatchReport) -> None:
        """Edit sent alerts whose story gained outlets since ("+N outlets")."""
        async with self.deps.sessions() as session, session.begin():
            claims = await outbox.claim_edits(session, self.deps.worker_id, self.deps.clock(), 50)
        if not claims:
            return
        async with self.deps.sessions() as session:
            prefs = await chats.get_prefs_many(session, sorted({c.chat_id for c in claims}))
            story_map = await stories.get_stories(session, sorted({c.story_id for c in claims}))
        topics = self.deps.topic_map
        for claim in claims:
            story, chat = story_map.get(claim.story_id), prefs.get(claim.chat_id)
            if story is None or chat is None or claim.message_id is None:
                continue
            await asyncio.sleep(max(0.0, self.pacer.reserve(claim.chat_id) - time.monotonic()))
            try:
                await self.bot.edit_message_text(
                    formatting.render_alert(
                        story, tz=chat.timezone, topics=topics, now=self.deps.clock()
                    ),
                    chat_id=claim.chat_id,
                    message_id=claim.message_id,
                    parse_mode="HTML",
                    reply_markup=to_markup(buttons.alert_keyboard(story, topics)),
                    link_preview_options=NO_PREVIEW,
                )
            except TelegramError as exc:
                log.info("could not edit alert %s in %s: %s", claim.id, claim.chat_id, exc)
                report.add("edit_failed")
                continue
            report.add("edited")
            async with self.deps.sessions() as session, session.begin():
                await outbox.mark_edited(session, claim.id, story.outlets)

    async def release(self) -> int:
        """Give back whatever this process claimed and did not send (graceful stop)."""
        async with self.deps.sessions() as session, session.begin():
            return await outbox.release_worker(session, self.deps.worker_id)


async def release_stale_claims(deps: Deps, *, lease: timedelta) -> int:
    """Give back claims of senders that died; at start-up and periodically."""
    async with deps.sessions() as session, session.begin():
        released = await outbox.release_stale(session, deps.clock() - lease)
    if released:
        log.warning("took back %d alerts claimed by a sender that stopped", released)
    return released
