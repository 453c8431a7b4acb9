"""Fetching against the real loopback feed server: conditional GET, limits, errors as values.

httpx.MockTransport appears only for transport faults the loopback server cannot play
(a DNS failure, a body announced larger than the cap).
"""

from __future__ import annotations

import hashlib
import logging
import socket
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from bot.feedserver import HUGE_BYTES, SAMPLE_FEEDS_DIR, FeedServer
from bot.fetch import (
    DEFAULT_USER_AGENT,
    FetchRequest,
    FetchStatus,
    fetch_many,
    fetch_url,
    hash_body,
    make_client,
)

DNIPRO = "/feeds/dnipro_ledger.rss"
DNIPRO_BYTES = (SAMPLE_FEEDS_DIR / "dnipro_ledger.rss").read_bytes()


@pytest.fixture
async def server() -> AsyncIterator[FeedServer]:
    async with FeedServer(trickle_interval=0.2) as running:
        yield running


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(connect_timeout=1.0, read_timeout=2.0) as http:
        yield http


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_ok_carries_body_validators_and_hash(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    """A 200 gives the decoded body, the server's validators and the body's sha256."""
    result = await fetch_url(client, server.url(DNIPRO))
    assert result.status is FetchStatus.OK
    assert result.body == DNIPRO_BYTES
    assert result.body_hash == hashlib.sha256(DNIPRO_BYTES).hexdigest() == hash_body(DNIPRO_BYTES)
    assert result.http_status == 200
    assert result.content_type is not None
    assert result.content_type.startswith("application/rss+xml")
    assert result.etag is not None
    assert result.etag.startswith('"')
    assert result.last_modified is not None
    assert result.final_url == result.url == server.url(DNIPRO)
    assert result.error is None
    assert result.elapsed_s > 0
    headers = server.last_headers(DNIPRO)
    assert headers["user-agent"] == DEFAULT_USER_AGENT
    assert "application/rss+xml" in headers["accept"]
    assert "gzip" in headers["accept-encoding"]


@pytest.mark.parametrize(
    ("send_etag", "send_last_modified"), [(True, True), (True, False), (False, True)]
)
async def test_unchanged_feed_is_304_on_second_fetch(
    server: FeedServer, client: httpx.AsyncClient, send_etag: bool, send_last_modified: bool
) -> None:
    """Either validator alone earns a 304, reported as NOT_MODIFIED with the validators kept."""
    first = await fetch_url(client, server.url(DNIPRO))
    second = await fetch_url(
        client,
        server.url(DNIPRO),
        etag=first.etag if send_etag else None,
        last_modified=first.last_modified if send_last_modified else None,
        previous_hash=first.body_hash,
    )
    assert second.status is FetchStatus.NOT_MODIFIED
    assert second.http_status == 304
    assert second.body is None
    assert (second.etag, second.last_modified) == (first.etag, first.last_modified)
    assert second.body_hash == first.body_hash
    sent = server.last_headers(DNIPRO)
    assert ("if-none-match" in sent) is send_etag
    assert ("if-modified-since" in sent) is send_last_modified


async def test_unchanged_200_counts_as_not_modified(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    """A server without validators answers 200 again; the same body hash means no change."""
    server.set_feed("/plain.rss", DNIPRO_BYTES, conditional=False)
    first = await fetch_url(client, server.url("/plain.rss"))
    second = await fetch_url(client, server.url("/plain.rss"), previous_hash=first.body_hash)
    assert first.status is FetchStatus.OK
    assert (second.status, second.http_status) == (FetchStatus.NOT_MODIFIED, 200)
    assert second.body is None
    assert second.body_hash == first.body_hash
    assert server.hits("/plain.rss") == 2
    server.set_feed("/plain.rss", DNIPRO_BYTES + b"\n", conditional=False)
    third = await fetch_url(client, server.url("/plain.rss"), previous_hash=first.body_hash)
    assert third.status is FetchStatus.OK
    assert third.body_hash != first.body_hash


async def test_changed_feed_is_ok_with_new_validators(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    """After set_feed the old validators no longer match: OK, new body, new ETag."""
    first = await fetch_url(client, server.url(DNIPRO))
    server.set_feed(DNIPRO, b"<rss version='2.0'><channel><title>v2</title></channel></rss>")
    second = await fetch_url(
        client,
        server.url(DNIPRO),
        etag=first.etag,
        last_modified=first.last_modified,
        previous_hash=first.body_hash,
    )
    assert second.status is FetchStatus.OK
    assert second.body is not None
    assert b"v2" in second.body
    assert second.etag not in (None, first.etag)


@pytest.mark.parametrize(
    ("path", "status", "http_status", "error"),
    [
        ("/fault/500", FetchStatus.ERROR, 500, "HTTP 500"),
        ("/nothing-here", FetchStatus.ERROR, 404, "HTTP 404"),
        ("/fault/redirect-loop", FetchStatus.ERROR, 302, "redirect loop: "),
        ("/fault/huge", FetchStatus.ERROR, 200, "body larger than 1 MB"),
        ("/fault/empty", FetchStatus.NOT_MODIFIED, 200, None),
        # Content faults pass the HTTP layer; judging the body is the parser's job.
        ("/fault/malformed", FetchStatus.OK, 200, None),
        ("/fault/html", FetchStatus.OK, 200, None),
    ],
)
async def test_faults_become_values(
    server: FeedServer,
    client: httpx.AsyncClient,
    path: str,
    status: FetchStatus,
    http_status: int,
    error: str | None,
) -> None:
    """Each misbehaving route yields a result with a clear reason, never an exception."""
    result = await fetch_url(client, server.url(path), max_bytes=1_000_000)
    assert result.status is status
    assert result.http_status == http_status
    if error is None:
        assert result.error is None
    else:
        assert result.error is not None
        assert result.error.startswith(error)
        assert result.body is None


async def test_html_instead_of_a_feed_keeps_its_content_type(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    """An HTML page comes back OK but labelled text/html, so the parser can name the problem."""
    result = await fetch_url(client, server.url("/fault/html"))
    assert result.content_type is not None
    assert result.content_type.startswith("text/html")


async def test_huge_body_is_dropped_at_the_cap_without_reading_it_all(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    """The 50 MB route is abandoned just past the cap: fast, and far from all of it sent."""
    started = time.perf_counter()
    result = await fetch_url(client, server.url("/fault/huge"), max_bytes=1_000_000)
    assert result.error == "body larger than 1 MB"
    assert time.perf_counter() - started < 2.0
    assert server.bytes_sent("/fault/huge") < HUGE_BYTES // 2


async def test_declared_length_over_the_cap_is_refused_before_reading() -> None:
    """A Content-Length above the cap ends the fetch without touching the body stream."""
    touched: list[int] = []

    class Body(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            touched.append(1)
            yield b"x" * 2_000_000

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Length": "2000000"}, stream=Body())

    async with make_client(transport=httpx.MockTransport(answer)) as http:
        result = await fetch_url(http, "http://big.example/feed", max_bytes=1_500_000)
    assert result.error == "body larger than 1.5 MB"
    assert touched == []


async def test_hang_is_cut_by_the_read_timeout(server: FeedServer) -> None:
    """A server that never answers costs the read timeout, reported as such."""
    async with make_client(read_timeout=0.5) as http:
        result = await fetch_url(http, server.url("/fault/hang"), total_timeout=10)
    assert result.status is FetchStatus.ERROR
    assert result.error == "timed out waiting for data (read timeout 0.5 s)"
    assert result.elapsed_s < 2.0


async def test_trickle_is_cut_by_the_total_deadline(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    """A byte every 0.2 s never trips the 2 s read timeout; the 1 s total deadline stops it."""
    result = await fetch_url(client, server.url("/fault/trickle"), total_timeout=1.0)
    assert result.error == "timed out after 1 s (total deadline)"
    assert result.http_status == 200
    assert 0.9 < result.elapsed_s < 2.0
    assert server.bytes_sent("/fault/trickle") >= 2


async def test_flap_alternates_ok_and_error(server: FeedServer, client: httpx.AsyncClient) -> None:
    """The flapping source is OK, then HTTP 500, then OK again."""
    results = [await fetch_url(client, server.url("/fault/flap")) for _ in range(3)]
    assert [result.status for result in results] == [
        FetchStatus.OK,
        FetchStatus.ERROR,
        FetchStatus.OK,
    ]
    assert results[1].error == "HTTP 500"


@pytest.mark.parametrize(("hops", "ok"), [(1, True), (5, True), (6, False)])
async def test_redirects_are_followed_up_to_the_bound(
    server: FeedServer, client: httpx.AsyncClient, hops: int, ok: bool
) -> None:
    """Five hops (the client's max_redirects) are followed; a sixth is refused clearly."""
    for hop in range(hops):
        target = f"/hop/{hop + 1}" if hop + 1 < hops else DNIPRO
        server.set_redirect(f"/hop/{hop}", target)
    result = await fetch_url(client, server.url("/hop/0"))
    if ok:
        assert result.status is FetchStatus.OK
        assert result.body == DNIPRO_BYTES
        assert result.final_url == server.url(DNIPRO)
    else:
        assert result.error == "too many redirects (more than 5)"
        assert server.hits(DNIPRO) == 0


async def test_connection_refused_is_a_short_reason(client: httpx.AsyncClient) -> None:
    """Nobody listening: ERROR 'connection refused', without a stack and without delay."""
    result = await fetch_url(client, f"http://127.0.0.1:{free_port()}/feed")
    assert (result.status, result.error) == (FetchStatus.ERROR, "connection refused")
    assert result.http_status is None
    assert result.elapsed_s < 1.0


async def test_dns_failure_is_a_short_reason() -> None:
    """A name that does not resolve reads 'DNS lookup failed: ...' (transport fault, mocked)."""

    def fail(request: httpx.Request) -> httpx.Response:
        cause = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        raise httpx.ConnectError("[Errno -2] Name or service not known", request=request) from cause

    async with make_client(transport=httpx.MockTransport(fail)) as http:
        result = await fetch_url(http, "https://gone.example/rss")
    assert result.error == "DNS lookup failed: Name or service not known"


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("ftp://files.example/feed.xml", "unsupported URL: "),
        ("http://[::1/feed", "invalid URL: "),
        ("not a url at all", "unsupported URL: "),
    ],
)
async def test_bad_urls_are_errors_not_exceptions(
    client: httpx.AsyncClient, url: str, error: str
) -> None:
    """Malformed URLs and other schemes come back as ERROR results."""
    result = await fetch_url(client, url)
    assert result.status is FetchStatus.ERROR
    assert result.error is not None
    assert result.error.startswith(error)


async def test_errors_hand_back_the_validators_given(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    """A failed fetch returns the validators it was given, so storing them loses nothing."""
    result = await fetch_url(
        client, server.url("/fault/500"), etag='"e1"', last_modified="lm", previous_hash="h1"
    )
    assert (result.etag, result.last_modified, result.body_hash) == ('"e1"', "lm", "h1")


async def test_fetch_many_survives_every_fault_within_the_timeout(server: FeedServer) -> None:
    """Good feeds and every fault route in one pass: goods OK, each fault clear, ~2 s total."""
    good = [f"/feeds/{file.name}" for file in sorted(SAMPLE_FEEDS_DIR.iterdir())]
    faults = {
        "/fault/500": (FetchStatus.ERROR, "HTTP 500"),
        "/fault/hang": (FetchStatus.ERROR, "timed out"),
        "/fault/huge": (FetchStatus.ERROR, "body larger than 5 MB"),
        "/fault/malformed": (FetchStatus.OK, None),
        "/fault/redirect-loop": (FetchStatus.ERROR, "redirect loop"),
        "/fault/trickle": (FetchStatus.ERROR, "timed out after 2 s"),
        "/fault/empty": (FetchStatus.NOT_MODIFIED, None),
        "/fault/html": (FetchStatus.OK, None),
        "/fault/flap": (FetchStatus.OK, None),
    }
    paths = good[:2] + list(faults) + good[2:]
    requests = [FetchRequest(server.url(path), total_timeout=2.0) for path in paths]
    finished: list[str] = []
    started = time.perf_counter()
    async with make_client(connect_timeout=1.0, read_timeout=2.0) as http:
        results = await fetch_many(
            http, requests, concurrency=20, on_done=lambda result: finished.append(result.url)
        )
    elapsed = time.perf_counter() - started
    assert elapsed < 3.5
    assert [result.url for result in results] == [request.url for request in requests]
    assert sorted(finished) == sorted(request.url for request in requests)
    by_path = dict(zip(paths, results, strict=True))
    for path in good:
        assert by_path[path].status is FetchStatus.OK
        assert by_path[path].body == (SAMPLE_FEEDS_DIR / path.rsplit("/", 1)[1]).read_bytes()
    for path, (status, error) in faults.items():
        result = by_path[path]
        assert result.status is status, path
        if error is None:
            assert result.error is None, path
        else:
            assert error in (result.error or ""), (path, result.error)
    # No good feed waited for the hang or the trickle to give up.
    last_good = max(finished.index(server.url(path)) for path in good)
    assert last_good < finished.index(server.url("/fault/hang"))
    assert last_good < finished.index(server.url("/fault/trickle"))


async def test_fetch_many_bounds_concurrency_and_keeps_order(server: FeedServer) -> None:
    """With two slots, four 0.5 s hangs take two rounds; results stay in request order."""
    for index in range(4):
        server.set_fault(f"/slow/{index}", "hang")
    requests = [FetchRequest(server.url(f"/slow/{index}"), total_timeout=0.5) for index in range(4)]
    started = time.perf_counter()
    async with make_client() as http:
        results = await fetch_many(http, requests, concurrency=2)
    elapsed = time.perf_counter() - started
    assert 0.95 <= elapsed < 1.8
    assert [result.url for result in results] == [request.url for request in requests]
    assert all(result.error == "timed out after 0.5 s (total deadline)" for result in results)


async def test_fetch_many_turns_a_bug_into_one_error(
    server: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    """An unexpected exception while fetching one URL is logged and becomes its ERROR only."""

    async def broken_guard(url: str) -> None:
        raise RuntimeError("a bug in the guard")

    requests = [
        FetchRequest(server.url(DNIPRO)),
        FetchRequest(server.url("/feeds/black_sea_wire.atom"), guard=broken_guard),
    ]
    async with make_client() as http:
        with caplog.at_level(logging.ERROR, logger="bot.fetch"):
            good, broken = await fetch_many(http, requests)
    assert good.status is FetchStatus.OK
    assert (broken.status, broken.error) == (FetchStatus.ERROR, "internal error: RuntimeError")
    assert server.hits("/feeds/black_sea_wire.atom") == 0
    [record] = caplog.records
    assert record.exc_info is not None


async def test_make_client_configuration() -> None:
    """The shared client: bounded redirects, both timeouts, our User-Agent, no HTTP/2."""
    async with make_client(
        user_agent="probe/1", max_redirects=3, connect_timeout=2.5, read_timeout=7.0
    ) as http:
        assert http.max_redirects == 3
        assert (http.timeout.connect, http.timeout.read) == (2.5, 7.0)
        assert http.headers["User-Agent"] == "probe/1"
        assert http.follow_redirects is True
