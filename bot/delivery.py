"""Sending queued alerts: claim, send under Telegram's limits, mark; Telegram's answers mapped
to outcomes in one place.

Pacing has two layers. The Application's rate limiter holds the global rate (SEND_RATE) and,
on a 429, pauses every request for `retry_after` and retries up to three times. This module
spaces messages per chat (1 s in private chats, 3 s in groups and channels, i.e. 20 a minute)
and decides what each final error means: a 429 that outlived the limiter's retries pauses the
sender too and requeues the alert for after `retry_after`.

Transient failures (5xx, network) are retried with back-off for RETRY_WINDOW; permanent ones
are dead-lettered with their reason; a blocked chat is deactivated, a migrated one moved.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
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

from bot import buttons, formatting, timing
from bot.context import Deps
from bot.models import ChatPrefs, DigestMode, Story
from bot.store import chats, outbox, pacing, stories

log = logging.getLogger(__name__)

RETRY_WINDOW = timedelta(hours=12)
PRIVATE_SPACING_S = 1.05
GROUP_SPACING_S = 3.05
SLOT_TOLERANCE_S = 0.05
RECHECK_S = 0.25
EDITS_PER_BATCH = 50
HEARTBEAT_STALE = timedelta(seconds=30)
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


def retry_delay(attempts: int) -> timedelta:
    """Exponential back-off for 5xx and network errors: 2, 4, 8 … s, capped at 10 min.

    An alert is retried like this for RETRY_WINDOW after it was queued, so a Telegram outage
    of hours loses nothing; after that it is dead-lettered, being news of the day before.
    """
    return timedelta(seconds=min(2 ** max(attempts, 1), 600))


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


@dataclass(slots=True)
class BatchReport:
    """Outcomes of one run, mirrored live into the process counters as `delivery_<outcome>`."""

    counters: Counter[str] = field(default_factory=Counter)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, key: str, n: int = 1) -> None:
        if n:
            self.counts[key] = self.counts.get(key, 0) + n
            self.counters[f"delivery_{key}"] += n

    def summary_line(self) -> str:
        parts = " ".join(f"{key}={value}" for key, value in sorted(self.counts.items()))
        return f"delivery batch: {parts}"


class Sender:
    """Claims due alerts and sends them; one per process, driven by the delivery job.

    Claims overlap: the next batch is claimed when half a second of sends is left, so the
    global limiter always has work and batch boundaries cost no throughput. Chats with an
    alert in flight or inside their spacing are left out of each claim, which keeps every
    chat's alerts in order and one at a time.
    """

    def __init__(self, deps: Deps, bot: Bot) -> None:
        self.deps = deps
        self.bot = bot
        self.pacer = Pacer()
        self.running = False
        self.in_flight: set[int] = set()

    @property
    def batch_size(self) -> int:
        """About one second of sends at the global rate (at least 5)."""
        return max(5, math.ceil(self.deps.settings.send_rate))

    async def run_once(
        self, *, budget_s: float | None = None, keep_going: Callable[[], bool] | None = None
    ) -> BatchReport:
        """Send due alerts until none is due, `budget_s` is spent or `keep_going()` is False.

        Every claim is resolved (sent, requeued or dead-lettered) before this returns, so a
        graceful stop only waits for the sends already claimed (about a second of them).
        """
        report = BatchReport(self.deps.counters)
        deadline = None if budget_s is None else time.monotonic() + budget_s
        batches: set[asyncio.Task[None]] = set()
        edited_at = 0.0
        self.running = True
        try:
            while (keep_going is None or keep_going()) and (
                deadline is None or time.monotonic() < deadline
            ):
                claims: list[outbox.Claim] = []
                if len(self.in_flight) <= self.batch_size // 2:
                    claims = await self._claim(self.batch_size - len(self.in_flight))
                if claims:
                    batch = asyncio.create_task(self._send_batch(claims, report))
                    batches.add(batch)
                    batch.add_done_callback(batches.discard)
                if time.monotonic() - edited_at >= 1.0:
                    edited_at = time.monotonic()
                    await self._edit_updated(report)
                if not claims and not batches and not self.pacer.busy():
                    break
                # Look again when a batch ends, a busy chat frees up, or soon for new alerts.
                delay = self.pacer.first_free_in(at_most=RECHECK_S)
                if batches:
                    await asyncio.wait(batches, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
                else:
                    await asyncio.sleep(delay)
        finally:
            if batches:
                await asyncio.gather(*batches)
            self.running = False
        if report.counts:
            log.info("%s", report.summary_line())
        return report

    async def _claim(self, limit: int) -> list[outbox.Claim]:
        """Claim due alerts for chats that may get one now; they count as in flight."""
        busy = sorted(set(self.pacer.busy()) | self.in_flight)
        async with self.deps.sessions() as session, session.begin():
            claims = await outbox.claim(
                session,
                self.deps.worker_id,
                self.deps.clock(),
                limit,
                wall=time.time(),
                exclude_chats=busy,
            )
        self.in_flight.update(claim.chat_id for claim in claims)
        return claims

    async def _send_batch(self, claims: Sequence[outbox.Claim], report: BatchReport) -> None:
        """Route each claim (send, hold for quiet hours, gather for a digest) and send."""
        try:
            await self._route_and_send(claims, report)
        finally:
            self.in_flight.difference_update(claim.chat_id for claim in claims)

    async def _route_and_send(self, claims: Sequence[outbox.Claim], report: BatchReport) -> None:
        now = self.deps.clock()
        first: dict[int, outbox.Claim] = {}
        later = [c.id for c in claims if first.setdefault(c.chat_id, c) is not c]
        async with self.deps.sessions() as session:
            prefs = await chats.get_prefs_many(session, sorted(first))
            story_map = await stories.get_stories(session, sorted({c.story_id for c in claims}))
        to_send: list[outbox.Claim] = []
        routed: dict[str, list[int]] = {"queued": later, "digest": [], "held": [], "dropped": []}
        for claim in first.values():
            chat = prefs.get(claim.chat_id)
            if chat is None or not chat.active or claim.story_id not in story_map:
                routed["dropped"].append(claim.id)
            elif chat.digest is not DigestMode.OFF:
                routed["digest"].append(claim.id)
            elif timing.in_quiet_hours(now, chat):
                routed["held"].append(claim.id)
            else:
                to_send.append(claim)
        sending = {claim.chat_id for claim in to_send}
        async with self.deps.sessions() as session, session.begin():
            for status, ids in routed.items():
                if ids:
                    await outbox.set_status(session, ids, status)
            wall = time.time()
            await pacing.space_chats(session, dict.fromkeys(sorted(set(first) - sending), wall))
        report.add("digest", len(routed["digest"]))
        report.add("held", len(routed["held"]))
        report.add("dropped", len(routed["dropped"]))

        async def one(claim: outbox.Claim) -> None:
            await self.pacer.wait_turn(claim.chat_id)
            try:
                await self._deliver(claim, story_map[claim.story_id], prefs[claim.chat_id], report)
            except Exception as exc:  # the per-delivery boundary: one alert never stops the rest
                log.exception("alert %s to %s failed unexpectedly", claim.id, claim.chat_id)
                report.add("crashed")
                async with self.deps.sessions() as session, session.begin():
                    await outbox.mark_failed(session, claim.id, f"internal error: {exc!r}")
                    wall = time.time() + spacing_for(claim.chat_id)
                    await pacing.space_chats(session, {claim.chat_id: wall})
            finally:
                self.in_flight.discard(claim.chat_id)

        await asyncio.gather(*(one(claim) for claim in to_send))

    async def _deliver(
        self, claim: outbox.Claim, story: Story, prefs: ChatPrefs, report: BatchReport
    ) -> None:
        """Send one alert and record what happened, in its own short transaction."""
        text, markup = self._render(story, prefs)
        result = await send_message(
            self.bot,
            claim.chat_id,
            text,
            thread_id=claim.thread_id,
            markup=markup,
            paid=self.deps.settings.paid_broadcast,
        )
        self.pacer.sent(claim.chat_id)
        report.add(result.outcome.value)
        await self.record(claim, story, result)

    def _render(self, story: Story, prefs: ChatPrefs) -> tuple[str, InlineKeyboardMarkup | None]:
        """An alert's text in the chat's time zone, and its buttons."""
        topics = self.deps.topic_map
        text = formatting.render_alert(
            story, tz=prefs.timezone, topics=topics, now=self.deps.clock()
        )
        return text, to_markup(buttons.alert_keyboard(story, topics))

    async def record(self, claim: outbox.Claim, story: Story, result: SendResult) -> None:
        """Apply a send's outcome to the outbox (and the chat, for blocks and migrations)."""
        now, error = self.deps.clock(), result.error or result.outcome.value
        wall = time.time() + max(spacing_for(claim.chat_id), result.retry_after_s)
        async with self.deps.sessions() as session, session.begin():
            await pacing.space_chats(session, {claim.chat_id: wall})
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
                    log.warning(
                        "Telegram asks to wait %.0f s (after the limiter's retries)",
                        result.retry_after_s,
                    )
                    self.pacer.pause(result.retry_after_s)
                    later = now + timedelta(seconds=result.retry_after_s)
                    await outbox.set_status(session, [claim.id], "queued", next_at=later)
                case SendOutcome.BLOCKED:
                    log.info("chat %s blocked or removed the bot: deactivated", claim.chat_id)
                    await chats.deactivate_chat(session, claim.chat_id, error)
                case SendOutcome.MIGRATED if result.new_chat_id is not None:
                    log.info("chat %s migrated to %s", claim.chat_id, result.new_chat_id)
                    await chats.migrate_chat(session, claim.chat_id, result.new_chat_id, now)
                case SendOutcome.TRANSIENT if now - (claim.queued_at or now) < RETRY_WINDOW:
                    attempts = claim.attempts + 1
                    await outbox.mark_retry(
                        session,
                        claim.id,
                        next_at=now + retry_delay(attempts),
                        attempts=attempts,
                        error=error,
                    )
                case SendOutcome.TRANSIENT:
                    await outbox.mark_failed(session, claim.id, f"gave up: {error}")
                case _:
                    log.warning("alert %s to %s rejected: %s", claim.id, claim.chat_id, error)
                    await outbox.mark_failed(session, claim.id, error)

    async def _edit_updated(self, report: BatchReport) -> None:
        """Edit sent alerts whose story gained outlets since ("+N outlets")."""
        async with self.deps.sessions() as session, session.begin():
            claims = await outbox.claim_edits(
                session, self.deps.worker_id, self.deps.clock(), EDITS_PER_BATCH
            )
        if not claims:
            return
        async with self.deps.sessions() as session:
            prefs = await chats.get_prefs_many(session, sorted({c.chat_id for c in claims}))
            story_map = await stories.get_stories(session, sorted({c.story_id for c in claims}))
        for claim in claims:
            story, chat = story_map.get(claim.story_id), prefs.get(claim.chat_id)
            if story is None or chat is None or claim.message_id is None:
                continue
            text, markup = self._render(story, chat)
            await self.pacer.wait_turn(claim.chat_id)
            try:
                await self.bot.edit_message_text(
                    text,
                    chat_id=claim.chat_id,
                    message_id=claim.message_id,
                    parse_mode="HTML",
                    reply_markup=markup,
                    link_preview_options=NO_PREVIEW,
                )
            except TelegramError as exc:
                log.info("could not edit alert %s in %s: %s", claim.id, claim.chat_id, exc)
                report.add("edit_failed")
                continue
            finally:
                self.pacer.sent(claim.chat_id)
            report.add("edited")
            async with self.deps.sessions() as session, session.begin():
                await outbox.mark_edited(session, claim.id, story.outlets)

    async def release(self) -> int:
        """Give back whatever this process claimed and did not send (graceful stop)."""
        async with self.deps.sessions() as session, session.begin():
            return await outbox.release_worker(session, self.deps.worker_id)


async def release_stale_claims(deps: Deps, *, lease: timedelta) -> int:
    """Give back claims of senders that died; at start-up and periodically.

    A claim is stale when it is older than `lease`, or older than HEARTBEAT_STALE while its
    sender has stopped beating its heartbeat (a killed instance on PostgreSQL: its claims come
    back within a minute, not after the whole lease). This process's own claims are never
    taken back: they are in flight here.
    """
    now = deps.clock()
    async with deps.sessions() as session, session.begin():
        released = await outbox.release_stale(
            session,
            older_than=now - lease,
            orphaned_before=now - HEARTBEAT_STALE,
            keep=deps.worker_id,
        )
    if released:
        log.warning("took back %d alerts claimed by a sender that stopped", released)
    return released
