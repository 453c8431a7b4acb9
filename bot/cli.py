"""`conflictbot run | demo | fetch | sources check | stories | db upgrade`.

Settings are built here, once, and passed down; configuration errors end the process with a
message that names the variable, never with a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import sys
from collections.abc import Sequence
from datetime import timedelta

from bot import migrate
from bot.config import Settings, load_settings
from bot.errors import ConfigError
from bot.logs import configure_logging

log = logging.getLogger(__name__)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="conflictbot", description="Conflict news, merged and pushed to Telegram."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run", help="run the bot (long polling, or webhook when WEBHOOK_URL is set)"
    )
    run.add_argument(
        "--role", choices=("all", "poller", "worker"), default="all", help="what this instance does"
    )
    demo = commands.add_parser(
        "demo", help="chat with the bot against the bundled emulator and sample feeds"
    )
    demo.add_argument("--script", help="play a conversation from a file, print it, and exit")
    commands.add_parser("fetch", help="one fetch pass with a progress bar; prints the new stories")
    sources = commands.add_parser("sources", help="source commands")
    sources.add_argument("action", choices=("check",))
    stories = commands.add_parser("stories", help="the stored stories, newest first")
    stories.add_argument("--since", default="24h", help="how far back: 30m, 24h, 7d (default 24h)")
    stories.add_argument("--topic", help="only stories with this topic key")
    stories.add_argument("--json", action="store_true", help="print one JSON array")
    stories.add_argument("--limit", type=int, default=1000)
    db = commands.add_parser("db", help="database commands")
    db.add_argument("action", choices=("upgrade",))
    return parser


def parse_since(text: str) -> timedelta:
    """`30m`, `24h`, `7d`, `90s` -> a timedelta."""
    match = re.fullmatch(r"\s*(\d+)\s*([smhdw]?)\s*", text.lower())
    if not match:
        raise ConfigError(f"--since takes a duration such as 30m, 24h or 7d, not {text!r}")
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks", "": "hours"}[
        match.group(2)
    ]
    return timedelta(**{unit: int(match.group(1))})


def main(argv: Sequence[str] | None = None) -> int:
    options = _parser().parse_args(argv)
    try:
        settings = load_settings()
        secrets = tuple(
            s.get_secret_value() for s in (settings.telegram_bot_token,) if s is not None
        )
        configure_logging(settings.log_level, secrets)
        return _dispatch(options, settings)
    except ConfigError as exc:
        print(f"conflictbot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _dispatch(options: argparse.Namespace, settings: Settings) -> int:
    if options.command == "db":
        migrate.upgrade(settings.database_url)
        print("database is up to date")
        return 0
    if options.command == "run":
        return _run(settings, options.role)
    if options.command == "demo":
        from bot.demo import run_demo

        return run_demo(settings, script=options.script)
    migrate.upgrade(settings.database_url)
    if options.command == "fetch":
        from bot.cli_output import fetch_once

        return asyncio.run(fetch_once(settings))
    if options.command == "sources":
        from bot.cli_output import check_sources

        return asyncio.run(check_sources(settings))
    from bot.cli_output import print_stories

    return asyncio.run(
        print_stories(
            settings,
            since=parse_since(options.since),
            topic=options.topic,
            as_json=options.json,
            limit=options.limit,
        )
    )


def _run(settings: Settings, role: str) -> int:
    """The bot itself: migrations, then polling (or a webhook) until SIGTERM/SIGINT."""
    from bot.app import ALLOWED_UPDATES, build_application

    settings.token  # noqa: B018 - fail fast with the @BotFather hint before anything starts
    migrate.upgrade(settings.database_url)
    application = build_application(settings)
    if settings.webhook_url:
        secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
        application.run_webhook(
            listen="0.0.0.0",
            port=settings.port,
            url_path="telegram",
            webhook_url=f"{settings.webhook_url}",
            secret_token=secret,
            allowed_updates=ALLOWED_UPDATES,
            drop_pending_updates=False,
        )
    else:
        application.run_polling(allowed_updates=ALLOWED_UPDATES, drop_pending_updates=False)
    log.info("conflictbot stopped")
    return 0


ALLOWED_UPDATES: list[str] = [
    "message",
    "edited_message",
    "channel_post",
    "callback_query",
    "my_chat_member",
]
