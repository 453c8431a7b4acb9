"""`conflictbot run | demo | fetch | sources check|export|import | stories | export | import | db`.

Settings are built here, once, and passed down. Every failure an operator can cause or meet
at start-up ends the process with one message and a non-zero exit, never with a traceback:
a bad setting names the variable (exit 2); a database that cannot be opened, written or
locked, a token Telegram refuses, or Telegram out of reach says so and what to check (exit 1).
Messages go through `redact`, since PTB names the token in its own errors.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import os
import re
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from bot import migrate, transfer
from bot.config import EXAMPLES, Settings, load_settings
from bot.db import ChatRow, FollowRow, make_engine, make_sessionmaker
from bot.errors import ConfigError, ConflictBotError
from bot.logs import configure_logging, redact
from bot.models import Source
from bot.store import chats, sources

log = logging.getLogger(__name__)

T = TypeVar("T")

EXIT_FAILURE = 1
EXIT_CONFIG = 2
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for `yes | head`
_DATABASE_HINTS: tuple[tuple[str, str], ...] = (
    (
        "database is locked",
        "another process holds a lock on it (a second `conflictbot run` on the same file, or "
        "a backup or sqlite3 shell with an open transaction); stop it, then start again",
    ),
    (
        "readonly database",
        "the file or its directory is read-only for this user; the bot writes to both (the "
        "database and its -wal and -shm files)",
    ),
    (
        "unable to open database file",
        "the file cannot be opened or created; check that its directory exists and that this "
        "user may write there",
    ),
    (
        "file is not a database",
        "the file is not an SQLite database (damaged, or the wrong file); restore it from a "
        "backup (see deploy/README.md)",
    ),
    ("disk is full", "the disk is full; free some space, then start again"),
    ("disk i/o error", "the disk reported an error; check the file system and free space"),
    (
        "password authentication failed",
        "the server refused the user name or password in DATABASE_URL",
    ),
    (
        'role "',
        "the user named in DATABASE_URL does not exist on the server; create it, or fix the name",
    ),
    ("does not exist", "the database named in DATABASE_URL does not exist; create it first"),
    (
        "rejected ssl upgrade",
        "the server does not offer SSL; use sslmode=prefer or sslmode=disable in DATABASE_URL "
        "(on a trusted network only), or turn SSL on at the server",
    ),
    (
        "unexpected keyword argument",
        "DATABASE_URL carries a query parameter the database driver does not take; remove it "
        "(asyncpg takes ssl=require where libpq takes sslmode=require)",
    ),
)


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
    sources = commands.add_parser(
        "sources", help="check the sources, or export and import them as OPML"
    )
    sources.add_argument("action", choices=("check", "export", "import"))
    sources.add_argument("file", nargs="?", help="the OPML file to import (- for stdin)")
    stories = commands.add_parser("stories", help="the stored stories, newest first")
    stories.add_argument("--since", default="24h", help="how far back: 30m, 24h, 7d (default 24h)")
    stories.add_argument("--topic", help="only stories with this topic key")
    stories.add_argument("--json", action="store_true", help="print one JSON array")
    stories.add_argument(
        "--limit", type=_positive, default=1000, help="at most this many stories (default 1000)"
    )
    commands.add_parser("export", help="print every chat with its settings and follows as JSON")
    restore = commands.add_parser("import", help="add the chats and follows of an export")
    restore.add_argument("file", help="a file made by `conflictbot export` (- for stdin)")
    db = commands.add_parser("db", help="database commands")
    db.add_argument("action", choices=("upgrade",))
    return parser


def _positive(text: str) -> int:
    """A count of at least 1."""
    if not text.strip().isdecimal() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"takes a whole number of at least 1, not {text!r}")
    return int(text)


ALL_TIME = timedelta(days=36525)
"""What `--since` means by "everything": 100 years back, far before any stored story."""
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "": 3600}


def parse_since(text: str) -> timedelta:
    """`30m`, `24h`, `7d`, `90s` -> a timedelta; a bare number is hours.

    Operators type `--since 100000d` to mean "everything", and a value that large overflows
    timedelta or the date arithmetic, so anything past ALL_TIME is ALL_TIME.
    """
    match = re.fullmatch(r"\s*(\d+)\s*([smhdw]?)\s*", text.lower())
    if not match:
        raise ConfigError(f"--since takes a duration such as 30m, 24h or 7d, not {text!r}")
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    return timedelta(seconds=min(seconds, int(ALL_TIME.total_seconds())))


def secrets_of(settings: Settings) -> tuple[str, ...]:
    """What must never be printed: the token, the webhook secret, the database password."""
    values = [
        secret.get_secret_value()
        for secret in (settings.telegram_bot_token, settings.webhook_secret)
        if secret is not None
    ]
    password = make_url(settings.database_url).password
    if password:
        values.append(str(password))
    return tuple(values)


class StartupError(ConflictBotError):
    """Something outside the bot (database, Telegram, a port) keeps it from working."""


def main(argv: Sequence[str] | None = None) -> int:
    options = _parser().parse_args(argv)
    secrets: tuple[str, ...] = ()
    try:
        settings = load_settings()
        secrets = secrets_of(settings)
        # The bot logs to stdout; one-shot commands keep stdout for their output.
        stream = sys.stdout if options.command == "run" else sys.stderr
        configure_logging(settings.log_level, secrets, stream)
        return _dispatch(options, settings)
    except ConfigError as exc:
        _fail(str(exc), secrets)
        return EXIT_CONFIG
    except StartupError as exc:
        _fail(str(exc), secrets)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`stories --json | head`): not an error of ours, nothing to
        # say. What is left of the output goes nowhere, also at exit, as for `yes | head`.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def _fail(message: str, secrets: tuple[str, ...]) -> None:
    print(f"conflictbot: {redact(message, secrets)}", file=sys.stderr)


def describe_database_error(error: BaseException, database_url: str) -> str:
    """One paragraph for a database that cannot be used: which one, what happened, what to do."""
    reason = str(getattr(error, "orig", None) or error).strip().splitlines()
    first = reason[0] if reason else type(error).__name__
    try:
        shown = make_url(database_url).render_as_string(hide_password=True)
    except (SQLAlchemyError, ValueError):
        shown = "DATABASE_URL"
    hint = next((text for marker, text in _DATABASE_HINTS if marker in first.lower()), None)
    if hint is None:
        hint = (
            "check that the database server is running and reachable, and that DATABASE_URL "
            f"is right ({EXAMPLES['DATABASE_URL']})"
        )
    return f"the database {shown} cannot be used: {first}.\nWhat to do: {hint}."


def _dispatch(options: argparse.Namespace, settings: Settings) -> int:
    if options.command == "db":
        _upgrade(settings)
        print("database is up to date")
        return 0
    if options.command == "run":
        return _run(settings, options.role)
    if options.command == "demo":
        from bot.demo import run_demo

        return run_demo(settings, script=options.script)
    since = parse_since(options.since) if options.command == "stories" else None
    _upgrade(settings)
    return _with_database(settings, lambda: _one_shot(options, settings, since))


def _one_shot(options: argparse.Namespace, settings: Settings, since: timedelta | None) -> int:
    """fetch | sources … | stories | export | import, once the schema is up to date."""
    if options.command in ("export", "import") or (
        options.command == "sources" and options.action != "check"
    ):
        return _transfer(options, settings)
    if options.command == "fetch":
        from bot.cli_output import fetch_once

        return asyncio.run(fetch_once(settings))
    if options.command == "sources":
        from bot.cli_output import check_sources

        return asyncio.run(check_sources(settings))
    from bot.cli_output import print_stories

    assert since is not None
    return asyncio.run(
        print_stories(
            settings, since=since, topic=options.topic, as_json=options.json, limit=options.limit
        )
    )


def _upgrade(settings: Settings) -> None:
    """Migrations, which are also the first contact with the database: say if it is unusable.

    A TypeError here is the driver refusing a keyword from the URL's query (the settings
    check catches the known ones, e.g. libpq's `sslmode`); it gets the same one-paragraph
    message, and the traceback only at LOG_LEVEL=DEBUG.
    """
    try:
        _with_database(settings, lambda: migrate.upgrade(settings.database_url))
    except TypeError as exc:
        log.debug("the database driver refused the connection arguments", exc_info=True)
        raise StartupError(describe_database_error(exc, settings.database_url)) from None


def _with_database(settings: Settings, work: Callable[[], T]) -> T:
    """Run `work`; a database that fails under it (locked, read-only, gone) is one message."""
    try:
        return work()
    except BrokenPipeError:
        raise  # stdout closed under us, not the database (see `main`)
    except (SQLAlchemyError, OSError) as exc:
        raise StartupError(describe_database_error(exc, settings.database_url)) from None


def _run(settings: Settings, role: str) -> int:
    """The bot itself: migrations, then polling (or a webhook) until SIGTERM/SIGINT."""
    settings.token  # noqa: B018 - fail fast with the @BotFather hint before anything starts
    if settings.webhook_url and settings.webhook_secret is None:
        # Without a secret anyone who finds the URL can post updates that claim to come from
        # an admin; Telegram sends the secret with every update, so it costs nothing.
        raise ConfigError(
            "WEBHOOK_SECRET is not set, and webhook mode needs it so that forged updates are "
            f"refused. Example: {EXAMPLES['WEBHOOK_SECRET']}"
        )
    _upgrade(settings)
    # Imported only now: a database that cannot be used is reported without the wait.
    from telegram.error import InvalidToken, NetworkError

    from bot import runner

    try:
        return runner.run(settings, role)
    except InvalidToken:
        raise StartupError(
            "Telegram refused the token (TELEGRAM_BOT_TOKEN). Check it with @BotFather "
            "(/mybots, then API Token), or /revoke it and use the new one."
        ) from None
    except NetworkError as exc:
        raise StartupError(
            f"cannot reach Telegram at {settings.telegram_api_url}: {exc}. Check the network "
            "and TELEGRAM_API_URL, then start again."
        ) from None
    except OSError as exc:
        if settings.webhook_url and exc.errno in (errno.EADDRINUSE, errno.EACCES):
            raise StartupError(
                f"cannot listen for the webhook on PORT={settings.port}: {exc.strerror}. "
                "Pick a free port (one above 1024 unless running as root)."
            ) from None
        raise StartupError(describe_database_error(exc, settings.database_url)) from None
    except SQLAlchemyError as exc:
        raise StartupError(describe_database_error(exc, settings.database_url)) from None


def _transfer(options: argparse.Namespace, settings: Settings) -> int:
    """export | import | sources export | sources import: files <-> the database."""
    url = settings.database_url
    if options.command == "export":
        sys.stdout.write(asyncio.run(export_follows(url)))
        return 0
    if options.command == "import":
        chats, follows = asyncio.run(import_follows(url, _read(options.file)))
        print(f"imported {chats} chats and {follows} new follows", file=sys.stderr)
        return 0
    if options.action == "export":
        sys.stdout.write(asyncio.run(export_sources(url)))
        return 0
    if not options.file:
        raise ConfigError("sources import needs a file: conflictbot sources import feeds.opml")
    parsed = transfer.parse_opml(_read(options.file))
    added = asyncio.run(import_sources(url, parsed.sources))
    for reason in parsed.skipped:
        print(f"skipped {reason}", file=sys.stderr)
    skipped = len(parsed.skipped) + len(parsed.sources) - added
    print(f"added {added} sources, skipped {skipped}", file=sys.stderr)
    return 0


def _read(name: str) -> bytes:
    """A file's bytes, or stdin's for `-`; a missing file is a ConfigError, not a traceback."""
    if name == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(name).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {name}: {exc.strerror}") from None


@asynccontextmanager
async def _session(database_url: str) -> AsyncIterator[AsyncSession]:
    """One session on a short-lived engine: the one-shot commands need nothing else."""
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            yield session
    finally:
        await engine.dispose()


async def export_follows(database_url: str) -> str:
    """Every chat (active or not) with its settings and follows, as `transfer` JSON."""
    async with _session(database_url) as session:
        rows = (await session.scalars(select(ChatRow).order_by(ChatRow.id))).all()
        follow_rows = (
            await session.scalars(select(FollowRow).order_by(FollowRow.chat_id, FollowRow.id))
        ).all()
    follows: dict[int, list[transfer.FollowRecord]] = {}
    for row in follow_rows:
        follows.setdefault(row.chat_id, []).append(
            transfer.FollowRecord(row.thread_id, row.kind, row.value)
        )
    records = [
        transfer.ChatRecord(
            prefs=chats.to_prefs(row),
            type=row.type,
            title=row.title,
            username=row.username,
            follows=tuple(follows.get(row.id, ())),
        )
        for row in rows
    ]
    return transfer.render_follows(records, exported_at=datetime.now(UTC))


async def import_follows(database_url: str, data: bytes) -> tuple[int, int]:
    """Create or update each chat of an export and add its follows; returns (chats, new follows).

    Importing the same file twice changes nothing the second time. Follows count from now: a
    story stored before the import is not sent to a chat that just got its follows back.
    """
    records = transfer.parse_follows(data)
    now = datetime.now(UTC)
    added = 0
    async with _session(database_url) as session, session.begin():
        for record in records:
            prefs = record.prefs
            await chats.ensure_chat(
                session,
                prefs.chat_id,
                type=record.type,
                now=now,
                title=record.title,
                username=record.username,
            )
            await chats.update_settings(
                session,
                prefs.chat_id,
                timezone=prefs.timezone,
                quiet_start=_hhmm(prefs.quiet_start),
                quiet_end=_hhmm(prefs.quiet_end),
                digest=prefs.digest.value,
                digest_at=_hhmm(prefs.digest_at),
                languages=" ".join(sorted(prefs.languages)),
                active=prefs.active,
            )
            for follow in record.follows:
                kind = chats.FollowKind(follow.kind)
                added += await chats.add_follow(
                    session, prefs.chat_id, follow.thread_id, kind, follow.value, now
                )
    return len(records), added


def _hhmm(value: time | None) -> str | None:
    return None if value is None else value.strftime("%H:%M")


async def export_sources(database_url: str) -> str:
    """The active sources (from the file and from /addsource) as OPML 2.0."""
    async with _session(database_url) as session:
        states = await sources.list_sources(session)
    return transfer.render_opml([state.source for state in states], created=datetime.now(UTC))


async def import_sources(database_url: str, found: Sequence[Source]) -> int:
    """Add the sources of an OPML file, as /addsource would (kept across restarts).

    The operator's file is trusted like the sources file, so no address check; a name or
    address that exists already is skipped. Returns how many were added.
    """
    now = datetime.now(UTC)
    added = 0
    async with _session(database_url) as session, session.begin():
        for source in found:
            added += await sources.add_source(session, source, now)
    return added
