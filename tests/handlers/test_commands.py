"""Every command of PRODUCT.md in a private chat, end to end through the emulator (issue #5).

`Newsdesk` (also used by the other conversation tests) publishes new items in a bundled feed,
so that the next fetch pass finds new stories and queues alerts for the chats that follow them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.utils import format_datetime
from html import escape
from pathlib import Path

from bot.emulator import FloodLimits, SentRecord
from bot.feedserver import SAMPLE_FEEDS_DIR, FeedServer
from bot.store import chats
from handlers import COMMANDS
from tests.conftest import ADMIN_ID
from tests.helpers import Harness, harness

FAST = {"limits": FloodLimits.off()}


def one_feed(feeds: FeedServer) -> str:
    """A sources file with only the Dnipro Ledger sample feed (a faster backlog fetch)."""
    url = feeds.url(f"/feeds/{FEED}")
    return f'[[source]]\nname = "Dnipro Ledger"\nurl = "{url}"\nlanguage = "en"\n'


def one_feed_and_a_broken_one(feeds: FeedServer) -> str:
    """The Dnipro Ledger, and a source whose address answers 404."""
    broken = feeds.url("/feeds/gone.rss")
    return one_feed(feeds) + f'\n[[source]]\nname = "Gone Gazette"\nurl = "{broken}"\n'


ONE_FEED = {"limits": FloodLimits.off(), "sources": one_feed}
WITH_BROKEN = {"limits": FloodLimits.off(), "sources": one_feed_and_a_broken_one}
FEED = "dnipro_ledger.rss"
UNKNOWN = "I don't know that command."
ONE_ITEM_FEED = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>Lone</title>'
    b"<link>https://lone.example/</link><description>One item</description>"
    b"<item><title>Only story</title><link>https://lone.example/1</link></item>"
    b"</channel></rss>"
)


@dataclass
class Newsdesk:
    """Adds items to a sample feed (the Dnipro Ledger unless told); the next `h.fetch()` stores
    them. Each feed keeps only its own items, so one story's reports from two outlets never
    share a link whichever feed the pass reads first."""

    h: Harness
    items: dict[str, list[str]] = field(default_factory=dict)

    def publish(self, slug: str, title: str, text: str, *, feed: str = FEED) -> str:
        """Add an item (published a minute ago by the bot's clock); returns its link."""
        link = f"https://dnipro-ledger.example/2026/{slug}/"
        published = format_datetime(self.h.clock.now.replace(microsecond=0), usegmt=True)
        items = self.items.setdefault(feed, [])
        items.append(
            f"<item><title>{escape(title)}</title><link>{link}</link>"
            f'<guid isPermaLink="false">{slug}</guid><pubDate>{published}</pubDate>'
            f"<description>{escape(text)}</description></item>"
        )
        body = (SAMPLE_FEEDS_DIR / feed).read_text()
        self.h.feeds.set_feed(
            f"/feeds/{feed}", body.replace("<item>", "".join(items) + "<item>", 1).encode()
        )
        return link

    async def alerts(self, chat_id: int, count: int = 1, *, since: int = 0) -> list[SentRecord]:
        """Wait for `count` alerts (messages with a Mute or Read button) to `chat_id`."""

        def is_alert(record: SentRecord) -> bool:
            return record.chat_id == chat_id and any(
                b.get("text") == "Read" for b in record.buttons
            )

        return await self.h.emulator.wait_for(is_alert, count, since=since, timeout=15)


def texts(records: list[SentRecord]) -> str:
    return "\n".join(r.text or r.caption or "" for r in records)


def headlines(records: list[SentRecord]) -> list[str]:
    """The numbered, bold headlines of a story list."""
    return re.findall(r"^\d+\. <b>(?:<a [^>]*>)?(.*?)(?:</a>)?</b>", texts(records), re.M)


async def test_reading_commands(database_url: str, tmp_path: Path) -> None:
    """/start, /help, /latest [N], /topic (24 h counts of what was published), /topic NAME
    by key, label, alias, any case or accent, /sources with health, /trend, and @BotName
    suffixes all answer; so does every example /help gives."""
    async with harness(database_url, tmp_path, **WITH_BROKEN) as h:
        Newsdesk(h).publish(
            "kursk-today",
            "Shelling near Kursk border villages",
            "Kursk region officials reported shelling near Sudzha overnight; two were hurt.",
        )
        await h.fetch()
        chat = h.chat()
        (welcome,) = await chat.send("/start", settle=0.1)
        assert "/follow kursk" in welcome.text
        assert "Follow Kursk" in [b["text"] for b in welcome.buttons]
        (help_text,) = await chat.send("/help", settle=0.1)
        shown = help_text.render()
        for command in COMMANDS:
            listed = re.search(rf"^/{command.name}\b", shown, re.MULTILINE) is not None
            assert listed is not command.admin_only, command.name
            assert (command.example in shown) is not command.admin_only, command.example
        assert "/follow, /subscribe" in shown and "/unfollow, /unsubscribe" in shown
        assert len(headlines(await chat.send("/latest", settle=0.1))) == 5
        assert len(headlines(await chat.send("/latest 3", settle=0.1))) == 3
        assert (
            len(headlines(await chat.send(f"/latest@{h.emulator.bot_username} 1", settle=0.1))) == 1
        )
        (counts,) = await chat.send("/topic", settle=0.1)
        assert "last 24 h" in counts.text
        # By publication (audit 6): today's story counts, the May backlog fetched today not.
        assert "Kursk: 1\n" in counts.text and "Kharkiv: 0" in counts.text
        for name in ("north-korea", "North Korea", "dprk", "NORTH KORÉA", "КНДР"):
            listing = await chat.send(f"/topic {name}", settle=0.1)
            assert "Latest on North Korea" in listing[0].text, name
            assert headlines(listing)
        (sources,) = await chat.send("/sources", settle=0.1)
        healthy, broken = sources.render().splitlines()[1:]
        assert healthy.startswith("🟢 Dnipro Ledger") and "last success" in healthy
        assert broken.startswith("🟡 Gone Gazette") and "never" in broken and "404" in broken
        (chart,) = await chat.send("/trend kursk", settle=0.1)
        assert chart.method == "sendPhoto"
        assert chart.caption and "Kursk" in chart.caption
        for command in COMMANDS:
            if not command.admin_only:
                answers = await chat.send(command.example, settle=0.1)
                assert not texts(answers).startswith("⚠️"), (command.example, texts(answers))


async def test_plain_text_unknown_commands_and_admin_commands(
    database_url: str, tmp_path: Path
) -> None:
    """Plain text points to /help or shows the topic it names; an unknown command gets a
    hint to /help; admin commands from anyone else get exactly that hint, and work for ADMIN_IDS."""
    async with harness(database_url, tmp_path, **WITH_BROKEN) as h:
        await h.fetch()
        chat = h.chat()
        (pointer,) = await chat.send("hello, what is new?", settle=0.1)
        assert "/help" in pointer.text
        named = await chat.send("North Korea", settle=0.1)
        assert "Latest on North Korea" in named[0].text
        (unknown,) = await chat.send("/nonsense", settle=0.1)
        assert UNKNOWN in unknown.text and "/help" in unknown.text
        for command in (
            "/stats",
            "/health",
            "/addsource https://example.org/rss",
            "/removesource x",
        ):
            (refused,) = await chat.send(command, settle=0.1)
            assert refused.text == unknown.text, command
        admin = h.chat(ADMIN_ID)
        (stats,) = await admin.send("/stats", settle=0.1)
        for key in (
            "active chats",
            "follows",
            "stories",
            "sources: 2",
            "alerts sent (24 h)",
            "queue depth",
        ):
            assert key in stats.text
        (health,) = await admin.send("/health", settle=0.1)
        assert "database: ok" in health.text
        assert "sources failing: 1 of 2 (Gone Gazette)" in health.text
        (refused,) = await admin.send(
            f"/addsource {h.feeds.url('/feeds/black_sea_wire.atom')} X", settle=0.1
        )
        assert "loopback" in refused.text
        (scheme,) = await admin.send("/addsource ftp://example.org/feed", settle=0.1)
        assert "http://" in scheme.text
        (missing,) = await admin.send("/removesource Nowhere Gazette", settle=0.1)
        assert "No source called" in missing.text


async def test_addsource_and_removesource_when_private_sources_are_allowed(
    database_url: str, tmp_path: Path
) -> None:
    """With ALLOW_PRIVATE_SOURCES the admin adds a loopback feed after one fetch that checks it
    is a feed; /sources lists it, with that fetch as its last success (audit 8); a page that
    is no feed is refused; /removesource stops it."""
    async with harness(database_url, tmp_path, allow_private_sources=True, **FAST) as h:
        body = (SAMPLE_FEEDS_DIR / "kharkiv_courier.rdf").read_bytes()
        h.feeds.set_feed("/extra/feed.rdf", body, "application/rdf+xml")
        h.feeds.set_feed("/extra/page.html", b"<html><body>hello</body></html>", "text/html")
        admin = h.chat(ADMIN_ID)
        (added,) = await admin.send(
            f"/addsource {h.feeds.url('/extra/feed.rdf')} Extra Courier", settle=0.1
        )
        assert "Added <b>Extra Courier</b>" in added.text
        assert h.feeds.hits("/extra/feed.rdf") == 1
        (again,) = await admin.send(
            f"/addsource {h.feeds.url('/extra/feed.rdf')} Extra Courier", settle=0.1
        )
        assert "exists already" in again.text
        (page,) = await admin.send(f"/addsource {h.feeds.url('/extra/page.html')} Page", settle=0.1)
        assert "not a feed" in page.text
        (listing,) = await admin.send("/sources", settle=0.1)
        assert "Extra Courier" in listing.text and "Page" not in listing.text
        (extra,) = [line for line in listing.render().splitlines() if "Extra Courier" in line]
        assert "last success" in extra and "never" not in extra, extra
        h.feeds.set_feed("/extra/one.rss", ONE_ITEM_FEED, "application/rss+xml")
        (one,) = await admin.send(f"/addsource {h.feeds.url('/extra/one.rss')} Lone", settle=0.1)
        assert "(1 item now)" in one.text, one.text
        (removed,) = await admin.send("/removesource Extra Courier", settle=0.1)
        assert "Stopped polling" in removed.text
        (listing,) = await admin.send("/sources", settle=0.1)
        assert "Extra Courier" not in listing.text


async def test_settings_commands_change_what_following_shows(
    database_url: str, tmp_path: Path
) -> None:
    """/timezone (with a suggestion on a typo), /quiet, /digest, /language change the settings
    /following shows; /language also filters /latest; `/digest off` and `/quiet off` undo."""
    async with harness(database_url, tmp_path, **FAST) as h:
        await h.fetch()
        chat = h.chat()
        (typo,) = await chat.send("/timezone Europe/Kyv", settle=0.1)
        assert "Did you mean Europe/Kyiv?" in typo.text
        assert "<code>/timezone Europe/Kyiv</code>" in typo.text
        for command, answer in (
            ("/timezone europe/kyiv", "Europe/Kyiv"),
            ("/quiet 23:00-07:00", "Quiet from 23:00 to 07:00 (Europe/Kyiv)"),
            ("/digest daily 08:30", "One digest a day at 08:30"),
            ("/language uk", "Stories in: uk"),
        ):
            (reply,) = await chat.send(command, settle=0.1)
            assert answer in reply.text, command
        (shown,) = await chat.send("/following", settle=0.1)
        for setting in (
            "Europe/Kyiv",
            "Quiet hours: 23:00-07:00",
            "daily at 08:30",
            "Languages: uk",
        ):
            assert setting in shown.text
        ukrainian = headlines(await chat.send("/latest 5", settle=0.1))
        assert ukrainian and all(re.search("[а-яіїєґ]", line, re.I) for line in ukrainian)
        for command, answer in (
            ("/digest off", "Instant alerts"),
            ("/digest hourly", "One digest an hour"),
            ("/quiet off", "Quiet hours are off"),
            ("/language all", "Stories in: all languages"),
            ("/timezone UTC+3", "Etc/GMT-3"),
        ):
            (reply,) = await chat.send(command, settle=0.1)
            assert answer in reply.text, command
        (shown,) = await chat.send("/following", settle=0.1)
        assert "Quiet hours: off" in shown.text and "Digest: hourly" in shown.text
        assert "Languages: all" in shown.text


CYRILLIC = re.compile("[а-яіїєґ]", re.I)
NONE_IN_LANGUAGES = "Nothing here in your languages ({}); <code>/language all</code> shows every"


async def test_language_filters_topics_and_searches_and_says_so(
    database_url: str, tmp_path: Path
) -> None:
    """/language filters /topic NAME and searches as it does /latest (audit 5); a list left
    empty by the filter says so and how to see everything, and an empty /latest is not headed
    "Latest 0 stories"; a code no story can carry is refused (audit 4)."""
    async with harness(database_url, tmp_path, **FAST) as h:
        await h.fetch()
        chat = h.chat()
        (refused,) = await chat.send("/language xx", settle=0.1)
        assert "'xx' is not a language" in refused.text
        assert "<code>/language en uk</code>" in refused.text
        (refused,) = await chat.send("/language all en", settle=0.1)
        assert "all alone" in refused.text
        await chat.send("/language en", settle=0.1)
        english = headlines(await chat.send("/topic kharkiv", settle=0.1))
        assert english and not any(CYRILLIC.search(line) for line in english)
        (search,) = await chat.send("/topic Сапери", settle=0.1)
        assert NONE_IN_LANGUAGES.format("en") in search.text, search.text
        await chat.send("/language uk", settle=0.1)
        ukrainian = headlines(await chat.send("/topic kharkiv", settle=0.1))
        assert ukrainian and all(CYRILLIC.search(line) for line in ukrainian)
        assert "Сапери" in headlines(await chat.send("/topic Сапери", settle=0.1))[0]
        await chat.send("/language de", settle=0.1)
        for command in ("/latest", "/topic kharkiv", "/topic Kharkiv trains"):
            (empty,) = await chat.send(command, settle=0.1)
            assert NONE_IN_LANGUAGES.format("de") in empty.text, (command, empty.text)
            assert "Latest 0" not in empty.text
        (nothing,) = await chat.send("/topic zzqqx", settle=0.1)
        assert "No stories match" in nothing.text


async def test_language_of_a_configured_source_is_accepted(
    database_url: str, tmp_path: Path
) -> None:
    """A language a source is configured with counts, even one detection never answers."""

    def esperanto(feeds: FeedServer) -> str:
        return one_feed(feeds).replace('language = "en"', 'language = "eo"')

    async with harness(database_url, tmp_path, limits=FloodLimits.off(), sources=esperanto) as h:
        (answer,) = await h.chat().send("/language eo en", settle=0.1)
        assert "Stories in: en eo" in answer.text


async def test_stop_asks_then_deletes_and_alerts_stop(database_url: str, tmp_path: Path) -> None:
    """/stop asks with a button; Cancel changes nothing; Yes deletes the chat's follows and
    settings, and a later story that it used to follow is queued only for another chat."""
    async with harness(database_url, tmp_path, **ONE_FEED) as h:
        await h.fetch()
        desk = Newsdesk(h)
        chat, control = h.chat(), h.chat(502)
        await chat.send("/follow kursk", settle=0.1)
        await control.send("/follow kursk", settle=0.1)
        await chat.send("/timezone Europe/Kyiv", settle=0.1)
        (question,) = await chat.send("/stop", settle=0.1)
        await chat.press(question, "Cancel")
        assert "Nothing changed" in h.emulator.messages_to(chat.chat_id)[-1].text
        assert h.emulator.callback_answers[-1].text == "Nothing changed"
        (question,) = await chat.send("/stop", settle=0.1)
        await chat.press(question, "Yes, stop and delete")
        (edited,) = [
            m for m in h.emulator.messages_to(chat.chat_id) if m.message_id == question.message_id
        ]
        assert "Everything about this chat is deleted" in edited.text and not edited.buttons
        async with h.deps.sessions() as session:
            assert await chats.get_prefs(session, chat.chat_id) is None
            assert await chats.follows(session, chat.chat_id) == []
        desk.publish(
            "kursk-after-stop",
            "Shelling near Kursk border villages",
            "Kursk region officials reported shelling near Sudzha overnight.",
        )
        report = await h.fetch()
        assert report.new_stories == 1 and report.queued == 1  # for the control chat only
        (alert,) = await desk.alerts(control.chat_id)
        assert "Shelling near Kursk" in alert.text


async def test_follow_by_any_name_with_suggestions_all_and_limits(
    database_url: str, tmp_path: Path
) -> None:
    """/follow takes a topic's key, label or alias in any case or accent (several words too),
    suggests the nearest topics for a typo, follows everything with `all`, and stops at
    MAX_FOLLOWS things per chat; /unfollow and /unsubscribe undo. A thing named twice in one
    command is followed once, not also "already followed" (audit 8)."""
    async with harness(database_url, tmp_path, **ONE_FEED) as h:
        chat = h.chat()
        for command, answer in (
            ("/follow North Korea", "Following: <b>North Korea</b>"),
            ("/subscribe DPRK", "Already following: North Korea"),
            (
                "/follow KÚRSK air defense",
                "Following: <b>Kursk</b>, <b>Missiles and air defence</b>",
            ),
            ("/follow kursj", "Did you mean <code>kursk</code>?"),
            ("/follow drones drones UAV", "✅ Following: <b>Drones</b>"),
            ('/follow "grain deal" "grain  deal"', "✅ Following: <b>“grain deal”</b>"),
            ("/unfollow drones", "Stopped: <b>Drones</b>"),
            ('/unfollow "grain deal"', "Stopped: <b>“grain deal”</b>"),
            ("/follow all", "Following: <b>everything</b>"),
            ("/unsubscribe kursk", "Stopped: <b>Kursk</b>"),
            ("/unfollow dprk all", "Stopped: <b>North Korea</b>, <b>everything</b>"),
            ("/unfollow air defence", "Not followed here: air defence"),
        ):
            (reply,) = await chat.send(command, settle=0.1)
            assert answer in reply.text, command
            assert "Already" not in reply.text or "Already" in answer, (command, reply.text)
        for batch in range(5):
            words = " ".join(f'"phrase {batch} {n}"' for n in range(10))
            (reply,) = await chat.send(f"/follow {words}", settle=0.1)
            assert "Following" in reply.text or "At most" in reply.text, reply.text
        async with h.deps.sessions() as session:
            assert await chats.count_follows(session, chat.chat_id, 0) == chats.MAX_FOLLOWS
        (refused,) = await chat.send('/follow "one too many"', settle=0.1)
        assert f"at most {chats.MAX_FOLLOWS} things" in refused.text
        async with h.deps.sessions() as session:
            assert await chats.count_follows(session, chat.chat_id, 0) == chats.MAX_FOLLOWS


async def test_own_phrases_and_exclusions_decide_alerts(database_url: str, tmp_path: Path) -> None:
    """A followed "phrase" brings alerts for stories of no followed topic (and only those); an
    -exclusion keeps out stories that mention it even when the chat follows everything;
    phrases are plain text (regex syntax matches nothing special)."""
    async with harness(database_url, tmp_path, **ONE_FEED) as h:
        await h.fetch()
        desk = Newsdesk(h)
        reader, everything = h.chat(), h.chat(502)
        (reply,) = await reader.send('/follow "village council" "[Kk]ursk+"', settle=0.1)
        assert "“village council”" in reply.text and "“[Kk]ursk+”" in reply.text
        (reply,) = await everything.send("/follow all -football", settle=0.1)
        assert "<b>everything</b>, <b>not football</b>" in reply.text
        since = len(h.emulator.sent)
        desk.publish(
            "council-vote",
            "Village council in Petrykivka votes to rebuild the bridge",
            "The village council of Petrykivka voted on Monday to rebuild the old bridge.",
        )
        desk.publish(
            "football-derby",
            "Dnipro football club signs a goalkeeper from Lviv",
            "The goalkeeper, 24, joins on a two-year contract before the autumn football season.",
        )
        desk.publish(
            "kursk-drones",
            "Drones strike a fuel depot near Kursk",
            "Regional officials in Kursk said drones set a fuel depot on fire overnight.",
        )
        report = await h.fetch()
        # Queued: the council story for the reader; council and Kursk for "all -football".
        assert report.new_stories == 3 and report.queued == 3
        (council,) = await desk.alerts(reader.chat_id, since=since)
        assert "Village council in Petrykivka" in council.text
        alerts = await desk.alerts(everything.chat_id, 2, since=since)
        assert "Petrykivka" in alerts[0].text and "Kursk" in alerts[1].text


async def test_a_refused_answer_gets_a_plain_apology(database_url: str, tmp_path: Path) -> None:
    """Telegram refusing an answer (400: its markup, its buttons) left the chat with nothing:
    a plain-text apology follows, and the next command is answered as usual."""
    async with harness(database_url, tmp_path, **ONE_FEED) as h:
        h.emulator.fail_next("sendMessage", 400, "Bad Request: can't parse entities")
        chat = h.chat()
        (apology,) = await chat.send("/help", settle=0.3)
        assert apology.text == "Sorry, Telegram refused my answer. Please try again."
        (answer,) = await chat.send("/help")
        assert "/latest" in answer.text
