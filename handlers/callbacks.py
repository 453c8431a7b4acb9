"""Inline button presses: more on a topic, mute (with undo), follow, remove, stop, outlets.

Every press is answered (answerCallbackQuery); stale or forged data gets a polite notice.
"""

from __future__ import annotations

from telegram import Update

from bot import buttons, formatting
from bot.buttons import Action
from bot.context import BotContext
from bot.errors import UserError
from bot.store import chats, stories
from bot.store.chats import FollowKind
from handlers.common import reply, require_manager


async def on_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    if query is None:
        return
    callback = buttons.decode_callback(query.data or "")
    if callback is None:
        await query.answer("This button is no longer valid.")
        return
    try:
        notice = await _act(update, context, callback)
    except UserError as exc:
        await query.answer(exc.message[:190], show_alert=True)
        return
    await query.answer(notice)


async def _act(update: Update, context: BotContext, callback: buttons.Callback) -> str | None:
    """Do what the button asks; returns the short notice shown to the presser."""
    deps = context.deps
    topic = deps.topics.resolve(callback.arg) if callback.action in _TOPIC_ACTIONS else None
    if callback.action in _TOPIC_ACTIONS and topic is None:
        return "That topic no longer exists."
    match callback.action:
        case Action.MORE:
            assert topic is not None
            async with deps.sessions() as session:
                found = await stories.latest(session, 5, topic=topic.key, items=True)
                prefs = await chats.get_prefs(
                    session, update.effective_chat.id if update.effective_chat else 0
                )
            tz = prefs.timezone if prefs else "UTC"
            for text in formatting.render_story_list(
                found,
                tz=tz,
                topics=deps.topic_map,
                now=deps.clock(),
                heading=f"Latest on {topic.label}",
            ):
                await reply(update, text)
            return None
        case Action.MUTE | Action.UNFOLLOW_TOPIC:
            assert topic is not None
            place = await require_manager(update, context)
            async with deps.sessions() as session, session.begin():
                removed = await chats.remove_follow(
                    session, place.chat_id, place.thread_id, FollowKind.TOPIC, topic.key
                )
            if callback.action is Action.MUTE:
                await reply(
                    update,
                    f"🔕 Muted <b>{formatting.escape(topic.label)}</b>.",
                    buttons.undo_keyboard(topic),
                )
            return f"Muted {topic.label}" if removed else f"{topic.label} was not followed here"
        case Action.UNDO | Action.FOLLOW:
            assert topic is not None
            place = await require_manager(update, context)
            async with deps.sessions() as session, session.begin():
                await chats.add_follow(
                    session,
                    place.chat_id,
                    place.thread_id,
                    FollowKind.TOPIC,
                    topic.key,
                    deps.clock(),
                )
            return f"Following {topic.label}"
        case Action.UNFOLLOW_KEYWORD:
            place = await require_manager(update, context)
            if not callback.arg.isdigit():
                return "This button is no longer valid."
            async with deps.sessions() as session, session.begin():
                gone = await chats.remove_follow_by_id(session, place.chat_id, int(callback.arg))
            return f"Removed {gone.value}" if gone else "Already removed"
        case Action.STOP_CONFIRM:
            place = await require_manager(update, context)
            async with deps.sessions() as session, session.begin():
                await chats.delete_chat(session, place.chat_id)
            await reply(
                update, "👋 Stopped. Everything about this chat is deleted; /start brings me back."
            )
            return "Stopped"
        case Action.STOP_CANCEL:
            return "Nothing changed"
        case Action.OUTLETS:
            if not callback.arg.isdigit():
                return "This button is no longer valid."
            async with deps.sessions() as session:
                story = await stories.get_story(session, int(callback.arg))
                prefs = await chats.get_prefs(
                    session, update.effective_chat.id if update.effective_chat else 0
                )
            if story is None:
                return "That story is no longer stored."
            await reply(
                update,
                formatting.render_outlets(
                    story, tz=prefs.timezone if prefs else "UTC", now=deps.clock()
                ),
            )
            return None
        case Action.LATEST:
            count = (
                int(callback.arg) if callback.arg.isdigit() and 1 <= int(callback.arg) <= 20 else 5
            )
            async with deps.sessions() as session:
                found = await stories.latest(session, count, items=True)
            for text in formatting.render_story_list(
                found, tz="UTC", topics=deps.topic_map, now=deps.clock(), heading="Latest stories"
            ):
                await reply(update, text)
            return None
    return "This button is no longer valid."


_TOPIC_ACTIONS = frozenset(
    {Action.MORE, Action.MUTE, Action.UNDO, Action.FOLLOW, Action.UNFOLLOW_TOPIC}
)
