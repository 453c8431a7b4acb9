"""What every handler shares: where a message came from, how to answer, who may change things."""

from __future__ import annotations

import time
from dataclasses import dataclass

from telegram import Chat, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.error import BadRequest, TelegramError

from bot import buttons
from bot.context import BotContext
from bot.errors import UserError
from bot.sending import NO_PREVIEW, to_markup
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
    as_chat: bool = False
    """Sent as the chat itself: by an anonymous admin of a group (from GroupAnonymousBot)."""


def where(update: Update) -> Where:
    chat = update.effective_chat
    message = update.effective_message
    if chat is None:
        raise UserError("This works in a chat.")
    thread = message.message_thread_id if message is not None and message.is_topic_message else None
    user = update.effective_user
    return Where(chat.id, thread or 0, chat.type, user.id if user else None, _as_group(update))


def _as_group(update: Update) -> bool:
    """Did a group's anonymous admin send this message, as the group itself?

    Only a new message counts: a button press carries the bot's message, and under a channel
    post that message's sender_chat is the channel whoever pressed.
    """
    message, chat = update.message, update.effective_chat
    sender = message.sender_chat if message is not None else None
    return sender is not None and chat is not None and is_group(chat) and sender.id == chat.id


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


async def edit(update: Update, text: str, keyboard: buttons.Keyboard | None = None) -> None:
    """Rewrite the message a button was pressed under (HTML); no keyboard removes the buttons.

    A repeated press (a double tap, forged data) asks for the text the message already has;
    Telegram refuses that as "message is not modified", which here means done.
    """
    query = update.callback_query
    if query is None or query.message is None:
        return
    try:
        await query.edit_message_text(
            text,
            parse_mode=ParseMode.HTML,
            reply_markup=to_markup(keyboard) if keyboard else None,
            link_preview_options=NO_PREVIEW,
        )
    except BadRequest as exc:
        if "not modified" not in exc.message:
            raise


async def chat_admins(context: BotContext, chat_id: int) -> frozenset[int]:
    """The user ids of a chat's administrators (the bot too when it is one), cached briefly.

    One getChatAdministrators answers for every member and for the bot itself, so a busy group
    costs one call per ADMIN_CACHE_S rather than one per command. A chat we cannot ask (the bot
    was removed, the name is wrong) has no administrators we know of.
    """
    cache: dict[int, tuple[float, frozenset[int]]] = context.bot_data.extras.setdefault(
        "admin_cache", {}
    )
    cached = cache.get(chat_id)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    try:
        members = await context.bot.get_chat_administrators(chat_id)
        admins = frozenset(m.user.id for m in members if m.status in ADMIN_STATUSES)
    except TelegramError:
        admins = frozenset()
    cache[chat_id] = (time.monotonic() + ADMIN_CACHE_S, admins)
    return admins


async def is_chat_admin(context: BotContext, chat_id: int, user_id: int) -> bool:
    """Is this user (or the bot) an administrator of the chat?

    With no administrator list (a Bot API server without getChatAdministrators, or one
    that failed), the member is asked about alone with getChatMember."""
    admins = await chat_admins(context, chat_id)
    if admins:
        return user_id in admins
    try:
        member = await context.bot.get_chat_member(chat_id, user_id)
    except TelegramError:
        return False
    return member.status in ADMIN_STATUSES


async def require_manager(update: Update, context: BotContext) -> Where:
    """Only admins may change a group's or a channel's follows and settings; anyone their own.

    A channel post comes from an admin (only admins can post), so it is allowed; so is a
    group message sent as the group itself, which only an anonymous admin can send (its
    `from` is GroupAnonymousBot, which is no admin). A button under a channel post can be
    pressed by any reader, so the presser is checked.
    """
    place = await remember_chat(update, context)
    if place.chat_type == ChatType.PRIVATE or place.as_chat:
        return place
    if place.chat_type == ChatType.CHANNEL and update.channel_post is not None:
        return place
    if place.user_id is None or not await is_chat_admin(context, place.chat_id, place.user_id):
        kind = "channel" if place.chat_type == ChatType.CHANNEL else "group"
        raise UserError(f"Only admins of this {kind} can change what it follows and its settings.")
    return place


def is_channel(update: Update) -> bool:
    chat = update.effective_chat
    return chat is not None and chat.type == ChatType.CHANNEL


def is_group(chat: Chat | None) -> bool:
    return chat is not None and chat.type in (ChatType.GROUP, ChatType.SUPERGROUP)
