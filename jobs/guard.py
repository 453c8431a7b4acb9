"""Jobs outlive a database that is away for a while: one line when it goes, one when it is back.

A locked SQLite file (another connection's write transaction outlasting the busy timeout) or a
PostgreSQL server that restarts or refuses connections makes every job fail until it is back.
PTB would log each failure with its traceback through the error handler, once a second for
the delivery job; instead the first failure of each job is logged as one warning, the
repeats at debug level, and the recovery as one line. Anything else still goes to the error
handler with its traceback. No job waits or retries by itself: its next scheduled run is the
retry, so an outage never becomes a loop.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from bot.context import BotContext

log = logging.getLogger(__name__)

Job = Callable[[BotContext], Coroutine[Any, Any, None]]
DOWN_KEY = "database_down_in"


def database_unavailable(error: BaseException) -> bool:
    """Whether `error` means the database cannot be reached or used right now (not a bug).

    asyncpg errors SQLAlchemy has no class for (a database that refuses connections) come as a
    bare DBAPIError; a refused TCP connection comes as ConnectionError before any DBAPI call.
    """
    if isinstance(error, BaseExceptionGroup):  # a fetch pass's sources, failing together
        return all(database_unavailable(inner) for inner in error.exceptions)
    if isinstance(error, ConnectionError):
        return True
    if not isinstance(error, DBAPIError):
        return False
    return (
        isinstance(error, OperationalError | InterfaceError)
        or type(error) is DBAPIError
        or error.connection_invalidated
    )


def reason(error: BaseException) -> str:
    """The database's own words, first line only (no SQL, no parameters)."""
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    cause = getattr(error, "orig", None) or error
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(error).__name__


async def run_guarded(
    name: str, context: BotContext, work: Callable[[], Awaitable[object]]
) -> None:
    """Run `work`; a database outage is logged once per job and outage, and counted."""
    down: set[str] = context.bot_data.extras.setdefault(DOWN_KEY, set())
    try:
        await work()
    except Exception as exc:
        if not database_unavailable(exc):
            raise
        context.deps.counters["database_errors"] += 1
        if name in down:
            log.debug("%s: the database is still unavailable: %s", name, reason(exc))
        else:
            down.add(name)
            log.warning(
                "%s: the database is unavailable (%s); trying again at the next run",
                name,
                reason(exc),
            )
        return
    if name in down:
        down.discard(name)
        log.info("%s: the database is back", name)


def guarded(name: str, job: Job) -> Job:
    """`job` under `run_guarded`, for the JobQueue."""

    @functools.wraps(job)
    async def run(context: BotContext) -> None:
        await run_guarded(name, context, lambda: job(context))

    return run
