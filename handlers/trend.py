"""/trend [TOPIC]: a chart of stories per day over the last 14 days."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from telegram import Update
from telegram.error import BadRequest, InvalidToken

from bot import args, charts, replies
from bot.context import BotContext
from bot.errors import UserError
from bot.formatting import escape
from bot.store import chats, stories
from handlers.common import reply, where

log = logging.getLogger(__name__)


async def trend(update: Update, context: BotContext) -> None:
    deps = context.deps
    query = args.parse_query(list(context.args or []), command="/trend")
    topic = deps.topics.resolve(query) if query else None
    if query and topic is None:
        suggestions = [t.key for t in deps.topics.suggest(query)]
        hint = f"/trend {suggestions[0]}" if suggestions else "/trend kursk"
        raise UserError(f"No topic called {query!r}.", hint)
    now = deps.clock()
    async with deps.sessions() as session:
        rows = await stories.daily_counts(
            session, now - timedelta(days=charts.DAYS), topic.key if topic else None
        )
        prefs = await chats.get_prefs(session, where(update).chat_id)
    tz = prefs.timezone if prefs else "UTC"
    series = charts.count_per_day(rows, now=now, tz=tz)
    label = topic.label if topic else "all topics"
    title = f"Stories per day: {label}"
    png = await asyncio.to_thread(charts.render_png, series, title)
    message = update.effective_message
    if message is None:
        return
    caption = replies.trend_caption(sum(series.totals), label, charts.DAYS)
    try:
        await message.reply_photo(png, caption=caption, do_quote=False)
    except (BadRequest, InvalidToken) as exc:  # refused (a server may answer a photo 400 or 404)
        log.warning("the chart was refused as a photo (%s); sending it as text", exc)
        text = charts.render_text(series, title)
        await reply(update, f"<pre>{escape(text)}</pre>\n{escape(caption)}")
