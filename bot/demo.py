"""`conflictbot demo`: the real bot against the bundled emulator and sample feeds, in a terminal.

No token and no network: the emulator plays Telegram on 127.0.0.1, a loopback server serves
the sample feeds, the database is a temporary SQLite file. You type as a user in a private
chat and see the bot's messages rendered readably; alerts for what you follow arrive as the
feeds change. `--script FILE` plays one message per line, prints the conversation, and exits
non-zero if the bot failed to answer any line.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from pydantic import SecretStr

from bot import migrate
from bot.app import build_application, serving
from bot.config import Settings
from bot.emulator import DEFAULT_TOKEN, Emulator, SentRecord
from bot.feedserver import DEMO_SOURCES_FILE, FeedServer
from bot.logs import configure_logging
from bot.pipeline import run_fetch_pass

DEMO_CHAT = 4242
REPLY_WAIT_S = 8.0
SETTLE_S = 0.6


def run_demo(settings: Settings, *, script: str | None = None) -> int:
    """Run the demo; returns the exit code."""
    lines = None
    if script is not None:
        try:
            lines = [
                line.strip()
                for line in Path(script).read_text(encoding="utf-8").splitlines()
                if line.strip() and not line.lstrip().startswith("#")
            ]
        except OSError as exc:
            print(f"conflictbot demo: cannot read {script}: {exc.strerror}", file=sys.stderr)
            return 2
    if settings.log_level != "DEBUG":
        # The terminal is the chat: keep INFO lines out of it unless DEBUG was asked for.
        configure_logging("WARNING")
    with tempfile.TemporaryDirectory(prefix="conflictbot-demo-") as folder:
        return asyncio.run(_demo(settings, Path(folder), lines))


async def _demo(settings: Settings, folder: Path, lines: list[str] | None) -> int:
    async with Emulator(DEFAULT_TOKEN) as emulator, FeedServer() as feeds:
        feeds.freshen(datetime.now(UTC))
        sources = folder / "sources.toml"
        sources.write_text(DEMO_SOURCES_FILE.read_text().replace("{feeds}", feeds.base_url))
        database_url = f"sqlite+aiosqlite:///{folder / 'demo.db'}"
        await asyncio.to_thread(migrate.upgrade, database_url)
        demo_settings = settings.model_copy(
            update={
                "telegram_bot_token": SecretStr(DEFAULT_TOKEN),
                "telegram_api_url": emulator.url,
                "database_url": database_url,
                "sources_file": sources,
                "webhook_url": None,
                "admin_ids": frozenset({DEMO_CHAT}),
            }
        )
        emulator.add_chat(DEMO_CHAT, "private", first_name="You")
        application = build_application(demo_settings)
        async with serving(application, poll_timeout=1):
            deps = application.bot_data.deps
            assert deps is not None
            report = await run_fetch_pass(deps, force=True)
            print(f"[demo] {report.summary_line()}")
            if lines is not None:
                return await _play(emulator, lines)
            await _interactive(emulator)
    return 0


def _show(records: list[SentRecord]) -> None:
    for record in records:
        print("bot> " + record.render().replace("\n", "\n     "))
        print()


async def _say(emulator: Emulator, text: str) -> list[SentRecord]:
    """Send a line as the user and collect the bot's answers until it goes quiet."""
    since = len(emulator.sent)
    emulator.user_says(DEMO_CHAT, text, user_id=DEMO_CHAT, first_name="You")
    try:
        await emulator.wait_for(DEMO_CHAT, 1, since=since, timeout=REPLY_WAIT_S)
    except TimeoutError:
        return []
    count = -1
    while count != len(emulator.sent):
        count = len(emulator.sent)
        await asyncio.sleep(SETTLE_S)
    return [record for record in emulator.sent[since:] if record.chat_id == DEMO_CHAT]


async def _play(emulator: Emulator, lines: list[str]) -> int:
    failures = 0
    for line in lines:
        print(f"you> {line}")
        replies = await _say(emulator, line)
        if not replies:
            print("bot> (no answer)")
            failures += 1
        _show(replies)
    print(f"[demo] {len(lines)} lines played, {failures} without an answer")
    return 1 if failures else 0


async def _interactive(emulator: Emulator) -> None:
    print(
        "Chat with conflictbot. Try /latest, /topic kursk, /follow all. Ctrl-D or /quit to leave.\n"
    )
    seen = len(emulator.sent)
    while True:
        with contextlib.suppress(EOFError):
            line = await asyncio.to_thread(input, "you> ")
            if line.strip() in {"/quit", "/exit"}:
                return
            if line.strip():
                since = len(emulator.sent)
                _show(await _say(emulator, line.strip()))
                seen = max(seen, len(emulator.sent))
                del since
            continue
        return
