"""Telegram handlers, thin: parse, call the core and the store, reply.

COMMANDS is the one table of commands: it drives registration, the command menu
(setMyCommands), /help, and the test that keeps the README in step.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from telegram import BotCommand, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot import formatting
from bot.context import BotContext
from handlers import (
    admin,
    callbacks,
    chat_events,
    errors,
    follow,
    prefs,
    sources,
    start,
    stories,
    trend,
)

Callback = Callable[[Update, BotContext], Coroutine[Any, Any, None]]


@dataclass(frozen=True, slots=True)
class Command:
    """One chat command: its name, aliases, handler, help text and a working example."""

    name: str
    callback: Callback
    description: str
    example: str
    aliases: tuple[str, ...] = ()
    admin_only: bool = False


COMMANDS: tuple[Command, ...] = (
    Command("start", start.start, "welcome and popular topics to follow", "/start"),
    Command("help", start.help_command, "every command with an example", "/help"),
    Command("latest", stories.latest, "the newest stories (1 to 20, default 5)", "/latest 3"),
    Command(
        "topic",
        stories.topic,
        "topics with 24 h counts, or a topic's latest, or a search",
        "/topic north-korea",
    ),
    Command(
        "follow",
        follow.follow,
        'alerts for topics, "phrases", -exclusions or all',
        '/follow kursk "Zaporizhzhia plant" -football',
        aliases=("subscribe",),
    ),
    Command(
        "unfollow",
        follow.unfollow,
        "stop alerts for topics, phrases, or all",
        "/unfollow kursk",
        aliases=("unsubscribe",),
    ),
    Command(
        "following",
        follow.following,
        "what this chat follows and its settings, with buttons to remove",
        "/following",
    ),
    Command(
        "digest",
        prefs.digest,
        "instant alerts, or an hourly or daily digest",
        "/digest daily 08:00",
    ),
    Command(
        "quiet", prefs.quiet, "quiet hours: alerts held, then one catch-up", "/quiet 23:00-07:00"
    ),
    Command("timezone", prefs.timezone, "your time zone (IANA name)", "/timezone Europe/Kyiv"),
    Command("language", prefs.language, "story languages you want, or all", "/language en uk"),
    Command("trend", trend.trend, "a chart of stories per day over 14 days", "/trend kursk"),
    Command("sources", sources.list_sources, "the sources with their health", "/sources"),
    Command("stop", prefs.stop, "stop all alerts and delete this chat's data", "/stop"),
    Command("stats", admin.stats, "chats, stories, deliveries, queue", "/stats", admin_only=True),
    Command(
        "addsource",
        admin.add_source,
        "add a feed (fetched once to check it)",
        "/addsource https://example.org/rss Example",
        admin_only=True,
    ),
    Command(
        "removesource",
        admin.remove_source,
        "stop polling a source",
        "/removesource Example",
        admin_only=True,
    ),
    Command(
        "health", admin.health, "database, sources and queue health", "/health", admin_only=True
    ),
)


def help_rows(*, include_admin: bool = False) -> list[tuple[str, str, str]]:
    """(names, description, example) for /help: `/follow, /subscribe` with its aliases."""
    return [
        (", ".join(f"/{name}" for name in (c.name, *c.aliases)), c.description, c.example)
        for c in COMMANDS
        if include_admin or not c.admin_only
    ]


def bot_commands() -> list[BotCommand]:
    """The command menu: every public command (admin ones stay out of strangers' menus)."""
    return [BotCommand(c.name, c.description[:256]) for c in COMMANDS if not c.admin_only]


def register(
    application: Application[Any, Any, Any, Any, Any, Any], admin_ids: frozenset[int]
) -> None:
    """Add every handler in order; the order matters, as commented."""
    application.bot_data.extras["help"] = formatting.render_help(help_rows())
    admins = filters.User(user_id=admin_ids) if admin_ids else filters.User(user_id=[0])
    for command in COMMANDS:
        names = (command.name, *command.aliases)
        extra = admins if command.admin_only else filters.ALL
        # Edited messages are not commands: answering them would repeat replies.
        application.add_handler(
            CommandHandler(names, command.callback, filters=extra & ~filters.UpdateType.EDITED)
        )
    # Admin commands from anyone else fall through to the unknown-command hint, which keeps them
    # out of sight; then plain text in private chats, then the rest.
    application.add_handler(
        MessageHandler(filters.COMMAND & ~filters.UpdateType.EDITED, chat_events.unknown_command)
    )
    application.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, chat_events.migrated))
    application.add_handler(
        MessageHandler(
            filters.TEXT & filters.ChatType.PRIVATE & ~filters.UpdateType.EDITED,
            chat_events.plain_text,
        )
    )
    application.add_handler(CallbackQueryHandler(callbacks.on_button))
    application.add_handler(
        ChatMemberHandler(chat_events.membership, ChatMemberHandler.MY_CHAT_MEMBER)
    )
    application.add_error_handler(errors.on_error)
