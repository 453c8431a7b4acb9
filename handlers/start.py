"""/start and /help."""

from __future__ import annotations

from telegram import Update

from bot import buttons, replies
from bot.context import BotContext
from handlers.common import remember_chat, reply

POPULAR = ("north-korea", "kursk", "drones", "energy", "peace-talks", "kharkiv")


async def start(update: Update, context: BotContext) -> None:
    """Welcome, how it works, and buttons to follow popular topics."""
    await remember_chat(update, context)
    topics = context.deps.topic_map
    popular = [topics[key] for key in POPULAR if key in topics] or list(topics.values())[:6]
    await reply(update, replies.WELCOME, buttons.start_keyboard(popular))


async def help_command(update: Update, context: BotContext) -> None:
    """Every command with an example (rendered once from the command table)."""
    await reply(update, context.bot_data.extras["help"])
