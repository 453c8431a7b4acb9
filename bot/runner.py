"""`conflictbot run`: one instance, or one of several sharing a PostgreSQL database.

With SQLite there is one process: PTB's run_polling (or run_webhook) does everything. With
PostgreSQL several instances may run: the one holding the poller lock polls Telegram, the
others stand by and take over within seconds when it stops; all of them fetch and deliver,
sharing the work through claims in the database. `--role` narrows what an instance does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from urllib.parse import urlsplit

from telegram import Bot

from bot.app import ALLOWED_UPDATES, BotApplication, build_application
from bot.cluster import PollerLock
from bot.config import Settings

log = logging.getLogger(__name__)

LEADER_RETRY_S = 5.0


def run(settings: Settings, role: str = "all") -> int:
    """Run until SIGTERM/SIGINT; returns the exit code.

    Telegram is asked once (getMe) before PTB starts: a refused token or an unreachable
    TELEGRAM_API_URL then raises one error for the CLI to put in one line, where PTB's own
    start-up would log its retry loop's tracebacks first."""
    asyncio.run(check_telegram(settings))
    application = build_application(settings, role=role)
    if settings.webhook_url or (settings.is_sqlite and role == "all"):
        _stop_on_signals(application)  # PTB runs it; `_run_shared` handles its own signals
    if settings.webhook_url:
        secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
        application.run_webhook(
            listen="0.0.0.0",  # all interfaces: Telegram (or a proxy) must reach the webhook
            port=settings.port,
            url_path=urlsplit(settings.webhook_url).path.strip("/") or "telegram",
            webhook_url=settings.webhook_url,
            secret_token=secret,
            allowed_updates=ALLOWED_UPDATES,
            stop_signals=None,  # ours (`_stop_on_signals`)
        )
    elif settings.is_sqlite and role == "all":
        application.run_polling(
            allowed_updates=ALLOWED_UPDATES, drop_pending_updates=False, stop_signals=None
        )
    else:
        asyncio.run(_run_shared(application, role))
    log.info("conflictbot stopped")
    return 0


def _stop_on_signals(application: BotApplication) -> None:
    """SIGTERM/SIGINT: interrupt the fetch passes in flight, then stop as PTB does.

    PTB's own handlers stop the application, which waits for running jobs, so a pass stuck on
    a slow source held a stop for its whole timeout (15-30 s, past many supervisors' grace
    period). The handlers go in after start-up (post_init), as PTB's would; the shared-database
    runner has its own (`_run_shared`)."""
    started = application.post_init

    async def post_init(app: BotApplication) -> None:
        if started is not None:
            await started(app)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, _stop, app)

    application.post_init = post_init


def _stop(application: BotApplication, tries: int = 50) -> None:
    """Interrupt the fetch passes and stop; a signal in the instant between post_init and
    the start of the run is tried again shortly (PTB would not see it there)."""
    application.bot_data.interrupt_fetches()
    if application.running:
        log.info("stopping: the fetch pass in flight is interrupted, the sends finish")
        application.stop_running()
    elif tries:
        asyncio.get_running_loop().call_later(0.2, _stop, application, tries - 1)


async def check_telegram(settings: Settings) -> None:
    """getMe with the configured token and server; raises PTB's InvalidToken or NetworkError."""
    api = settings.telegram_api_url.rstrip("/")
    async with Bot(settings.token, base_url=f"{api}/bot", base_file_url=f"{api}/file/bot"):
        pass  # entering initialises the bot, which is the getMe


async def _run_shared(application: BotApplication, role: str) -> None:
    """Start, then poll only while holding the poller lock; stop cleanly on a signal."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await application.initialize()
    if application.post_init is not None:
        await application.post_init(application)
    await application.start()
    deps = application.bot_data.deps
    assert deps is not None
    assert application.updater is not None
    lock = PollerLock(deps.engine)
    try:
        while not stop.is_set():
            if role != "worker":
                await _follow_lock(application, lock)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), LEADER_RETRY_S)
    finally:
        application.bot_data.interrupt_fetches()
        if application.updater.running:
            await application.updater.stop()
        await application.stop()
        await lock.release()
        await application.shutdown()
        if application.post_shutdown is not None:
            await application.post_shutdown(application)


async def _follow_lock(application: BotApplication, lock: PollerLock) -> None:
    """Poll while this instance holds the lock; stop polling when it is lost."""
    assert application.updater is not None
    try:
        leader = await lock.try_acquire()
    except Exception:  # the database is briefly away: stay as we are and try again
        log.warning("could not check the poller lock", exc_info=True)
        return
    if leader and not application.updater.running:
        log.info("polling Telegram (this instance holds the poller lock)")
        await application.updater.start_polling(allowed_updates=ALLOWED_UPDATES)
    elif not leader and application.updater.running:
        log.info("another instance polls Telegram; standing by")
        await application.updater.stop()
