"""Inline buttons end to end: under an alert, under /start, /following and /stop, and forged
ones; every press is answered exactly once (answerCallbackQuery) (issue #5)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from bot.emulator import SentRecord
from bot.store import chats
from bot.store.chats import FollowKind
from tests.handlers.test_commands import FAST, ONE_FEED, Newsdesk
from tests.helpers import harness

TITLE = "North Korean artillery crews shell villages near Sudzha in Kursk region"
TEXT = (
    "North Korean artillery crews shelled three villages near Sudzha in Russia's Kursk region "
    "on Tuesday morning, regional officials said, wounding two civilians and damaging a school."
)
OTHER_KURSK = (
    "The governor of Kursk opened a centre in the regional capital where evacuated families "
    "from border districts can apply for housing and payments, his office announced."
)
GRID = (
    "Engineers restored electricity to most districts of Kyiv on Wednesday after overnight "
    "strikes on energy facilities, the city administration said."
)
RYLSK = (
    "A drone attack on the town of Rylsk in Russia's Kursk region damaged a warehouse on "
    "Thursday night, local officials said; nobody was hurt."
)


async def test_alert_buttons_read_more_mute_undo_and_outlets(
    database_url: str, tmp_path: Path
) -> None:
    """Under an alert: Read opens the story, More on Kursk lists Kursk's latest, Mute Kursk
    unfollows with an Undo that follows again, and "2 outlets" lists both reports."""
    async with harness(database_url, tmp_path, **FAST) as h:
        await h.fetch()
        desk = Newsdesk(h)
        chat = h.chat()
        await chat.send("/follow kursk", settle=0.1)
        link = desk.publish("sudzha-shelling", TITLE, TEXT)
        desk.publish(
            "sudzha-shelling-2",
            TITLE,
            TEXT + " A church was hit too.",
            feed="northern_front_daily.rss",
        )
        report = await h.fetch()
        assert report.new_stories == 1 and report.merged == 1
        (sent,) = await desk.alerts(chat.chat_id)
        alert = await _current(h, sent, lambda m: len(m.buttons) == 4)  # edited once merged
        labels = [b["text"] for b in alert.buttons]
        assert labels == ["Read", "More on Kursk", "Mute Kursk", "2 outlets"]
        assert alert.buttons[0]["url"].startswith(link.rsplit("/", 2)[0] + "/sudzha-shelling")
        more = await chat.press(alert, "More on Kursk")
        assert more[0].text.startswith("<b>Latest on Kursk</b>")
        assert TITLE in more[0].text
        (outlets,) = await chat.press(alert, "2 outlets")
        assert "Dnipro Ledger" in outlets.text and "Northern Front Daily" in outlets.text
        (muted,) = await chat.press(alert, "Mute Kursk")
        assert "Muted <b>Kursk</b>" in muted.text
        assert await _follows(h, chat.chat_id) == []
        assert await chat.press(muted, "Undo: follow Kursk") == []
        (undone,) = [
            m for m in h.emulator.messages_to(chat.chat_id) if m.message_id == muted.message_id
        ]
        assert "Following <b>Kursk</b> again" in undone.text and not undone.buttons
        assert await _follows(h, chat.chat_id) == [(FollowKind.TOPIC, "kursk")]
        undo = muted.button_data("Undo: follow Kursk")  # pressed again: a double tap
        h.emulator.press_button(chat.chat_id, muted.message_id, undo, check=False)
        await _answered(h, 5)
        answers = [a.text for a in h.emulator.callback_answers]
        assert answers == [None, None, "Muted Kursk", "Following Kursk", "Following Kursk"]
        assert h.deps.counters.get("handler_errors", 0) == 0


async def test_mute_under_an_alert_works_for_a_chat_that_follows_everything(
    database_url: str, tmp_path: Path
) -> None:
    """A chat that follows everything (or other topics) gets "Mute Kursk" under a Kursk
    alert: pressing it mutes Kursk there, so the next Kursk story skips the chat while other
    news still comes; its Undo lifts the mute and leaves the follows as they were."""
    async with harness(database_url, tmp_path, **FAST) as h:
        await h.fetch()
        desk = Newsdesk(h)
        chat = h.chat()
        await chat.send("/follow all", settle=0.1)
        desk.publish("sudzha-shelling", TITLE, TEXT)
        await h.fetch()
        (alert,) = await desk.alerts(chat.chat_id)
        (muted,) = await chat.press(alert, "Mute Kursk")
        assert "Muted <b>Kursk</b>" in muted.text
        assert h.emulator.callback_answers[-1].text == "Muted Kursk"
        assert await _follows(h, chat.chat_id) == [
            (FollowKind.ALL, "all"),
            (FollowKind.MUTE, "kursk"),
        ]
        (listing,) = await chat.send("/following", settle=0.1)
        assert "• everything" in listing.text and "• muted: Kursk" in listing.text

        since = len(h.emulator.sent)
        desk.publish(
            "evacuation", "Kursk governor opens evacuation centre for families", OTHER_KURSK
        )
        desk.publish("grid", "Engineers restore power to Kyiv after energy strikes", GRID)
        assert (await h.fetch()).new_stories == 2
        (arrived,) = await desk.alerts(chat.chat_id, since=since)
        assert "Kyiv" in (arrived.text or "")
        await asyncio.sleep(1.0)
        assert len(await desk.alerts(chat.chat_id, 1, since=since)) == 1, "no Kursk alert"

        assert await chat.press(muted, "Undo: unmute Kursk") == []
        (undone,) = [
            m for m in h.emulator.messages_to(chat.chat_id) if m.message_id == muted.message_id
        ]
        assert "<b>Kursk</b> is no longer muted" in undone.text and not undone.buttons
        assert await _follows(h, chat.chat_id) == [(FollowKind.ALL, "all")]
        since = len(h.emulator.sent)
        desk.publish("rylsk", "Warehouse in Rylsk burns after night drone attack", RYLSK)
        assert (await h.fetch()).new_stories == 1
        (back,) = await desk.alerts(chat.chat_id, since=since)
        assert "Rylsk" in (back.text or "")

        idle = h.chat(502)  # follows nothing: a Mute press has nothing to mute
        (welcome,) = await idle.send("/start", settle=0.1)
        h.emulator.press_button(idle.chat_id, welcome.message_id, "1x:kursk", check=False)
        await asyncio.sleep(0.5)
        assert "was not followed here" in (h.emulator.callback_answers[-1].text or "")
        assert await _follows(h, idle.chat_id) == []
        assert h.deps.counters.get("handler_errors", 0) == 0


async def test_following_a_muted_topic_lifts_the_mute(database_url: str, tmp_path: Path) -> None:
    """/follow kursk after muting Kursk from an alert means Kursk again."""
    async with harness(database_url, tmp_path, **FAST) as h:
        await h.fetch()
        desk = Newsdesk(h)
        chat = h.chat()
        await chat.send("/follow drones", settle=0.1)
        desk.publish("sudzha-drone", "Drone attack damages school in Sudzha, Kursk region", TEXT)
        await h.fetch()
        (alert,) = await desk.alerts(chat.chat_id)
        await chat.press(alert, "Mute Kursk")
        assert (FollowKind.MUTE, "kursk") in await _follows(h, chat.chat_id)
        await chat.send("/follow kursk", settle=0.1)
        assert await _follows(h, chat.chat_id) == [
            (FollowKind.TOPIC, "drones"),
            (FollowKind.TOPIC, "kursk"),
        ]


async def test_an_old_remove_button_never_removes_a_later_follow(
    database_url: str, tmp_path: Path
) -> None:
    """A ✖ under an old /following names one follow: after that follow is gone and SQLite has
    given its id to a new one (a topic, or another phrase), pressing it removes nothing."""
    async with harness(database_url, tmp_path, **ONE_FEED) as h:
        chat = h.chat()
        await chat.send('/follow drones "grain corridor"', settle=0.1)
        (listing,) = await chat.send("/following", settle=0.1)
        await chat.send('/unfollow "grain corridor"', settle=0.1)
        await chat.send('/follow kursk "Kyiv metro"', settle=0.1)
        assert await chat.press(listing, "✖ “grain corridor”") == []
        assert h.emulator.callback_answers[-1].text == "Already removed"
        assert await _follows(h, chat.chat_id) == [
            (FollowKind.TOPIC, "drones"),
            (FollowKind.TOPIC, "kursk"),
            (FollowKind.KEYWORD, "Kyiv metro"),
        ]


async def test_start_and_following_buttons(database_url: str, tmp_path: Path) -> None:
    """/start's Follow buttons follow; /following's ✖ buttons remove a topic or a phrase and
    redraw the list; a button from before the redraw is answered "Already removed"."""
    async with harness(database_url, tmp_path, **ONE_FEED) as h:
        chat = h.chat()
        (welcome,) = await chat.send("/start", settle=0.1)
        await chat.press(welcome, "Follow Kursk")
        await chat.press(welcome, "Follow Drones")
        assert h.emulator.callback_answers[-1].text == "Following Drones"
        await chat.send('/follow "Zaporizhzhia plant" -football', settle=0.1)
        (listing,) = await chat.send("/following", settle=0.1)
        labels = [b["text"] for b in listing.buttons]
        assert labels == ["✖ Kursk", "✖ Drones", "✖ “Zaporizhzhia plant”", "✖ −football"]
        old_kursk = listing.button_data("✖ Kursk")
        await chat.press(listing, "✖ Kursk")
        (current,) = [
            m for m in h.emulator.messages_to(chat.chat_id) if m.message_id == listing.message_id
        ]
        assert "Kursk" not in current.text and "Drones" in current.text
        await chat.press(current, "✖ “Zaporizhzhia plant”")
        assert h.emulator.callback_answers[-1].text == "Removed Zaporizhzhia plant"
        (current,) = [
            m for m in h.emulator.messages_to(chat.chat_id) if m.message_id == listing.message_id
        ]
        assert "Zaporizhzhia" not in current.text
        assert [b["text"] for b in current.buttons] == ["✖ Drones", "✖ −football"]
        h.emulator.press_button(chat.chat_id, listing.message_id, old_kursk, check=False)
        await _answered(h, 5)
        assert h.emulator.callback_answers[-1].text == "Already removed"
        assert await _follows(h, chat.chat_id) == [
            (FollowKind.TOPIC, "drones"),
            (FollowKind.EXCLUDE, "football"),
        ]


FORGED = [
    # (callback data, the notice expected, or "" for any polite one)
    ("garbage", "no longer valid"),
    ("", "no longer valid"),
    ("1m:", "no longer valid"),
    ("2m:kursk", "no longer valid"),
    ("1z:kursk", "no longer valid"),
    ("1s:now", "no longer valid"),
    ("1k:abc", "no longer valid"),
    ("1o:0", "no longer valid"),
    ("1m:kursk" + "x" * 70, "no longer valid"),
    ("1m:atlantis", "topic no longer exists"),
    ("1x:atlantis", "topic no longer exists"),
    ("1u:кндр", "topic no longer exists"),
    ("1o:999999999999", "no longer stored"),
    ("1k:999999999999", "Already removed"),
    ("1k:2147483648", "Already removed"),
    ("1t:kursk", "Already removed"),
]


async def test_forged_and_stale_callback_data_is_answered_politely(
    database_url: str, tmp_path: Path
) -> None:
    """Forged, stale or garbled callback data gets one polite answer each and changes nothing;
    the bot still answers afterwards (on PostgreSQL too, where ids beyond 32 bits must not
    reach an INTEGER column)."""
    async with harness(database_url, tmp_path, **ONE_FEED) as h:
        chat = h.chat()
        (welcome,) = await chat.send("/start", settle=0.1)
        await chat.send("/follow drones", settle=0.1)
        ids = [
            h.emulator.press_button(chat.chat_id, welcome.message_id, data, check=False)
            for data, _ in FORGED
        ]
        await _answered(h, len(FORGED))
        await asyncio.sleep(0.3)
        answers = {a.callback_query_id: a for a in h.emulator.callback_answers}
        assert Counter(a.callback_query_id for a in h.emulator.callback_answers) == Counter(ids)
        for query_id, (data, notice) in zip(ids, FORGED, strict=True):
            assert notice in (answers[query_id].text or ""), data
        assert await _follows(h, chat.chat_id) == [(FollowKind.TOPIC, "drones")]
        assert await chat.send("/latest 1", settle=0.1)


async def test_group_members_cannot_press_admin_buttons(database_url: str, tmp_path: Path) -> None:
    """In a group a member may press More but not Mute, Follow, ✖ or Stop: those get an alert
    saying only admins may, and nothing changes."""
    async with harness(database_url, tmp_path, **ONE_FEED) as h:
        group = h.chat(-800, type="supergroup", admins=(7,), user_id=9)
        (welcome,) = await group.send("/start", user_id=7, settle=0.1)
        await group.press(welcome, "Follow Kursk", user_id=7)
        assert h.emulator.callback_answers[-1].text == "Following Kursk"
        for data in ("1x:kursk", "1f:drones", "1t:kursk", "1s:"):
            h.emulator.press_button(-800, welcome.message_id, data, user_id=9, check=False)
        await _answered(h, 5)
        for answer in h.emulator.callback_answers[1:]:
            assert answer.show_alert and "Only admins" in (answer.text or "")
        assert await _follows(h, -800) == [(FollowKind.TOPIC, "kursk")]


async def _follows(h, chat_id: int) -> list[tuple[FollowKind, str]]:  # type: ignore[no-untyped-def]
    async with h.deps.sessions() as session:
        return [(f.kind, f.value) for f in await chats.follows(session, chat_id)]


async def _current(h, sent: SentRecord, ready: Callable[[SentRecord], bool]) -> SentRecord:  # type: ignore[no-untyped-def]
    """The message as it stands after edits, once `ready` (waits up to 10 s)."""
    for _ in range(200):
        (current,) = [
            m for m in h.emulator.messages_to(sent.chat_id) if m.message_id == sent.message_id
        ]
        if ready(current):
            return current
        await asyncio.sleep(0.05)
    raise AssertionError(f"message {sent.message_id} never got ready: {current.render()}")


async def _answered(h, count: int) -> None:  # type: ignore[no-untyped-def]
    """Wait (up to 10 s) until the emulator has `count` callback answers."""
    for _ in range(200):
        if len(h.emulator.callback_answers) >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{len(h.emulator.callback_answers)} of {count} presses answered")
