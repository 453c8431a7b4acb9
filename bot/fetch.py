"""HTTP fetching for feeds and pages: conditional GET, hard limits, and errors as values.

One pass polls dozens of outlets. A dead, slow, huge or looping one has to become a line in
the pass report, never an exception that stops the others (PRODUCT.md, "Promises"). So
`fetch_url` returns a `FetchResult` for every network and HTTP problem and raises only for
programming errors and cancellation.

Redirects are followed by hand rather than by httpx so that an optional guard (see
`bot.netguard`) vets every hop, and so that loops and long chains get a clear message.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

import httpx

from bot.errors import SourceError

log = logging.getLogger(__name__)

DEFAULT_USER_AGENT = (
    "conflictbot/0.1 (+https://github.com/conflictbot/conflictbot; news alerts bot)"
)
DEFAULT_MAX_BYTES = 5_000_000
DEFAULT_TOTAL_TIMEOUT = 30.0
# Feeds first, but article pages (full_text sources) and JSON news APIs go through here too.
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.9, text/html;q=0.8, */*;q=0.5"
)

Guard = Callable[[str], Awaitable[None]]
"""Awaited with each URL before it is requested; raises SourceError to refuse it."""


class FetchStatus(StrEnum):
    """What a fetch came to: new content, nothing new, or a failure."""

    OK = "ok"
    NOT_MODIFIED = "not_modified"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class FetchResult:
    """The outcome of one fetch.

    `body` is set only when status is OK. `etag`, `last_modified` and `body_hash` are the
    validators to send next time, whatever the outcome: a failure or an unchanged answer
    hands back the ones it was given (unless the server sent fresh ones), so the caller can
    store them unconditionally. `final_url` and `http_status` describe the last hop reached.
    """

    url: str
    status: FetchStatus
    body: bytes | None = None
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    final_url: str | None = None
    error: str | None = None
    http_status: int | None = None
    elapsed_s: float = 0.0
    body_hash: str | None = None


@dataclass(frozen=True, slots=True)
class FetchRequest:
    """One URL to fetch in `fetch_many`, with its validators and its own limits."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    previous_hash: str | None = None
    max_bytes: int = DEFAULT_MAX_BYTES
    total_timeout: float = DEFAULT_TOTAL_TIMEOUT
    guard: Guard | None = None


def make_client(
    *,
    user_agent: str = DEFAULT_USER_AGENT,
    max_redirects: int = 5,
    connect_timeout: float = 5.0,
    read_timeout: float = 15.0,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """Build the one long-lived client a process uses; the caller closes it (`aclose`).

    `max_redirects` bounds the hops `fetch_url` follows. The read timeout is per socket read,
    so a server that trickles bytes is stopped by `fetch_url`'s total deadline instead.
    `transport` is the test seam (httpx.MockTransport for transport faults).
    """
    return httpx.AsyncClient(
        headers={"User-Agent": user_agent, "Accept": ACCEPT},
        timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
        limits=httpx.Limits(max_connections=32, max_keepalive_connections=16, keepalive_expiry=30),
        follow_redirects=True,
        max_redirects=max_redirects,
        http2=False,
        transport=transport,
    )


def hash_body(body: bytes) -> str:
    """The content hash stored per source: an unchanged body means nothing new to parse."""
    return hashlib.sha256(body).hexdigest()


async def fetch_url(
    client: httpx.AsyncClient,
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    previous_hash: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    total_timeout: float = DEFAULT_TOTAL_TIMEOUT,
    guard: Guard | None = None,
) -> FetchResult:
    """GET one URL conditionally, within a size cap and a total deadline.

    A 304, an empty 200 and a 200 whose body hashes to `previous_hash` all count as
    NOT_MODIFIED: many servers ignore validators, and some answer an empty 200 while they
    regenerate a feed (RSS-to-Telegram-Bot treats it the same way). The body is streamed and
    dropped as soon as it passes `max_bytes`; `total_timeout` bounds the whole exchange,
    redirects included, so a server sending a byte a second cannot hold a slot for long.
    """
    attempt = _Attempt(url, etag, last_modified, previous_hash)
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        async with asyncio.timeout(total_timeout):
            result = await _exchange(client, attempt, headers, max_bytes, guard)
    except TimeoutError:
        result = attempt.failure(f"timed out after {total_timeout:g} s (total deadline)")
    except SourceError as exc:
        result = attempt.failure(str(exc))
    except httpx.InvalidURL as exc:
        result = attempt.failure(f"invalid URL: {exc}")
    except httpx.HTTPError as exc:
        result = attempt.failure(_describe_http_error(exc, client.timeout))
    log.debug("GET %s: %s in %.2f s %s", url, result.status, result.elapsed_s, result.error or "")
    return result


async def fetch_many(
    client: httpx.AsyncClient,
    requests: Sequence[FetchRequest],
    *,
    concurrency: int = 10,
    on_done: Callable[[FetchResult], None] | None = None,
) -> list[FetchResult]:
    """Fetch every request concurrently, at most `concurrency` at a time, results in order.

    Each request's deadline starts when it gets a slot, so a hanging source costs the others
    at most its own `total_timeout`, and only while all slots are taken. `on_done` is called
    as each one finishes (for a progress bar); if it raises, the other fetches are cancelled
    and the error propagates inside an ExceptionGroup.
    """
    semaphore = asyncio.Semaphore(concurrency)
    started = time.perf_counter()

    async def run(request: FetchRequest) -> FetchResult:
        async with semaphore:
            result = await _fetch_guarded(client, request)
        if on_done is not None:
            on_done(result)
        return result

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(run(request)) for request in requests]
    results = [task.result() for task in tasks]
    log.debug(
        "fetched %d urls in %.2f s: %d ok, %d unchanged, %d failed",
        len(results),
        time.perf_counter() - started,
        sum(result.status is FetchStatus.OK for result in results),
        sum(result.status is FetchStatus.NOT_MODIFIED for result in results),
        sum(result.status is FetchStatus.ERROR for result in results),
    )
    return results


async def _fetch_guarded(client: httpx.AsyncClient, request: FetchRequest) -> FetchResult:
    """The per-source boundary: a bug met while fetching one URL must not sink the pass."""
    started = time.perf_counter()
    try:
        return await fetch_url(
            client,
            request.url,
            etag=request.etag,
            last_modified=request.last_modified,
            previous_hash=request.previous_hash,
            max_bytes=request.max_bytes,
            total_timeout=request.total_timeout,
            guard=request.guard,
        )
    except Exception as exc:  # the per-source boundary of STYLE.md rule 8
        log.exception("unexpected error fetching %s", request.url)
        return FetchResult(
            url=request.url,
            status=FetchStatus.ERROR,
            etag=request.etag,
            last_modified=request.last_modified,
            body_hash=request.previous_hash,
            error=f"internal error: {type(exc).__name__}",
            elapsed_s=time.perf_counter() - started,
        )


class _Attempt:
    """What one fetch_url call knows so far, so any exit can build a complete result."""

    def __init__(
        self, url: str, etag: str | None, last_modified: str | None, previous_hash: str | None
    ) -> None:
        self.url = url
        self.etag = etag
        self.last_modified = last_modified
        self.previous_hash = previous_hash
        self.started = time.perf_counter()
        self.final_url: str | None = None
        self.http_status: int | None = None

    def reached(self, response: httpx.Response) -> None:
        """Remember the latest hop, for the result and for error messages."""
        self.final_url = str(response.url)
        self.http_status = response.status_code

    def failure(self, error: str) -> FetchResult:
        """An ERROR result that hands back the validators it was given."""
        return self._result(FetchStatus.ERROR, error=error)

    def unchanged(self, response: httpx.Response) -> FetchResult:
        """A NOT_MODIFIED result, keeping old validators unless the server sent new ones."""
        return self._result(
            FetchStatus.NOT_MODIFIED,
            content_type=response.headers.get("content-type"),
            etag=response.headers.get("etag") or self.etag,
            last_modified=response.headers.get("last-modified") or self.last_modified,
        )

    def fresh(self, response: httpx.Response, body: bytes, body_hash: str) -> FetchResult:
        """An OK result carrying the body and the validators the server sent with it."""
        return self._result(
            FetchStatus.OK,
            body=body,
            body_hash=body_hash,
            content_type=response.headers.get("content-type"),
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
        )

    def _result(
        self,
        status: FetchStatus,
        *,
        body: bytes | None = None,
        body_hash: str | None = None,
        content_type: str | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        error: str | None = None,
    ) -> FetchResult:
        keep_old = status is not FetchStatus.OK
        return FetchResult(
            url=self.url,
            status=status,
            body=body,
            content_type=content_type,
            etag=etag if etag or not keep_old else self.etag,
            last_modified=last_modified if last_modified or not keep_old else self.last_modified,
            final_url=self.final_url,
            error=error,
            http_status=self.http_status,
            elapsed_s=time.perf_counter() - self.started,
            body_hash=body_hash if not keep_old else self.previous_hash,
        )


async def _exchange(
    client: httpx.AsyncClient,
    attempt: _Attempt,
    headers: dict[str, str],
    max_bytes: int,
    guard: Guard | None,
) -> FetchResult:
    """Follow redirects by hand (guarding each hop) and read the final answer."""
    request = client.build_request("GET", attempt.url, headers=headers)
    visited: set[str] = set()
    while True:
        target = str(request.url)
        if guard is not None:
            await guard(target)
        visited.add(target)
        response = await client.send(request, stream=True, follow_redirects=False)
        try:
            attempt.reached(response)
            next_request = response.next_request
            if next_request is None:
                return await _read_answer(response, attempt, max_bytes)
        finally:
            await response.aclose()
        if str(next_request.url) in visited:
            raise SourceError(f"redirect loop: {next_request.url} was already visited")
        if len(visited) > client.max_redirects:
            raise SourceError(f"too many redirects (more than {client.max_redirects})")
        request = next_request


async def _read_answer(response: httpx.Response, attempt: _Attempt, max_bytes: int) -> FetchResult:
    """Turn the last hop's status and body into a result, reading at most `max_bytes`."""
    if response.status_code == httpx.codes.NOT_MODIFIED:
        return attempt.unchanged(response)
    if not response.is_success:
        raise SourceError(f"HTTP {response.status_code}")
    too_large = f"body larger than {_describe_size(max_bytes)}"
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise SourceError(too_large)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise SourceError(too_large)
        chunks.append(chunk)
    body = b"".join(chunks)
    body_hash = hash_body(body)
    if not body or body_hash == attempt.previous_hash:
        return attempt.unchanged(response)
    return attempt.fresh(response, body, body_hash)


def _describe_size(size: int) -> str:
    """A byte count as people write it: 5 MB, 64 kB, 100 bytes."""
    if size >= 1_000_000:
        return f"{size / 1_000_000:g} MB"
    if size >= 1_000:
        return f"{size / 1_000:g} kB"
    return f"{size} bytes"


def _describe_http_error(exc: httpx.HTTPError, timeout: httpx.Timeout) -> str:
    """A one-line reason for an httpx failure, fit for /sources and logs (no stack)."""
    if isinstance(exc, httpx.ConnectTimeout):
        return f"timed out connecting (connect timeout {_seconds(timeout.connect)})"
    if isinstance(exc, httpx.ReadTimeout):
        return f"timed out waiting for data (read timeout {_seconds(timeout.read)})"
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out ({type(exc).__name__})"
    if isinstance(exc, httpx.UnsupportedProtocol):
        return f"unsupported URL: {_first_line(exc)}"
    if isinstance(exc, httpx.ConnectError):
        return _describe_connect_error(exc)
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"the server broke the HTTP protocol: {_first_line(exc)}"
    if isinstance(exc, httpx.DecodingError):
        return f"could not decode the response body: {_first_line(exc)}"
    if isinstance(exc, httpx.TransportError):
        return f"connection lost: {_first_line(exc)}"
    return f"{type(exc).__name__}: {_first_line(exc)}"


def _describe_connect_error(exc: httpx.ConnectError) -> str:
    """Name the usual causes (DNS, refused, TLS) found down the exception chain."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, socket.gaierror):
            return f"DNS lookup failed: {cause.strerror or cause}"
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, ssl.SSLError):
            return f"TLS handshake failed: {cause.reason or cause}"
        cause = cause.__cause__ or cause.__context__
    return f"connection failed: {_first_line(exc)}"


def _seconds(value: float | None) -> str:
    """A timeout as a short phrase; httpx uses None for "no limit"."""
    return "none" if value is None else f"{value:g} s"


def _first_line(exc: BaseException) -> str:
    """The first line of an exception's message, capped, or its type when it has none."""
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
