"""Scheduled work, wired to PTB's JobQueue; the logic lives in `bot/`.

Every job runs with max_instances=1 and coalesce, so a slow run is never stacked, and the
first runs are staggered so start-up does not do everything at once. Each runs `guarded`: a
database that is away for a while is one log line per job, and its next run is the retry (the
delivery job only starts the sender, which runs guarded as its own task).
"""

from __future__ import annotations

from typing import Any

from telegram.ext import JobQueue

from bot.config import Settings
from jobs import cleanup, deliver, digests, fetch, heartbeat
from jobs.guard import guarded

JOB_KWARGS: dict[str, Any] = {"max_instances": 1, "coalesce": True, "misfire_grace_time": 30}


def schedule(job_queue: JobQueue[Any], settings: Settings) -> None:
    """Register every job."""
    job_queue.run_repeating(
        guarded("fetch", fetch.fetch_job),
        interval=settings.fetch_interval,
        first=1.0,
        name="fetch",
        job_kwargs=JOB_KWARGS,
    )
    job_queue.run_repeating(
        deliver.deliver_job, interval=1.0, first=1.5, name="deliver", job_kwargs=JOB_KWARGS
    )
    job_queue.run_repeating(
        guarded("digests", digests.digest_job),
        interval=20.0,
        first=5.0,
        name="digests",
        job_kwargs=JOB_KWARGS,
    )
    job_queue.run_repeating(
        guarded("heartbeat", heartbeat.heartbeat_job),
        interval=5.0,
        first=0.5,
        name="heartbeat",
        job_kwargs=JOB_KWARGS,
    )
    job_queue.run_repeating(
        guarded("cleanup", cleanup.cleanup_job),
        interval=15.0,
        first=30.0,
        name="cleanup",
        job_kwargs=JOB_KWARGS,
    )
