"""Logging set up once, to stdout, with the bot token redacted from every line.

PTB and httpx log request URLs, and Telegram puts the token in the URL path
(`/bot123:ABC.../getUpdates`). The formatter scrubs both the token pattern and any `/bot…/`
path segment, including in exception text, so no log line can carry it.
"""

from __future__ import annotations

import logging
import re
import sys

TOKEN_PATTERN = re.compile(r"\d{5,}:[A-Za-z0-9_-]{30,}")
BOT_PATH = re.compile(r"/bot[^/\s]+/")
QUIET_LOGGERS = ("httpx", "httpcore", "apscheduler", "aiohttp.access", "hpack", "alembic")


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Remove tokens and `/bot<token>/` path segments (and any given secrets) from text."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[REDACTED]")
    text = TOKEN_PATTERN.sub("[REDACTED]", text)
    return BOT_PATH.sub("/bot[REDACTED]/", text)


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


def configure_logging(level: str = "INFO", secrets: tuple[str, ...] = ()) -> None:
    """Send every log line to stdout through the redacting formatter.

    httpx/httpcore and APScheduler stay at WARNING unless DEBUG was asked for: their INFO
    lines are one per request or job run, which drowns the summary lines.
    """
    install_redacting_records(secrets)
    handler = logging.StreamHandler(sys.stdout)
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
