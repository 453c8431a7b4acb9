"""Security rules of PRODUCT.md and issue #8, end to end through the emulator; each test fails
if its rule is removed: admin commands only for ADMIN_IDS, /addsource only to public http(s)
addresses (after DNS and on every redirect), bounded arguments, escaped outside text, SQL
that stays data, and a refused token that is never printed."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.db import ChatRow, FollowRow, SourceRow, StoryRow
from bot.emulator import Emulator, SentRecord
from bot.formatting import is_web_url
from bot.telegram_html import parse_html
from handlers import COMMANDS
from tests.conftest import ADMIN_ID, ROOT, TOKEN
from tests.helpers import Harness, harness

PUBLIC_ADDRESS = "93.184.215.14"
UNKNOWN_COMMAND = "I don't know that command."


class FakeDns:
    """A stand-in for DNS under `.test`: tests never ask the real one (nor the internet).

    Each name maps to a list of answers (each a list of addresses) given in turn, the last
    one repeated; a name that answers "public" first and loopback after plays DNS rebinding,
    which lets a test reach a redirect on the loopback feed server through a first hop that
    passed the guard.
    """

    def __init__(self, real: Any) -> None:
        self.real = real
        self.zone: dict[str, list[list[str]]] = {}
        self.asked: list[str] = []

    def __call__(
        self, host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
    ) -> list[Any]:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if not name.endswith(".test"):
            return self.real(host, port, family, type, proto, flags)
        self.asked.append(name)
        answers = self.zone.get(name)
        if not answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        addresses = answers.pop(0) if len(answers) > 1 else answers[0]
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, int(port or 80))) for a in addresses
        ]


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> FakeDns:
    dns = FakeDns(socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", dns)
    return dns


async def source_names(h: Harness) -> set[str]:
    async with h.deps.sessions() as session:
        return set((await session.scalars(select(SourceRow.name))).all())


async def count(h: Harness, table: Any) -> int:
    async with h.deps.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


ADMIN_COMMANDS = [
    f"/{name} {example.partition(' ')[2]}".strip()
    for command in COMMANDS
    if command.admin_only
    for name, example in ((n, command.example) for n in (command.name, *command.aliases))
]


async def test_admin_commands_answer_only_admin_ids(database_url: str, tmp_path: Path) -> None:
    """Every admin command (from the one command table) gets strangers exactly the unknown-
    command hint and does nothing, in private chats and groups; the admin gets the real thing."""
    assert len(ADMIN_COMMANDS) >= 4
    async with harness(database_url, tmp_path) as h:
        await h.fetch()
        sources_before = await source_names(h)
        hits_before = h.feeds.hits("/feeds/dnipro_ledger.rss")
        (hint,) = await h.chat(700).send("/nonsense")
        assert UNKNOWN_COMMAND in (hint.text or "")
        for n, command in enumerate(ADMIN_COMMANDS):
            # A fresh chat per message: Telegram's per-chat pacing would only slow the test.
            group = h.chat(-7000 - n, type="supergroup", admins=(701,), user_id=701)
            for chat in (h.chat(710 + n), group):
                (answer,) = await chat.send(command, settle=0.1)
                assert answer.text == hint.text, f"{command} answered a stranger: {answer.text}"
        assert await source_names(h) == sources_before
        assert h.feeds.hits("/feeds/dnipro_ledger.rss") == hits_before
        admin = h.chat(ADMIN_ID)
        for command in ("/stats", "/health"):
            (answer,) = await admin.send(command)
            assert UNKNOWN_COMMAND not in (answer.text or "")
            assert command.strip("/").capitalize() in (answer.text or "")


async def test_no_admin_ids_means_no_admin(database_url: str, tmp_path: Path) -> None:
    """With ADMIN_IDS empty nobody is an admin, not even a user id such as 0."""
    async with harness(database_url, tmp_path, admin_ids="") as h:
        for user in (ADMIN_ID, 0):
            (answer,) = await h.chat(ADMIN_ID).send("/stats", user_id=user or None)
            assert UNKNOWN_COMMAND in (answer.text or "")


def _refused_urls(port: int) -> list[tuple[str, str]]:
    """(address, what the answer says) for /addsource attempts that must not be fetched."""
    feed = f"{port}/feeds/extra.rss"
    return [
        ("ftp://feeds.example.test/rss", "must start with http"),
        ("file:///etc/passwd", "must start with http"),
        ("javascript:alert(1)", "must start with http"),
        (f"http://127.0.0.1:{feed}", "loopback"),
        (f"http://127.1:{feed}", "loopback"),
        (f"http://2130706433:{feed}", "loopback"),
        (f"http://0x7f.0.0.1:{feed}", "loopback"),
        (f"http://localhost:{feed}", "loopback"),
        (f"http://[::1]:{feed}", "loopback"),
        (f"http://[::ffff:127.0.0.1]:{feed}", "loopback"),
        ("http://10.0.0.1/feed", "private"),
        ("http://192.168.1.1/rss", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://0.0.0.0/feed", "unspecified"),
        (f"http://intranet.test:{feed}", "intranet.test resolves to 127.0.0.1"),
        (f"http://mixed.test:{feed}", "resolves to 10.1.2.3"),
        ("http://user:secret@feeds.example.test/rss", "passwords"),
    ]


async def test_addsource_refuses_private_addresses(
    database_url: str, tmp_path: Path, fake_dns: FakeDns
) -> None:
    """Non-http(s) schemes and addresses that are (or resolve to) loopback, private, link-
    local or unspecified are refused before any request; allowed only when the operator says."""
    async with harness(database_url, tmp_path) as h:
        port = int(h.feeds.base_url.rsplit(":", 1)[1])
        h.feeds.set_feed(
            "/feeds/extra.rss", (ROOT / "bot/data/feeds/black_sea_wire.atom").read_bytes()
        )
        fake_dns.zone["intranet.test"] = [["127.0.0.1"]]
        fake_dns.zone["mixed.test"] = [[PUBLIC_ADDRESS, "10.1.2.3"]]
        before = await source_names(h)
        for n, (url, reason) in enumerate(_refused_urls(port)):
            # The admin writes from a fresh group each time, so per-chat pacing does not apply.
            admin = h.chat(-8000 - n, type="group", admins=(ADMIN_ID,), user_id=ADMIN_ID)
            (answer,) = await admin.send(f"/addsource {url} Sneaky", settle=0.1)
            assert reason in (answer.text or ""), f"{url}: {answer.text}"
            assert "Added" not in (answer.text or "")
        assert h.feeds.hits("/feeds/extra.rss") == 0, "a refused address was fetched"
        assert await source_names(h) == before
        assert "intranet.test" in fake_dns.asked, "the name check must have asked DNS"
    async with harness(database_url, tmp_path, allow_private_sources=True) as h:
        port = int(h.feeds.base_url.rsplit(":", 1)[1])
        h.feeds.set_feed(
            "/feeds/extra.rss", (ROOT / "bot/data/feeds/black_sea_wire.atom").read_bytes()
        )
        fake_dns.zone["intranet.test"] = [["127.0.0.1"]]
        (answer,) = await h.chat(ADMIN_ID).send(
            f"/addsource http://intranet.test:{port}/feeds/extra.rss Intranet"
        )
        assert "Added" in (answer.text or "")
        assert h.feeds.hits("/feeds/extra.rss") == 1


async def test_addsource_refuses_a_redirect_to_loopback(
    database_url: str, tmp_path: Path, fake_dns: FakeDns
) -> None:
    """A first hop that passes the check cannot redirect the fetch to a loopback address."""
    async with harness(database_url, tmp_path) as h:
        port = int(h.feeds.base_url.rsplit(":", 1)[1])
        h.feeds.set_redirect("/go", h.feeds.url("/feeds/dnipro_ledger.rss"))
        fake_dns.zone["news.rebind.test"] = [[PUBLIC_ADDRESS], ["127.0.0.1"]]
        hits = h.feeds.hits("/feeds/dnipro_ledger.rss")
        (answer,) = await h.chat(ADMIN_ID).send(
            f"/addsource http://news.rebind.test:{port}/go Rebind"
        )
        assert "refused" in (answer.text or "")
        assert "loopback" in (answer.text or "")
        assert h.feeds.hits("/go") == 1, "the first hop was fetched (it passed the check)"
        assert h.feeds.hits("/feeds/dnipro_ledger.rss") == hits, "the redirect was not followed"
        assert "Rebind" not in await source_names(h)


LONG = "x" * 4000


OVERSIZED = [
    f"/follow {LONG}",
    "/follow " + " ".join(f"t{n}" for n in range(300)),
    f'/follow "{LONG}"',
    f"/unfollow {LONG}",
    f"/topic {LONG}",
    f"/latest {'9' * 4000}",
    f"/timezone {LONG}",
    "/language " + " ".join(f"{a}{b}" for a in "abcdefghij" for b in "abcdefghijklmnopqrstuvwxyz"),
    f"/quiet {LONG}",
    f"/digest daily {LONG}",
]


async def test_oversized_arguments_are_refused(database_url: str, tmp_path: Path) -> None:
    """A 4,000-character argument gets a short correction that does not echo it; nothing stored."""
    async with harness(database_url, tmp_path) as h:
        for n, command in enumerate(OVERSIZED):
            (answer,) = await h.chat(600 + n).send(command, settle=0.1)
            text = answer.text or ""
            assert text.startswith("⚠️"), f"{command[:30]}: {text[:200]}"
            assert len(text) < 400
            assert "x" * 80 not in text and "t299" not in text and "9" * 80 not in text
        assert await count(h, FollowRow) == 0
        async with h.deps.sessions() as session:
            settings = (await session.execute(select(ChatRow.timezone, ChatRow.languages))).all()
        assert set(settings) <= {("UTC", "")}
        assert await h.chat(600).send("/latest 1")


async def test_admin_arguments_are_bounded(database_url: str, tmp_path: Path) -> None:
    """Even the admin's /addsource and /removesource refuse oversized input without a fetch."""
    async with harness(database_url, tmp_path) as h:
        before = await source_names(h)
        admin = h.chat(ADMIN_ID)
        for command in (
            f"/addsource https://{'a' * 600}.example.org/rss",
            f"/addsource https://example.org/rss {'N' * 300}",
            f"/removesource {LONG}",
        ):
            (answer,) = await admin.send(command)
            assert (answer.text or "").startswith("⚠️")
            assert len(answer.text or "") < 400
        assert await source_names(h) == before


HOSTILE_FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Dnipro Ledger</title><link>https://dnipro-ledger.example</link>
<description>x</description>
<item><title><![CDATA[Drones hit Kursk: 5 < 6 & 7 > 3, "quoted" & <b>bold</b> &amp;lt;i&amp;gt; <a href="javascript:alert(1)">x</a>]]></title>
<link>https://dnipro-ledger.example/2026/05/19/hostile/</link><guid>hostile-1</guid>
<description><![CDATA[<script>alert("x")</script><img src=x onerror=alert(1)> Drones struck an airfield
in the Kursk region overnight; the governor said a <fuel & depot> burned &lt;for hours&gt;.]]></description>
</item>
<item><title>Kursk drone attack, second report with a bad link</title>
<link>javascript:alert(document.cookie)</link><guid>hostile-2</guid>
<description>Another report of drones over Kursk that links nowhere safe at all, it says.</description>
</item></channel></rss>"""


async def test_hostile_feed_text_arrives_escaped(database_url: str, tmp_path: Path) -> None:
    """Markup, entities and script links in a feed reach the reader as literal text: the alert
    is valid HTML whose only entities are ours, its visible headline is the stored headline,
    and no link or button points anywhere but http(s)."""
    async with harness(database_url, tmp_path) as h:
        await h.fetch()
        reader = h.chat()
        await reader.send("/follow all")
        h.feeds.set_feed("/feeds/dnipro_ledger.rss", HOSTILE_FEED.encode())
        report = await h.fetch()
        assert report.queued >= 1
        since = len(h.emulator.sent)
        alerts = await h.emulator.wait_for(reader.chat_id, report.queued, since=since, timeout=15)
        async with h.deps.sessions() as session:
            headlines = set((await session.scalars(select(StoryRow.headline))).all())
    for alert in alerts:
        _assert_safe(alert, headlines)


def _assert_safe(alert: SentRecord, headlines: set[str]) -> None:
    formatted = parse_html(alert.text or "")
    first_line = formatted.text.split("\n", 1)[0]
    assert first_line in headlines, f"visible headline {first_line!r} is not the stored one"
    assert "<script" not in (alert.text or "")
    types = {entity.type for entity in formatted.entities}
    assert types <= {"bold", "text_link", "hashtag"}, types
    bold = [e for e in formatted.entities if e.type == "bold"]
    assert len(bold) == 1 and bold[0].offset == 0, "only the headline is bold"
    for entity in formatted.entities:
        if entity.type == "text_link":
            assert is_web_url(entity.url or ""), entity.url
    for button in alert.buttons:
        if "url" in button:
            assert is_web_url(button["url"]), button


async def test_sql_looking_input_is_only_data(database_url: str, tmp_path: Path) -> None:
    """SQL in arguments is searched for and followed as text; no table changes shape or loses rows."""
    async with harness(database_url, tmp_path) as h:
        await h.fetch()
        stories = await count(h, StoryRow)
        chat = h.chat()
        for command in (
            "/topic '; DROP TABLE story; --",
            "/topic %' OR 1=1 --",
            '/follow "x\'); DELETE FROM follow; --"',
            "/removesource ' OR '1'='1",
        ):
            assert await chat.send(command)
        assert await count(h, StoryRow) == stories
        async with h.deps.sessions() as session:
            values = (await session.scalars(select(FollowRow.value))).all()
        assert values == ["x'); DELETE FROM follow; --"]
        assert len(await source_names(h)) == 4


async def run_bot_once(
    tmp_path: Path, token: str, api_url: str, **env: str
) -> tuple[int, str, str]:
    """`python -m bot run` with no sources, until it exits: (code, stdout, stderr)."""
    sources = tmp_path / "sources.toml"
    sources.write_text("")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=tmp_path,
        env={
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(ROOT),
            "TELEGRAM_BOT_TOKEN": token,
            "TELEGRAM_API_URL": api_url,
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/bot.db",
            "SOURCES_FILE": str(sources),
            **env,
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_a_refused_token_is_never_printed(tmp_path: Path) -> None:
    """`conflictbot run` with a token Telegram refuses: exit 1, a hint, and no token anywhere."""
    wrong = "987654321:AAWrongTokenWrongTokenWrongToken_123"
    async with Emulator(TOKEN) as emulator:
        code, out, err = await run_bot_once(tmp_path, wrong, emulator.url, LOG_LEVEL="DEBUG")
    assert code == 1
    text = out + err
    assert "Telegram refused the token (TELEGRAM_BOT_TOKEN)" in err
    assert wrong not in text
    assert wrong.split(":")[1] not in text


@pytest.mark.parametrize("problem", ["refused token", "no server"])
async def test_telegram_problems_at_start_are_one_line(tmp_path: Path, problem: str) -> None:
    """A refused token or an unreachable TELEGRAM_API_URL printed PTB's retry-loop
    tracebacks before our one line (ops audit 3): now the line comes alone."""
    async with Emulator(TOKEN) as emulator:
        if problem == "refused token":
            code, out, err = await run_bot_once(tmp_path, "987654321:AAWrong", emulator.url)
        else:
            code, out, err = await run_bot_once(tmp_path, TOKEN, "http://127.0.0.1:9")
    assert code == 1
    assert "Traceback" not in out + err
    (line,) = err.strip().splitlines()
    expected = "refused the token" if problem == "refused token" else "cannot reach Telegram"
    assert line.startswith("conflictbot: ") and expected in line
