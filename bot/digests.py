"""Gathered alerts: the catch-up after quiet hours and the hourly or daily digest.

Both claim a chat's rows in one state ('held' or 'digest') with one UPDATE, render them as one
list split below Telegram's limit, send the parts in order and mark every row sent; a digest
also records its time in the same transaction, so a crash cannot send the next one early.
Claiming first means two runs (or two instances) never send the same digest.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime

from telegram import Bot

from bot import formatting, timing
from bot.context import Deps
from bot.models import ChatPrefs, DigestMode, Story
from bot.sending import Pacer, SendOutcome, SendResult, send_message
from bot.store import chats, outbox, stories

log = logging.getLogger(__name__)

CATCH_UP = "catch-up"
DIGEST = "digest"


def _render(
    deps: Deps, prefs: ChatPrefs, listed: list[Story], kind: str, now: datetime
) -> list[str]:
    topics = deps.topic_map
    if kind == CATCH_UP:
        since = min((story.first_seen_at for story in listed), default=now)
        return formatting.render_catch_up(
            listed, tz=prefs.timezone, topics=topics, since=since, now=now
        )
    period = "Hourly" if prefs.digest is DigestMode.HOURLY else "Daily"
    return formatting.render_digest(
        listed, tz=prefs.timezone, topics=topics, period=period, now=now
    )


async def _send_parts(
    deps: Deps, bot: Bot, pacer: Pacer, chat_id: int, thread_id: int, messages: list[str]
) -> SendResult:
    """Send a list's parts in order; the first failure stops and is returned."""
    result = SendResult(SendOutcome.SENT)
    for text in messages:
        await pacer.wait_turn(chat_id)
        result = await send_message(
            bot, chat_id, text, thread_id=thread_id, paid=deps.settings.paid_broadcast
        )
        pacer.sent(chat_id)
        if result.outcome is not SendOutcome.SENT:
            if result.outcome is SendOutcome.RETRY_AFTER:
                pacer.pause(result.retry_after_s)
            break
    return result


async def _send_gathered(
    deps: Deps, bot: Bot, pacer: Pacer, prefs: ChatPrefs, status: str, kind: str
) -> int:
    """Send one chat's gathered rows as list messages (per forum thread); returns stories sent.

    On a failure the rows not sent go back to `status` for the next run, except when the
    chat blocked the bot (dropped), moved (they move with it) or Telegram refused the
    message for good (dead-lettered with the reason).
    """
    chat_id, now = prefs.chat_id, deps.clock()
    async with deps.sessions() as session, session.begin():
        rows = await outbox.claim_gathered(session, chat_id, status, deps.worker_id, now)
    if not rows:
        return 0
    async with deps.sessions() as session:
        story_map = await stories.get_stories(session, sorted({row.story_id for row in rows}))
    by_thread: dict[int, list[outbox.Claim]] = defaultdict(list)
    for row in rows:
        by_thread[row.thread_id].append(row)
    sent = 0
    result = SendResult(SendOutcome.SENT)
    for thread_id, thread_rows in by_thread.items():
        listed = [story_map[row.story_id] for row in thread_rows if row.story_id in story_map]
        listed.sort(key=lambda story: story.first_seen_at, reverse=True)
        messages = _render(deps, prefs, listed, kind, now)
        result = await _send_parts(deps, bot, pacer, chat_id, thread_id, messages)
        if result.outcome is not SendOutcome.SENT:
            break
        async with deps.sessions() as session, session.begin():
            await outbox.mark_sent(
                session,
                [row.id for row in thread_rows],
                message_id=None,
                outlets=0,
                now=now,
            )
            if kind == DIGEST:
                await chats.update_settings(session, chat_id, last_digest_at=now)
        sent += len(thread_rows)
    if result.outcome is not SendOutcome.SENT:
        await _settle_failure(deps, prefs, status, kind, result)
    return sent


async def _settle_failure(
    deps: Deps, prefs: ChatPrefs, status: str, kind: str, result: SendResult
) -> None:
    """What a failed catch-up or digest means for the rows still claimed."""
    chat_id = prefs.chat_id
    deps.counters[f"{kind}_{result.outcome.value}"] += 1
    async with deps.sessions() as session, session.begin():
        match result.outcome:
            case SendOutcome.BLOCKED:
                await chats.deactivate_chat(session, chat_id, result.error or "forbidden")
            case SendOutcome.MIGRATED if result.new_chat_id is not None:
                await chats.migrate_chat(session, chat_id, result.new_chat_id, deps.clock())
            case SendOutcome.REJECTED:
                log.warning("%s for chat %s refused: %s", kind, chat_id, result.error)
                await outbox.restatus_worker_chat(
                    session, deps.worker_id, chat_id, "failed", error=result.error
                )
            case _:
                log.warning("%s for chat %s not sent now: %s", kind, chat_id, result.error)
                await outbox.restatus_worker_chat(session, deps.worker_id, chat_id, status)


async def send_catch_ups(deps: Deps, bot: Bot, pacer: Pacer) -> int:
    """After quiet hours end, one catch-up message per chat with everything held."""
    now = deps.clock()
    async with deps.sessions() as session:
        chat_ids = await outbox.chats_with(session, "held")
        prefs = await chats.get_prefs_many(session, chat_ids)
    total = 0
    for chat_id in chat_ids:
        chat = prefs.get(chat_id)
        if chat is None or timing.in_quiet_hours(now, chat):
            continue
        if chat.digest is not DigestMode.OFF:
            async with deps.sessions() as session, session.begin():
                await outbox.restatus_chat(session, chat_id, "held", DIGEST)
            continue
        total += await _send_gathered(deps, bot, pacer, chat, "held", CATCH_UP)
    deps.counters["catch_up_stories"] += total
    return total


async def send_digests(deps: Deps, bot: Bot, pacer: Pacer) -> int:
    """Hourly and daily digests that are due (outside quiet hours)."""
    now = deps.clock()
    async with deps.sessions() as session:
        chat_ids = await outbox.chats_with(session, DIGEST)
        prefs = await chats.get_prefs_many(session, chat_ids)
        last = await chats.last_digests(session, chat_ids)
    total = 0
    for chat_id in chat_ids:
        chat = prefs.get(chat_id)
        if chat is None or timing.in_quiet_hours(now, chat):
            continue
        if chat.digest is DigestMode.OFF:
            async with deps.sessions() as session, session.begin():
                await outbox.restatus_chat(session, chat_id, DIGEST, "queued")
            continue
        if timing.digest_due(now, chat, last.get(chat_id)):
            total += await _send_gathered(deps, bot, pacer, chat, DIGEST, DIGEST)
    deps.counters["digest_stories"] += total
    return total
