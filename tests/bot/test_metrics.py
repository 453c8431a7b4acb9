"""/healthz and Prometheus /metrics: what the operator's monitoring sees (issue #8,
"Operations"), read over HTTP from a running bot."""

from __future__ import annotations

import asyncio
import math
import re
import socket
from pathlib import Path

import httpx
import pytest

from bot.config import load_sources, load_topics
from bot.context import Deps
from bot.db import make_engine, make_sessionmaker
from bot.feedserver import Fault
from bot.fetch import make_client
from bot.metrics import MetricsServer, Snapshot, SourceHealth, render_metrics, start_metrics
from bot.topics import compile_topics
from tests.conftest import make_settings
from tests.helpers import harness

SAMPLE = re.compile(
    r'^conflictbot_[a-z_]+(\{[a-z_]+="(?:[^"\\\n]|\\["\\n])*"(,[a-z_]+="(?:[^"\\\n]|\\["\\n])*")*\})?'
    r" (-?\d+(\.\d+)?|\+Inf|-Inf)$"
)
DNIPRO_ITEM = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Dnipro Ledger</title><link>https://dnipro-ledger.example</link>
<description>x</description>
<item><title>Drone strike on Kursk ammunition depot, officials say</title>
<link>https://dnipro-ledger.example/2026/05/19/kursk-depot-drone/</link>
<guid>kursk-depot-drone</guid>
<description>Drones hit an ammunition depot in Russia's Kursk region overnight, the regional
governor said, adding that nobody was hurt and that the fire was put out by morning.</description>
</item></channel></rss>"""


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample in an exposition (KeyError if it is not there)."""
    wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
    line_start = f"{name}{{{wanted}}} " if labels else f"{name} "
    for line in text.splitlines():
        if line.startswith(line_start):
            return float(line.removeprefix(line_start).replace("+Inf", "inf"))
    raise KeyError(f"{line_start!r} not in the metrics")


def assert_well_formed(text: str) -> None:
    """Every line is a HELP/TYPE comment or a sample the Prometheus text format accepts."""
    assert text.endswith("\n")
    for line in text.splitlines():
        if line.startswith("# "):
            assert re.match(r"^# (HELP|TYPE) conflictbot_[a-z_]+ ", line), line
        else:
            assert SAMPLE.match(line), line


def test_render_escapes_labels_and_shows_never_fetched_as_infinite() -> None:
    """Source names are escaped as the format requires; a never-fetched source lags +Inf."""
    snapshot = Snapshot(
        sources=[
            SourceHealth('Quote " back\\slash\nnewline', 12.5, 0),
            SourceHealth("Never fetched", math.inf, 3),
        ],
        queue={"queued": 4, "weird": 1},
        counters={"delivery_sent": 7, "delivery_transient": 2, "handler_errors": 1, "x_errors": 5},
        stories=9,
    )
    text = render_metrics(snapshot)
    assert_well_formed(text)
    assert 'source="Quote \\" back\\\\slash\\nnewline"} 12.500' in text
    assert metric(text, "conflictbot_fetch_lag_seconds", source="Never fetched") == math.inf
    assert metric(text, "conflictbot_source_consecutive_failures", source="Never fetched") == 3
    assert metric(text, "conflictbot_queue_depth", status="queued") == 4
    assert metric(text, "conflictbot_queue_depth", status="failed") == 0
    assert metric(text, "conflictbot_queue_depth", status="weird") == 1
    assert metric(text, "conflictbot_deliveries_total", outcome="sent") == 7
    assert metric(text, "conflictbot_errors_total", kind="telegram_network") == 2
    assert metric(text, "conflictbot_errors_total", kind="handler") == 1
    assert metric(text, "conflictbot_errors_total", kind="x") == 5
    assert metric(text, "conflictbot_stories") == 9


async def test_metrics_and_health_of_a_running_bot(database_url: str, tmp_path: Path) -> None:
    """Scrapes follow the bot: lag per source, failures, stories, queue and sends by outcome."""
    async with harness(database_url, tmp_path, fetch_interval=60) as h:
        server = await start_metrics(h.deps, 0, host="127.0.0.1")
        base = f"http://127.0.0.1:{server.port}"
        try:
            async with httpx.AsyncClient(base_url=base) as client:
                health = await client.get("/healthz")
                assert (health.status_code, health.text) == (200, "ok\n")
                before = await client.get("/metrics")
                assert before.headers["content-type"].startswith("text/plain; version=0.0.4")
                assert_well_formed(before.text)
                assert (
                    metric(before.text, "conflictbot_fetch_lag_seconds", source="Dnipro Ledger")
                    == math.inf
                )
                assert metric(before.text, "conflictbot_stories") == 0

                report = await h.fetch()
                reader = h.chat()
                await reader.send("/follow all")
                h.feeds.set_feed("/feeds/dnipro_ledger.rss", DNIPRO_ITEM.encode())
                h.feeds.set_fault("/feeds/kharkiv_courier.rdf", Fault.SERVER_ERROR)
                h.clock.advance(seconds=90)
                second = await h.fetch()
                assert second.queued == 1
                await h.emulator.wait_for(reader.chat_id, 2, timeout=10)
                await _until_sent(client)
                h.clock.advance(seconds=30)
                after = (await client.get("/metrics")).text
        finally:
            await server.stop()
    assert_well_formed(after)
    assert metric(after, "conflictbot_stories") == report.new_stories + 1
    assert metric(after, "conflictbot_fetch_lag_seconds", source="Dnipro Ledger") == 30
    assert metric(after, "conflictbot_fetch_lag_seconds", source="Kharkiv Courier") == 120
    assert metric(after, "conflictbot_source_consecutive_failures", source="Kharkiv Courier") == 1
    assert metric(after, "conflictbot_source_consecutive_failures", source="Dnipro Ledger") == 0
    assert metric(after, "conflictbot_deliveries_total", outcome="sent") == 1
    assert metric(after, "conflictbot_queue_depth", status="sent") == 1
    assert metric(after, "conflictbot_fetch_passes_total") == 2
    assert metric(after, "conflictbot_active_chats") >= 1


async def _until_sent(client: httpx.AsyncClient) -> None:
    """The delivery is recorded just after the message arrives; wait for the record."""
    for _ in range(100):
        text = (await client.get("/metrics")).text
        if metric(text, "conflictbot_queue_depth", status="sent") >= 1:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the alert was never marked sent")


async def test_health_fails_when_the_database_is_gone(tmp_path: Path) -> None:
    """A database that cannot be opened makes /healthz 503 and /metrics 503, without details."""
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path}/missing/dir/bot.db")
    engine = make_engine(settings.database_url)
    deps = Deps(
        settings=settings,
        engine=engine,
        sessions=make_sessionmaker(engine),
        http=make_client(),
        topics=compile_topics(load_topics()),
        sources=load_sources(),
    )
    server = MetricsServer(deps, host="127.0.0.1", port=0)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
            health = await client.get("/healthz")
            scrape = await client.get("/metrics")
    finally:
        await server.stop()
        await deps.http.aclose()
        await engine.dispose()
    assert (health.status_code, health.text) == (503, "database unavailable\n")
    assert (scrape.status_code, scrape.text) == (503, "database unavailable\n")
    assert "missing" not in health.text + scrape.text


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_metrics_port_setting_starts_the_endpoint(database_url: str, tmp_path: Path) -> None:
    """With METRICS_PORT set, the running bot serves /healthz on that port (and stops it)."""
    port = _free_port()
    async with harness(database_url, tmp_path, metrics_port=port), httpx.AsyncClient() as client:
        health = await client.get(f"http://127.0.0.1:{port}/healthz")
        assert health.text == "ok\n"
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as client:
            await client.get(f"http://127.0.0.1:{port}/healthz")
