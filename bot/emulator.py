"""A Telegram Bot API emulator on 127.0.0.1, for the tests and for `conflictbot demo`.

The real python-telegram-bot talks to it unchanged::

    async with Emulator() as emu:
        app = ApplicationBuilder().token(emu.token).base_url(emu.base_url).build()

It answers as Telegram does, in Telegram's JSON shapes: HTML that Telegram would refuse is
refused with Telegram's description (see `telegram_rules`), sends beyond the flood limits get
429 with retry_after, blocked chats 403, migrated groups 400 with migrate_to_chat_id. A test
drives the other side of the chat (`user_says`, `press_button`, `bot_added`, ...), scripts
failures (`fail_next`, `set_unavailable`) and reads what the bot did (`sent`, `edits`,
`wait_for`). The same controls are served over HTTP under `/control/` for a bot running in
another process. The modules `emulator_*` hold the parts: state and Telegram objects (world),
methods, parameters, flood control, records, HTTP, and the controls.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from types import TracebackType
from typing import Any

from aiohttp import web

from bot.emulator_controls import EmulatorControls
from bot.emulator_flood import FloodLimits
from bot.emulator_http import HttpFace, deliver_webhooks
from bot.emulator_records import (
    CallbackAnswer,
    EditRecord,
    SentRecord,
    current_messages,
    render_for_terminal,
)
from bot.emulator_world import ANONYMOUS_ADMIN_ID, DEFAULT_USER_ID, User, World

__all__ = [
    "ANONYMOUS_ADMIN_ID",
    "DEFAULT_TOKEN",
    "DEFAULT_USER_ID",
    "CallbackAnswer",
    "EditRecord",
    "Emulator",
    "FloodLimits",
    "SentRecord",
    "render_for_terminal",
]

log = logging.getLogger(__name__)

DEFAULT_TOKEN = "123456789:AAEmulatorTokenForTestsOnly-0123456"


class Emulator(EmulatorControls):
    """One emulated Telegram with one bot; start it, point the bot at `base_url`, drive it."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_id: int | None = None,
        bot_username: str = "conflictbot_bot",
        bot_name: str = "Conflict Bot",
        limits: FloodLimits = FloodLimits(),  # noqa: B008 - a frozen, immutable default
        clock: Callable[[], float] = time.monotonic,
        strict_html: bool = True,
    ) -> None:
        self.token = token
        bot = User(bot_id or int(token.partition(":")[0]), bot_name, bot_username, is_bot=True)
        self.world = World(bot, limits=limits, clock=clock, strict_html=strict_html)
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._webhook_task: asyncio.Task[None] | None = None

    @property
    def bot_id(self) -> int:
        """The bot's user id."""
        return self.world.bot.id

    @property
    def bot_username(self) -> str:
        """The bot's @username, without the @."""
        return self.world.bot.username or ""

    @property
    def base_url(self) -> str:
        """What PTB's `base_url` wants: requests go to `{base_url}{token}/{method}`."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """What PTB's `base_file_url` wants."""
        return f"{self.url}/file/bot"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on host:port (0 picks a free port); returns the root URL, `http://host:port`."""
        runner = web.AppRunner(
            HttpFace(self).app(), access_log=None, handler_cancellation=True, shutdown_timeout=1
        )
        self.world.closing = False
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        self._runner = runner
        self.url = f"http://{host}:{runner.addresses[0][1]}"
        self._webhook_task = asyncio.create_task(deliver_webhooks(self.world))
        log.info("Bot API emulator listening on %s", self.url)
        return self.url

    async def stop(self) -> None:
        """End long polls, stop webhook delivery and close the server."""
        self.world.closing = True
        self.world.notify()
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_task
        if self._runner is not None:
            await self._runner.cleanup()
        self._runner = self._webhook_task = None

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def sent(self) -> list[SentRecord]:
        """Every accepted sendMessage and sendPhoto, in order."""
        return list(self.world.sent)

    @property
    def edits(self) -> list[EditRecord]:
        """Every accepted edit and deletion, in order."""
        return list(self.world.edits)

    @property
    def callback_answers(self) -> list[CallbackAnswer]:
        """Every accepted answerCallbackQuery, in order."""
        return list(self.world.callback_answers)

    @property
    def violations(self) -> int:
        """How many sends flood control refused."""
        return self.world.violations

    @property
    def requests_by_method(self) -> Counter[str]:
        """Bot API calls with the right token, per method (refused ones included)."""
        return Counter(self.world.requests_by_method)

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates not yet confirmed by getUpdates (or delivered to the webhook)."""
        return list(self.world.updates)

    def commands(
        self, scope: dict[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, str]]:
        """What setMyCommands stored for this scope (default: the default scope) and language."""
        key = json.dumps(scope or {"type": "default"}, sort_keys=True)
        return list(self.world.commands.get((key, language_code), []))

    def stats(self) -> dict[str, Any]:
        """Counters for the control API and the demo."""
        return {
            "violations": self.violations,
            "violation_kinds": dict(self.world.flood.refusals),
            "requests_by_method": dict(self.world.requests_by_method),
            "pending_updates": len(self.world.updates),
            "sent": len(self.world.sent),
        }

    def messages_to(self, chat_id: int) -> list[SentRecord]:
        """The bot's messages in a chat as they stand now: edits applied, deleted ones gone."""
        return current_messages(self.world.sent, self.world.edits, chat_id)

    async def wait_for(
        self,
        target: int | Callable[[SentRecord], bool] | None = None,
        count: int = 1,
        *,
        since: int = 0,
        timeout: float = 5.0,  # noqa: ASYNC109 - a test API; asyncio.wait_for reads the same
    ) -> list[SentRecord]:
        """Wait until `count` sends from index `since` on match; returns all that match.

        `target` is a chat id, a predicate on records, or None for any send. Raises
        TimeoutError, listing what did arrive, when the deadline passes first.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = [r for r in self.world.sent[since:] if _matches(r, target)]
            remaining = deadline - loop.time()
            if len(found) >= count:
                return found
            if remaining <= 0:
                seen = [r.render() for r in self.world.sent[since:]]
                raise TimeoutError(
                    f"wanted {count} send(s) to {target!r} in {timeout}s; saw {seen}"
                )
            await self.world.wait_change(remaining)


def _matches(record: SentRecord, target: int | Callable[[SentRecord], bool] | None) -> bool:
    if target is None:
        return True
    if isinstance(target, int):
        return record.chat_id == target
    return target(record)


async def _serve(host: str, port: int, token: str) -> None:
    emulator = Emulator(token)
    await emulator.start(host, port)
    print(f"Bot API emulator at {emulator.url} (Ctrl-C stops it)")
    try:
        await asyncio.Event().wait()
    finally:
        await emulator.stop()


def main(argv: list[str] | None = None) -> None:
    """`python -m bot.emulator --port 8081`: run standalone, for manual play."""
    parser = argparse.ArgumentParser(prog="python -m bot.emulator", description=main.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    options = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(options.host, options.port, options.token))


if __name__ == "__main__":
    main()
