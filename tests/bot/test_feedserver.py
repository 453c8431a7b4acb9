"""The loopback feed server: sample feeds with validators, and each fault played for real."""

from __future__ import annotations

import asyncio
import gzip
import time
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from itertools import pairwise

import feedparser
import httpx
import pytest

from bot.feedserver import HUGE_BYTES, SAMPLE_FEEDS_DIR, Fault, FeedServer

DNIPRO = "/feeds/dnipro_ledger.rss"


@pytest.fixture
async def server() -> AsyncIterator[FeedServer]:
    async with FeedServer(trickle_interval=0.1) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        yield client


async def test_serves_every_bundled_feed_with_validators(
    server: FeedServer, http: httpx.AsyncClient
) -> None:
    """Each bundled file is served at /feeds/<file> byte for byte, typed by its suffix."""
    expected_types = {
        ".rss": "application/rss+xml",
        ".atom": "application/atom+xml",
        ".rdf": "application/rdf+xml",
    }
    files = sorted(SAMPLE_FEEDS_DIR.iterdir())
    assert len(files) == 4
    for file in files:
        response = await http.get(server.url(f"/feeds/{file.name}"))
        assert response.status_code == 200
        assert response.content == file.read_bytes()
        assert response.headers["content-type"].startswith(expected_types[file.suffix])
        assert response.headers["etag"].startswith('"')
        assert parsedate_to_datetime(response.headers["last-modified"]).tzinfo is not None


async def test_freshen_moves_the_sample_news_to_today_keeping_its_spacing(
    server: FeedServer, http: httpx.AsyncClient
) -> None:
    """The demo's sample feeds, freshened: every feed's news is of the last hour or so, the
    gaps between items are as written, and each date reads back in its own format."""
    now = datetime(2026, 12, 7, 23, 0, tzinfo=UTC)

    def dates(body: bytes) -> list[datetime]:
        parsed = feedparser.parse(body)
        return [
            datetime(*(e.get("published_parsed") or e.updated_parsed)[:6], tzinfo=UTC)
            for e in parsed.entries
        ]

    before = {file.name: dates(file.read_bytes()) for file in sorted(SAMPLE_FEEDS_DIR.iterdir())}
    server.freshen(now)
    for name, old in before.items():
        response = await http.get(server.url(f"/feeds/{name}"))
        new = dates(response.content)
        # the newest date of the feed (its channel's, if later than every item's) is 20 min old
        assert now - timedelta(hours=1) < max(new) <= now - timedelta(minutes=20), name
        assert [b - a for a, b in pairwise(old)] == [b - a for a, b in pairwise(new)]
    assert b"+0300</pubDate>" in (await http.get(server.url(DNIPRO))).content


async def test_compresses_for_clients_that_accept_gzip(
    server: FeedServer, http: httpx.AsyncClient
) -> None:
    """Feeds go out gzip-encoded when asked for, as real servers do, and plain otherwise."""
    plain = (SAMPLE_FEEDS_DIR / "dnipro_ledger.rss").read_bytes()
    async with http.stream("GET", server.url(DNIPRO), headers={"Accept-Encoding": "gzip"}) as r:
        raw = b"".join([chunk async for chunk in r.aiter_raw()])
    assert r.headers["content-encoding"] == "gzip"
    assert gzip.decompress(raw) == plain
    identity = await http.get(server.url(DNIPRO), headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in identity.headers
    assert identity.content == plain


@pytest.mark.parametrize(
    ("use_etag", "etag_form", "since_shift", "expected"),
    [
        (True, "{etag}", None, 304),
        (True, "W/{etag}", None, 304),
        (True, '"other", {etag}', None, 304),
        (True, "*", None, 304),
        (True, '"other"', None, 200),
        (False, None, timedelta(0), 304),
        (False, None, timedelta(hours=1), 304),
        (False, None, timedelta(days=-1), 200),
        # If-None-Match decides when both are present (RFC 9110 13.2.2).
        (True, '"other"', timedelta(0), 200),
    ],
)
async def test_answers_conditional_requests(
    server: FeedServer,
    http: httpx.AsyncClient,
    use_etag: bool,
    etag_form: str | None,
    since_shift: timedelta | None,
    expected: int,
) -> None:
    """If-None-Match and If-Modified-Since get a 304 exactly when the client is current."""
    first = await http.get(server.url(DNIPRO))
    headers = {}
    if use_etag and etag_form is not None:
        headers["If-None-Match"] = etag_form.format(etag=first.headers["etag"])
    if since_shift is not None:
        since = parsedate_to_datetime(first.headers["last-modified"]) + since_shift
        headers["If-Modified-Since"] = format_datetime(since, usegmt=True)
    second = await http.get(server.url(DNIPRO), headers=headers)
    assert second.status_code == expected
    if expected == 304:
        assert second.content == b""
        assert second.headers["etag"] == first.headers["etag"]


async def test_set_feed_changes_body_and_moves_validators_forward(
    server: FeedServer, http: httpx.AsyncClient
) -> None:
    """New content gets a new ETag and a later Last-Modified, even within the same second."""
    first = await http.get(server.url(DNIPRO))
    server.set_feed(DNIPRO, b"<rss version='2.0'><channel><title>v2</title></channel></rss>")
    second = await http.get(
        server.url(DNIPRO),
        headers={
            "If-None-Match": first.headers["etag"],
            "If-Modified-Since": first.headers["last-modified"],
        },
    )
    assert second.status_code == 200
    assert second.content.startswith(b"<rss version='2.0'>")
    assert second.headers["etag"] != first.headers["etag"]
    assert parsedate_to_datetime(second.headers["last-modified"]) > parsedate_to_datetime(
        first.headers["last-modified"]
    )
    by_date = await http.get(
        server.url(DNIPRO), headers={"If-Modified-Since": first.headers["last-modified"]}
    )
    assert by_date.status_code == 200


async def test_feed_without_validators_always_answers_200(
    server: FeedServer, http: httpx.AsyncClient
) -> None:
    """With conditional=False the server sends no validators and ignores conditional headers."""
    server.set_feed("/plain.xml", b"<rss/>", "application/xml", conditional=False)
    response = await http.get(
        server.url("/plain.xml"),
        headers={"If-None-Match": "*", "If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"},
    )
    assert response.status_code == 200
    assert "etag" not in response.headers
    assert "last-modified" not in response.headers


async def test_removed_and_unknown_paths_answer_404(
    server: FeedServer, http: httpx.AsyncClient
) -> None:
    """A removed feed, an unknown path and an unknown fault are all 404."""
    server.remove_feed("feeds/dnipro_ledger.rss")
    for path in (DNIPRO, "/nothing-here", "/fault/teapot"):
        assert (await http.get(server.url(path))).status_code == 404


async def test_counts_requests_per_path(server: FeedServer, http: httpx.AsyncClient) -> None:
    """Every request counts (304s included); the query string does not split the count."""
    first = await http.get(server.url(DNIPRO))
    await http.get(server.url(DNIPRO) + "?x=1", headers={"If-None-Match": first.headers["etag"]})
    await http.get(server.url("/fault/500"))
    assert server.hits(DNIPRO) == 2
    assert server.hits("feeds/dnipro_ledger.rss") == 2
    assert server.hits("/fault/500") == 1
    assert server.hits("/feeds/black_sea_wire.atom") == 0
    assert server.last_headers(DNIPRO)["if-none-match"] == first.headers["etag"]


async def test_fault_routes_misbehave_as_named(server: FeedServer, http: httpx.AsyncClient) -> None:
    """500, malformed, redirect-loop, empty and html answer as their names say."""
    assert (await http.get(server.url("/fault/500"))).status_code == 500

    malformed = await http.get(server.url("/fault/malformed"))
    assert malformed.status_code == 200
    with pytest.raises(ET.ParseError):
        ET.fromstring(malformed.content)
    assert feedparser.parse(malformed.content).bozo

    loop = await http.get(server.url("/fault/redirect-loop"), follow_redirects=False)
    assert loop.status_code == 302
    assert loop.headers["location"] == "/fault/redirect-loop"

    empty = await http.get(server.url("/fault/empty"))
    assert (empty.status_code, empty.content) == (200, b"")

    html = await http.get(server.url("/fault/html"))
    assert html.headers["content-type"].startswith("text/html")
    assert html.content.lower().startswith(b"<!doctype html>")
    assert feedparser.parse(html.content).entries == []


async def test_flap_alternates_good_and_500(server: FeedServer, http: httpx.AsyncClient) -> None:
    """The flapping route is good on odd requests and a 500 on even ones."""
    statuses = [(await http.get(server.url("/fault/flap"))).status_code for _ in range(4)]
    assert statuses == [200, 500, 200, 500]


async def test_set_fault_and_redirect_apply_to_any_path(
    server: FeedServer, http: httpx.AsyncClient
) -> None:
    """set_fault overrides a feed until cleared; set_redirect makes a path a 302 hop."""
    server.set_fault(DNIPRO, Fault.SERVER_ERROR)
    assert (await http.get(server.url(DNIPRO))).status_code == 500
    server.set_fault(DNIPRO, "empty")
    assert (await http.get(server.url(DNIPRO))).content == b""
    server.set_fault(DNIPRO, None)
    assert (await http.get(server.url(DNIPRO))).status_code == 200

    server.set_redirect("/old", DNIPRO)
    moved = await http.get(server.url("/old"), follow_redirects=False)
    assert (moved.status_code, moved.headers["location"]) == (302, DNIPRO)
    with pytest.raises(ValueError):
        server.set_fault(DNIPRO, "teapot")


async def test_huge_streams_fifty_megabytes_without_a_length(
    server: FeedServer, http: httpx.AsyncClient
) -> None:
    """/fault/huge sends 50 MB, chunked, so only reading it reveals the size."""
    async with http.stream("GET", server.url("/fault/huge")) as response:
        assert "content-length" not in response.headers
        total = sum([len(chunk) async for chunk in response.aiter_raw()])
    assert total == HUGE_BYTES
    assert server.bytes_sent("/fault/huge") == HUGE_BYTES


async def test_trickle_sends_a_byte_per_interval(
    server: FeedServer, http: httpx.AsyncClient
) -> None:
    """/fault/trickle drips single bytes, one per trickle_interval (0.1 s here)."""
    started = time.perf_counter()
    received = b""
    async with http.stream("GET", server.url("/fault/trickle")) as response:
        async for chunk in response.aiter_raw():
            received += chunk
            if len(received) >= 5:
                break
    elapsed = time.perf_counter() - started
    assert received == b"<?xml"[: len(received)]
    assert elapsed >= 0.35


async def test_hang_never_answers(server: FeedServer, http: httpx.AsyncClient) -> None:
    """/fault/hang sends nothing at all, so the client's read timeout fires."""
    with pytest.raises(httpx.ReadTimeout):
        await http.get(server.url("/fault/hang"), timeout=httpx.Timeout(5.0, read=0.3))


async def test_stop_releases_requests_still_waiting() -> None:
    """stop() returns promptly even while a hang and a trickle are being served."""
    server = FeedServer(None, trickle_interval=30.0)
    await server.start()
    async with httpx.AsyncClient(timeout=10.0) as http:

        async def fetch(path: str) -> str:
            try:
                response = await http.get(server.url(path))
            except httpx.HTTPError as exc:
                return type(exc).__name__
            return str(response.status_code)

        waiting = [asyncio.create_task(fetch(path)) for path in ("/fault/hang", "/fault/trickle")]
        # The server exposes counters, not events: poll until both requests are in flight.
        while server.hits("/fault/hang") == 0 or server.bytes_sent("/fault/trickle") == 0:
            await asyncio.sleep(0.01)
        started = time.perf_counter()
        await server.stop()
        outcomes = await asyncio.gather(*waiting)
    assert time.perf_counter() - started < 1.5
    assert len(outcomes) == 2


async def test_context_exit_closes_the_port() -> None:
    """After the context manager exits nothing listens and base_url is refused."""
    async with FeedServer() as server:
        url = server.url(DNIPRO)
        with pytest.raises(RuntimeError):
            await server.start()
    with pytest.raises(RuntimeError):
        _ = server.base_url
    async with httpx.AsyncClient() as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(url)
    await server.stop()
