"""The bot token never leaves the process in a log line, a traceback or an error message
(issue #8: "the token redacted from every log line, exception and error message")."""

from __future__ import annotations

import io
import logging
import sys
import threading
import warnings
from collections.abc import Iterator

import httpx
import pytest

from bot import logs
from bot.logs import REDACTED, configure_logging, format_exception, redact, secret_parts
from tests.conftest import TOKEN

SECRET_HALF = TOKEN.split(":")[1]
WEBHOOK_SECRET = "hook-Secret_0123456789"


@pytest.fixture
def logging_state() -> Iterator[io.StringIO]:
    """configure_logging changes process-wide state; put every piece of it back afterwards."""
    root = logging.getLogger()
    saved = (
        list(root.handlers),
        root.level,
        logging.getLogRecordFactory(),
        sys.excepthook,
        threading.excepthook,
        {name: logging.getLogger(name).level for name in logs.QUIET_LOGGERS},
    )
    stream = io.StringIO()
    configure_logging("DEBUG", (TOKEN, WEBHOOK_SECRET))
    root.handlers[0].setStream(stream)  # type: ignore[attr-defined]
    try:
        yield stream
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        logging.setLogRecordFactory(saved[2])
        sys.excepthook, threading.excepthook = saved[3], saved[4]
        for name, level in saved[5].items():
            logging.getLogger(name).setLevel(level)
        logging.captureWarnings(False)


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (f"POST https://api.telegram.org/bot{TOKEN}/getUpdates", "/getUpdates"),
        (f"token={TOKEN}&x=1", "&x=1"),
        (f"https://api.telegram.org/bot{TOKEN.replace(':', '%3A')}/getMe", "/getMe"),
        (f"https://api.telegram.org/bot{TOKEN.replace(':', '%3a')}/getMe", "/getMe"),
        (f"the secret half alone: {SECRET_HALF}.", "the secret half alone"),
        (f"The token `{TOKEN}` was rejected by the server.", "was rejected"),
        (f"/file/bot{TOKEN}/photos/1.jpg", "/photos/1.jpg"),
        (f"X-Telegram-Bot-Api-Secret-Token: {WEBHOOK_SECRET}", "Secret-Token:"),
        ("987654321:ZZZotherTokenOfSomeOtherBot_0123456789 leaked", "leaked"),
    ],
)
def test_redact_scrubs_every_spelling(text: str, kept: str) -> None:
    """The token (whole, URL-encoded or its secret half), other tokens and given secrets go."""
    clean = redact(text, (TOKEN, WEBHOOK_SECRET))
    for secret in (TOKEN, SECRET_HALF, WEBHOOK_SECRET, "ZZZotherTokenOfSomeOtherBot"):
        assert secret not in clean
    assert REDACTED in clean
    assert kept in clean


@pytest.mark.parametrize(
    "text",
    [
        "https://example.org/news/both-sides-claim-gains/",
        "https://bot.example.org/telegram/",
        "WEBHOOK_URL=https://bot.example.org/telegram",
        "see /bots/ and /bottom/ of the page",
    ],
)
def test_redact_leaves_ordinary_urls_alone(text: str) -> None:
    """Only a token's path segment is scrubbed: addresses that merely contain "/bot" stay
    readable in logs and error messages."""
    assert redact(text, (TOKEN,)) == text


def test_redact_scrubs_a_short_token_in_a_bot_path() -> None:
    assert redact("GET /bot42:abc/getMe") == f"GET /bot{REDACTED}/getMe"


def test_short_secrets_are_not_used_as_patterns() -> None:
    """A tiny "secret" would blank ordinary words; such values are ignored, not matched."""
    assert secret_parts(("ab", "", None, "x:abc")) == ()
    assert redact("a cab and abba", ("ab",)) == "a cab and abba"


def _httpx_errors() -> list[httpx.HTTPError]:
    """Real httpx exceptions for requests whose URL carries the token."""
    url = f"https://api.telegram.org/bot{TOKEN}/getMe"

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/getMe"):
            return httpx.Response(404, json={"ok": False}, request=request)
        raise httpx.ConnectError(f"cannot connect to {request.url}", request=request)

    errors: list[httpx.HTTPError] = []
    with httpx.Client(transport=httpx.MockTransport(answer)) as client:
        try:
            client.get(url).raise_for_status()
        except httpx.HTTPStatusError as exc:
            errors.append(exc)
        try:
            client.post(f"https://api.telegram.org/bot{TOKEN}/sendMessage")
        except httpx.ConnectError as exc:
            errors.append(exc)
    return errors


def test_httpx_errors_and_their_tracebacks_are_redacted() -> None:
    """str(error) and the whole traceback of httpx errors lose the token, keep the method."""
    errors = _httpx_errors()
    assert len(errors) == 2
    for error in errors:
        assert TOKEN in str(error), "the raw error must carry the token for this test to mean much"
        for text in (redact(str(error), (TOKEN,)), format_exception(error, (TOKEN,))):
            assert TOKEN not in text
            assert SECRET_HALF not in text
        assert "Traceback (most recent call last)" in format_exception(error)
    assert "getMe" in redact(str(errors[0]))


def test_logged_exceptions_are_redacted(logging_state: io.StringIO) -> None:
    """log.exception with an httpx error (message, args and traceback) prints no token."""
    log = logging.getLogger("bot.test")
    for error in _httpx_errors():
        try:
            raise RuntimeError(f"sending failed for {TOKEN}") from error
        except RuntimeError:
            log.exception("request to %s failed", error.request.url)
    output = logging_state.getvalue()
    assert "HTTPStatusError" in output
    assert "Traceback" in output
    assert TOKEN not in output
    assert SECRET_HALF not in output


def test_records_are_clean_for_every_handler(logging_state: io.StringIO) -> None:
    """Other handlers (pytest's caplog, a file handler) get records already redacted."""
    seen: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    handler = Collect()
    logger = logging.getLogger("httpx")
    logger.addHandler(handler)
    try:
        logger.warning('HTTP Request: POST %s "HTTP/1.1 502"', f"http://x/bot{TOKEN}/getUpdates")
    finally:
        logger.removeHandler(handler)
    assert seen
    assert all(TOKEN not in line and "/getUpdates" in line for line in seen)


def test_uncaught_exceptions_are_printed_redacted(
    logging_state: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    """An exception nobody catches (main thread or another) is printed without the token."""
    error = ValueError(f"The token `{TOKEN}` was rejected by the server.")
    sys.excepthook(ValueError, error, None)

    def crash() -> None:
        raise ValueError(f"thread saw {TOKEN}")

    thread = threading.Thread(target=crash, name="worker-1")
    thread.start()
    thread.join()
    err = capsys.readouterr().err
    assert "was rejected by the server" in err
    assert "thread saw" in err
    assert "worker-1" in err
    assert TOKEN not in err
    assert SECRET_HALF not in err


def test_warnings_go_through_the_redacting_log(logging_state: io.StringIO) -> None:
    """Warnings (PTB warns with URLs) are logged, so they are redacted too."""
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn(f"slow request to /bot{TOKEN}/getUpdates", UserWarning, stacklevel=1)
    output = logging_state.getvalue()
    assert "slow request" in output
    assert TOKEN not in output


def test_a_pass_overlapping_the_next_tick_is_not_a_warning_every_interval(
    logging_state: io.StringIO,
) -> None:
    """APScheduler warned at every tick while a slow fetch pass ran (ops audit 9); that line
    is dropped, and its other warnings still come through."""
    scheduler = logging.getLogger("apscheduler.scheduler")
    scheduler.warning(
        'Execution of job "%s" skipped: maximum number of running instances reached (%d)',
        "fetch",
        1,
    )
    scheduler.warning('Run time of job "%s" was missed by %s', "digest", "0:00:05")
    output = logging_state.getvalue()
    assert "maximum number of running instances" not in output
    assert 'Run time of job "digest" was missed' in output
