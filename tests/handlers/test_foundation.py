"""The first vertical slice end to end: sample feeds -> fetch -> store -> /start, /help, /latest,
answered by the real Application through the emulator over HTTP (issue #2)."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

from bot.logs import configure_logging
from tests.conftest import TOKEN
from tests.helpers import harness


async def test_start_help_and_latest(database_url: str, tmp_path: Path) -> None:
    """/start welcomes with follow buttons; /help lists every command; /latest shows stories."""
    async with harness(database_url, tmp_path) as h:
        report = await h.fetch()
        assert report.count("ok") == 4
        assert report.new_stories >= 10
        chat = h.chat()
        (welcome,) = await chat.send("/start")
        assert "follow" in welcome.text.lower()
        assert any(b.get("callback_data") for b in welcome.buttons)
        (help_text,) = await chat.send("/help")
        for name in ("/latest", "/topic", "/follow", "/unfollow", "/quiet", "/digest", "/stop"):
            assert name in help_text.text
        latest = await chat.send("/latest")
        body = "\n".join(r.text or "" for r in latest)
        assert body.count("<b>") >= 5
        three = await chat.send("/latest 3")
        assert (
            sum((r.text or "").count("\n<b>") + (r.text or "").startswith("<b>") for r in three)
            >= 1
        )


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/latest banana", "number"),
        ("/latest 999", "from 1 to 20"),
        ("/latest 0", "from 1 to 20"),
        ("/nonsense", "/help"),
    ],
)
async def test_bad_input_gets_a_correction(
    database_url: str, tmp_path: Path, command: str, expected: str
) -> None:
    """Each bad command gets a polite correction with an example, and the bot still answers."""
    async with harness(database_url, tmp_path) as h:
        await h.fetch()
        chat = h.chat()
        (answer,) = await chat.send(command)
        assert expected in answer.text
        assert "Traceback" not in answer.text
        again = await chat.send("/latest 1")
        assert again


async def test_token_never_logged_at_debug(database_url: str, tmp_path: Path) -> None:
    """A whole conversation logged at DEBUG (httpx request lines included) never shows the token."""
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    configure_logging("DEBUG", (TOKEN,))
    root.handlers[0].setStream(stream)  # type: ignore[attr-defined]
    try:
        async with harness(database_url, tmp_path) as h:
            await h.fetch()
            chat = h.chat()
            await chat.send("/start")
            await chat.send("/latest 2")
            await chat.send("/follow all")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        for name in ("httpx", "httpcore", "apscheduler"):
            logging.getLogger(name).setLevel(logging.NOTSET)
    output = stream.getvalue()
    assert "getUpdates" in output or "sendMessage" in output, "the test must capture request logs"
    assert TOKEN not in output
    assert TOKEN.split(":")[1] not in output
