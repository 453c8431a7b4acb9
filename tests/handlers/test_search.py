"""/topic with text that names no topic searches the stored stories: SQLite FTS5 or PostgreSQL
full-text search, the most relevant recent stories first (issue #5). Run this file with
TEST_DATABASE_URL set to check PostgreSQL too."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path

from bot.emulator import FloodLimits
from bot.feedserver import FeedServer
from tests.helpers import harness

NOW = datetime.now(UTC).replace(microsecond=0)

# (slug, hours ago, headline, text): the query is "cooling pond".
ITEMS = [
    (
        "old-strong",
        24 * 9,
        "Engineers warn over cooling pond after dam breach",
        "Weeks after the dam breach, engineers warned that the cooling pond of the plant could "
        "run low by autumn; the cooling pond is the station's last large water reserve.",
    ),
    (
        "recent-weak",
        1,
        "Farmers in Nikopol count losses from the summer drought",
        "Growers near Nikopol say irrigation canals stayed dry all summer. One farmer pumped "
        "water from a village pond; cooling sheds for vegetables stood empty.",
    ),
    (
        "unrelated",
        1,
        "Kharkiv schools open bomb shelters for the new term",
        "Pupils in Kharkiv will start the year in underground classrooms built over the summer.",
    ),
    (
        "recent-strong",
        2,
        "Cooling pond level drops again at Zaporizhzhia nuclear plant",
        "The cooling pond of the occupied plant lost another half metre of water this week, "
        "inspectors said; the cooling pond feeds the spray pools that keep the reactors safe.",
    ),
]


def search_feed(feeds: FeedServer) -> str:
    """Serve the items above as one feed, and a sources file with just that feed."""
    items = "".join(
        f"<item><title>{escape(title)}</title><link>https://search.example/{slug}</link>"
        f"<guid>{slug}</guid>"
        f"<pubDate>{format_datetime(NOW - timedelta(hours=hours), usegmt=True)}</pubDate>"
        f"<description>{escape(text)}</description></item>"
        for slug, hours, title, text in ITEMS
    )
    body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>Search Wire</title>{items}</channel></rss>'
    feeds.set_feed("/search.rss", body.encode())
    return (
        f'[[source]]\nname = "Search Wire"\nurl = "{feeds.url("/search.rss")}"\nlanguage = "en"\n'
    )


async def test_search_ranks_relevant_recent_stories_first(
    database_url: str, tmp_path: Path
) -> None:
    """`/topic cooling pond` lists the recent story that is about the cooling pond first, above
    an older one just as relevant and a recent one that only mentions the words; a story
    without them is not listed, and a query with no match says so."""
    async with harness(database_url, tmp_path, limits=FloodLimits.off(), sources=search_feed) as h:
        report = await h.fetch()
        assert report.new_stories == len(ITEMS)
        chat = h.chat()
        (found,) = await chat.send("/topic cooling pond", settle=0.1)
        assert found.text.startswith("<b>Stories matching “cooling pond”</b>")
        order = re.findall(r'href="https://search\.example/([a-z-]+)"', found.text)
        assert order[0] == "recent-strong", order
        assert set(order) == {"recent-strong", "old-strong", "recent-weak"}, order
        (prefix,) = await chat.send("/topic COOL", settle=0.1)
        assert "recent-strong" in prefix.text and "unrelated" not in prefix.text
        (nothing,) = await chat.send("/topic cooling tower", settle=0.1)
        assert "No stories match" in nothing.text
