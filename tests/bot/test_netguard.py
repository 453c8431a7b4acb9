"""The /addsource URL guard: public http(s) only, however the address is spelled or reached."""

from __future__ import annotations

import contextlib
import functools
import socket
from collections.abc import AsyncIterator, Sequence

import httpx
import pytest

from bot.errors import SourceError
from bot.feedserver import FeedServer
from bot.fetch import FetchStatus, fetch_url, make_client
from bot.netguard import check_public_url, resolve_host

PUBLIC_V4 = "93.184.215.14"
PUBLIC_V6 = "2606:4700:4700::1111"
# A stand-in for DNS: tests never leave the machine.
ZONE: dict[str, list[str]] = {
    "news.example.org": [PUBLIC_V4],
    "v6.example.org": [PUBLIC_V6],
    "intranet.example.org": ["10.20.30.40"],
    "metadata.example.org": ["169.254.169.254"],
    "rebind.example.org": [PUBLIC_V4, "127.0.0.1"],
    "loop6.example.org": ["::1"],
    "mapped.example.org": ["::ffff:192.168.0.10"],
    "empty.example.org": [],
    "xn--e1afmkfd.example": [PUBLIC_V4],  # пример.example
}


class FakeDns:
    """Answers from ZONE and records what it was asked, to show literals skip DNS."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.asked.append(host)
        if host not in ZONE:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return ZONE[host]


@pytest.mark.parametrize(
    ("url", "refusal"),
    [
        ("https://news.example.org/rss", None),
        ("http://news.example.org:8080/feed?x=1", None),
        (f"http://{PUBLIC_V4}/feed", None),
        (f"http://[{PUBLIC_V6}]/feed", None),
        ("https://v6.example.org/feed", None),
        ("https://пример.example/rss", None),
        ("ftp://news.example.org/rss", "only http:// and https://"),
        ("file:///etc/passwd", "only http:// and https://"),
        ("javascript:alert(1)", "only http:// and https://"),
        ("news.example.org/rss", "only http:// and https://"),
        ("http:///rss", "has no host"),
        ("http://user:secret@news.example.org/rss", "user names or passwords"),
        ("http://news.example.org@127.0.0.1/", "user names or passwords"),
        ("http://%31%32%37.0.0.1/", "not a valid host name"),
        ("http://[::1/", "not a valid URL"),
        ("http://127.0.0.1:8080/", "127.0.0.1, a loopback address"),
        ("http://localhost/", "loopback name"),
        ("http://feeds.localhost./", "loopback name"),
        ("http://10.0.0.5/", "a private address"),
        ("http://172.16.3.4/", "a private address"),
        ("http://192.168.1.1/admin", "a private address"),
        ("http://169.254.169.254/latest/meta-data/", "a link-local address"),
        ("http://224.0.0.1/", "a multicast address"),
        ("http://0.0.0.0/", "an unspecified address"),
        ("http://240.0.0.1/", "a reserved address"),
        ("http://100.64.0.1/", "not a globally routable address"),
        ("http://2130706433/", "127.0.0.1, a loopback address"),
        ("http://0x7f.1/", "127.0.0.1, a loopback address"),
        ("http://0x7f000001/", "127.0.0.1, a loopback address"),
        ("http://017700000001/", "127.0.0.1, a loopback address"),
        ("http://127.1/", "127.0.0.1, a loopback address"),
        ("http://0xa.0.0.1/", "10.0.0.1, a private address"),
        ("http://0x7g.1/", "not a valid numeric address"),
        ("http://1.2.3.4.5/", "not a valid numeric address"),
        ("http://4294967296/", "not a valid numeric address"),
        ("http://[::1]/", "a loopback address"),
        ("http://[::]/", "an unspecified address"),
        ("http://[::ffff:127.0.0.1]/", "embeds 127.0.0.1, a loopback address"),
        ("http://[::ffff:a9fe:a9fe]/", "embeds 169.254.169.254, a link-local address"),
        ("http://[64:ff9b::7f00:1]/", "embeds 127.0.0.1, a loopback address"),
        ("http://[2002:c0a8:101::]/", "embeds 192.168.1.1, a private address"),
        ("http://[fe80::1]/", "a link-local address"),
        ("http://[fc00::1]/", "a private address"),
        ("http://[fec0::1]/", "a site-local address"),
        ("http://[ff02::1]/", "a multicast address"),
        ("https://intranet.example.org/rss", "resolves to 10.20.30.40, a private address"),
        ("https://metadata.example.org/", "resolves to 169.254.169.254, a link-local"),
        ("https://rebind.example.org/rss", "resolves to 127.0.0.1, a loopback address"),
        ("https://loop6.example.org/rss", "resolves to ::1, a loopback address"),
        ("https://mapped.example.org/", "embeds 192.168.0.10, a private address"),
        ("https://nowhere.example.org/rss", "cannot resolve nowhere.example.org"),
        ("https://empty.example.org/rss", "resolves to no address"),
    ],
)
async def test_check_public_url(url: str, refusal: str | None) -> None:
    """Public http(s) URLs pass; every other scheme, trick and inner address is refused."""
    dns = FakeDns()
    if refusal is None:
        await check_public_url(url, resolver=dns)
    else:
        with pytest.raises(SourceError) as caught:
            await check_public_url(url, resolver=dns)
        assert refusal in str(caught.value)
        assert str(caught.value).startswith("refused ")


@pytest.mark.parametrize(
    ("url", "refused"),
    [
        ("http://2130706433/", True),
        ("http://[::ffff:127.0.0.1]/", True),
        (f"http://{PUBLIC_V4}/", False),
    ],
)
async def test_numeric_hosts_never_reach_dns(url: str, refused: bool) -> None:
    """Address literals are judged as written, so a resolver cannot be tricked into them."""
    dns = FakeDns()
    with pytest.raises(SourceError) if refused else contextlib.nullcontext():
        await check_public_url(url, resolver=dns)
    assert dns.asked == []


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.1:8080/feed", True),
        ("http://intranet.example.org/feed", True),
        ("http://user:pw@127.0.0.1/", False),
        ("gopher://127.0.0.1/", False),
    ],
)
async def test_allow_private_lifts_only_the_address_check(url: str, allowed: bool) -> None:
    """allow_private admits inner addresses without DNS, but not other schemes or credentials."""
    dns = FakeDns()
    if allowed:
        await check_public_url(url, allow_private=True, resolver=dns)
    else:
        with pytest.raises(SourceError):
            await check_public_url(url, allow_private=True, resolver=dns)
    assert dns.asked == []


async def test_default_resolver_uses_getaddrinfo() -> None:
    """The default resolver asks the loop's getaddrinfo (a numeric host needs no DNS server)."""
    assert await resolve_host("127.0.0.1", 80) == ["127.0.0.1"]


@pytest.fixture
async def server() -> AsyncIterator[FeedServer]:
    async with FeedServer() as running:
        yield running


async def test_guard_refuses_the_first_url_before_any_request(server: FeedServer) -> None:
    """fetch_url with the guard never contacts a loopback server; without it, it does."""
    guard = functools.partial(check_public_url, resolver=FakeDns())
    path = "/feeds/dnipro_ledger.rss"
    async with make_client() as http:
        refused = await fetch_url(http, server.url(path), guard=guard)
        assert refused.status is FetchStatus.ERROR
        assert refused.error is not None
        assert "a loopback address" in refused.error
        assert server.hits(path) == 0
        allowed = await fetch_url(http, server.url(path))
    assert allowed.status is FetchStatus.OK
    assert server.hits(path) == 1


async def test_guard_refuses_a_redirect_from_a_public_host_to_loopback(
    server: FeedServer,
) -> None:
    """A public feed that redirects to 127.0.0.1 is stopped at the hop (public hop mocked)."""
    target = server.url("/feeds/dnipro_ledger.rss")
    seen: list[str] = []

    def public_then_inner(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if request.url.host == "news.example.org":
            return httpx.Response(302, headers={"Location": target})
        return httpx.Response(200, content=b"<rss/>")

    guard = functools.partial(check_public_url, resolver=FakeDns())
    async with make_client(transport=httpx.MockTransport(public_then_inner)) as http:
        guarded = await fetch_url(http, "https://news.example.org/rss", guard=guard)
        assert guarded.status is FetchStatus.ERROR
        assert guarded.error is not None
        assert "127.0.0.1, a loopback address" in guarded.error
        assert guarded.http_status == 302
        assert seen == ["https://news.example.org/rss"]
        unguarded = await fetch_url(http, "https://news.example.org/rss")
    assert unguarded.status is FetchStatus.OK
    assert seen[-1] == target
