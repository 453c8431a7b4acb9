"""What handlers and jobs need, passed explicitly: no module-level clients or engines."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from telegram.ext import Application, CallbackContext, ExtBot

from bot.band_index import BandIndex
from bot.config import Settings
from bot.models import Source, Topic
from bot.topics import TopicIndex


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class Deps:
    """Process-wide resources, created in post_init and closed in post_shutdown."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    http: httpx.AsyncClient
    topics: TopicIndex
    sources: tuple[Source, ...]
    clock: Callable[[], datetime] = utc_now
    worker_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    role: str = "all"
    counters: Counter[str] = field(default_factory=Counter)
    bands: BandIndex | None = None
    """The LSH band index of stored reports, made at the first store (`bot.store.bands`)."""

    @property
    def topic_map(self) -> dict[str, Topic]:
        return {topic.key: topic for topic in self.topics.topics}


class AppData:
    """The application's bot_data: a typed holder instead of string keys in a dict."""

    def __init__(self) -> None:
        self.deps: Deps | None = None
        self.extras: dict[str, Any] = {}
        self.fetches: set[asyncio.Task[Any]] = set()
        """The fetch jobs in flight (`jobs.fetch`), which a shutdown interrupts."""

    def interrupt_fetches(self) -> None:
        """Cancel the fetch passes in flight, so a shutdown does not wait out a slow source's
        timeouts (PTB waits for running jobs); each gives its sources back (`run_fetch_pass`)."""
        for task in self.fetches:
            task.cancel()


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], AppData]):
    """The callback context of every handler and job, with `.deps` typed."""

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        chat_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        super().__init__(application=application, chat_id=chat_id, user_id=user_id)

    @property
    def deps(self) -> Deps:
        deps = self.bot_data.deps
        if deps is None:
            raise RuntimeError("Deps are created in post_init; no handler runs before it")
        return deps
