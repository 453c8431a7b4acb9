"""Logging set up once, to stdout, with the bot token redacted from every line.

PTB and httpx log request URLs, and Telegram puts the token in the URL path
(`/bot123:ABC.../getUpdates`); PTB even names the token in `InvalidToken` ("The token `…` was
rejected by the server."). The formatter scrubs the token pattern, any `/bot…/` path segment
and the secrets it is given (the token, the webhook secret, a database password), including
in exception text. An exception nobody caught is printed by Python itself, not by logging, so
`configure_logging` also installs redacting `sys.excepthook` and `threading.excepthook`, and
routes warnings through logging.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import traceback
from collections.abc import Iterable
from types import TracebackType
from typing import TextIO

TOKEN_PATTERN = re.compile(r"\d{5,}(?::|%3[Aa])[A-Za-z0-9_-]{30,}")
BOT_PATH = re.compile(r"/bot\d+(?::|%3[Aa])[^/\s]*/")
"""A Bot API path's token segment (`/bot<id>:<secret>/`), however short its secret; not any
path that happens to start with "bot" (`/both-sides/`, `https://bot.example.org/`)."""
QUIET_LOGGERS = ("httpx", "httpcore", "apscheduler", "aiohttp.access", "hpack", "alembic")
REDACTED = "[REDACTED]"
_MIN_SECRET_CHARS = 6


def secret_parts(secrets: Iterable[str | None]) -> tuple[str, ...]:
    """The strings to scrub: each secret, and the part after the colon of a token.

    The part after the colon is what makes a token secret, and it can appear alone (a log
    that splits the token, an error quoting the path). Very short strings are skipped: they
    would blank out ordinary words and protect nothing.
    """
    parts: set[str] = set()
    for secret in secrets:
        if not secret or len(secret) < _MIN_SECRET_CHARS:
            continue
        parts.add(secret)
        tail = secret.partition(":")[2]
        if len(tail) >= _MIN_SECRET_CHARS:
            parts.add(tail)
    return tuple(sorted(parts, key=len, reverse=True))


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Remove tokens and `/bot<token>/` path segments (and any given secrets) from text."""
    for secret in secret_parts(secrets):
        text = text.replace(secret, REDACTED)
    text = TOKEN_PATTERN.sub(REDACTED, text)
    return BOT_PATH.sub(f"/bot{REDACTED}/", text)


def format_exception(error: BaseException, secrets: tuple[str, ...] = ()) -> str:
    """A traceback as Python prints it, redacted."""
    return redact("".join(traceback.format_exception(error)), secrets)


class RedactingFormatter(logging.Formatter):
    """A formatter whose output, tracebacks included, never holds a bot token."""

    def __init__(self, fmt: str, secrets: tuple[str, ...] = ()) -> None:
        super().__init__(fmt)
        self.secrets = secrets

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), self.secrets)


def install_redacting_records(secrets: tuple[str, ...] = ()) -> None:
    """Redact every log record as it is created, so any handler (pytest's too) sees it clean.

    The formatter alone would leave the raw token in records that other handlers format.
    Installing twice is harmless: the factory remembers the original one.
    """
    base = getattr(logging, "_conflictbot_base_factory", logging.getLogRecordFactory())
    logging._conflictbot_base_factory = base  # type: ignore[attr-defined]

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = base(*args, **kwargs)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return record
        clean = redact(message, secrets)
        if clean != message or record.args:
            record.msg, record.args = clean, ()
        return record

    logging.setLogRecordFactory(factory)


def install_excepthooks(secrets: tuple[str, ...] = ()) -> None:
    """Print uncaught exceptions (main thread and others) redacted, to stderr as Python does."""

    def hook(kind: type[BaseException], error: BaseException, tb: TracebackType | None) -> None:
        text = "".join(traceback.format_exception(kind, error, tb))
        sys.stderr.write(redact(text, secrets))

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None or isinstance(args.exc_value, SystemExit):
            return
        name = args.thread.name if args.thread is not None else "?"
        sys.stderr.write(f"Exception in thread {name}:\n")
        hook(args.exc_type, args.exc_value, args.exc_traceback)

    sys.excepthook = hook
    threading.excepthook = thread_hook


def configure_logging(
    level: str = "INFO", secrets: tuple[str, ...] = (), stream: TextIO | None = None
) -> None:
    """Send every log line to `stream` (stdout by default) through the redacting formatter.

    The one-shot commands pass stderr: their stdout is data (`stories --json`, `export`,
    OPML) that a log line would corrupt. httpx/httpcore and APScheduler stay at WARNING
    unless DEBUG was asked for: their INFO lines are one per request or job run, which drowns
    the summary lines.
    """
    install_redacting_records(secrets)
    install_excepthooks(secrets)
    logging.captureWarnings(True)
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(
        RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", secrets)
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)
    scheduler = logging.getLogger("apscheduler.scheduler")
    if not any(isinstance(f, _OverlapFilter) for f in scheduler.filters):
        scheduler.addFilter(_OverlapFilter())


class _OverlapFilter(logging.Filter):
    """Drops APScheduler's "skipped: maximum number of running instances reached": a fetch
    pass still running at the next tick is waited for by design (one pass at a time), and
    the warning every interval said nothing the pass's own lines do not."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in str(record.msg)
