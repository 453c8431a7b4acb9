"""What every handler shares: where a message came from, how to answer, who may change things."""

from __future__ import annotations

import time
from dataclasses import dataclass

from telegram import Chat, ChatMember, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import TelegramError

from bot import buttons
from bot.context import BotContext
from bot.delivery import NO_PREVIEW, to_markup
from bot.errors import UserError
from bot.store import chats

ADMIN_CACHE_S = 120.0
ADMIN_STATUSES = {ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER}


@dataclass(frozen=True, slots=True)
class Where:
    """The chat and forum thread a command came from (thread 0 outside forums)."""

    chat_id: int
    thread_id: int
    chat_type: str
    user_id: int | None


def where(update: Update) -> Where:
    chat = update.effective_chat
    message = update.effective_message
    if chat is None:
        raise UserError("This works in a chat.")
    thread = message.message_thread_id if message is not None and message.is_topic_message else None
    user = update.effective_user
    return Where(chat.id, thread or 0, chat.type, user.id if user else None)


def command_text(update: Update) -> str:
    """The text after the command word (`/follow@Bot a "b c"` -> `a "b c"`)."""
    message = update.effective_message
    text = (message.text or message.caption or "") if message else ""
    parts = text.split(maxsplit=1)
    return parts[1] if len(parts) > 1 else ""


async def remember_chat(update: Update, context: BotContext) -> Where:
    """Record the chat on first contact (and reactivate it); returns where it is."""
    place = where(update)
    chat = update.effective_chat
    assert chat is not None
    deps = context.deps
    async with deps.sessions() as session, session.begin():
        await chats.ensure_chat(
            session,
            place.chat_id,
            type=chat.type,
            now=deps.clock(),
            title=chat.title or chat.full_name,
            username=chat.username,
        )
    return place


async def reply(
    update: Update,
    text: str,
    keyboard: buttons.Keyboard | InlineKeyboardMarkup | None = None,
) -> Message | None:
    """Answer in the same chat and forum thread, HTML, no link previews."""
    message = update.effective_message
    if message is None:
        return None
    markup = to_markup(keyboard) if isinstance(keyboard, tuple) else keyboard
    return await message.reply_html(
        text, reply_markup=markup, link_preview_options=NO_PREVIEW, do_quote=False
    )


async def is_chat_admin(context: BotContext, chat_id: int, user_id: int) -> bool:
    """Is this user an administrator of the chat? Asked with getChatMember, cached briefly."""
    cache: dict[tuple[int, int], tuple[float, bool]] = context.bot_data.extras.setdefault(
        "admin_cache", {}
    )
    key = (chat_id, user_id)
    cached = cache.get(key)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    try:
        member: ChatMember = await context.bot.get_chat_member(chat_id, user_id)
        allowed = member.status in ADMIN_STATUSES
    except TelegramError:
        allowed = False
    cache[key] = (time.monotonic() + ADMIN_CACHE_S, allowed)
    return allowed


async def require_manager(update: Update, context: BotContext) -> Where:
    """Only group admins may change a group's follows and settings; anyone in a private chat.

    In a channel the post itself comes from an admin (only admins can post), so it is allowed.
    """
    place = await remember_chat(update, context)
    if place.chat_type in (ChatType.PRIVATE, ChatType.CHANNEL):
        return place
    if place.user_id is None or not await is_chat_admin(context, place.chat_id, place.user_id):
        raise UserError("Only admins of this group can change what it follows and its settings.")
    return place


def is_group(chat: Chat | None) -> bool:
    return chat is not None and chat.type in (ChatType.GROUP, ChatType.SUPERGROUP)
