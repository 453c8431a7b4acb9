"""Sending queued alerts: claim, send under Telegram's limits, mark.

Pacing has two layers. The Application's rate limiter holds the global rate (SEND_RATE) and,
on a 429, pauses every request for `retry_after` and retries up to three times. The sender
spaces messages per chat (`bot.sending.Pacer` in this process, the chat leases of
`bot.store.pacing` across instances) and decides what each final error means: a 429 that
outlived the limiter's retries pauses the sender too and requeues the alert for after
`retry_after`.

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

from telegram import Bot, InlineKeyboardMarkup
from telegram.error import TelegramError

from bot import buttons, formatting, timing
from bot.context import Deps
from bot.models import ChatPrefs, DigestMode, Story
from bot.sending import (
    NO_PREVIEW,
    Pacer,
    SendOutcome,
    SendResult,
    send_message,
    spacing_for,
    to_markup,
)
from bot.store import chats, outbox, pacing, stories

log = logging.getLogger(__name__)

RETRY_WINDOW = timedelta(hours=12)
RECHECK_S = 0.25
EDITS_PER_BATCH = 50
HEARTBEAT_STALE = timedelta(seconds=30)


def retry_delay(attempts: int) -> timedelta:
    """Exponential back-off for 5xx and network errors: 2, 4, 8 … s, capped at 10 min.

    An alert is retried like this for RETRY_WINDOW after it was queued, so a Telegram outage
    of hours loses nothing; after that it is dead-lettered, being news of the day before.
    """
    return timedelta(seconds=min(2 ** max(attempts, 1), 600))


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
        self.claimed: set[int] = set()

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
        self.claimed.update(claim.id for claim in claims)
        return claims

    async def _send_batch(self, claims: Sequence[outbox.Claim], report: BatchReport) -> None:
        """Route each claim (send, hold for quiet hours, gather for a digest) and send."""
        try:
            await self._route_and_send(claims, report)
        except Exception as exc:  # e.g. the database went away between the claim and a send
            log.warning("a delivery batch failed (%s); its unsent alerts go back to the queue", exc)
            report.add("batch_failed")
            await self._give_back([claim.id for claim in claims])
        finally:
            self.in_flight.difference_update(claim.chat_id for claim in claims)
            self.claimed.difference_update(claim.id for claim in claims)

    async def _give_back(self, ids: Sequence[int]) -> None:
        """Requeue whichever of these claims were not sent; if the database cannot be reached,
        the clean-up job takes them back once their lease is over."""
        try:
            async with self.deps.sessions() as session, session.begin():
                await outbox.release_worker(session, self.deps.worker_id, ids)
        except Exception as exc:
            log.warning("could not requeue %d alerts now (%s); the clean-up will", len(ids), exc)

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
        """Apply a send's outcome to the outbox (and the chat, for blocks and migrations).

        The chat's lease ends with its spacing after a message Telegram took, after the wait it
        asked for on a 429, and at once when nothing reached the chat (5xx, network, 400).
        """
        now, error = self.deps.clock(), result.error or result.outcome.value
        wall = time.time() + {
            SendOutcome.SENT: spacing_for(claim.chat_id),
            SendOutcome.RETRY_AFTER: result.retry_after_s,
        }.get(result.outcome, 0.0)
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


async def release_stale_claims(
    deps: Deps, *, lease: timedelta, in_flight: Sequence[int] = ()
) -> int:
    """Give back claims of senders that died; at start-up and periodically.

    A claim is stale when it is older than `lease`, or older than HEARTBEAT_STALE while its
    sender has stopped beating its heartbeat (a killed instance on PostgreSQL: its claims come
    back within a minute, not after the whole lease). This process's own claims come back
    after the lease too, unless they are `in_flight` (`Sender.claimed`).
    """
    now = deps.clock()
    async with deps.sessions() as session, session.begin():
        released = await outbox.release_stale(
            session,
            older_than=now - lease,
            orphaned_before=now - HEARTBEAT_STALE,
            keep=deps.worker_id,
            in_flight=sorted(in_flight),
        )
    if released:
        log.warning("took back %d alerts claimed by a sender that stopped", released)
    return released
