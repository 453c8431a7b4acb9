"""Inline button presses: more on a topic, mute (with undo), follow, remove, stop, outlets.

Every press is answered (answerCallbackQuery), exactly once: with the action's short notice,
with a polite notice for stale or forged data, or with an alert for a refusal (a member of a
group pressing Mute). One small function per action, looked up in ACTIONS.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import Update

from bot import buttons, formatting, replies
from bot.buttons import Action
from bot.context import BotContext
from bot.errors import UserError
from bot.models import Topic
from bot.store import chats, stories
from bot.store.chats import FollowKind
from handlers.common import edit, is_channel, reply, require_manager, where
from handlers.follow import following_view
from handlers.stories import show_latest, show_topic

STALE = "This button is no longer valid."

ButtonAction = Callable[[Update, BotContext, str], Awaitable[str | None]]


async def on_button(update: Update, context: BotContext) -> None:
    """Decode the press, run its action, answer it."""
    query = update.callback_query
    if query is None:
        return
    callback = buttons.decode_callback(query.data or "")
    if callback is None:
        await query.answer(STALE)
        return
    try:
        notice = await ACTIONS[callback.action](update, context, callback.arg)
    except UserError as exc:
        await query.answer(exc.message[:190], show_alert=True)
        return
    except Exception:
        # Answer before the error handler logs it, or the presser's client spins for a while.
        await query.answer("Sorry, that did not work. Please try again in a minute.")
        raise
    await query.answer(notice)


def _topic(context: BotContext, key: str) -> Topic:
    topic = context.deps.topics.get(key)
    if topic is None:
        raise UserError("That topic no longer exists.")
    return topic


async def _more(update: Update, context: BotContext, key: str) -> str | None:
    """More on TOPIC: that topic's newest stories, in this chat (and thread).

    Not in a channel, where any reader may press it: the list would be posted for everyone.
    """
    topic = _topic(context, key)
    if is_channel(update):
        raise UserError(f"Ask me in a private chat: /topic {topic.key} (@{context.bot.username})")
    await show_topic(update, context, topic.key)
    return None


async def _unfollow(update: Update, context: BotContext, topic: Topic) -> bool:
    place = await require_manager(update, context)
    async with context.deps.sessions() as session, session.begin():
        return await chats.remove_follow(
            session, place.chat_id, place.thread_id, FollowKind.TOPIC, topic.key
        )


async def _follow(update: Update, context: BotContext, topic: Topic) -> None:
    place = await require_manager(update, context)
    deps = context.deps
    async with deps.sessions() as session, session.begin():
        await chats.add_follow(
            session, place.chat_id, place.thread_id, FollowKind.TOPIC, topic.key, deps.clock()
        )


async def _mute(update: Update, context: BotContext, key: str) -> str | None:
    """Mute TOPIC under an alert, and offer Undo: unfollow it, and if the chat would still
    get its stories (it follows everything, words, or other topics its stories share), mute
    it too, so that the button does what it says whatever brought the alert."""
    topic = _topic(context, key)
    place = await require_manager(update, context)
    deps = context.deps
    async with deps.sessions() as session, session.begin():
        unfollowed = await chats.remove_follow(
            session, place.chat_id, place.thread_id, FollowKind.TOPIC, topic.key
        )
        if await chats.follows_anything(session, place.chat_id, place.thread_id):
            await chats.add_follow(
                session, place.chat_id, place.thread_id, FollowKind.MUTE, topic.key, deps.clock()
            )
        elif not unfollowed:
            return f"{topic.label} was not followed here"
    await reply(update, replies.muted(topic), buttons.undo_keyboard(topic, was_followed=unfollowed))
    return f"Muted {topic.label}"


async def _undo(update: Update, context: BotContext, key: str) -> str | None:
    """Undo a mute: follow again (which lifts the mute), and say so in place of the button."""
    topic = _topic(context, key)
    await _follow(update, context, topic)
    await edit(update, replies.unmuted(topic))
    return f"Following {topic.label}"


async def _unmute(update: Update, context: BotContext, key: str) -> str | None:
    """Undo a mute of a topic the chat did not follow: lift the mute only."""
    topic = _topic(context, key)
    place = await require_manager(update, context)
    async with context.deps.sessions() as session, session.begin():
        await chats.remove_follow(
            session, place.chat_id, place.thread_id, FollowKind.MUTE, topic.key
        )
    await edit(update, replies.mute_lifted(topic))
    return f"{topic.label} unmuted"


async def _follow_topic(update: Update, context: BotContext, key: str) -> str | None:
    """Follow TOPIC from the /start buttons."""
    topic = _topic(context, key)
    await _follow(update, context, topic)
    return f"Following {topic.label}"


async def _unfollow_topic(update: Update, context: BotContext, key: str) -> str | None:
    """✖ TOPIC under /following: unfollow it and redraw the list."""
    topic = _topic(context, key)
    if not await _unfollow(update, context, topic):
        return "Already removed"
    await _redraw_following(update, context)
    return f"Removed {topic.label}"


async def _unfollow_keyword(update: Update, context: BotContext, arg: str) -> str | None:
    """✖ “phrase” under /following: remove that follow (of this chat only) and redraw."""
    place = await require_manager(update, context)
    follow_id, tag = buttons.split_follow_arg(arg)
    async with context.deps.sessions() as session, session.begin():
        gone = await chats.remove_follow_by_id(session, place.chat_id, follow_id, tag)
    if gone is None:
        return "Already removed"
    await _redraw_following(update, context)
    return f"Removed {gone.value}"


async def _redraw_following(update: Update, context: BotContext) -> None:
    text, keyboard = await following_view(context.deps, where(update))
    await edit(update, text, keyboard)


async def _stop_confirm(update: Update, context: BotContext, _: str) -> str | None:
    """/stop confirmed: delete everything about this chat; the question becomes the answer."""
    place = await require_manager(update, context)
    async with context.deps.sessions() as session, session.begin():
        await chats.delete_chat(session, place.chat_id)
    await edit(update, replies.STOPPED)
    return "Stopped"


async def _stop_cancel(update: Update, context: BotContext, _: str) -> str | None:
    await require_manager(update, context)
    await edit(update, replies.NOT_STOPPED)
    return "Nothing changed"


async def _outlets(update: Update, context: BotContext, story_id: str) -> str | None:
    """N outlets: every outlet that reported the story, with links."""
    deps = context.deps
    async with deps.sessions() as session:
        story = await stories.get_story(session, int(story_id))
        prefs = await chats.get_prefs(session, where(update).chat_id)
    if story is None:
        return "That story is no longer stored."
    if is_channel(update):  # any reader may press it: answer them alone
        raise UserError(replies.outlet_names(story))
    tz = prefs.timezone if prefs else "UTC"
    await reply(update, formatting.render_outlets(story, tz=tz, now=deps.clock()))
    return None


async def _latest(update: Update, context: BotContext, count: str) -> str | None:
    await show_latest(update, context, min(int(count), 20))
    return None


ACTIONS: dict[Action, ButtonAction] = {
    Action.MORE: _more,
    Action.MUTE: _mute,
    Action.UNDO: _undo,
    Action.UNMUTE: _unmute,
    Action.FOLLOW: _follow_topic,
    Action.UNFOLLOW_TOPIC: _unfollow_topic,
    Action.UNFOLLOW_KEYWORD: _unfollow_keyword,
    Action.STOP_CONFIRM: _stop_confirm,
    Action.STOP_CANCEL: _stop_cancel,
    Action.OUTLETS: _outlets,
    Action.LATEST: _latest,
}
