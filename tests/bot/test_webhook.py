"""Webhook mode refuses updates without the right X-Telegram-Bot-Api-Secret-Token (PRODUCT.md
"Promises"; issue #8): `python -m bot run` with WEBHOOK_URL set, against the emulator, which
pushes updates with the secret as Telegram does, while a forger posts without it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot import cli, logs
from bot.emulator import Emulator
from tests.conftest import ADMIN_ID, ROOT, TOKEN
from tests.helpers import USER_ID

SECRET = "webhook-Secret_for-tests-0123456789"
HEADER = "X-Telegram-Bot-Api-Secret-Token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def forged_update(update_id: int, text: str) -> dict[str, Any]:
    """A private message claiming to come from the admin, as Telegram would shape it."""
    user = {"id": ADMIN_ID, "is_bot": False, "first_name": "Admin"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1_779_000_000,
            "chat": {"id": ADMIN_ID, "type": "private", "first_name": "Admin"},
            "from": user,
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}],
        },
    }


async def wait_until(predicate: Any, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def webhook_bot(
    database_url: str, tmp_path: Path, emulator: Emulator, port: int
) -> AsyncIterator[list[bytes]]:
    """`python -m bot run` in webhook mode; yields its output lines, stops it with SIGTERM.

    It polls no sources (an empty sources file): this is about updates, not news.
    """
    sources = tmp_path / "sources.toml"
    sources.write_text("# no sources\n")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": database_url,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": emulator.url,
        "WEBHOOK_URL": f"http://127.0.0.1:{port}/telegram",
        "WEBHOOK_SECRET": SECRET,
        "PORT": str(port),
        "SOURCES_FILE": str(sources),
        "FETCH_INTERVAL": "3600",
        "ADMIN_IDS": str(ADMIN_ID),
        "LOG_LEVEL": "DEBUG",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    lines: list[bytes] = []

    async def read() -> None:
        assert process.stdout is not None
        async for line in process.stdout:
            lines.append(line)

    reader = asyncio.create_task(read())
    try:
        yield lines
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 15)
        finally:
            if process.returncode is None:
                process.kill()
            await reader


async def test_webhook_refuses_updates_without_the_secret(
    database_url: str, tmp_path: Path
) -> None:
    """Telegram's pushes (with the secret) are answered; posts without it or with a wrong one
    get 403 and do nothing, though the same update with the secret would run an admin command."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram"
    async with (
        Emulator(TOKEN) as emulator,
        webhook_bot(database_url, tmp_path, emulator, port) as output,
        httpx.AsyncClient() as client,
    ):
        await wait_until(lambda: emulator.world.webhook.url == url)
        assert emulator.world.webhook.secret_token == SECRET
        emulator.add_chat(USER_ID, "private")
        emulator.add_chat(ADMIN_ID, "private")
        emulator.user_says(USER_ID, "/start")
        await emulator.wait_for(USER_ID, 1, timeout=20)

        refused = [
            await client.post(url, json=forged_update(900_001 + n, "/stats"), headers=headers)
            for n, headers in enumerate(
                ({}, {HEADER: "wrong"}, {HEADER: SECRET + "x"}, {HEADER: SECRET[:-1]}, {HEADER: ""})
            )
        ]
        assert [r.status_code for r in refused] == [403] * 5
        await asyncio.sleep(1.0)
        # Still up, and still answering Telegram's own pushes:
        emulator.user_says(USER_ID, "/help")
        await emulator.wait_for(USER_ID, 2, timeout=10)
        assert [r for r in emulator.sent if r.chat_id == ADMIN_ID] == [], "a forged update ran"

        accepted = await client.post(
            url, json=forged_update(900_100, "/stats"), headers={HEADER: SECRET}
        )
        assert accepted.status_code == 200
        (stats,) = await emulator.wait_for(ADMIN_ID, 1, timeout=10)
        assert "Stats" in (stats.text or "")
    text = b"".join(output).decode("utf-8", "replace")
    assert TOKEN not in text
    assert TOKEN.split(":")[1] not in text
    # PTB logs each refusal with its traceback at DEBUG; nothing may be worse than that.
    assert [line for line in text.splitlines() if " ERROR " in line or " CRITICAL " in line] == []


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """A clean working directory and environment for `cli.main`; logging put back after."""
    monkeypatch.chdir(tmp_path)
    for key in list(os.environ):
        if key.startswith(("WEBHOOK_", "TELEGRAM_", "DATABASE_")):
            monkeypatch.delenv(key)
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, logging.getLogRecordFactory())
    hooks = (sys.excepthook, threading.excepthook)
    yield
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    logging.setLogRecordFactory(saved[2])
    sys.excepthook, threading.excepthook = hooks
    logging.captureWarnings(False)
    for name in logs.QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)


def test_webhook_mode_needs_a_secret(
    cli_env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """WEBHOOK_URL without WEBHOOK_SECRET stops `run` before it starts, naming the variable."""
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("TELEGRAM_API_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("WEBHOOK_URL", "https://bot.example.org/telegram")
    monkeypatch.setenv("DATABASE_URL", "sqlite+aiosqlite:///never-created.db")
    assert cli.main(["run"]) == 2
    err = capsys.readouterr().err
    assert "WEBHOOK_SECRET is not set" in err
    assert "Example: WEBHOOK_SECRET=" in err
    assert not Path("never-created.db").exists(), "nothing started before the check"
