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
from jobs.guard import Job, guarded

JOB_KWARGS: dict[str, Any] = {"max_instances": 1, "coalesce": True, "misfire_grace_time": 30}


def schedule(job_queue: JobQueue[Any], settings: Settings) -> None:
    """Register every job: (name, job, every s, first run after s)."""
    jobs: list[tuple[str, Job, float, float]] = [
        ("fetch", guarded("fetch", fetch.fetch_job), settings.fetch_interval, 1.0),
        ("deliver", deliver.deliver_job, 1.0, 1.5),  # its sender task runs guarded itself
        ("digests", guarded("digests", digests.digest_job), 20.0, 5.0),
        ("heartbeat", guarded("heartbeat", heartbeat.heartbeat_job), 5.0, 0.5),
        ("cleanup", guarded("cleanup", cleanup.cleanup_job), 15.0, 30.0),
    ]
    for name, job, interval, first in jobs:
        job_queue.run_repeating(
            job, interval=interval, first=first, name=name, job_kwargs=JOB_KWARGS
        )
