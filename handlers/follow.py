"""/follow, /unfollow and /following (topics, everything, own keywords, exclusions).

A command may name a channel first (`/follow @mychannel kursk`), sent from a private chat by
an administrator of that channel in which the bot is an administrator too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import ChatFullInfo, Update
from telegram.constants import ChatType
from telegram.error import TelegramError

from bot import args, buttons, replies
from bot.args import Term
from bot.context import BotContext, Deps
from bot.errors import UserError
from bot.store import chats
from bot.store.chats import MAX_FOLLOWS, FollowKind
from bot.topics import TopicIndex
from handlers.common import (
    Where,
    chat_admins,
    command_text,
    remember_chat,
    reply,
    require_manager,
)

CHANNEL_EXAMPLE = "/follow @mychannel kursk"


@dataclass(frozen=True, slots=True)
class Wanted:
    """One follow row to add or remove, and how the answer names it."""

    kind: FollowKind
    value: str
    label: str

    @property
    def key(self) -> tuple[FollowKind, str]:
        return self.kind, self.value


async def follow(update: Update, context: BotContext) -> None:
    """Follow topics (key, label or alias), "phrases", -exclusions, or all."""
    channel, text = _split(command_text(update))
    deps = context.deps
    terms = args.parse_terms(text, is_topic=_knows(deps.topics))
    place = await _target(update, context, channel)
    resolved = [(term, _wanted(deps.topics, term)) for term in terms]
    # A thing named twice (`kursk kursk`, a key and its alias) is one follow, answered once.
    wanted = list({w.key: w for _, w in resolved if w is not None}.values())
    unknown = [(t.value, _suggest(deps.topics, t.value)) for t, w in resolved if w is None]
    async with deps.sessions() as session, session.begin():
        new = await chats.add_follows(
            session, place.chat_id, place.thread_id, [w.key for w in wanted], deps.clock()
        )
        if await chats.count_follows(session, place.chat_id, place.thread_id) > MAX_FOLLOWS:
            raise UserError(
                f"A chat can follow at most {MAX_FOLLOWS} things; /following lists them.",
                "/unfollow all",
            )
    added = [w.label for w, is_new in zip(wanted, new, strict=True) if is_new]
    already = [w.label for w, is_new in zip(wanted, new, strict=True) if not is_new]
    await reply(update, replies.followed(added, already, unknown))


async def unfollow(update: Update, context: BotContext) -> None:
    """Stop topics, phrases or exclusions; `/unfollow all` stops everything here."""
    channel, text = _split(command_text(update))
    deps = context.deps
    terms = args.parse_terms(text, command="/unfollow", is_topic=_knows(deps.topics))
    place = await _target(update, context, channel)
    async with deps.sessions() as session, session.begin():
        removed, missing = await _unfollow_terms(session, place, deps.topics, terms)
    await reply(update, replies.unfollowed(removed, missing))


async def _unfollow_terms(
    session: AsyncSession, place: Where, topics: TopicIndex, terms: list[Term]
) -> tuple[list[str], list[str]]:
    """Remove each term's follow; (labels removed, terms that were not followed)."""
    removed: list[str] = []
    missing: list[str] = []
    for term in terms:
        if term.kind == "all":
            count = await chats.remove_all_follows(session, place.chat_id, place.thread_id)
            (removed if count else missing).append("everything")
            continue
        candidates = _unfollow_candidates(topics, term)
        index = await chats.remove_first(
            session, place.chat_id, place.thread_id, [c.key for c in candidates]
        )
        if index is None:
            missing.append(term.value)
        else:
            removed.append(candidates[index].label)
    return removed, missing


async def following(update: Update, context: BotContext) -> None:
    """What this chat (thread) follows and its settings, with a button to remove each.

    For a channel (`/following @mychannel`) the list comes without buttons: pressed here,
    in the private chat, they would act on the wrong chat.
    """
    channel, _ = _split(command_text(update))
    if channel is not None:
        view, _keyboard = await following_view(
            context.deps, await _target(update, context, channel)
        )
        await reply(update, view)
        return
    view, keyboard = await following_view(context.deps, await remember_chat(update, context))
    await reply(update, view, keyboard)


async def following_view(deps: Deps, place: Where) -> tuple[str, buttons.Keyboard]:
    """The /following text and its remove buttons (also redrawn after a button removes one)."""
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
    # An exclusion reads −football, not as the quoted phrase “-football” it is not.
    removable = [
        (
            f.id,
            f"“{f.value}”" if f.kind is FollowKind.KEYWORD else f"−{f.value}",
            buttons.follow_tag(f.kind, f.value),
        )
        for f in rows
        if f.kind in (FollowKind.KEYWORD, FollowKind.EXCLUDE)
    ]
    muted = [topic_map[f.value] for f in rows if f.kind is FollowKind.MUTE and f.value in topic_map]
    text = replies.following(everything, topics, keywords, excludes, prefs, muted)
    return text, buttons.following_keyboard(topics, removable)


def _split(text: str) -> tuple[str | None, str]:
    """`@channel kursk drones` -> ("@channel", "kursk drones"); no channel -> (None, text)."""
    first, _, rest = text.strip().partition(" ")
    if first.startswith("@") and len(first) >= 3:
        return first[:64], rest
    return None, text


async def _target(update: Update, context: BotContext, channel: str | None) -> Where:
    """The chat to change: this one (if the user manages it), or the channel named first."""
    if channel is None:
        return await require_manager(update, context)
    place = await remember_chat(update, context)
    if place.chat_type != ChatType.PRIVATE or place.user_id is None:
        raise UserError("Attach a channel from a private chat with me.", CHANNEL_EXAMPLE)
    return Where(await _channel(context, channel, place.user_id), 0, ChatType.CHANNEL, None)


async def _channel(context: BotContext, name: str, user_id: int) -> int:
    """The id of the channel @name, once the bot and the user are known to be its admins.

    A channel attached before is found in the database, which saves a getChat per command.
    """
    deps = context.deps
    async with deps.sessions() as session:
        known = await chats.find_chat_by_username(session, name, chat_type=ChatType.CHANNEL)
    channel: ChatFullInfo | None = None
    if known is None:
        channel = await _get_channel(context, name)
        known = channel.id
    admins = await chat_admins(context, known)
    if context.bot.id not in admins:
        raise UserError(f"Make me an administrator of {name} so I can post there.")
    if user_id not in admins:
        raise UserError(f"Only admins of {name} can choose what it follows.")
    if channel is not None:
        async with deps.sessions() as session, session.begin():
            await chats.ensure_chat(
                session,
                channel.id,
                type=channel.type,
                now=deps.clock(),
                title=channel.title,
                username=channel.username,
            )
    return known


async def _get_channel(context: BotContext, name: str) -> ChatFullInfo:
    try:
        channel = await context.bot.get_chat(name)
    except TelegramError:
        raise UserError(f"I can't see {name}: add me to it as an administrator first.") from None
    if channel.type != ChatType.CHANNEL:
        raise UserError(f"{name} is not a channel; add me to that group and /follow there.")
    return channel


def _knows(topics: TopicIndex) -> Callable[[str], bool]:
    return lambda name: topics.resolve(name) is not None


def _suggest(topics: TopicIndex, name: str) -> list[str]:
    return [topic.key for topic in topics.suggest(name)]


def _wanted(topics: TopicIndex, term: Term) -> Wanted | None:
    """What following `term` stores; None for a name that is no topic."""
    if term.kind == "all":
        return Wanted(FollowKind.ALL, "all", "everything")
    if term.kind == "phrase":
        return Wanted(FollowKind.KEYWORD, term.value, f"“{term.value}”")
    if term.kind == "exclude":
        return Wanted(FollowKind.EXCLUDE, term.value, f"not {term.value}")
    topic = topics.resolve(term.value)
    return None if topic is None else Wanted(FollowKind.TOPIC, topic.key, topic.label)


def _unfollow_candidates(topics: TopicIndex, term: Term) -> list[Wanted]:
    """What `/unfollow term` may mean, in order: a bare name is a topic, else a keyword."""
    phrase = Wanted(FollowKind.KEYWORD, term.value, f"“{term.value}”")
    if term.kind == "exclude":
        return [Wanted(FollowKind.EXCLUDE, term.value, f"not {term.value}")]
    if term.kind == "phrase":
        return [phrase]
    wanted = _wanted(topics, term)
    return [wanted, phrase] if wanted is not None else [phrase]
