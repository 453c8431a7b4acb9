"""Delivery test support: feeds we write item by item, and the bot reading them.

`newsroom(**harness_settings)` opens the usual harness (tests/helpers.py) on three feeds of our
own (two English outlets, one Ukrainian) whose first fetch, the backlog, is done before the test
gets it; `Newsroom.publish` then adds items the next `Harness.fetch()` finds as new stories.
Item texts are random words from a seeded generator, so unrelated stories never look alike to
dedup, and a topic is tagged only when the test puts its keyword in.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.db import DeliveryRow
from bot.emulator import SentRecord
from bot.feedserver import FeedServer
from bot.store import chats
from bot.store.chats import FollowKind
from tests.helpers import Harness, harness

FEEDS = {"alpha": ("Alpha Post", "en"), "beta": ("Beta Herald", "en"), "hromada": ("Hromada", "uk")}

EN_TEXT = (
    "council garden teacher bridge library harvest volunteer festival museum school bakery river "
    "concert painter orchard tram clinic choir stadium ferry market village mayor orchestra "
    "poet carpenter meadow lantern chapel tailor vineyard harbour pottery chess cyclist archive "
    "kitchen blanket violin glacier compass bicycle theatre novelist physician journalist "
    "sculptor engineer gardener fisherman librarian pianist weaver baker shepherd astronomer "
    "biologist dentist plumber architect historian sailor farmer beekeeper jeweller almond "
    "anchor apricot attic avenue badger balcony bamboo banner barley basket beacon beetle "
    "biscuit blossom bonnet boulder bracelet bramble bucket butter cabbage cactus camel candle "
    "canoe canyon carrot castle cathedral cedar cellar cherry chimney cinnamon clover cobbler "
    "coconut collar comet cottage cotton cradle crayon cricket crystal cucumber curtain "
    "daisy dolphin donkey dragonfly drawer eagle easel elephant elm falcon feather fern fiddle "
    "finch flannel flute fountain fox galaxy garlic gazelle ginger giraffe goose granite grape "
    "guitar hammock hazel hedgehog helmet heron hive honey horizon iceberg ivory jacket jasmine "
    "kettle kiwi ladder lagoon lemon leopard lettuce lighthouse lily lobster locket magnet "
    "mango maple marble meadowlark melon mitten monastery moss mushroom nectar needle nutmeg "
    "oak olive onion opal otter owl oyster paddle pancake panther parrot peach pebble pelican "
    "pepper piano pillow pine plum pony poppy puffin pumpkin quilt rabbit radish raven ribbon "
    "saddle salmon sandal sapphire scarf seashell sparrow spinach squirrel stork strawberry "
    "sunflower swan teapot thimble thistle tiger tulip turnip turtle umbrella valley velvet "
    "walnut walrus whistle willow wolf yacht zebra"
)
UK_TEXT = (
    "рада сад вчитель міст бібліотека врожай волонтер фестиваль музей школа пекарня річка "
    "концерт художник трамвай лікарня хор стадіон пором ринок село мер оркестр поет столяр "
    "луг ліхтар каплиця кравець виноградник гавань кераміка шахи велосипедист архів кухня "
    "ковдра скрипка компас театр письменник лікар журналіст скульптор інженер садівник рибалка"
)
EN_WORDS, UK_WORDS = EN_TEXT.split(), UK_TEXT.split()


@dataclass(frozen=True, slots=True)
class Item:
    """One feed item: its headline, text and link."""

    title: str
    text: str
    link: str
    published: datetime


def make_item(
    seed: int, *keywords: str, published: datetime, language: str = "en", padding: int = 0
) -> Item:
    """A story of random words and numbers unique to `seed`, with `keywords` in title and text.

    Stories whose seeds are less than 58 apart share no word, and the numbers are the seed's
    own, so dedup never merges two of them. `padding` lengthens title and text with more.
    """
    vocabulary = EN_WORDS if language == "en" else UK_WORDS
    words = [vocabulary[(seed * 4 + i) % len(vocabulary)] for i in range(4)]
    numbers = [str(seed * 100 + i) for i in range(6)]
    extra = [str(seed * 100 + 10 + i) for i in range(padding)]
    title = " ".join([words[0].title(), *numbers[:3], *extra, *keywords])
    lede = [f"{word} {number}" for word, number in zip(words[1:], numbers[3:], strict=True)]
    body = " ".join([lede[0], *extra, *keywords, *lede[1:]]) + "."
    return Item(title, body, f"https://news.example/{language}/{seed}", published)


def rss(title: str, items: list[Item]) -> bytes:
    """An RSS 2.0 document with these items."""
    entries = "".join(
        f"<item><title>{escape(item.title)}</title><link>{escape(item.link)}</link>"
        f"<guid>{escape(item.link)}</guid><pubDate>{format_datetime(item.published)}</pubDate>"
        f"<description>{escape(item.text)}</description></item>"
        for item in items
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>https://news.example/</link>"
        f"<description>test feed</description>{entries}</channel></rss>"
    ).encode()


def sources_toml(feeds: FeedServer) -> str:
    return "".join(
        f'[[source]]\nname = "{name}"\nurl = "{feeds.base_url}/feeds/{key}.rss"\n'
        f'kind = "feed"\nlanguage = "{language}"\n\n'
        for key, (name, language) in FEEDS.items()
    )


@dataclass
class Newsroom:
    """What each of our feeds carries; `publish` adds items and serves the new feed."""

    feeds: FeedServer
    clock: Callable[[], datetime]
    items: dict[str, list[Item]] = field(default_factory=dict)
    seed: int = 1000

    def publish(self, feed: str, *items: Item) -> None:
        self.items.setdefault(feed, []).extend(items)
        self.feeds.set_feed(f"/feeds/{feed}.rss", rss(FEEDS[feed][0], self.items[feed]))

    def fresh(self, *keywords: str, language: str = "en", padding: int = 0) -> Item:
        """A new, unrelated story, published five minutes ago on the bot's clock."""
        self.seed += 1
        published = self.clock().replace(microsecond=0) - timedelta(minutes=5)
        return make_item(
            self.seed, *keywords, published=published, language=language, padding=padding
        )


@dataclass
class Bot:
    """The running bot, its emulator and our feeds."""

    h: Harness
    news: Newsroom

    async def follower(
        self,
        chat_id: int,
        *values: str,
        type: str = "private",
        thread_id: int = 0,
        kind: FollowKind = FollowKind.ALL,
    ) -> None:
        """A chat known to both sides that follows `values` (or everything), set in the store;
        a thread id makes it a forum supergroup."""
        self.h.chat(chat_id, type=type, is_forum=bool(thread_id))
        deps = self.h.deps
        async with deps.sessions() as session, session.begin():
            await chats.ensure_chat(session, chat_id, type=type, now=deps.clock())
            for value in values or ("all",):
                await chats.add_follow(session, chat_id, thread_id, kind, value, deps.clock())

    async def backlog(self) -> None:
        """The first pass: each feed's items are stored, nobody is alerted."""
        report = await self.h.fetch()
        assert report.count("ok") == 3, report.summary_line()
        assert report.new_stories == 3 and report.queued == 0, report.summary_line()

    async def deliveries(self) -> list[tuple[int, int, int, str, str | None]]:
        """Every outbox row as (chat, thread, story, status, error)."""
        async with self.h.deps.sessions() as session:
            rows = await session.execute(
                select(
                    DeliveryRow.chat_id,
                    DeliveryRow.thread_id,
                    DeliveryRow.story_id,
                    DeliveryRow.status,
                    DeliveryRow.error,
                ).order_by(DeliveryRow.id)
            )
            return [tuple(row) for row in rows.all()]  # type: ignore[misc]

    async def settled(self, *, quiet_s: float = 0.5, timeout: float = 30.0) -> None:
        """Wait until the outbox has nothing queued or sending and the emulator is quiet."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            statuses = {row[3] for row in await self.deliveries()}
            if not statuses & {"queued", "sending"}:
                count = len(self.h.emulator.sent)
                await asyncio.sleep(quiet_s)
                if count == len(self.h.emulator.sent):
                    return
            await asyncio.sleep(0.1)
        raise TimeoutError(f"the outbox did not settle: {await self.deliveries()}")

    def alerts(self, chat_id: int, since: int = 0) -> list[SentRecord]:
        """The alerts (messages headed by a story we published) to a chat since index `since`."""
        published = {headline_of(item) for items in self.news.items.values() for item in items}
        return [
            r
            for r in self.h.emulator.sent[since:]
            if r.chat_id == chat_id and (r.text or "").split("\n", 1)[0] in published
        ]


def headline_of(item: Item) -> str:
    """How the item's headline reads inside an alert (escaped, bold)."""
    return f"<b>{escape(item.title, quote=False)}</b>"


@pytest.fixture
def newsroom(database_url: str, tmp_path: Path) -> Callable[..., AbstractAsyncContextManager[Bot]]:
    """Open the bot on our feeds (backlog fetched unless `backlog=False`): `async with newsroom()`."""

    @asynccontextmanager
    async def open_bot(*, backlog: bool = True, **settings: Any) -> AsyncIterator[Bot]:
        async with harness(database_url, tmp_path, sources=sources_toml, **settings) as h:
            news = Newsroom(h.feeds, h.clock)
            news.publish("alpha", news.fresh("Kursk"))
            news.publish("beta", news.fresh("drone"))
            news.publish("hromada", news.fresh("Курськ", language="uk"))
            bot = Bot(h, news)
            if backlog:
                await bot.backlog()
            yield bot

    return open_bot
