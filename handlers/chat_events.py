"""The bot added to or removed from a chat, and groups that became supergroups."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatMemberStatus

from bot import args, replies
from bot.context import BotContext
from bot.store import chats
from handlers.common import is_group, remember_chat, reply
from handlers.stories import show_topic

log = logging.getLogger(__name__)

GONE = {ChatMemberStatus.LEFT, ChatMemberStatus.BANNED}


async def membership(update: Update, context: BotContext) -> None:
    """Greet when added; deactivate when removed, kicked or blocked."""
    change = update.my_chat_member
    if change is None:
        return
    status = change.new_chat_member.status
    deps = context.deps
    if status in GONE:
        async with deps.sessions() as session, session.begin():
            await chats.deactivate_chat(session, change.chat.id, f"bot {status}")
        log.info("removed from chat %s: deactivated", change.chat.id)
        return
    was_in = change.old_chat_member.status not in GONE
    await remember_chat(update, context)
    if not was_in and change.chat.type != "private":
        if change.chat.type == "channel":
            return
        await context.bot.send_message(change.chat.id, replies.GROUP_HELLO, parse_mode="HTML")


async def migrated(update: Update, context: BotContext) -> None:
    """A group became a supergroup: its follows and settings move to the new id."""
    message = update.effective_message
    if message is None or message.migrate_to_chat_id is None:
        return
    deps = context.deps
    async with deps.sessions() as session, session.begin():
        await chats.migrate_chat(session, message.chat.id, message.migrate_to_chat_id, deps.clock())
    log.info("chat %s migrated to %s", message.chat.id, message.migrate_to_chat_id)


async def unknown_command(update: Update, context: BotContext) -> None:
    """A hint to /help; in a group, a command addressed to another bot is not ours to answer."""
    message = update.effective_message
    addressee = args.command_addressee(message.text or "" if message else "")
    others = addressee not in ("", context.bot.username.casefold())
    if others and is_group(update.effective_chat):
        return
    await reply(update, replies.error("I don't know that command.", "/help"))


async def plain_text(update: Update, context: BotContext) -> None:
    """Text in a private chat: a topic's latest if it names one, else a pointer to /help."""
    message = update.effective_message
    if message is None or not message.text:
        return
    topic = context.deps.topics.resolve(message.text.strip()[:80])
    if topic is not None:
        await show_topic(update, context, topic.key)
        return
    await reply(update, "I answer commands: try <code>/latest</code>, or /help for all of them.")
