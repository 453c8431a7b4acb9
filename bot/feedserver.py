"""A loopback feed server: the bundled sample feeds plus every way a real source misbehaves.

Tests and `conflictbot demo` need feeds without the internet, and the fetcher's promises
(PRODUCT.md: "a broken, slow, huge or malformed source never stops the others") can only be
shown against a server that really hangs, trickles, loops and floods. Feeds are served at
`/feeds/<file>` with ETag and Last-Modified and answer conditional requests with 304; fault
routes live at `/fault/<kind>`, and `set_fault` makes any path play a fault.

Handlers that wait (hang, trickle) wake up when `stop()` is called, so stopping never waits
for a client that has gone away.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import assert_never

from aiohttp import web

log = logging.getLogger(__name__)

DATA_DIR = Path(__file__).parent / "data"
SAMPLE_FEEDS_DIR = DATA_DIR / "feeds"
DEMO_SOURCES_FILE = DATA_DIR / "demo_sources.toml"
"""Sources for the sample feeds; `{feeds}` in their URLs stands for the server's base URL."""

HUGE_BYTES = 50_000_000
_CHUNK = 64 * 1024
_CONTENT_TYPES = {
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".rdf": "application/rdf+xml",
    ".xml": "application/xml",
}
_FLAP_FEED = (
    b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
    b"<title>Flap Feed</title><link>https://flap.example/</link><description>Up, then down"
    b"</description><item><title>Still here</title><link>https://flap.example/1</link>"
    b"<guid>flap-1</guid></item></channel></rss>\n"
)
_MALFORMED_FEED = (
    b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
    b"<title>Broken & Sons</title><item><title>Unclosed item<link>https://broken.example/1"
    b"</item></rss"
)
_HTML_PAGE = (
    b"<!doctype html><html><head><title>Welcome to our new website!</title></head>"
    b"<body><h1>We moved</h1><p>Our news feed now lives in the app.</p></body></html>"
)
_TRICKLE_BYTES = b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'


class Fault(StrEnum):
    """The ways a source misbehaves; the value is the route name under /fault/."""

    SERVER_ERROR = "500"
    HANG = "hang"
    HUGE = "huge"
    MALFORMED = "malformed"
    REDIRECT_LOOP = "redirect-loop"
    TRICKLE = "trickle"
    EMPTY = "empty"
    HTML = "html"
    FLAP = "flap"


@dataclass(frozen=True, slots=True)
class _Feed:
    """One served document and the validators it is served with (None: not conditional)."""

    body: bytes
    content_type: str
    etag: str | None
    last_modified: datetime | None


class FeedServer:
    """An aiohttp server on loopback serving sample feeds and scripted faults.

    Use as `async with FeedServer() as server:` (binds 127.0.0.1 on a free port) or call
    `start()`/`stop()`. `feeds_dir` defaults to the bundled samples; `trickle_interval` is
    the pause between the bytes of the trickle fault.
    """

    def __init__(
        self, feeds_dir: Path | None = SAMPLE_FEEDS_DIR, *, trickle_interval: float = 1.0
    ) -> None:
        self._feeds: dict[str, _Feed] = {}
        self._faults: dict[str, Fault] = {}
        self._redirects: dict[str, str] = {}
        self._hits: Counter[str] = Counter()
        self._sent: Counter[str] = Counter()
        self._headers: dict[str, dict[str, str]] = {}
        self._stopping = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self.trickle_interval = trickle_interval
        if feeds_dir is not None:
            for file in sorted(feeds_dir.iterdir()):
                if file.suffix in _CONTENT_TYPES:
                    self.set_feed(f"/feeds/{file.name}", file.read_bytes(), _content_type(file))

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>`, once started."""
        if self._base_url is None:
            raise RuntimeError("the feed server is not running")
        return self._base_url

    def url(self, path: str) -> str:
        """The absolute URL of `path` on this server."""
        return self.base_url + _normalise(path)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Start serving and return the base URL; port 0 picks a free port."""
        if self._runner is not None:
            raise RuntimeError("the feed server is already running")
        app = web.Application()
        app.router.add_get("/{path:.*}", self._handle)
        self._stopping.clear()
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        bound_host, bound_port = runner.addresses[0][:2]
        self._base_url = f"http://{bound_host}:{bound_port}"
        log.debug("feed server listening on %s", self._base_url)
        return self._base_url

    async def stop(self) -> None:
        """Release waiting handlers and close the server; calling it twice is harmless."""
        runner, self._runner = self._runner, None
        self._base_url = None
        if runner is None:
            return
        self._stopping.set()
        await runner.cleanup()

    async def __aenter__(self) -> FeedServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    def freshen(self, now: datetime, *, newest_age: timedelta = timedelta(minutes=20)) -> None:
        """Move every served feed's dates by one offset so that its newest item is
        `newest_age` old at `now`: the demo's sample news reads as today's (its fixed May
        2026 dates would leave "stories in the last 24 h" empty), spaced as written."""
        for path, feed in list(self._feeds.items()):
            newest = max(_feed_dates(feed.body), default=None)
            if newest is not None:
                body = shift_dates(feed.body, now - newest_age - newest)
                self.set_feed(path, body, feed.content_type, conditional=feed.etag is not None)

    def set_feed(
        self,
        path: str,
        body: bytes,
        content_type: str = "application/rss+xml",
        *,
        conditional: bool = True,
    ) -> None:
        """Serve `body` at `path` from now on.

        With `conditional` the answer carries ETag and Last-Modified and honours
        If-None-Match/If-Modified-Since; without it the server behaves like the many that
        send neither and always answer 200. Last-Modified only ever moves forward, by at
        least a second, so a change is visible even within one second.
        """
        key = _normalise(path)
        etag = last_modified = None
        if conditional:
            etag = hashlib.sha256(body).hexdigest()[:20]
            last_modified = datetime.now(UTC).replace(microsecond=0)
            previous = self._feeds.get(key)
            if previous is not None and previous.last_modified is not None:
                last_modified = max(last_modified, previous.last_modified + timedelta(seconds=1))
        self._feeds[key] = _Feed(body, content_type, etag, last_modified)

    def remove_feed(self, path: str) -> None:
        """Stop serving `path` (it answers 404 from now on)."""
        self._feeds.pop(_normalise(path), None)

    def set_fault(self, path: str, kind: Fault | str | None) -> None:
        """Make `path` play fault `kind` instead of its feed; None restores normal service."""
        key = _normalise(path)
        if kind is None:
            self._faults.pop(key, None)
        else:
            self._faults[key] = Fault(kind)

    def set_redirect(self, path: str, location: str | None) -> None:
        """Make `path` answer 302 to `location` (a path or an absolute URL); None undoes it."""
        key = _normalise(path)
        if location is None:
            self._redirects.pop(key, None)
        else:
            self._redirects[key] = location

    def hits(self, path: str) -> int:
        """How many requests `path` has received (query strings ignored)."""
        return self._hits[_normalise(path)]

    def bytes_sent(self, path: str) -> int:
        """How many body bytes the streaming faults (huge, trickle) wrote for `path`."""
        return self._sent[_normalise(path)]

    def last_headers(self, path: str) -> dict[str, str]:
        """The headers of the latest request for `path`, keys lower-cased."""
        return dict(self._headers.get(_normalise(path), {}))

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        """Route by precedence: a set fault, a /fault/ route, a redirect, then a feed."""
        path = request.path
        self._hits[path] += 1
        self._headers[path] = {name.lower(): value for name, value in request.headers.items()}
        fault = self._faults.get(path)
        if fault is None and path.startswith("/fault/"):
            try:
                fault = Fault(path.removeprefix("/fault/"))
            except ValueError:
                raise web.HTTPNotFound(text=f"no such fault: {path}\n") from None
        if fault is not None:
            return await self._play(fault, request)
        if path in self._redirects:
            raise web.HTTPFound(location=self._redirects[path])
        feed = self._feeds.get(path)
        if feed is None:
            raise web.HTTPNotFound(text=f"no feed at {path}\n")
        return _serve(feed, request)

    async def _play(self, fault: Fault, request: web.Request) -> web.StreamResponse:
        """Answer `request` the way fault `fault` does."""
        if fault is Fault.SERVER_ERROR:
            return web.Response(status=500, text="internal server error\n")
        if fault is Fault.HANG:
            await self._stopping.wait()
            return web.Response(status=503)
        if fault is Fault.HUGE:
            return await self._stream(request, b"<" * _CHUNK, HUGE_BYTES, pause=0.0)
        if fault is Fault.TRICKLE:
            return await self._stream(request, _TRICKLE_BYTES, None, pause=self.trickle_interval)
        if fault is Fault.MALFORMED:
            return web.Response(body=_MALFORMED_FEED, content_type="application/rss+xml")
        if fault is Fault.REDIRECT_LOOP:
            raise web.HTTPFound(location=request.path)
        if fault is Fault.EMPTY:
            return web.Response(body=b"", content_type="application/rss+xml")
        if fault is Fault.HTML:
            return web.Response(body=_HTML_PAGE, content_type="text/html", charset="utf-8")
        if fault is Fault.FLAP:
            if self._hits[request.path] % 2 == 1:
                return web.Response(body=_FLAP_FEED, content_type="application/rss+xml")
            return web.Response(status=500, text="internal server error (flapping)\n")
        assert_never(fault)

    async def _stream(
        self, request: web.Request, pattern: bytes, total: int | None, *, pause: float
    ) -> web.StreamResponse:
        """Write `pattern` in pieces (chunks, or single bytes when pausing) without a length.

        Ends after `total` bytes (None: never), when the client goes away, or on stop.
        """
        response = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
        await response.prepare(request)
        piece = 1 if pause else len(pattern)
        sent = 0
        try:
            while total is None or sent < total:
                if self._stopping.is_set():
                    return response
                size = piece if total is None else min(piece, total - sent)
                start = sent % len(pattern)
                chunk = (pattern[start:] + pattern)[:size]
                await response.write(chunk)
                self._sent[request.path] += len(chunk)
                sent += len(chunk)
                if pause and await self._wait_stop(pause):
                    return response
            await response.write_eof()
        except ConnectionError:
            log.debug("client left %s after %d bytes", request.path, sent)
        return response

    async def _wait_stop(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True when the server is stopping meanwhile."""
        try:
            async with asyncio.timeout(seconds):
                await self._stopping.wait()
        except TimeoutError:
            return False
        return True


def _serve(feed: _Feed, request: web.Request) -> web.Response:
    """A feed's 200 (gzip when the client accepts it), or 304 when the client is current."""
    if _is_current(feed, request):
        response = web.Response(status=304)
    else:
        response = web.Response(body=feed.body, content_type=feed.content_type)
        response.enable_compression()
    if feed.etag is not None:
        response.etag = feed.etag
    if feed.last_modified is not None:
        response.last_modified = feed.last_modified
    return response


def _is_current(feed: _Feed, request: web.Request) -> bool:
    """RFC 9110 section 13.2.2: If-None-Match decides when present, else If-Modified-Since."""
    if feed.etag is None or feed.last_modified is None:
        return False
    wanted = request.if_none_match
    if wanted is not None:
        return any(tag.value in (feed.etag, "*") for tag in wanted)
    since = request.if_modified_since
    return since is not None and feed.last_modified <= since


def _normalise(path: str) -> str:
    """Paths are stored with one leading slash: "feeds/a.rss" and "/feeds/a.rss" are one."""
    return "/" + path.lstrip("/")


_RFC822_DATE = re.compile(
    rb"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} "
    rb"(?:[+-]\d{4}|GMT|UT|Z)"
)
_ISO_DATE = re.compile(rb"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:Z|[+-]\d{2}:\d{2})")


def _feed_dates(body: bytes) -> list[datetime]:
    """Every RFC 822 (RSS) and ISO 8601 (Atom, RDF) timestamp in a feed, as aware times."""
    found = [parsedate_to_datetime(m.group().decode()) for m in _RFC822_DATE.finditer(body)]
    found += [datetime.fromisoformat(m.group().decode()) for m in _ISO_DATE.finditer(body)]
    return found


def shift_dates(body: bytes, delta: timedelta) -> bytes:
    """The feed with every RFC 822 and ISO 8601 timestamp moved by `delta`, each written back
    in its own format and offset (an RSS weekday follows its date)."""

    def rfc822(match: re.Match[bytes]) -> bytes:
        text = match.group().decode()
        moved = parsedate_to_datetime(text) + delta
        return format_datetime(moved, usegmt=not text[-5:].startswith(("+", "-"))).encode()

    def iso(match: re.Match[bytes]) -> bytes:
        text = match.group().decode()
        moved = (datetime.fromisoformat(text) + delta).isoformat()
        return (moved.removesuffix("+00:00") + "Z" if text.endswith("Z") else moved).encode()

    return _ISO_DATE.sub(iso, _RFC822_DATE.sub(rfc822, body))


def _content_type(file: Path) -> str:
    return _CONTENT_TYPES.get(file.suffix, "application/octet-stream")
