"""The application factory: `build_application(settings)` wires PTB, resources, handlers, jobs.

Resources (engine, HTTP client, topics, sources) are opened in post_init and closed in
post_shutdown, so building an Application has no side effects and tests can build many.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from telegram.error import TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes, Defaults

from bot import cluster
from bot.config import Settings, load_sources, load_topics
from bot.context import AppData, BotContext, Deps, utc_now
from bot.db import make_engine, make_sessionmaker
from bot.delivery import release_stale_claims
from bot.fetch import make_client
from bot.ratelimit import SharedRateLimiter
from bot.store import sources
from bot.topics import compile_topics

log = logging.getLogger(__name__)

BotApplication = Application[Any, BotContext, Any, Any, AppData, Any]


async def open_deps(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = utc_now,
    role: str = "all",
    sync_sources: bool = True,
) -> Deps:
    """Open the process's resources and bring the sources table in line with the file (not
    with `sync_sources=False`, for commands that only read: `stories` run from a shell with
    another SOURCES_FILE must not rewrite the operator's sources)."""
    engine = make_engine(settings.database_url)
    deps = Deps(
        settings=settings,
        engine=engine,
        sessions=make_sessionmaker(engine),
        http=make_client(),
        topics=compile_topics(load_topics(settings.topics_file)),
        sources=load_sources(settings.sources_file),
        clock=clock,
        role=role,
    )
    if not sync_sources:
        return deps
    if not deps.sources:
        log.warning(
            "the sources file %s lists no sources: only those added with /addsource are fetched",
            settings.sources_file,
        )
    if not deps.topics.topics:
        log.warning("the topics file %s lists no topics", settings.topics_file)
    try:
        async with deps.sessions() as session, session.begin():
            now = clock()
            await sources.sync_sources(session, deps.sources, now)
            await sources.bring_forward(session, now, timedelta(seconds=settings.fetch_interval))
    except BaseException:
        await close_deps(deps)
        raise
    return deps


async def close_deps(deps: Deps) -> None:
    await deps.http.aclose()
    await deps.engine.dispose()


def build_application(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = utc_now,
    jobs: bool = True,
    role: str = "all",
) -> BotApplication:
    """A ready-to-run Application talking to `TELEGRAM_API_URL` (Telegram, or the emulator)."""
    from handlers import bot_commands, register
    from jobs import schedule

    async def post_init(application: BotApplication) -> None:
        deps = await open_deps(settings, clock=clock, role=role)
        application.bot_data.deps = deps
        if settings.metrics_port is not None:
            from bot.metrics import start_metrics

            application.bot_data.extras["metrics"] = await start_metrics(
                deps, settings.metrics_port
            )
        # With SQLite there is one process, so anything still "sending" was in flight when
        # the last one died; with PostgreSQL other instances may be sending, so wait a lease.
        lease = timedelta(0) if settings.is_sqlite else timedelta(minutes=2)
        await release_stale_claims(deps, lease=lease)
        limiter = application.bot.rate_limiter
        if not settings.is_sqlite and isinstance(limiter, SharedRateLimiter):
            limiter.share_schedule(cluster.slot_reserver(deps.sessions))
        try:
            await application.bot.set_my_commands(bot_commands())
        except TelegramError as exc:  # only the command menu; the commands work without it
            log.warning("could not set the command menu (setMyCommands): %s", exc)
        if jobs and role != "poller" and application.job_queue is not None:
            schedule(application.job_queue, settings)
        log.info(
            "conflictbot ready: %d sources, %d topics", len(deps.sources), len(deps.topics.topics)
        )

    async def post_shutdown(application: BotApplication) -> None:
        deps = application.bot_data.deps
        if deps is None:
            return
        sender = application.bot_data.extras.get("sender")
        if sender is not None:
            await sender.release()
        metrics_server = application.bot_data.extras.pop("metrics", None)
        if metrics_server is not None:
            await metrics_server.stop()
        await close_deps(deps)

    api = settings.telegram_api_url.rstrip("/")
    application: BotApplication = (
        ApplicationBuilder()
        .token(settings.token)
        .base_url(f"{api}/bot")
        .base_file_url(f"{api}/file/bot")
        .context_types(ContextTypes(context=BotContext, bot_data=AppData))
        .defaults(Defaults(tzinfo=UTC))
        .rate_limiter(SharedRateLimiter(settings.send_rate))
        .concurrent_updates(8)
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .build()
    )
    register(application, settings.admin_ids)
    return application


ALLOWED_UPDATES: list[str] = [
    "message",
    "edited_message",
    "channel_post",
    "callback_query",
    "my_chat_member",
]


@asynccontextmanager
async def serving(
    application: BotApplication, *, poll_timeout: int = 10
) -> AsyncIterator[BotApplication]:
    """Run an Application inside the caller's event loop (the demo and the tests).

    Mirrors run_polling's order: initialize, post_init, start, poll; then stop the updater,
    stop the application (jobs finish), shut down and post_shutdown.
    """
    await application.initialize()
    if application.post_init is not None:
        await application.post_init(application)
    await application.start()
    assert application.updater is not None
    await application.updater.start_polling(
        poll_interval=0.0, timeout=poll_timeout, allowed_updates=ALLOWED_UPDATES
    )
    try:
        yield application
    finally:
        if application.updater.running:
            await application.updater.stop()
        if application.running:
            await application.stop()
        await application.shutdown()
        if application.post_shutdown is not None:
            await application.post_shutdown(application)
