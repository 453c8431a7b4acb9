"""Refuse URLs that would make the bot fetch from inside its own network (SSRF).

Sources added from a chat with /addsource are untrusted (PRODUCT.md, "Sources file"): without
this check anyone allowed to add a source could make the bot read a cloud metadata endpoint
or an admin page on localhost and echo it back. `check_public_url` is the guard `fetch_url`
awaits for the first URL and for every redirect hop.

The host is taken from `httpx.URL`, the same parser the client uses, so the guard and the
fetch agree on which host is meant. Every address the name resolves to must be public.
Numeric hosts are decoded the way browsers and `inet_aton` do (`2130706433`, `0x7f.1`,
`0177.1`) without asking DNS; IPv6 addresses that embed an IPv4 one (mapped, NAT64, 6to4,
Teredo) are judged by the embedded address.

Known limit: the name is resolved here and again when connecting, so a DNS server that
answers differently the second time (rebinding) is not caught; pinning the address would
need a custom transport.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Sequence

import httpx

from bot.errors import SourceError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""Takes a host and port, returns the IP addresses (as text) a connection could reach."""

_SCHEMES = frozenset({"http", "https"})
_HOST_NAME = re.compile(r"^[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?$")
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")
# Checked in order; the first that matches names the refusal.
_KINDS: tuple[tuple[str, str], ...] = (
    ("is_unspecified", "an unspecified"),
    ("is_loopback", "a loopback"),
    ("is_link_local", "a link-local"),
    ("is_multicast", "a multicast"),
    ("is_reserved", "a reserved"),
    ("is_private", "a private"),
)


async def resolve_host(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, via the event loop's getaddrinfo (the default)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def check_public_url(
    url: str, *, allow_private: bool = False, resolver: Resolver | None = None
) -> None:
    """Raise SourceError unless `url` is http(s) and its host reaches only public addresses.

    Scheme, host and credential checks apply even with `allow_private`, which only lifts
    the address check (for an operator who serves feeds on the local network).
    """
    parsed = _parse(url)
    if allow_private:
        return
    host = _ascii_host(parsed)
    literal = _literal_address(host)
    if literal is not None:
        _check_address(url, literal)
        return
    name = host.rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        raise SourceError(f"refused {url}: {host} is a loopback name")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        addresses = await (resolver or resolve_host)(host, port)
    except OSError as exc:
        raise SourceError(f"refused {url}: cannot resolve {host} ({exc})") from exc
    if not addresses:
        raise SourceError(f"refused {url}: {host} resolves to no address")
    for address in addresses:
        _check_address(url, ipaddress.ip_address(address.split("%", 1)[0]), via=host)


def _parse(url: str) -> httpx.URL:
    """Parse as httpx will, refusing what a feed URL has no business carrying."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise SourceError(f"refused {url!r}: not a valid URL ({exc})") from exc
    if parsed.scheme not in _SCHEMES:
        raise SourceError(f"refused {url!r}: only http:// and https:// addresses can be fetched")
    host = _ascii_host(parsed)
    if not host:
        raise SourceError(f"refused {url!r}: the address has no host")
    if parsed.userinfo:
        raise SourceError(
            f"refused {url!r}: user names or passwords in the address are not allowed"
        )
    if ":" not in host and not _HOST_NAME.match(host):
        raise SourceError(f"refused {url!r}: {host!r} is not a valid host name")
    return parsed


def _ascii_host(parsed: httpx.URL) -> str:
    """The host as it goes on the wire: IDNA (xn--) for names, no brackets for IPv6."""
    return parsed.raw_host.decode("ascii")


def _literal_address(host: str) -> IPAddress | None:
    """The address a numeric host stands for, or None for a name that needs DNS.

    A host whose last label is a number is an IPv4 address in the WHATWG URL standard and
    in `inet_aton`: up to four parts, each decimal, octal (leading 0) or hex (0x), the last
    part filling the remaining bytes. One that does not decode is refused, not resolved.
    """
    if ":" in host:
        return ipaddress.IPv6Address(host.split("%", 1)[0])
    labels = host.rstrip(".").split(".")
    if not _NUMERIC_LABEL.match(labels[-1]):
        return None
    numbers = [_ipv4_number(label, host) for label in labels]
    if len(numbers) > 4 or any(number > 255 for number in numbers[:-1]):
        raise SourceError(f"refused {host!r}: not a valid numeric address")
    tail_bytes = 5 - len(numbers)
    if numbers[-1] >= 256**tail_bytes:
        raise SourceError(f"refused {host!r}: not a valid numeric address")
    value = numbers[-1]
    for index, number in enumerate(numbers[:-1]):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _ipv4_number(label: str, host: str) -> int:
    """One part of a numeric IPv4 host: decimal, 0-prefixed octal or 0x-prefixed hex."""
    try:
        if label.startswith("0x"):
            return int(label[2:] or "0", 16)
        if len(label) > 1 and label.startswith("0"):
            return int(label[1:], 8)
        return int(label, 10)
    except ValueError:
        raise SourceError(f"refused {host!r}: not a valid numeric address") from None


def _check_address(url: str, address: IPAddress, *, via: str | None = None) -> None:
    """Raise SourceError when `address` is not a public unicast one."""
    reason = _refusal(address)
    if reason is not None:
        where = f"{via} resolves to {address}" if via else str(address)
        raise SourceError(f"refused {url}: {where}, {reason}")


def _refusal(address: IPAddress) -> str | None:
    """Why `address` must not be fetched from, or None when it is public."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            inner = _refusal(embedded)
            return None if inner is None else f"which embeds {embedded}, {inner}"
        if address.is_site_local:
            return "a site-local address"
    for flag, label in _KINDS:
        if getattr(address, flag):
            return f"{label} address"
    if address in _SHARED or not address.is_global:
        return "not a globally routable address"
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, NAT64, 6to4, Teredo client), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None
