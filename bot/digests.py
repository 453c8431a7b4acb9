"""Gathered alerts: the catch-up after quiet hours and the hourly or daily digest.

Both collect a chat's rows in one state ('held' or 'digest'), render them as one list split
below Telegram's limit, send the parts in order and mark every row sent.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict

from telegram import Bot

from bot import formatting, timing
from bot.context import Deps
from bot.delivery import Pacer, SendOutcome, send_message
from bot.models import DigestMode
from bot.store import chats, outbox, stories

log = logging.getLogger(__name__)


async def _send_gathered(
    deps: Deps, bot: Bot, pacer: Pacer, chat_id: int, status: str, kind: str
) -> int:
    """Send one chat's gathered rows as list messages (per forum thread); returns stories sent."""
    now = deps.clock()
    async with deps.sessions() as session:
        prefs = await chats.get_prefs(session, chat_id)
        rows = await outbox.rows_with(session, chat_id, status)
        story_map = await stories.get_stories(session, sorted({row.story_id for row in rows}))
    if prefs is None or not rows:
        return 0
    by_thread: dict[int, list[outbox.Claim]] = defaultdict(list)
    for row in rows:
        by_thread[row.thread_id].append(row)
    sent = 0
    topics = deps.topic_map
    for thread_id, thread_rows in by_thread.items():
        listed = [story_map[row.story_id] for row in thread_rows if row.story_id in story_map]
        listed.sort(key=lambda story: story.first_seen_at, reverse=True)
        if kind == "catch-up":
            since = min(story.first_seen_at for story in listed) if listed else now
            messages = formatting.render_catch_up(
                listed, tz=prefs.timezone, topics=topics, since=since, now=now
            )
        else:
            period = "Hourly" if prefs.digest is DigestMode.HOURLY else "Daily"
            messages = formatting.render_digest(
                listed, tz=prefs.timezone, topics=topics, period=period, now=now
            )
        message_id = None
        for text in messages:
            await asyncio.sleep(max(0.0, pacer.reserve(chat_id) - time.monotonic()))
            result = await send_message(bot, chat_id, text, thread_id=thread_id)
            if result.outcome is SendOutcome.BLOCKED:
                async with deps.sessions() as session, session.begin():
                    await chats.deactivate_chat(session, chat_id, result.error or "forbidden")
                return sent
            if result.outcome is not SendOutcome.SENT:
                log.warning("%s for chat %s not sent: %s", kind, chat_id, result.error)
                return sent
            message_id = result.message_id
        async with deps.sessions() as session, session.begin():
            await outbox.mark_sent(
                session, [row.id for row in thread_rows], message_id=message_id, outlets=0, now=now
            )
        sent += len(thread_rows)
    return sent


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
                held = await outbox.rows_with(session, chat_id, "held")
                await outbox.set_status(session, [row.id for row in held], "digest")
            continue
        total += await _send_gathered(deps, bot, pacer, chat_id, "held", "catch-up")
    return total


async def send_digests(deps: Deps, bot: Bot, pacer: Pacer) -> int:
    """Hourly and daily digests that are due (outside quiet hours)."""
    now = deps.clock()
    async with deps.sessions() as session:
        chat_ids = await outbox.chats_with(session, "digest")
        prefs = await chats.get_prefs_many(session, chat_ids)
        last = await chats.last_digests(session, chat_ids)
    total = 0
    for chat_id in chat_ids:
        chat = prefs.get(chat_id)
        if chat is None or timing.in_quiet_hours(now, chat):
            continue
        if chat.digest is DigestMode.OFF:
            async with deps.sessions() as session, session.begin():
                rows = await outbox.rows_with(session, chat_id, "digest")
                await outbox.set_status(session, [row.id for row in rows], "queued")
            continue
        if not timing.digest_due(now, chat, last.get(chat_id)):
            continue
        total += await _send_gathered(deps, bot, pacer, chat_id, "digest", "digest")
        async with deps.sessions() as session, session.begin():
            await chats.update_settings(session, chat_id, last_digest_at=now)
    return total
