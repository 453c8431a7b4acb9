"""`conflictbot export`/`import` (chats and follows as JSON) and `sources export`/`import`
(OPML 2.0): what goes out comes back the same, and a bad file is refused with a reason
(issue #8, "Operations")."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, time
from pathlib import Path

import pytest
from sqlalchemy import delete

from bot import cli, logs
from bot.db import ChatRow, FollowRow, make_engine
from bot.errors import ConfigError
from bot.feedserver import SAMPLE_FEEDS_DIR
from bot.models import ChatPrefs, DigestMode, Source, SourceKind
from bot.transfer import (
    ChatRecord,
    FollowRecord,
    parse_follows,
    parse_opml,
    render_follows,
    render_opml,
)
from tests.conftest import ADMIN_ID, TOKEN
from tests.helpers import harness

NOW = datetime(2026, 5, 19, 12, 0, tzinfo=UTC)
CHATS = [
    ChatRecord(
        prefs=ChatPrefs(
            chat_id=501,
            timezone="Europe/Kyiv",
            quiet_start=time(23, 0),
            quiet_end=time(7, 0),
            digest=DigestMode.DAILY,
            digest_at=time(8, 30),
            languages=frozenset({"en", "uk"}),
        ),
        type="private",
        username="reader",
        follows=(
            FollowRecord(0, "topic", "kursk"),
            FollowRecord(0, "keyword", "Zaporizhzhia plant"),
            FollowRecord(0, "exclude", "football"),
        ),
    ),
    ChatRecord(
        prefs=ChatPrefs(chat_id=-100200300, digest=DigestMode.HOURLY, active=False),
        type="supergroup",
        title='Group "Ньюз" & <friends>',
        follows=(FollowRecord(0, "all", "all"), FollowRecord(17, "topic", "north-korea")),
    ),
    ChatRecord(prefs=ChatPrefs(chat_id=-1009), type="channel", title="Channel", username="chan"),
]
SOURCES = [
    Source("Kyiv Ledger", "https://kyiv-ledger.example/rss", language="en"),
    Source(
        'Relief & "Web" <UN>',
        "https://api.reliefweb.int/v2/reports?appname=x&query[value]=Ukraine",
        kind=SourceKind.RELIEFWEB,
        full_text=True,
    ),
    Source("Українська правда", "https://www.pravda.com.ua/rss/", language="uk", breaking=True),
    Source("GDELT", "https://api.gdeltproject.org/api/v2/doc/doc?mode=artlist", SourceKind.GDELT),
]


def test_follows_round_trip() -> None:
    """Every chat field and follow survives render -> parse unchanged (unicode, markup, threads)."""
    text = render_follows(CHATS, exported_at=NOW)
    assert parse_follows(text) == sorted(CHATS, key=lambda c: c.prefs.chat_id)
    assert parse_follows(text.encode("utf-8")) == parse_follows(text)
    assert json.loads(text)["exported_at"] == NOW.isoformat()


def _document(**chat: object) -> str:
    base: dict[str, object] = {"id": 7, "type": "private", "follows": []}
    base.update(chat)
    return json.dumps({"format": "conflictbot-follows", "version": 1, "chats": [base]})


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "not a conflictbot export"),
        ('{"format": "conflictbot-follows", "version": 2, "chats": []}', "version 2"),
        ('{"format": "conflictbot-follows", "version": 1}', '"chats" list'),
        (_document(id=True), "non-zero integer"),
        (_document(id="501"), "non-zero integer"),
        (_document(id=0), "non-zero integer"),
        (_document(type="bot"), "type must be"),
        (_document(timezone="Mars/Olympus"), "unknown timezone"),
        (_document(timezone="../../etc/passwd"), "unknown timezone"),
        (_document(quiet_start="25:00", quiet_end="07:00"), "HH:MM"),
        (_document(quiet_start="23:00"), "go together"),
        (_document(digest="weekly"), "digest must be"),
        (_document(digest_at="8am"), "HH:MM"),
        (_document(languages=["english"]), "languages"),
        (_document(languages="en"), "languages"),
        (_document(active="yes"), "true or false"),
        (_document(title=["x"]), "title must be text"),
        (_document(follows={"kind": "all"}), "follows must be a list"),
        (_document(follows=[{"kind": "regex", "value": ".*"}]), "kind must be"),
        (_document(follows=[{"kind": "keyword", "value": "x" * 201}]), "1 to 200"),
        (_document(follows=[{"kind": "keyword", "value": "  "}]), "1 to 200"),
        (_document(follows=[{"kind": "all", "value": "all", "thread_id": -1}]), "thread_id"),
        (
            json.dumps(
                {
                    "format": "conflictbot-follows",
                    "version": 1,
                    "chats": [{"id": 5, "follows": []}, {"id": 5, "follows": []}],
                }
            ),
            "listed twice",
        ),
    ],
)
def test_bad_follows_files_are_refused_with_a_reason(text: str, reason: str) -> None:
    """A hand-edited or foreign file is refused naming what is wrong, before any write."""
    with pytest.raises(ConfigError, match=reason):
        parse_follows(text)


def test_opml_round_trip() -> None:
    """Sources (kinds, languages, flags, names with markup) survive render -> parse."""
    text = render_opml(SOURCES, created=NOW)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0"')
    parsed = parse_opml(text)
    assert parsed.skipped == ()
    assert sorted(parsed.sources, key=lambda s: s.name) == sorted(SOURCES, key=lambda s: s.name)


def test_opml_from_another_reader() -> None:
    """A feed reader's export: folders flattened, odd attribute case, junk outlines skipped."""
    opml = b"""<?xml version="1.0" encoding="ISO-8859-1"?>
<opml version="1.0"><head><title>My feeds</title></head><body>
  <outline text="News" title="News">
    <outline text="Kyiv Independent" type="rss" xmlUrl="https://kyivindependent.com/feed/"
             htmlUrl="https://kyivindependent.com" language="en-US"/>
    <outline text="Deep">
      <outline title="Caf\xe9 Kyiv" xmlurl="http://cafe.example/rss"/>
    </outline>
  </outline>
  <outline text="Mail" xmlUrl="mailto:editor@example.org"/>
  <outline text="Kyiv Independent again" xmlUrl="https://kyivindependent.com/feed/"/>
  <outline text="Just a folder"/>
</body></opml>"""
    parsed = parse_opml(opml)
    assert parsed.sources == (
        Source("Kyiv Independent", "https://kyivindependent.com/feed/", language="en"),
        Source("Café Kyiv", "http://cafe.example/rss"),
    )
    assert len(parsed.skipped) == 2
    assert "only http(s)" in parsed.skipped[0]
    assert "listed twice" in parsed.skipped[1]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (
            b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><opml><body>'
            b'<outline text="&lol2;" xmlUrl="https://x.example/"/></body></opml>',
            "DTD",
        ),
        (b"<opml><body><outline", "not well-formed"),
        (b"<rss><channel/></rss>", "not OPML"),
        (b"", "not well-formed"),
    ],
)
def test_bad_opml_is_refused(data: bytes, reason: str) -> None:
    """Entity bombs, broken XML and other documents are refused with a reason."""
    with pytest.raises(ConfigError, match=reason):
        parse_opml(data)


@pytest.fixture
def cli_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str
) -> Iterator[dict[str, str]]:
    """Environment for `cli.main` on the test database; logging state put back afterwards."""
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)  # no stray .env
    env = {
        "DATABASE_URL": database_url,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": "http://127.0.0.1:9",
        "LOG_LEVEL": "WARNING",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, logging.getLogRecordFactory())
    hooks = (sys.excepthook, threading.excepthook)
    yield env
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    logging.setLogRecordFactory(saved[2])
    sys.excepthook, threading.excepthook = hooks
    logging.captureWarnings(False)
    for name in logs.QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)


async def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run `conflictbot ARGV` in a thread (it runs its own event loop), capture its output."""
    capsys.readouterr()
    code = await asyncio.to_thread(cli.main, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


async def test_export_and_import_follows_end_to_end(
    database_url: str, tmp_path: Path, cli_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Follows made through the bot export, import back after a wipe, and export the same."""
    async with harness(database_url, tmp_path) as h:
        reader = h.chat()
        await reader.send("/follow kursk drones")
        await reader.send("/quiet 23:00-07:00")
        group = h.chat(-4001, type="group", admins=(ADMIN_ID,), user_id=ADMIN_ID)
        await group.send("/follow all")
    code, exported, _ = await _cli(capsys, "export")
    assert code == 0
    document = json.loads(exported)
    by_id = {chat["id"]: chat for chat in document["chats"]}
    assert (by_id[501]["quiet_start"], by_id[501]["quiet_end"]) == ("23:00", "07:00")
    assert {f["value"] for f in by_id[501]["follows"]} == {"kursk", "drones"}
    assert by_id[-4001]["type"] == "group"
    assert by_id[-4001]["follows"] == [{"thread_id": 0, "kind": "all", "value": "all"}]

    engine = make_engine(database_url)
    async with engine.begin() as connection:
        await connection.execute(delete(FollowRow))
        await connection.execute(delete(ChatRow))
    await engine.dispose()
    backup = tmp_path / "follows.json"
    backup.write_text(exported)
    code, _, err = await _cli(capsys, "import", str(backup))
    assert code == 0
    assert f"imported {len(document['chats'])} chats and 3 new follows" in err
    code, again, _ = await _cli(capsys, "export")
    assert json.loads(again)["chats"] == document["chats"]
    code, _, err = await _cli(capsys, "import", str(backup))
    assert "and 0 new follows" in err, "importing twice adds nothing"


async def test_import_refuses_a_bad_file_without_a_traceback(
    cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A broken or missing file: exit 2, one line naming the problem, nothing written."""
    bad = tmp_path / "bad.json"
    bad.write_text(_document(timezone="Mars/Olympus"))
    for argv, reason in (
        (("import", str(bad)), "unknown timezone"),
        (("import", str(tmp_path / "missing.json")), "cannot read"),
        (("sources", "import"), "needs a file"),
    ):
        code, out, err = await _cli(capsys, *argv)
        assert code == 2
        assert reason in err
        assert "Traceback" not in out + err
    code, exported, _ = await _cli(capsys, "export")
    assert json.loads(exported)["chats"] == []


async def test_sources_export_and_import_end_to_end(
    database_url: str, tmp_path: Path, cli_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """OPML out lists every source; OPML in adds new feeds that the next pass fetches."""
    async with harness(database_url, tmp_path) as h:
        extra_url = h.feeds.url("/feeds/extra.rss")
        code, exported, _ = await _cli(capsys, "sources", "export")
        assert code == 0
        names = {s.name for s in parse_opml(exported).sources}
        assert names == {
            "Dnipro Ledger",
            "Black Sea Wire",
            "Northern Front Daily",
            "Kharkiv Courier",
        }

        dnipro = next(s for s in parse_opml(exported).sources if s.name == "Dnipro Ledger")
        h.feeds.set_feed(
            "/feeds/extra.rss", (SAMPLE_FEEDS_DIR / "black_sea_wire.atom").read_bytes()
        )
        opml = tmp_path / "reader.opml"
        opml.write_text(
            render_opml(
                [Source("Extra Wire", extra_url, language="en"), dnipro],
                created=NOW,
            )
        )
        code, _, err = await _cli(capsys, "sources", "import", str(opml))
        assert code == 0
        assert "added 1 sources, skipped 1" in err
        report = await h.fetch()
        assert {s.name: s.status for s in report.sources}["Extra Wire"] == "ok"
        code, exported, _ = await _cli(capsys, "sources", "export")
        assert "Extra Wire" in {s.name for s in parse_opml(exported).sources}
