"""Groups, supergroups, forum threads and channels, end to end through the emulator (issue #5).

The bot sends at most one message every 3 s to a group (Telegram's 20 a minute), so the
tables below give each row a group of its own instead of waiting.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.emulator import Emulator
from bot.store import chats
from bot.store.chats import FollowKind
from tests.handlers.test_commands import ONE_FEED, UNKNOWN, Newsdesk
from tests.helpers import harness

ADMIN, MEMBER = 7, 9
REFUSED = "Only admins of this group"
KURSK_TITLE = "Shelling near Kursk border villages"
KURSK_TEXT = "Kursk region officials reported shelling near Sudzha overnight; two were hurt."

GROUP_ROWS = [
    # (chat type, who, command, expected answer)
    ("supergroup", ADMIN, "/follow kursk", "Following: <b>Kursk</b>"),
    ("group", ADMIN, "/follow@conflictbot_bot drones", "Following: <b>Drones</b>"),
    ("supergroup", MEMBER, "/follow kursk", REFUSED),
    ("group", MEMBER, "/subscribe all", REFUSED),
    ("supergroup", MEMBER, "/unfollow all", REFUSED),
    ("supergroup", MEMBER, "/timezone Europe/Kyiv", REFUSED),
    ("supergroup", MEMBER, "/quiet 23:00-07:00", REFUSED),
    ("supergroup", MEMBER, "/digest hourly", REFUSED),
    ("supergroup", MEMBER, "/language en", REFUSED),
    ("supergroup", MEMBER, "/stop", REFUSED),
    ("supergroup", ADMIN, "/timezone Europe/Kyiv", "Europe/Kyiv"),
    ("supergroup", MEMBER, "/latest 1", "Latest story"),
    ("supergroup", MEMBER, "/latest@conflictbot_bot 2", "Latest 2 stories"),
    ("group", MEMBER, "/topic kursk", "Latest on Kursk"),
    ("supergroup", MEMBER, "/topic", "stories in the last 24 h"),
    ("supergroup", MEMBER, "/following", "This chat follows"),
    ("supergroup", MEMBER, "/sources", "Dnipro Ledger"),
    ("supergroup", MEMBER, "/help", "/follow"),
    ("supergroup", MEMBER, "/nonsense@conflictbot_bot", UNKNOWN),
    ("supergroup", MEMBER, "/stats", UNKNOWN),
]


async def test_members_read_but_only_admins_change(database_url: str, tmp_path: Path) -> None:
    """In groups and supergroups anyone may read; only administrators (getChatMember) may change
    follows and settings; @BotName suffixes work; a refused change changes nothing."""
    async with harness(database_url, tmp_path, **ONE_FEED) as h:
        await h.fetch()
        assert h.emulator.bot_username == "conflictbot_bot"
        groups = [
            h.chat(-100 - number, type=kind, admins=(ADMIN,), user_id=user)
            for number, (kind, user, _, _) in enumerate(GROUP_ROWS, 1)
        ]
        # Each row in its own group, all at once: the bot sends a group one message per 3 s.
        answers = await asyncio.gather(
            *(group.send(row[2], settle=0.2) for group, row in zip(groups, GROUP_ROWS, strict=True))
        )
        for (_, user, command, expected), (answer,) in zip(GROUP_ROWS, answers, strict=True):
            assert expected in answer.text, (command, user, answer.text)
        async with h.deps.sessions() as session:
            for group, (_, _, _, expected) in zip(groups, GROUP_ROWS, strict=True):
                if expected == REFUSED:
                    prefs = await chats.get_prefs(session, group.chat_id)
                    assert await chats.follows(session, group.chat_id) == []
                    assert prefs is not None and prefs.timezone == "UTC"
        assert h.emulator.requests_by_method["getChatAdministrators"] >= 9


async def test_an_anonymous_admin_may_change_settings(database_url: str, tmp_path: Path) -> None:
    """An admin posting anonymously (as the group, from GroupAnonymousBot) is an admin of that
    group and may change what it follows (audit 3); a member still may not."""
    async with harness(database_url, tmp_path, **ONE_FEED) as h:
        group = h.chat(-250, type="supergroup", admins=(ADMIN,), user_id=MEMBER)
        since = len(h.emulator.sent)
        h.emulator.user_says(group.chat_id, "/follow energy", as_group=True)
        (answer,) = await group.replies(since, settle=0.2)
        assert "Following: <b>Energy" in answer.text, answer.text
        (refused,) = await group.send("/language en")
        assert REFUSED in refused.text
        async with h.deps.sessions() as session:
            (follow,) = await chats.follows(session, group.chat_id)
        assert follow.kind is FollowKind.TOPIC and follow.value == "energy"


async def test_commands_for_other_bots_are_left_alone(database_url: str, tmp_path: Path) -> None:
    """In a group, `/latest@OtherBot` is another bot's business: no answer, not even a hint;
    in a private chat an unknown command always gets the hint."""
    async with harness(database_url, tmp_path, **ONE_FEED) as h:
        group = h.chat(-300, type="supergroup", admins=(ADMIN,), user_id=MEMBER)
        since = len(h.emulator.sent)
        for text in ("/latest@other_bot 3", "/ban@other_bot", "/follow@OtherBot all"):
            h.emulator.user_says(group.chat_id, text, user_id=MEMBER)
        (help_text,) = await group.send("/help@ConflictBot_Bot", settle=0.5)
        assert "/latest" in help_text.text
        await asyncio.sleep(0.5)
        assert [r.text for r in h.emulator.sent[since:]] == [help_text.text]
        (hint,) = await h.chat().send("/latest@other_bot", settle=0.1)
        assert UNKNOWN in hint.text


async def test_forum_threads_have_their_own_follows(database_url: str, tmp_path: Path) -> None:
    """In a forum, each thread keeps its own follows; replies and alerts go to that thread."""
    async with harness(database_url, tmp_path, **ONE_FEED) as h:
        await h.fetch()
        desk = Newsdesk(h)
        forum = h.chat(-400, type="supergroup", admins=(ADMIN,), user_id=ADMIN, is_forum=True)
        (kursk,) = await forum.send("/follow kursk", thread_id=11, settle=0.1)
        assert kursk.thread_id == 11
        (energy,) = await forum.send("/follow energy", thread_id=22, settle=0.1)
        assert energy.thread_id == 22
        async with h.deps.sessions() as session:
            assert [f.value for f in await chats.follows(session, -400, 11)] == ["kursk"]
            assert [f.value for f in await chats.follows(session, -400, 22)] == ["energy"]
            assert await chats.follows(session, -400, 0) == []
        since = len(h.emulator.sent)
        desk.publish("forum-kursk", KURSK_TITLE, KURSK_TEXT)
        assert (await h.fetch()).queued == 1
        (alert,) = await desk.alerts(-400, since=since)
        assert alert.thread_id == 11 and KURSK_TITLE in alert.text


async def test_channel_attached_from_a_private_chat(database_url: str, tmp_path: Path) -> None:
    """`/follow @channel kursk` from a private chat, by an admin of a channel where the bot is
    an admin, makes alerts go to the channel; anyone else, or from a group, is refused."""
    async with harness(database_url, tmp_path, **ONE_FEED) as h:
        await h.fetch()
        desk = Newsdesk(h)
        h.emulator.add_chat(-500, "channel", title="War news", username="warnews", admins=(501,))
        h.emulator.add_chat(-501, "channel", title="Closed", username="closed", admins=(501,))
        h.emulator.block(-501)
        owner, stranger = h.chat(501), h.chat(502)
        (attached,) = await owner.send("/follow @warnews kursk", settle=0.1)
        assert "Following: <b>Kursk</b>" in attached.text
        (listing,) = await owner.send("/following @warnews", settle=0.1)
        assert "Kursk" in listing.text and not listing.buttons
        (mine,) = await owner.send("/following", settle=0.1)
        assert "Kursk" not in mine.text
        for chat, command, expected in (
            (stranger, "/follow @warnews drones", "Only admins of @warnews"),
            (owner, "/follow @closed kursk", "Make me an administrator of @closed"),
            (owner, "/follow @nowhere kursk", "I can't see @nowhere"),
            (owner, "/follow @warnews", "Name a topic"),
        ):
            (answer,) = await chat.send(command, settle=0.1)
            assert expected in answer.text, command
        group = h.chat(-502, type="supergroup", admins=(501,), user_id=501)
        (from_group,) = await group.send("/follow @warnews kursk", settle=0.1)
        assert "from a private chat" in from_group.text
        async with h.deps.sessions() as session:
            assert [(f.kind, f.value) for f in await chats.follows(session, -500)] == [
                (FollowKind.TOPIC, "kursk")
            ]
        since = len(h.emulator.sent)
        desk.publish("channel-kursk", KURSK_TITLE, KURSK_TEXT)
        await h.fetch()
        (alert,) = await desk.alerts(-500, since=since)
        assert KURSK_TITLE in alert.text
        assert not [r for r in h.emulator.sent[since:] if r.chat_id in (501, 502)]
        # Any reader of a channel may press its buttons: Mute is refused, More answers them alone.
        ids = [
            h.emulator.press_button(-500, alert.message_id, alert.button_data(label), user_id=777)
            for label in ("Mute Kursk", "More on Kursk")
        ]
        await _answered(h, 2)
        answers = {a.callback_query_id: a for a in h.emulator.callback_answers}
        refused, more = (answers[query_id] for query_id in ids)
        assert refused.show_alert and "Only admins of this channel" in (refused.text or "")
        assert more.show_alert and "/topic kursk" in (more.text or "")
        assert len([r for r in h.emulator.sent if r.chat_id == -500]) == 1
        (stopped,) = await owner.send("/unfollow @warnews kursk", settle=0.1)
        assert "Stopped: <b>Kursk</b>" in stopped.text


async def test_added_greets_removed_deactivates_readded_resumes(
    database_url: str, tmp_path: Path
) -> None:
    """Added to a group, the bot greets with a how-to; removed, the chat is deactivated and gets
    no alerts; added again, it greets and its follows work again."""
    async with harness(database_url, tmp_path, **ONE_FEED) as h:
        await h.fetch()
        desk = Newsdesk(h)
        group = h.chat(-600, type="group", admins=(ADMIN,), user_id=ADMIN)
        await group.send("/follow kursk", settle=0.1)
        h.emulator.bot_removed(-600)
        await _until(h, lambda prefs: prefs is not None and not prefs.active, -600)
        desk.publish("removed-kursk", KURSK_TITLE, KURSK_TEXT)
        assert (await h.fetch()).queued == 0
        since = len(h.emulator.sent)
        h.emulator.bot_added(-600)
        (hello,) = await h.emulator.wait_for(-600, since=since)
        assert "/follow kursk" in hello.text and "/latest" in hello.text
        await _until(h, lambda prefs: prefs is not None and prefs.active, -600)
        desk.publish(
            "readded-kursk",
            "Drone debris falls on Kursk suburbs",
            "Kursk officials said debris of a downed drone damaged roofs.",
        )
        assert (await h.fetch()).queued == 1


async def test_group_migrated_to_supergroup_keeps_follows(
    database_url: str, tmp_path: Path
) -> None:
    """A group that becomes a supergroup keeps its follows and settings under the new id, and
    its next alert goes there."""
    async with harness(database_url, tmp_path, **ONE_FEED) as h:
        await h.fetch()
        desk = Newsdesk(h)
        group = h.chat(-700, type="group", admins=(ADMIN,), user_id=ADMIN)
        await group.send("/follow kursk", settle=0.1)
        await group.send("/timezone Europe/Kyiv", settle=0.1)
        h.emulator.migrate(-700, -1000700)
        await _until(
            h, lambda prefs: prefs is not None and prefs.timezone == "Europe/Kyiv", -1000700
        )
        async with h.deps.sessions() as session:
            assert [f.value for f in await chats.follows(session, -1000700)] == ["kursk"]
            assert await chats.get_prefs(session, -700) is None
        since = len(h.emulator.sent)
        desk.publish("migrated-kursk", KURSK_TITLE, KURSK_TEXT)
        await h.fetch()
        (alert,) = await desk.alerts(-1000700, since=since)
        assert KURSK_TITLE in alert.text


async def _answered(h, count: int) -> None:  # type: ignore[no-untyped-def]
    """Wait (up to 5 s) until the emulator has `count` callback answers."""
    for _ in range(100):
        if len(h.emulator.callback_answers) >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{len(h.emulator.callback_answers)} of {count} presses answered")


async def _until(h, condition, chat_id: int) -> None:  # type: ignore[no-untyped-def]
    """Wait (up to 5 s) until the chat's stored settings satisfy `condition`."""
    for _ in range(100):
        async with h.deps.sessions() as session:
            if condition(await chats.get_prefs(session, chat_id)):
                return
        await asyncio.sleep(0.05)
    raise AssertionError(f"chat {chat_id} never reached the expected state")


async def test_a_server_without_admin_lists_still_knows_admins(
    database_url: str, tmp_path: Path
) -> None:
    """A Bot API server that refuses getChatAdministrators (or lacks it, 404) left every
    group change refused: the member asked about is then looked up with getChatMember."""

    def no_admin_lists(emulator: Emulator) -> None:
        emulator.fail_next("getChatAdministrators", 404, "Not Found", count=1000)
        emulator.fail_next("setMyCommands", 404, "Not Found")

    async with harness(database_url, tmp_path, before_start=no_admin_lists, **ONE_FEED) as h:
        group = h.chat(-350, type="supergroup", admins=(ADMIN,), user_id=ADMIN)
        (answer,) = await group.send("/follow energy", settle=0.2)
        assert "Following: <b>Energy" in answer.text, answer.text
        member = h.chat(-350, type="supergroup", admins=(ADMIN,), user_id=MEMBER)
        (refused,) = await member.send("/follow kursk", settle=0.2)
        assert REFUSED in refused.text
        assert h.emulator.requests_by_method["getChatMember"] >= 2
