"""The bundled sample feeds and demo sources: valid, varied, and shaped like real outlets.

SAME_EVENT lists, by GUID, the events that several outlets report in their own words; the
demo's "+N outlets" and the dedup tests rely on these groups being real.
"""

from __future__ import annotations

import gzip
import html
import re
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest

from bot.config import load_sources
from bot.feedserver import DEMO_SOURCES_FILE, SAMPLE_FEEDS_DIR, FeedServer
from bot.fetch import FetchRequest, FetchStatus, fetch_many, make_client

OUTLETS = {
    # file: (outlet, feedparser version, language, link prefix)
    "dnipro_ledger.rss": ("Dnipro Ledger", "rss20", "en", "https://dnipro-ledger.example/"),
    "black_sea_wire.atom": ("Black Sea Wire", "atom10", "en", "https://blacksea-wire.example/"),
    "northern_front_daily.rss": (
        "Northern Front Daily",
        "rss20",
        "uk",
        "https://northern-front.example/",
    ),
    "kharkiv_courier.rdf": ("Kharkiv Courier", "rss10", "en", "https://kharkiv-courier.example/"),
}
KC = "https://kharkiv-courier.example/news/2026/05"
# event: (a fact every report of it states, the GUIDs of those reports)
SAME_EVENT: dict[str, tuple[str, tuple[str, ...]]] = {
    "north-korean-troops-kursk": (
        r"Glushkovo|Глушкова",
        (
            "https://dnipro-ledger.example/?p=48213",
            "tag:blacksea-wire.example,2026:7731",
            f"{KC}/18/north-korean-soldiers-glushkovo",
            "nfd-20260518-0755",
        ),
    ),
    "prisoner-exchange-205": (
        r"205|Two hundred and five",
        (
            "https://dnipro-ledger.example/?p=48241",
            "tag:blacksea-wire.example,2026:7745",
            "nfd-20260518-1405",
        ),
    ),
    "eu-21st-sanctions-package": (
        r"117",
        ("https://dnipro-ledger.example/?p=48266", "tag:blacksea-wire.example,2026:7752"),
    ),
    "kharkiv-glide-bomb-14-injured": (
        r"\b14\b|Fourteen",
        (
            "https://dnipro-ledger.example/?p=48290",
            f"{KC}/18/kab-strike-kyivskyi-district",
            "nfd-20260518-1958",
        ),
    ),
    "odesa-energy-drone-attack": (
        r"\b126\b",
        (
            "https://dnipro-ledger.example/?p=48312",
            "tag:blacksea-wire.example,2026:7769",
            f"{KC}/19/air-force-98-of-126-drones",
        ),
    ),
    "pokrovsk-163-clashes": (
        r"\b163\b",
        ("tag:blacksea-wire.example,2026:7774", f"{KC}/19/general-staff-163-clashes"),
    ),
    "zaporizhzhia-npp-blackout": (
        r"diesel|дизель",
        (
            "https://dnipro-ledger.example/?p=48335",
            "tag:blacksea-wire.example,2026:7781",
            "nfd-20260519-1105",
        ),
    ),
}
CYRILLIC = re.compile(r"[\u0400-\u04ff]")
TAG = re.compile(r"<[^>]+>")
WORD = re.compile(r"\w+")


def parse(name: str) -> Any:
    return feedparser.parse((SAMPLE_FEEDS_DIR / name).read_bytes())


def entries() -> Iterator[tuple[str, Any]]:
    """Every sample entry with its outlet's name."""
    for name, (outlet, *_) in OUTLETS.items():
        for entry in parse(name).entries:
            yield outlet, entry


def text_of(entry: Any) -> str:
    """What a reader would see of an entry: title, summary and content without markup."""
    parts = [entry.get("title", ""), entry.get("summary", "")]
    parts += [block.value for block in entry.get("content", [])]
    return html.unescape(TAG.sub(" ", " ".join(parts)))


def when(entry: Any) -> datetime:
    stamp = entry.get("published_parsed") or entry.get("updated_parsed")
    return datetime(*stamp[:6], tzinfo=UTC)


def test_the_feeds_directory_holds_exactly_the_four_outlets() -> None:
    """No stray or missing sample file: the server and the demo serve exactly these."""
    assert sorted(path.name for path in SAMPLE_FEEDS_DIR.iterdir()) == sorted(OUTLETS)


@pytest.mark.parametrize("name", sorted(OUTLETS))
def test_each_sample_feed_parses_cleanly(name: str) -> None:
    """Each feed is well-formed in its own format, with ids, links and May 2026 dates."""
    outlet, version, language, prefix = OUTLETS[name]
    feed = parse(name)
    assert feed.bozo is False, feed.get("bozo_exception")
    assert feed.version == version
    assert feed.encoding.lower() == "utf-8"
    assert feed.feed.title == outlet
    assert feed.feed.get("language", "en").startswith(language)
    assert len(feed.entries) >= 8
    for entry in feed.entries:
        assert entry.id
        assert entry.title.strip()
        assert entry.link.startswith(prefix)
        assert datetime(2026, 5, 17, tzinfo=UTC) <= when(entry) < datetime(2026, 5, 20, tzinfo=UTC)


def test_samples_hold_thirty_items_from_four_outlets_with_unique_ids() -> None:
    """At least 30 items across 4 outlets, and no GUID used twice."""
    found = list(entries())
    ids = [entry.id for _, entry in found]
    assert len(found) >= 30
    assert len({outlet for outlet, _ in found}) == 4
    assert len(ids) == len(set(ids))


def test_several_outlets_report_the_same_events() -> None:
    """At least 5 events come from 2 to 4 outlets each, within an hour, sharing a fact."""
    by_id = {entry.id: (outlet, entry) for outlet, entry in entries()}
    assert len(SAME_EVENT) >= 5
    sizes = set()
    for event, (fact, guids) in SAME_EVENT.items():
        reports = [by_id[guid] for guid in guids]
        outlets = {outlet for outlet, _ in reports}
        assert 2 <= len(outlets) == len(guids) <= 4, event
        times = [when(entry) for _, entry in reports]
        assert max(times) - min(times) <= timedelta(hours=1), event
        for _, entry in reports:
            assert re.search(fact, text_of(entry)), (event, entry.id)
        titles = {entry.title for _, entry in reports}
        assert len(titles) == len(reports), f"{event}: reworded, not repeated"
        sizes.add(len(guids))
    assert sizes == {2, 3, 4}
    grouped = {guid for _, guids in SAME_EVENT.values() for guid in guids}
    assert len(by_id) - len(grouped) >= 10, "enough single-outlet stories around the events"


@pytest.mark.parametrize(
    "junk",
    [
        "› Subscribe",
        "LEAVE A REPLY",
        "appeared first on Dnipro Ledger",
        "Read more",
        "cookies",
        "reCAPTCHA",
    ],
)
def test_samples_carry_page_junk(junk: str) -> None:
    """Junk the normaliser must strip appears in the samples, as it does in real feeds."""
    texts = [" ".join(text_of(entry).split()) for _, entry in entries()]
    assert any(junk in text for text in texts)


def test_samples_carry_html_and_tracking_parameters() -> None:
    """Descriptions hold HTML, and every outlet tags its links with utm_* parameters."""
    found = list(entries())
    with_html = [entry for _, entry in found if re.search(r"<(p|img|a|strong)\b", entry.summary)]
    assert len(with_html) >= 10
    for outlet in {outlet for outlet, _ in found}:
        links = [entry.link for name, entry in found if name == outlet]
        assert any("utm_source=" in link for link in links), outlet
    assert any("fbclid=" in entry.link for _, entry in found)


def test_northern_front_daily_is_ukrainian_in_utf8() -> None:
    """Northern Front Daily writes in Ukrainian, encoded as UTF-8 (not windows-1251)."""
    raw = (SAMPLE_FEEDS_DIR / "northern_front_daily.rss").read_bytes()
    assert raw.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    raw.decode("utf-8")
    for entry in parse("northern_front_daily.rss").entries:
        assert CYRILLIC.search(entry.title), entry.id
        assert len(CYRILLIC.findall(text_of(entry))) > 100, entry.id


def shingles(text: str, size: int = 8) -> set[tuple[str, ...]]:
    words = WORD.findall(text.lower())
    return {tuple(words[index : index + size]) for index in range(len(words) - size + 1)}


def visible(markup: str) -> str:
    """Text without tags or entities; twice, because Atom and RDF escape their HTML."""
    once = html.unescape(TAG.sub(" ", markup))
    return html.unescape(TAG.sub(" ", once))


def test_sample_text_is_not_copied_from_the_corpus(corpus: Path) -> None:
    """No run of 8 words in the samples appears anywhere in the corpus (facts only carry over)."""
    seen: set[tuple[str, ...]] = set()
    for path in corpus.rglob("*"):
        if path.is_file() and "telegram_bot_api_spec" not in path.parts and path.suffix != ".md":
            raw = path.read_bytes()
            raw = gzip.decompress(raw) if path.suffix == ".gz" else raw
            seen |= shingles(visible(raw.decode("utf-8", errors="ignore")))
    assert len(seen) > 100_000
    for name in OUTLETS:
        sample = visible((SAMPLE_FEEDS_DIR / name).read_text("utf-8"))
        assert shingles(sample).isdisjoint(seen), name


def demo_sources_text(base_url: str) -> str:
    """The demo sources with the `{feeds}` placeholder filled in, as the demo does."""
    return DEMO_SOURCES_FILE.read_text("utf-8").replace("{feeds}", base_url)


def test_demo_sources_name_the_sample_feeds(tmp_path: Path) -> None:
    """demo_sources.toml lists the four outlets with {feeds} URLs the sources loader accepts."""
    raw = DEMO_SOURCES_FILE.read_text("utf-8")
    assert "{feeds}" in raw.split("[[source]]")[0], "the header comment documents {feeds}"
    listed = tomllib.loads(raw)["source"]
    assert all(item["url"].startswith("{feeds}/feeds/") for item in listed)
    path = tmp_path / "sources.toml"
    path.write_text(demo_sources_text("http://127.0.0.1:8999"), "utf-8")
    sources = load_sources(path)
    expected = {
        f"http://127.0.0.1:8999/feeds/{name}": (outlet, language)
        for name, (outlet, _, language, _) in OUTLETS.items()
    }
    assert {source.url: (source.name, source.language) for source in sources} == expected
    assert {source.kind.value for source in sources} == {"feed"}
    assert not any(source.full_text for source in sources)


async def test_demo_sources_fetch_from_the_feed_server() -> None:
    """Filled in with a live FeedServer's base URL, every demo source fetches OK."""
    async with FeedServer() as server, make_client() as http:
        listed = tomllib.loads(demo_sources_text(server.base_url))["source"]
        results = await fetch_many(http, [FetchRequest(item["url"]) for item in listed])
    assert [result.status for result in results] == [FetchStatus.OK] * 4
    for item, result in zip(listed, results, strict=True):
        assert result.body is not None
        assert feedparser.parse(result.body).feed.title == item["name"]
