"""Test harness: the real bot, the emulator and the feed server, wired on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.app import BotApplication, build_application, serving
from bot.context import Deps
from bot.emulator import Emulator, FloodLimits, SentRecord
from bot.feedserver import DEMO_SOURCES_FILE, FeedServer
from bot.pipeline import PassReport, run_fetch_pass
from tests.conftest import ADMIN_ID, TOKEN, make_settings

USER_ID = 501


class Clock:
    """A controllable clock for the bot: starts at real now, moves only when told."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Harness:
    """A running bot with its emulator and feed server."""

    emulator: Emulator
    feeds: FeedServer
    app: BotApplication
    clock: Clock
    sources_file: Path
    chats: dict[int, str] = field(default_factory=dict)

    @property
    def deps(self) -> Deps:
        deps = self.app.bot_data.deps
        assert deps is not None
        return deps

    async def fetch(self, *, force: bool = True) -> PassReport:
        """One fetch pass now (the scheduled one is far away in tests)."""
        return await run_fetch_pass(self.deps, force=force)

    def chat(
        self,
        chat_id: int = USER_ID,
        *,
        type: str = "private",
        user_id: int | None = None,
        admins: tuple[int, ...] = (),
        is_forum: bool = False,
        title: str | None = None,
    ) -> Chat:
        if chat_id not in self.chats:
            self.emulator.add_chat(
                chat_id,
                type,
                title=title or (None if type == "private" else f"chat {chat_id}"),
                is_forum=is_forum,
                admins=admins,
            )
            self.chats[chat_id] = type
        return Chat(
            self, chat_id, user_id if user_id is not None else (chat_id if chat_id > 0 else USER_ID)
        )


@dataclass
class Chat:
    """One side of a conversation: say something, read the bot's answers."""

    harness: Harness
    chat_id: int
    user_id: int

    async def send(
        self,
        text: str,
        *,
        thread_id: int | None = None,
        settle: float = 0.3,
        timeout: float = 10.0,
        user_id: int | None = None,
    ) -> list[SentRecord]:
        """Say `text` and return every reply that arrives (at least one, or TimeoutError)."""
        emulator = self.harness.emulator
        since = len(emulator.sent)
        emulator.user_says(self.chat_id, text, user_id=user_id or self.user_id, thread_id=thread_id)
        return await self.replies(since, settle=settle, timeout=timeout)

    async def press(
        self, record: SentRecord, label: str, *, settle: float = 0.3, user_id: int | None = None
    ) -> list[SentRecord]:
        """Press the button labelled `label` under `record`; returns replies (maybe none)."""
        emulator = self.harness.emulator
        since, answers = len(emulator.sent), len(emulator.callback_answers)
        emulator.press_button(
            self.chat_id,
            record.message_id,
            record.button_data(label),
            user_id=user_id or self.user_id,
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while len(emulator.callback_answers) == answers and loop.time() < deadline:
            await asyncio.sleep(0.02)
        await asyncio.sleep(settle)
        return [r for r in emulator.sent[since:] if r.chat_id == self.chat_id]

    async def replies(
        self, since: int, *, settle: float = 0.3, timeout: float = 10.0
    ) -> list[SentRecord]:
        emulator = self.harness.emulator
        await emulator.wait_for(self.chat_id, 1, since=since, timeout=timeout)
        count = -1
        while count != len(emulator.sent):
            count = len(emulator.sent)
            await asyncio.sleep(settle)
        return [r for r in emulator.sent[since:] if r.chat_id == self.chat_id]


def write_sources(path: Path, feeds: FeedServer) -> Path:
    path.write_text(DEMO_SOURCES_FILE.read_text().replace("{feeds}", feeds.base_url))
    return path


@asynccontextmanager
async def harness(
    database_url: str,
    tmp_path: Path,
    *,
    limits: FloodLimits | None = None,
    clock: Clock | None = None,
    jobs: bool = True,
    auto_fetch: bool = False,
    sources: Callable[[FeedServer], str] | None = None,
    before_start: Callable[[Emulator], None] | None = None,
    **settings: Any,
) -> AsyncIterator[Harness]:
    """Emulator + feed server + the real Application polling over HTTP; `before_start` sets
    the emulator up before the bot's first call (a failing method, say)."""
    clock = clock or Clock()
    async with Emulator(TOKEN, limits=limits or FloodLimits()) as emulator, FeedServer() as feeds:
        sources_file = tmp_path / "sources.toml"
        if sources is None:
            write_sources(sources_file, feeds)
        else:
            sources_file.write_text(sources(feeds))
        config = make_settings(
            database_url, telegram_api_url=emulator.url, sources_file=sources_file, **settings
        )
        app = build_application(config, clock=clock, jobs=jobs)
        if before_start is not None:
            before_start(emulator)
        async with serving(app, poll_timeout=1):
            if not auto_fetch and app.job_queue is not None:
                # Tests run fetch passes themselves (Harness.fetch), so they never race the job.
                for job in app.job_queue.get_jobs_by_name("fetch"):
                    job.schedule_removal()
            emulator.add_chat(ADMIN_ID, "private")
            yield Harness(emulator, feeds, app, clock, sources_file, {ADMIN_ID: "private"})
