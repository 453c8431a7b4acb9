"""`/healthz` and Prometheus `/metrics` on METRICS_PORT: what an operator watches.

A tiny aiohttp server, started in post_init when METRICS_PORT is set (polling and webhook
mode alike; the webhook's own server belongs to PTB). `/healthz` answers 200 "ok" only when
the database answers, so a container orchestrator or systemd watchdog restarts a bot whose
database went away; it names no detail, since anyone who can reach the port can read it.
`/metrics` is the Prometheus text format (version 0.0.4): fetch lag and failures per source,
the outbox by status, sends and errors by kind (the process counters in `Deps.counters`),
stories, chats and follows. Counters restart from zero with the process, as Prometheus
expects of a `_total`.

Each scrape reads the database (a handful of aggregate queries); a scrape every 15 s costs
nothing next to a fetch pass.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from aiohttp import web
from sqlalchemy import text

from bot.context import Deps
from bot.store import chats, outbox, sources, stories

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
HEALTH_TIMEOUT_S = 5.0
QUEUE_STATUSES = ("queued", "sending", "held", "digest", "sent", "failed", "dropped")
# Counters that mean something went wrong, by the kind shown in conflictbot_errors_total.
ERROR_COUNTERS: Mapping[str, str] = {
    "handler_errors": "handler",
    "pipeline_source_crash": "pipeline",
    "delivery_transient": "telegram_network",
    "delivery_rejected": "telegram_rejected",
    "delivery_retry_after": "telegram_flood",
    "delivery_blocked": "telegram_blocked",
    "delivery_edit_failed": "telegram_edit",
}


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """One source as the metrics see it: seconds since its last success, failures in a row."""

    name: str
    lag_s: float
    failures: int


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything one scrape shows, read at one moment."""

    sources: Sequence[SourceHealth] = ()
    queue: Mapping[str, int] = field(default_factory=dict)
    counters: Mapping[str, int] = field(default_factory=dict)
    stories: int = 0
    active_chats: int = 0
    follows: int = 0
    started_at: float = 0.0


def render_metrics(snapshot: Snapshot) -> str:
    """The Prometheus text exposition of a snapshot (pure; label values escaped)."""
    out: list[str] = []

    def family(name: str, kind: str, help_text: str) -> None:
        out.append(f"# HELP conflictbot_{name} {help_text}")
        out.append(f"# TYPE conflictbot_{name} {kind}")

    def sample(name: str, value: float, **labels: str) -> None:
        out.append(f"conflictbot_{name}{_labels(labels)} {_number(value)}")

    family("up", "gauge", "1 while the bot process serves metrics.")
    sample("up", 1)
    family("start_time_seconds", "gauge", "When this process started (Unix time).")
    sample("start_time_seconds", snapshot.started_at)
    family("fetch_lag_seconds", "gauge", "Seconds since the last successful fetch (+Inf: never).")
    for source in snapshot.sources:
        sample("fetch_lag_seconds", source.lag_s, source=source.name)
    family("source_consecutive_failures", "gauge", "Failed fetches in a row (0: last one worked).")
    for source in snapshot.sources:
        sample("source_consecutive_failures", source.failures, source=source.name)
    family("queue_depth", "gauge", "Outbox rows by status.")
    for status in sorted(set(QUEUE_STATUSES) | set(snapshot.queue)):
        sample("queue_depth", snapshot.queue.get(status, 0), status=status)
    family("deliveries_total", "counter", "Send attempts and their handling by outcome.")
    for name, value in sorted(snapshot.counters.items()):
        if name.startswith("delivery_"):
            sample("deliveries_total", value, outcome=name.removeprefix("delivery_"))
    family("errors_total", "counter", "Errors by kind since start.")
    for kind, value in sorted(_errors(snapshot.counters).items()):
        sample("errors_total", value, kind=kind)
    family("fetch_passes_total", "counter", "Fetch passes since start.")
    sample("fetch_passes_total", snapshot.counters.get("fetch_passes", 0))
    family("stories", "gauge", "Stories stored.")
    sample("stories", snapshot.stories)
    family("active_chats", "gauge", "Chats that get alerts.")
    sample("active_chats", snapshot.active_chats)
    family("follows", "gauge", "Follows of all chats.")
    sample("follows", snapshot.follows)
    return "\n".join(out) + "\n"


def _errors(counters: Mapping[str, int]) -> dict[str, int]:
    """Error counts by kind: the known error counters, and any other `<kind>_errors`."""
    errors = dict.fromkeys(ERROR_COUNTERS.values(), 0)
    for name, value in counters.items():
        kind = ERROR_COUNTERS.get(name)
        if kind is None and name.endswith("_errors"):
            kind = name.removesuffix("_errors")
        if kind is not None:
            errors[kind] = errors.get(kind, 0) + value
    return errors


def _labels(labels: Mapping[str, str]) -> str:
    """`{name="value"}` with the three escapes the text format defines (\\, ", newline)."""
    if not labels:
        return ""
    parts = []
    for name, value in labels.items():
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        parts.append(f'{name}="{escaped}"')
    return "{" + ",".join(parts) + "}"


def _number(value: float) -> str:
    """Integers as integers, others with millisecond precision, infinity as +Inf."""
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value):
        return str(int(value))
    return f"{value:.3f}"


async def take_snapshot(deps: Deps, *, started_at: float) -> Snapshot:
    """Read what /metrics shows: one short read-only session."""
    now = deps.clock()
    async with deps.sessions() as session:
        states = await sources.list_sources(session)
        depth = await outbox.depth(session)
        story_count = await stories.count_stories(session)
        active, follow_count = await chats.count_chats(session)
    return Snapshot(
        sources=[
            SourceHealth(
                state.source.name, _lag(now, state.last_success_at), state.consecutive_failures
            )
            for state in states
        ],
        queue=depth,
        counters=dict(deps.counters),
        stories=story_count,
        active_chats=active,
        follows=follow_count,
        started_at=started_at,
    )


def _lag(now: datetime, last_success_at: datetime | None) -> float:
    if last_success_at is None:
        return math.inf
    return max(0.0, (now - last_success_at).total_seconds())


async def database_ok(deps: Deps) -> bool:
    """Does the database answer a trivial query within HEALTH_TIMEOUT_S?"""
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT_S), deps.sessions() as session:
            await session.execute(text("SELECT 1"))
    except Exception:  # a health check reports every failure as "not healthy", never raises
        log.warning("health check: the database does not answer", exc_info=True)
        return False
    return True


class MetricsServer:
    """The aiohttp server behind /healthz and /metrics; `start()` then `stop()`."""

    def __init__(self, deps: Deps, *, host: str = "0.0.0.0", port: int = 9108) -> None:
        self.deps = deps
        self.host = host
        self.port = port
        self.started_at = time.time()
        self._runner: web.AppRunner | None = None

    async def start(self) -> int:
        """Listen (port 0 picks a free one); returns the port."""
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        log.info("metrics on http://%s:%d/metrics and /healthz", self.host, self.port)
        return self.port

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _healthz(self, request: web.Request) -> web.Response:
        if await database_ok(self.deps):
            return web.Response(text="ok\n")
        return web.Response(status=503, text="database unavailable\n")

    async def _metrics(self, request: web.Request) -> web.Response:
        try:
            snapshot = await take_snapshot(self.deps, started_at=self.started_at)
        except Exception:  # a failed scrape is a 503 for Prometheus, not a crash of the bot
            log.warning("metrics: could not read the database", exc_info=True)
            return web.Response(status=503, text="database unavailable\n")
        body = render_metrics(snapshot)
        return web.Response(body=body.encode(), headers={"Content-Type": CONTENT_TYPE})


async def start_metrics(deps: Deps, port: int, *, host: str = "0.0.0.0") -> MetricsServer:
    """Start serving /healthz and /metrics for this process's Deps."""
    server = MetricsServer(deps, host=host, port=port)
    await server.start()
    return server
