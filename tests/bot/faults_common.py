"""What the fault suites share: a feed whose items never merge, waiting, and the outbox."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape

from sqlalchemy import select

from bot.db import DeliveryRow
from tests.helpers import Harness

DNIPRO = "/feeds/dnipro_ledger.rss"
WORDS = [
    "harbour",
    "orchard",
    "violin",
    "glacier",
    "compass",
    "lantern",
    "meadow",
    "pottery",
    "chapel",
    "tailor",
    "vineyard",
    "ferry",
    "archive",
    "blanket",
    "theatre",
    "novelist",
    "sculptor",
    "weaver",
    "shepherd",
    "beekeeper",
    "jeweller",
    "astronomer",
]


def item_xml(n: int, *, topic: str = "drones over Kursk", when: datetime | None = None) -> str:
    """One RSS item whose words and numbers are its own, so dedup never merges two of them."""
    words = " ".join(f"{WORDS[(n * 7 + i) % len(WORDS)]} {n * 1000 + i}" for i in range(10))
    published = format_datetime(when or datetime.now(UTC) - timedelta(minutes=5))
    return (
        f"<item><title>Report {n}: {escape(topic)} {words[:60]}</title>"
        f"<link>https://dnipro-ledger.example/report/{n}</link><guid>report-{n}</guid>"
        f"<pubDate>{published}</pubDate>"
        f"<description>{escape(topic)}: {words}. Officials said more would follow.</description>"
        "</item>"
    )


def rss(numbers: range | list[int], **options: object) -> bytes:
    items = "".join(item_xml(n, **options) for n in numbers)  # type: ignore[arg-type]
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        "<title>Dnipro Ledger</title><link>https://dnipro-ledger.example</link>"
        f"<description>test</description>{items}</channel></rss>"
    ).encode()


async def until(condition: Callable[[], Awaitable[bool]], timeout: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await condition():
        if loop.time() > deadline:
            raise TimeoutError("the condition never held")
        await asyncio.sleep(0.05)


async def outbox(h: Harness) -> list[tuple[int, int, str, int]]:
    """Every delivery as (chat, story, status, attempts)."""
    async with h.deps.sessions() as session:
        rows = await session.execute(
            select(
                DeliveryRow.chat_id, DeliveryRow.story_id, DeliveryRow.status, DeliveryRow.attempts
            ).order_by(DeliveryRow.id)
        )
        return [tuple(row) for row in rows.all()]  # type: ignore[misc]
