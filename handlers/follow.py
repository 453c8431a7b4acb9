"""/follow, /unfollow and /following (topics, everything, own keywords, exclusions)."""

from __future__ import annotations

from telegram import Update
from telegram.constants import ChatType
from telegram.error import TelegramError

from bot import args, buttons, replies
from bot.context import BotContext
from bot.errors import UserError
from bot.store import chats
from bot.store.chats import MAX_FOLLOWS, FollowKind
from handlers.common import (
    Where,
    command_text,
    is_chat_admin,
    remember_chat,
    reply,
    require_manager,
)


async def _target(update: Update, context: BotContext, text: str) -> tuple[Where, str]:
    """The chat to change: this one, or a channel named first (`/follow @channel kursk`)."""
    place = await require_manager(update, context)
    first, _, rest = text.strip().partition(" ")
    if not first.startswith("@") or len(first) < 3:
        return place, text
    if place.chat_type != ChatType.PRIVATE or place.user_id is None:
        raise UserError("Attach a channel from a private chat with me.", "/follow @mychannel kursk")
    try:
        channel = await context.bot.get_chat(first[:64])
    except TelegramError:
        raise UserError(
            f"I can't see {first[:64]}: add me to it as an administrator first."
        ) from None
    me = context.bot.id
    if not await is_chat_admin(context, channel.id, me):
        raise UserError(f"Make me an administrator of {first[:64]} so I can post there.")
    if not await is_chat_admin(context, channel.id, place.user_id):
        raise UserError(f"Only admins of {first[:64]} can choose what it follows.")
    deps = context.deps
    async with deps.sessions() as session, session.begin():
        await chats.ensure_chat(
            session,
            channel.id,
            type=channel.type,
            now=deps.clock(),
            title=channel.title,
            username=channel.username,
        )
    return Where(channel.id, 0, channel.type, place.user_id), rest


async def follow(update: Update, context: BotContext) -> None:
    """Follow topics (key, label or alias), "phrases", -exclusions, or all."""
    place, text = await _target(update, context, command_text(update))
    terms = args.parse_terms(text)
    deps = context.deps
    added: list[str] = []
    already: list[str] = []
    unknown: list[tuple[str, list[str]]] = []
    async with deps.sessions() as session, session.begin():
        if (
            await chats.count_follows(session, place.chat_id, place.thread_id) + len(terms)
            > MAX_FOLLOWS
        ):
            raise UserError(
                f"A chat can follow at most {MAX_FOLLOWS} things; /following lists them."
            )
        for term in terms:
            if term.kind == "name":
                topic = deps.topics.resolve(term.value)
                if topic is None:
                    unknown.append((term.value, [t.key for t in deps.topics.suggest(term.value)]))
                    continue
                kind, value, label = FollowKind.TOPIC, topic.key, topic.label
            elif term.kind == "all":
                kind, value, label = FollowKind.ALL, "all", "everything"
            elif term.kind == "phrase":
                kind, value, label = FollowKind.KEYWORD, term.value, f"“{term.value}”"
            else:
                kind, value, label = FollowKind.EXCLUDE, term.value, f"not {term.value}"
            new = await chats.add_follow(
                session, place.chat_id, place.thread_id, kind, value, deps.clock()
            )
            (added if new else already).append(label)
    await reply(update, replies.followed(added, already, unknown))


async def unfollow(update: Update, context: BotContext) -> None:
    """Stop topics, phrases or exclusions; `/unfollow all` stops everything here."""
    place, text = await _target(update, context, command_text(update))
    terms = args.parse_terms(text, command="/unfollow")
    deps = context.deps
    removed: list[str] = []
    missing: list[str] = []
    async with deps.sessions() as session, session.begin():
        for term in terms:
            if term.kind == "all":
                count = await chats.remove_all_follows(session, place.chat_id, place.thread_id)
                (removed if count else missing).append("everything")
                continue
            if term.kind == "name":
                topic = deps.topics.resolve(term.value)
                kinds = [(FollowKind.TOPIC, topic.key, topic.label)] if topic else []
                kinds.append((FollowKind.KEYWORD, term.value, f"“{term.value}”"))
            elif term.kind == "phrase":
                kinds = [(FollowKind.KEYWORD, term.value, f"“{term.value}”")]
            else:
                kinds = [(FollowKind.EXCLUDE, term.value, f"not {term.value}")]
            for kind, value, label in kinds:
                if await chats.remove_follow(session, place.chat_id, place.thread_id, kind, value):
                    removed.append(label)
                    break
            else:
                missing.append(term.value)
    await reply(update, replies.unfollowed(removed, missing))


async def following(update: Update, context: BotContext) -> None:
    """What this chat (thread) follows and its settings, with a button to remove each."""
    place = await remember_chat(update, context)
    deps = context.deps
    async with deps.sessions() as session:
        rows = await chats.follows(session, place.chat_id, place.thread_id)
        prefs = await chats.get_prefs(session, place.chat_id)
    topic_map = deps.topic_map
    topics = [
        topic_map[f.value] for f in rows if f.kind is FollowKind.TOPIC and f.value in topic_map
    ]
    keywords = [f.value for f in rows if f.kind is FollowKind.KEYWORD]
    excludes = [f.value for f in rows if f.kind is FollowKind.EXCLUDE]
    everything = any(f.kind is FollowKind.ALL for f in rows)
    removable = [
        (f.id, f.value if f.kind is FollowKind.KEYWORD else f"-{f.value}")
        for f in rows
        if f.kind in (FollowKind.KEYWORD, FollowKind.EXCLUDE)
    ]
    text = replies.following(everything, topics, keywords, excludes, prefs)
    await reply(update, text, buttons.following_keyboard(topics, removable))
