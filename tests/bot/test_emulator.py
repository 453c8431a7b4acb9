"""The Bot API emulator, end to end over HTTP with the real python-telegram-bot and raw httpx."""

from __future__ import annotations

import asyncio
import json
import logging
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import telegram
from aiohttp import web
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ApplicationBuilder, CommandHandler, ContextTypes

from bot.emulator import (
    ANONYMOUS_ADMIN_ID,
    DEFAULT_TOKEN,
    Emulator,
    FloodLimits,
    SentRecord,
    render_for_terminal,
)
from bot.emulator_flood import FloodControl
from bot.emulator_methods import METHODS
from bot.emulator_params import Args, Kind, Param

USER = 42
GROUP = -1001
PNG = (
    b"\x89PNG\r\n\x1a\n"
    + struct.pack(">I", 13)
    + b"IHDR"
    + struct.pack(">IIBBBBB", 640, 480, 8, 2, 0, 0, 0)
    + b"\x00" * 16
)


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def emu(clock: FakeClock) -> AsyncIterator[Emulator]:
    async with Emulator(clock=clock) as emulator:
        emulator.add_chat(USER, first_name="Olena", username="olena")
        emulator.add_chat(GROUP, "group", title="Kharkiv desk", admins=(7, 8))
        yield emulator


@pytest.fixture
async def bot(emu: Emulator) -> AsyncIterator[telegram.Bot]:
    async with telegram.Bot(emu.token, base_url=emu.base_url) as client:
        yield client


@pytest.fixture
async def raw(emu: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=emu.url, timeout=10) as client:
        yield client


async def call(
    raw: httpx.AsyncClient, method: str, token: str = DEFAULT_TOKEN, **fields: Any
) -> tuple[int, dict[str, Any]]:
    """POST form fields as PTB encodes them: strings as they are, anything else as JSON."""
    data = {k: v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()}
    response = await raw.post(f"/bot{token}/{method}", data=data)
    return response.status_code, response.json()


def keyboard(*buttons: dict[str, Any]) -> dict[str, Any]:
    return {"inline_keyboard": [list(buttons)]}


async def test_get_me_describes_the_bot(bot: telegram.Bot, emu: Emulator) -> None:
    """getMe returns the bot's User, which PTB reads without unknown fields."""
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (emu.bot_id, "conflictbot_bot", True)
    assert me.api_kwargs == {}


@pytest.mark.parametrize(
    ("token", "status", "description"),
    [
        ("123456789:AAEmulatorTokenForTestsOnly-XXXXXXX", 401, "Unauthorized"),
        ("not-a-token", 404, "Not Found"),
    ],
)
async def test_a_wrong_token_is_refused(
    raw: httpx.AsyncClient, token: str, status: int, description: str
) -> None:
    """A well-formed wrong token gets 401 Unauthorized, a malformed one 404, as on Telegram."""
    assert await call(raw, "getMe", token) == (
        status,
        {"ok": False, "error_code": status, "description": description},
    )


async def test_ptb_reports_a_wrong_token(emu: Emulator) -> None:
    """PTB turns the 401 into InvalidToken when it initialises."""
    bot = telegram.Bot("123456789:AAEmulatorTokenForTestsOnly-XXXXXXX", base_url=emu.base_url)
    with pytest.raises(telegram.error.InvalidToken):
        await bot.initialize()
    await bot.shutdown()


async def test_unknown_methods_are_not_found(raw: httpx.AsyncClient) -> None:
    """A method the Bot API does not have answers 404 Not Found."""
    assert await call(raw, "sendTelepathy") == (
        404,
        {"ok": False, "error_code": 404, "description": "Not Found"},
    )


async def test_send_message_is_accepted_and_recorded(bot: telegram.Bot, emu: Emulator) -> None:
    """An HTML message comes back as Telegram stores it; the record keeps the HTML as sent."""
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Mute Kursk", callback_data="m:kursk")]])
    html = '<b>Strike on Kharkiv</b>\n<a href="https://example.org/a?x=1&amp;y=2">Outlet</a>'
    message = await bot.send_message(USER, html, parse_mode="HTML", reply_markup=markup)
    second = await bot.send_message(USER, "again")
    assert message.text == "Strike on Kharkiv\nOutlet"
    assert [(e.type, e.offset, e.length) for e in message.entities] == [
        ("bold", 0, 17),
        ("text_link", 18, 6),
    ]
    assert message.entities[1].url == "https://example.org/a?x=1&y=2"
    assert message.reply_markup == markup
    assert second.message_id == message.message_id + 1
    assert message.api_kwargs == {}
    record = emu.sent[0]
    assert (record.method, record.chat_id, record.message_id) == ("sendMessage", USER, 1)
    assert (record.text, record.parse_mode) == (html, "HTML")
    assert record.button_data("Mute Kursk") == "m:kursk"


@pytest.mark.parametrize(
    ("fields", "description"),
    [
        (
            {"text": "<b>unbalanced", "parse_mode": "HTML"},
            "Bad Request: can't parse entities: Can't find end tag corresponding to start tag \"b\"",
        ),
        (
            {"text": "Kyiv <blink>x</blink>", "parse_mode": "HTML"},
            'Bad Request: can\'t parse entities: Unsupported start tag "blink" at byte offset 5',
        ),
        (
            {"text": "Tom & Jerry", "parse_mode": "HTML"},
            'Bad Request: can\'t parse entities: Character "&" at byte offset 4 '
            'must be escaped as "&amp;"',
        ),
        ({"text": "x" * 4097}, "Bad Request: message is too long"),
        ({"text": " "}, "Bad Request: message text is empty"),
        ({}, "Bad Request: message text is empty"),
        (
            {"text": "x", "reply_markup": keyboard({"text": "Mute", "callback_data": "a" * 65})},
            "Bad Request: BUTTON_DATA_INVALID",
        ),
        (
            {"text": "x", "reply_markup": keyboard({"text": "Read", "url": "javascript:x"})},
            "Bad Request: BUTTON_URL_INVALID",
        ),
        ({"text": "x", "parse_mode": "XML"}, "Bad Request: unsupported parse_mode"),
        (
            {"text": "x", "reply_markup": "{not json"},
            "Bad Request: can't parse reply_markup JSON object",
        ),
    ],
)
async def test_send_message_refusals_have_telegrams_shape(
    raw: httpx.AsyncClient, emu: Emulator, fields: dict[str, Any], description: str
) -> None:
    """What Telegram refuses is refused with a 400 in Telegram's shape, and not recorded."""
    status, body = await call(raw, "sendMessage", chat_id=USER, **fields)
    assert (status, body) == (400, {"ok": False, "error_code": 400, "description": description})
    assert emu.sent == []


async def test_ptb_raises_bad_request_for_bad_html(bot: telegram.Bot) -> None:
    """PTB surfaces the refusal as BadRequest with Telegram's text."""
    with pytest.raises(telegram.error.BadRequest, match=r"(?i)unsupported start tag"):
        await bot.send_message(USER, "<foo>", parse_mode="HTML")


async def test_unknown_chats_are_not_found(bot: telegram.Bot) -> None:
    """A chat the bot has never seen gives "chat not found"."""
    with pytest.raises(telegram.error.BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(555, "hello")


async def test_two_messages_a_second_to_one_chat_are_refused_within_seconds(
    bot: telegram.Bot, emu: Emulator, clock: FakeClock
) -> None:
    """A private chat takes a burst of 3, then 1/s: at 2/s the sixth send gets 429."""
    accepted = 0
    for _ in range(10):
        try:
            await bot.send_message(USER, "tick")
        except telegram.error.RetryAfter:
            break
        accepted += 1
        clock.advance(0.5)
    assert accepted == 5
    assert emu.violations == 1
    assert emu.stats()["violation_kinds"] == {"chat": 1}


async def test_one_message_a_second_is_never_refused(
    bot: telegram.Bot, emu: Emulator, clock: FakeClock
) -> None:
    """Sending at the documented rate of 1/s to a chat goes through indefinitely."""
    for _ in range(30):
        await bot.send_message(USER, "tick")
        clock.advance(1.0)
    assert (len(emu.sent), emu.violations) == (30, 0)


async def test_flood_refusal_shape_and_recovery(
    raw: httpx.AsyncClient, emu: Emulator, clock: FakeClock
) -> None:
    """A 429 carries parameters.retry_after; after that long the chat accepts again."""
    for _ in range(3):
        assert (await call(raw, "sendMessage", chat_id=USER, text="x"))[0] == 200
    clock.advance(0.25)
    status, body = await call(raw, "sendMessage", chat_id=USER, text="x")
    assert (status, body) == (
        429,
        {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 1",
            "parameters": {"retry_after": 1},
        },
    )
    clock.advance(1.0)
    assert (await call(raw, "sendMessage", chat_id=USER, text="x"))[0] == 200
    assert (len(emu.sent), emu.violations) == (4, 1)


async def test_twenty_one_messages_a_minute_to_a_group_are_refused(
    bot: telegram.Bot, emu: Emulator, clock: FakeClock
) -> None:
    """A group takes 20 messages a minute; the 21st waits until the oldest leaves the window."""
    for _ in range(20):
        await bot.send_message(GROUP, "update")
        clock.advance(1.5)
    with pytest.raises(telegram.error.RetryAfter):
        await bot.send_message(GROUP, "one too many")
    clock.advance(30.0)
    await bot.send_message(GROUP, "after the window moved")
    assert (len(emu.sent), emu.violations) == (21, 1)
    assert emu.stats()["violation_kinds"] == {"group": 1}


async def test_thirty_messages_a_second_overall(raw: httpx.AsyncClient, emu: Emulator) -> None:
    """Across chats, the 31st send within one second is refused."""
    for chat_id in range(1, 32):
        emu.add_chat(chat_id)
    statuses = [(await call(raw, "sendMessage", chat_id=c, text="x"))[0] for c in range(1, 32)]
    assert statuses == [200] * 30 + [429]
    assert emu.stats()["violation_kinds"] == {"global": 1}


def test_flood_control_counts_nothing_for_a_refused_send(clock: FakeClock) -> None:
    """Refusals leave the windows alone, and FloodLimits.off() admits everything."""
    control = FloodControl(FloodLimits(chat_burst=1.0), clock)
    assert control.admit(1, is_group=False) is None
    assert [control.admit(1, is_group=False) for _ in range(5)] == [1] * 5
    clock.advance(1.0)
    assert control.admit(1, is_group=False) is None
    free = FloodControl(FloodLimits.off(), clock)
    assert all(free.admit(1, is_group=True) is None for _ in range(1000))


@pytest.mark.parametrize(
    ("chat_type", "chat_id", "description"),
    [
        ("private", 77, "Forbidden: bot was blocked by the user"),
        ("group", -77, "Forbidden: bot was kicked from the group chat"),
        ("supergroup", -1007, "Forbidden: bot was kicked from the supergroup chat"),
        ("channel", -1008, "Forbidden: bot was kicked from the channel chat"),
    ],
)
async def test_blocked_chats_are_forbidden(
    bot: telegram.Bot, emu: Emulator, chat_type: str, chat_id: int, description: str
) -> None:
    """After block(), sends get 403 with Telegram's description; PTB raises Forbidden."""
    emu.add_chat(chat_id, chat_type)
    emu.block(chat_id)
    with pytest.raises(telegram.error.Forbidden) as caught:
        await bot.send_message(chat_id, "alert")
    assert caught.value.message == description
    emu.unblock(chat_id)
    await bot.send_message(chat_id, "welcome back")


async def test_migrated_group_answers_with_the_new_id(
    bot: telegram.Bot, raw: httpx.AsyncClient, emu: Emulator
) -> None:
    """A migrated group's old id gives 400 with migrate_to_chat_id; the new id works."""
    emu.migrate(GROUP, -1009999)
    with pytest.raises(telegram.error.ChatMigrated) as caught:
        await bot.send_message(GROUP, "alert")
    assert caught.value.new_chat_id == -1009999
    status, body = await call(raw, "sendMessage", chat_id=GROUP, text="x")
    assert (status, body["parameters"]) == (400, {"migrate_to_chat_id": -1009999})
    await bot.send_message(-1009999, "alert")
    updates = await bot.get_updates()
    assert [u.message.migrate_to_chat_id for u in updates] == [-1009999, None]
    assert [u.message.migrate_from_chat_id for u in updates] == [None, GROUP]


async def test_long_poll_returns_a_message_said_mid_wait(bot: telegram.Bot, emu: Emulator) -> None:
    """getUpdates waits; a message injected during the wait ends it at once, with its command."""
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.1)
    assert not poll.done()
    loop = asyncio.get_running_loop()
    said_at = loop.time()
    emu.user_says(GROUP, "/latest@conflictbot_bot 3", user_id=7)
    updates = await poll
    assert loop.time() - said_at < 1.0
    message = updates[0].message
    assert (message.chat.id, message.from_user.id, message.text) == (
        GROUP,
        7,
        "/latest@conflictbot_bot 3",
    )
    assert [(e.type, e.offset, e.length) for e in message.entities] == [("bot_command", 0, 23)]


async def test_an_anonymous_admin_writes_as_the_group(bot: telegram.Bot, emu: Emulator) -> None:
    """A group admin who stays anonymous writes as the group: `from` is GroupAnonymousBot and
    `sender_chat` the group itself, as Telegram sends it."""
    emu.user_says(GROUP, "/follow energy", as_group=True)
    (update,) = await bot.get_updates(timeout=1)
    message = update.message
    assert message.sender_chat is not None and message.sender_chat.id == GROUP
    assert message.from_user.id == ANONYMOUS_ADMIN_ID and message.from_user.is_bot
    assert message.from_user.username == "GroupAnonymousBot"


async def test_a_real_application_runs_against_the_emulator(emu: Emulator) -> None:
    """PTB's Application polls, answers a command and shuts down cleanly, unchanged."""

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        await update.message.reply_text("<b>Welcome</b>", parse_mode="HTML")

    builder = ApplicationBuilder().token(emu.token).base_url(emu.base_url)
    application = builder.base_file_url(emu.base_file_url).build()
    application.add_handler(CommandHandler("start", start))
    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0, timeout=5)
        emu.user_says(USER, "/start")
        (reply,) = await emu.wait_for(USER, timeout=5)
        await application.updater.stop()
        await application.stop()
    assert reply.render() == "**Welcome**"
    assert emu.pending_updates == []
    assert emu.requests_by_method["deleteWebhook"] == 1


async def test_long_poll_times_out_empty(bot: telegram.Bot) -> None:
    """Without updates a long poll returns an empty list after its timeout."""
    assert await bot.get_updates(timeout=1) == ()


async def test_offsets_confirm_updates(bot: telegram.Bot, emu: Emulator) -> None:
    """Updates stay until an offset above them confirms them; -1 keeps only the last."""
    for text in ("one", "two", "three"):
        emu.user_says(USER, text)
    first = await bot.get_updates(limit=2)
    assert [u.message.text for u in first] == ["one", "two"]
    assert [u.message.text for u in await bot.get_updates()] == ["one", "two", "three"]
    rest = await bot.get_updates(offset=first[-1].update_id + 1)
    assert [u.message.text for u in rest] == ["three"]
    emu.user_says(USER, "four")
    assert [u.message.text for u in await bot.get_updates(offset=-1)] == ["four"]
    assert await bot.get_updates(offset=rest[-1].update_id + 2) == ()
    assert emu.pending_updates == []


async def test_allowed_updates_filters_kinds(bot: telegram.Bot, emu: Emulator) -> None:
    """With allowed_updates=["callback_query"], messages no longer reach the bot."""
    await bot.get_updates(allowed_updates=["callback_query"])
    emu.user_says(USER, "ignored")
    assert await bot.get_updates() == ()


async def test_a_second_poller_ends_the_first_with_conflict(emu: Emulator) -> None:
    """Two overlapping getUpdates: the older one gets 409 Conflict, as with two instances."""
    async with (
        telegram.Bot(emu.token, base_url=emu.base_url) as first,
        telegram.Bot(emu.token, base_url=emu.base_url) as second,
    ):
        older = asyncio.create_task(first.get_updates(timeout=5))
        await asyncio.sleep(0.1)
        assert await second.get_updates(timeout=0) == ()
        with pytest.raises(telegram.error.Conflict, match=r"(?i)terminated by other getUpdates"):
            await older


async def test_get_updates_conflicts_with_a_webhook(bot: telegram.Bot) -> None:
    """While a webhook is set getUpdates gives 409; deleteWebhook restores polling."""
    assert await bot.set_webhook("https://bot.example.org/hook")
    with pytest.raises(telegram.error.Conflict, match=r"(?i)webhook is active"):
        await bot.get_updates()
    assert (await bot.get_webhook_info()).url == "https://bot.example.org/hook"
    assert await bot.delete_webhook()
    assert await bot.get_updates() == ()


async def test_set_webhook_wants_https_except_on_loopback(bot: telegram.Bot) -> None:
    """Plain HTTP is refused like Telegram does, except to 127.0.0.1 (for local tests)."""
    with pytest.raises(telegram.error.BadRequest, match=r"(?i)HTTPS URL must be provided"):
        await bot.set_webhook("http://bot.example.org/hook")
    assert await bot.set_webhook("http://127.0.0.1:9/hook", secret_token="s3cr3t")


async def test_webhook_receives_updates_with_the_secret(emu: Emulator) -> None:
    """With a webhook set, updates are POSTed to it with the secret header, in order."""
    received: list[tuple[str | None, dict[str, Any]]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(
            (request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json())
        )
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    try:
        async with telegram.Bot(emu.token, base_url=emu.base_url) as bot:
            await bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="s3cr3t")
            emu.user_says(USER, "first")
            emu.user_says(USER, "second")
            for _ in range(100):
                if len(received) == 2:
                    break
                await asyncio.sleep(0.02)
            assert [(secret, body["message"]["text"]) for secret, body in received] == [
                ("s3cr3t", "first"),
                ("s3cr3t", "second"),
            ]
            assert (await bot.get_webhook_info()).pending_update_count == 0
    finally:
        await runner.cleanup()


async def test_failed_webhook_deliveries_are_reported(bot: telegram.Bot, emu: Emulator) -> None:
    """An unreachable webhook keeps the update pending and shows last_error_message."""
    await bot.set_webhook("http://127.0.0.1:9/hook")
    emu.user_says(USER, "hello")
    for _ in range(100):
        info = await bot.get_webhook_info()
        if info.last_error_message:
            break
        await asyncio.sleep(0.02)
    assert info.last_error_message is not None
    assert info.pending_update_count == 1


async def test_button_press_arrives_as_callback_query(bot: telegram.Bot, emu: Emulator) -> None:
    """press_button queues a callback_query with the message and data; it is answered once."""
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Mute Kursk", callback_data="m:kursk")]])
    sent = await bot.send_message(USER, "<b>Alert</b>", parse_mode="HTML", reply_markup=markup)
    query_id = emu.press_button(USER, sent.message_id, "m:kursk")
    (update,) = await bot.get_updates()
    query = update.callback_query
    assert (query.id, query.data, query.from_user.id) == (query_id, "m:kursk", USER)
    assert query.message.message_id == sent.message_id
    assert await bot.answer_callback_query(query_id, "Muted Kursk")
    assert [(a.callback_query_id, a.text) for a in emu.callback_answers] == [
        (query_id, "Muted Kursk")
    ]
    with pytest.raises(telegram.error.BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(query_id)


async def test_press_button_checks_the_button_exists(bot: telegram.Bot, emu: Emulator) -> None:
    """Pressing data the message does not offer is a test mistake, unless check=False."""
    sent = await bot.send_message(USER, "no buttons here")
    with pytest.raises(ValueError, match="has no button"):
        emu.press_button(USER, sent.message_id, "m:kursk")
    assert emu.press_button(USER, sent.message_id, "stale:v0", check=False)


async def test_edits_and_deletions(bot: telegram.Bot, emu: Emulator) -> None:
    """Edits change text and keyboard, an identical edit is refused, deletions happen once."""
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("More", callback_data="more")]])
    sent = await bot.send_message(USER, "<b>v1</b>", parse_mode="HTML", reply_markup=markup)
    edited = await bot.edit_message_text("<b>v2</b>", USER, sent.message_id, parse_mode="HTML")
    assert (edited.text, edited.reply_markup, edited.edit_date is not None) == ("v2", None, True)
    with pytest.raises(telegram.error.BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("<b>v2</b>", USER, sent.message_id, parse_mode="HTML")
    await bot.edit_message_reply_markup(USER, sent.message_id, reply_markup=markup)
    assert [(m.text, m.button_data("More")) for m in emu.messages_to(USER)] == [
        ("<b>v2</b>", "more")
    ]
    assert await bot.delete_message(USER, sent.message_id)
    with pytest.raises(telegram.error.BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(USER, sent.message_id)
    assert emu.messages_to(USER) == []
    assert [e.method for e in emu.edits] == [
        "editMessageText",
        "editMessageReplyMarkup",
        "deleteMessage",
    ]


async def test_send_photo_keeps_the_upload(bot: telegram.Bot, emu: Emulator) -> None:
    """sendPhoto takes a multipart upload, keeps its bytes and reports the image size."""
    message = await bot.send_photo(USER, PNG, caption="<i>Stories per day</i>", parse_mode="HTML")
    assert (message.photo[-1].width, message.photo[-1].height) == (640, 480)
    assert message.caption == "Stories per day"
    assert emu.sent[0].photo == PNG
    again = await bot.send_photo(USER, message.photo[-1].file_id)
    assert again.photo[-1].width == 640
    with pytest.raises(telegram.error.BadRequest, match=r"(?i)IMAGE_PROCESS_FAILED"):
        await bot.send_photo(USER, b"not an image")


async def test_chat_action_commands_and_chat_info(bot: telegram.Bot, emu: Emulator) -> None:
    """sendChatAction, the command list per scope, getChat and membership answer as Telegram."""
    assert await bot.send_chat_action(USER, "typing")
    with pytest.raises(telegram.error.BadRequest, match=r"(?i)wrong parameter action"):
        await bot.send_chat_action(USER, "dancing")
    assert await bot.set_my_commands([("latest", "The newest stories")])
    assert [(c.command, c.description) for c in await bot.get_my_commands()] == [
        ("latest", "The newest stories")
    ]
    assert emu.commands() == [{"command": "latest", "description": "The newest stories"}]
    with pytest.raises(telegram.error.BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([("Latest!", "x")])
    chat = await bot.get_chat(GROUP)
    assert (chat.type, chat.title) == ("group", "Kharkiv desk")
    emu.user_says(GROUP, "hi", user_id=9)
    statuses = [(await bot.get_chat_member(GROUP, u)).status for u in (7, 8, 9, 10, emu.bot_id)]
    assert statuses == ["creator", "administrator", "member", "left", "member"]
    assert [m.user.id for m in await bot.get_chat_administrators(GROUP)] == [7, 8]
    with pytest.raises(
        telegram.error.BadRequest, match=r"(?i)no administrators in the private chat"
    ):
        await bot.get_chat_administrators(USER)


async def test_membership_updates(bot: telegram.Bot, emu: Emulator) -> None:
    """bot_added and bot_removed arrive as my_chat_member; after removal sends are forbidden."""
    emu.add_chat(-1005, "supergroup", title="Newsroom", admins=(7,))
    emu.bot_removed(-1005)
    emu.bot_added(-1005, by_user_id=7)
    emu.bot_removed(-1005, by_user_id=7)
    updates = await bot.get_updates()
    changes = [
        (u.my_chat_member.old_chat_member.status, u.my_chat_member.new_chat_member.status)
        for u in updates
    ]
    assert changes == [("member", "kicked"), ("kicked", "member"), ("member", "kicked")]
    assert updates[1].my_chat_member.from_user.id == 7
    with pytest.raises(telegram.error.Forbidden, match=r"(?i)kicked from the supergroup chat"):
        await bot.send_message(-1005, "alert")
    before = emu.pending_updates
    emu.user_says(-1005, "is the bot still here?", user_id=7)
    assert emu.pending_updates == before


async def test_scripted_failures_and_outage(bot: telegram.Bot, emu: Emulator) -> None:
    """fail_next scripts the next answers of a method; set_unavailable answers 502 to all."""
    emu.fail_next("sendMessage", 429, "Too Many Requests: retry after 3", retry_after=3)
    emu.fail_next("sendMessage", 500, "Internal Server Error")
    with pytest.raises(telegram.error.RetryAfter):
        await bot.send_message(USER, "x")
    with pytest.raises(telegram.error.NetworkError, match=r"(?i)Internal Server Error"):
        await bot.send_message(USER, "x")
    await bot.send_message(USER, "x")
    emu.set_unavailable()
    with pytest.raises(telegram.error.NetworkError, match=r"(?i)Bad Gateway"):
        await bot.send_message(USER, "x")
    emu.set_unavailable(False)
    await bot.send_message(USER, "x")
    assert emu.requests_by_method["sendMessage"] == 4
    assert len(emu.sent) == 2
    with pytest.raises(ValueError, match="does not serve"):
        emu.fail_next("sendTelepathy", 500, "x")


async def test_other_encodings_are_read(raw: httpx.AsyncClient, emu: Emulator) -> None:
    """A JSON body and a GET query string work as well as PTB's form fields."""
    response = await raw.post(
        f"/bot{emu.token}/sendMessage", json={"chat_id": USER, "text": "json"}
    )
    assert response.json()["result"]["text"] == "json"
    response = await raw.get(
        f"/bot{emu.token}/sendMessage", params={"chat_id": "@olena", "text": "get"}
    )
    assert response.json()["result"]["chat"]["id"] == USER


async def test_control_over_http(raw: httpx.AsyncClient, emu: Emulator) -> None:
    """A bot in another process can be driven entirely through /control/."""
    response = await raw.post("/control/add_chat", json={"chat_id": 99, "first_name": "Taras"})
    assert response.json() == {"ok": True, "result": None}
    response = await raw.post("/control/user_says", json={"chat_id": 99, "text": "/start"})
    assert response.json() == {"ok": True, "result": 1}
    assert (await call(raw, "getUpdates"))[1]["result"][0]["message"]["text"] == "/start"
    await call(
        raw,
        "sendMessage",
        chat_id=99,
        text="<b>Welcome</b>",
        parse_mode="HTML",
        reply_markup=keyboard({"text": "Follow all", "callback_data": "f:all"}),
    )
    sent = (await raw.get("/control/sent", params={"chat_id": 99})).json()["result"]
    assert [(r["text"], r["rendered"]) for r in sent] == [
        ("<b>Welcome</b>", "**Welcome**\n[Follow all]")
    ]
    press = {"chat_id": 99, "message_id": sent[0]["message_id"], "data": "f:all"}
    assert (await raw.post("/control/press_button", json=press)).json()["ok"]
    waited = await raw.get("/control/wait", params={"chat_id": 99, "count": 1, "timeout": 1})
    assert len(waited.json()["result"]) == 1
    stats = (await raw.get("/control/stats")).json()["result"]
    assert stats["requests_by_method"] == {"getUpdates": 1, "sendMessage": 1}
    assert (await raw.post("/control/explode", json={})).status_code == 404
    bad = await raw.post("/control/user_says", json={"chat_id": 99, "wrong": 1})
    assert (bad.status_code, bad.json()["ok"]) == (400, False)
    timeout = await raw.get("/control/wait", params={"chat_id": 99, "count": 5, "timeout": 0.05})
    assert timeout.status_code == 408


async def test_wait_for_returns_matching_sends(bot: telegram.Bot, emu: Emulator) -> None:
    """wait_for returns as soon as enough sends match, and times out naming what it saw."""
    later = asyncio.create_task(emu.wait_for(USER, 2, timeout=2))
    await bot.send_message(GROUP, "elsewhere")
    await bot.send_message(USER, "one")
    await bot.send_message(USER, "two")
    assert [r.text for r in await later] == ["one", "two"]
    found = await emu.wait_for(lambda r: r.text == "elsewhere", timeout=0.1)
    assert [r.chat_id for r in found] == [GROUP]
    with pytest.raises(TimeoutError, match="saw"):
        await emu.wait_for(USER, 3, since=1, timeout=0.05)


@pytest.mark.parametrize(
    ("record", "rendered"),
    [
        (
            SentRecord(
                "sendMessage",
                1,
                1,
                0.0,
                text='<b>Headline</b>\nSummary &amp; more.\n<a href="https://e.org/a">Outlet</a> · +4 outlets',
                parse_mode="HTML",
                reply_markup=keyboard(
                    {"text": "Read", "url": "https://e.org/a"},
                    {"text": "More on Kursk", "callback_data": "t:kursk"},
                ),
            ),
            "**Headline**\nSummary & more.\nOutlet <https://e.org/a> · +4 outlets\n[Read] [More on Kursk]",
        ),
        (
            SentRecord(
                "sendMessage",
                1,
                1,
                0.0,
                text="<a href='https://e.org/'>https://e.org/</a>",
                parse_mode="HTML",
            ),
            "https://e.org/",
        ),
        (SentRecord("sendMessage", 1, 1, 0.0, text="<b>not parsed</b>"), "<b>not parsed</b>"),
        (SentRecord("sendMessage", 1, 1, 0.0, text="🚀 <i>x</i>", parse_mode="HTML"), "🚀 _x_"),
        (
            SentRecord(
                "sendPhoto", 1, 1, 0.0, caption="<b>Chart</b>", parse_mode="HTML", photo=b"12345"
            ),
            "[photo, 5 bytes]\n**Chart**",
        ),
    ],
)
def test_render_for_terminal(record: SentRecord, rendered: str) -> None:
    """The terminal chat shows bold as **x**, links as `text <url>`, and buttons in a row."""
    assert render_for_terminal(record) == rendered


async def test_the_token_never_reaches_the_logs(
    bot: telegram.Bot, raw: httpx.AsyncClient, emu: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing the emulator (or aiohttp serving it) logs contains the token."""
    caplog.set_level(logging.DEBUG)
    await bot.send_message(USER, "hello")
    await call(raw, "sendMessage", chat_id=USER, text="<b>")
    await call(raw, "getMe", token=DEFAULT_TOKEN[:-1] + "Z")
    await call(raw, "unknownMethod")
    emu.user_says(USER, "/start")
    await bot.get_updates()
    ours = [r for r in caplog.records if r.name.startswith(("bot.", "aiohttp"))]
    assert any(r.name.startswith("bot.emulator") for r in ours)
    secret = DEFAULT_TOKEN.partition(":")[2]
    assert not [r.getMessage() for r in ours if secret[:20] in r.getMessage()]


def test_handlers_can_read_only_declared_parameters() -> None:
    """Args refuses undeclared names, so the METHODS table is the full list of what is read."""
    args = Args((Param("text", Kind.STR),), {"text": "hi"})
    assert args.string("text") == "hi"
    with pytest.raises(KeyError):
        args.string("caption")
    with pytest.raises(KeyError):
        args.integer("text")


# --- the published Bot API spec (shared/corpus/telegram_bot_api_spec/api.json) ---

_KIND_TYPES = {
    Kind.INT: (["Integer"],),
    Kind.STR: (["String"],),
    Kind.BOOL: (["Boolean"],),
    Kind.CHAT_ID: (["Integer", "String"],),
    Kind.FILE: (["InputFile", "String"], ["InputFile"]),
}
_PRIMITIVES: dict[str, tuple[type, ...]] = {
    "Integer": (int,),
    "String": (str,),
    "Boolean": (bool,),
    "True": (bool,),
    "Float": (int, float),
}


@pytest.fixture(scope="module")
def spec(corpus: Path) -> dict[str, Any]:
    return json.loads((corpus / "telegram_bot_api_spec" / "api.json").read_text(encoding="utf-8"))


def test_every_method_and_parameter_is_in_the_spec(spec: dict[str, Any]) -> None:
    """Each served method exists, and each parameter it reads has that name and a matching type."""
    problems = []
    for method in METHODS.values():
        fields = {
            f["name"]: f["types"] for f in spec["methods"].get(method.name, {}).get("fields", [])
        }
        if method.name not in spec["methods"]:
            problems.append(f"{method.name}: not a Bot API method")
        for param in method.params:
            types = fields.get(param.name)
            if types is None:
                problems.append(f"{method.name}.{param.name}: not a parameter")
            elif param.kind == Kind.JSON:
                if set(types) <= set(_PRIMITIVES):
                    problems.append(f"{method.name}.{param.name}: {types} is not JSON-serialized")
            elif types not in _KIND_TYPES[param.kind]:
                problems.append(f"{method.name}.{param.name}: {types} read as {param.kind.name}")
    assert problems == []


def _problems(spec: dict[str, Any], value: Any, type_name: str, path: str) -> list[str]:
    """Why `value` is not a valid `type_name` of the spec (empty when it is)."""
    if type_name.startswith("Array of "):
        if not isinstance(value, list):
            return [f"{path}: not an array"]
        return [
            p
            for i, v in enumerate(value)
            for p in _problems(spec, v, type_name[9:], f"{path}[{i}]")
        ]
    if type_name in _PRIMITIVES:
        ok = isinstance(value, _PRIMITIVES[type_name]) and (
            type_name in ("Boolean", "True") or not isinstance(value, bool)
        )
        return [] if ok else [f"{path}: {value!r} is not {type_name}"]
    kind = spec["types"][type_name]
    if "subtypes" in kind:
        tries = [_problems(spec, value, sub, path) for sub in kind["subtypes"]]
        return (
            [] if [] in tries else [f"{path}: no {type_name} subtype fits: {min(tries, key=len)}"]
        )
    if not isinstance(value, dict):
        return [f"{path}: not an object"]
    fields = {f["name"]: f for f in kind.get("fields", [])}
    problems = [f"{path}.{k}: not a field of {type_name}" for k in value if k not in fields]
    problems += [
        f"{path}.{n}: required by {type_name}"
        for n, f in fields.items()
        if f["required"] and n not in value
    ]
    for key, item in value.items():
        if key in fields:
            tries = [_problems(spec, item, t, f"{path}.{key}") for t in fields[key]["types"]]
            problems += [] if [] in tries else min(tries, key=len)
    return problems


async def test_every_returned_object_matches_the_spec(
    spec: dict[str, Any], raw: httpx.AsyncClient, emu: Emulator
) -> None:
    """Every field of every object returned, recursively, is a field of its type in the spec."""
    emu.add_chat(
        -1002, "supergroup", title="Forum", username="forum_desk", is_forum=True, admins=(7,)
    )
    emu.add_chat(-1003, "channel", title="Alerts", username="alerts")
    calls: list[tuple[str, dict[str, Any]]] = []

    async def api(method: str, **fields: Any) -> Any:
        status, body = await call(raw, method, **fields)
        assert status == 200, body
        calls.append((method, body["result"]))
        return body["result"]

    button = keyboard(
        {"text": "Read", "url": "https://e.org/"}, {"text": "Mute", "callback_data": "m"}
    )
    html = '<b>B</b> <i>i</i> <a href="https://e.org/">l</a> <code>c</code> <pre>p</pre> <tg-spoiler>s</tg-spoiler>'
    user_message = emu.user_says(USER, "/start here")
    first = await api(
        "sendMessage",
        chat_id=USER,
        text=html,
        parse_mode="HTML",
        reply_markup=button,
        reply_parameters={"message_id": user_message},
    )
    await api("sendMessage", chat_id=-1002, message_thread_id=5, text="in a topic")
    await api("sendMessage", chat_id="@alerts", text="channel post")
    await api("sendPhoto", chat_id=USER, photo="https://e.org/chart.png")
    upload = await raw.post(
        f"/bot{emu.token}/sendPhoto",
        data={"chat_id": str(USER), "caption": "<b>c</b>", "parse_mode": "HTML"},
        files={"photo": ("chart.png", PNG, "image/png")},
    )
    calls.append(("sendPhoto", upload.json()["result"]))
    await api(
        "editMessageText",
        chat_id=USER,
        message_id=first["message_id"],
        text="<b>v2</b>",
        parse_mode="HTML",
        reply_markup=button,
    )
    await api("editMessageReplyMarkup", chat_id=USER, message_id=first["message_id"])
    await api("getMe")
    for chat_id in (USER, GROUP, -1002, -1003):
        await api("getChat", chat_id=chat_id)
    for user_id in (7, 8, 9, emu.bot_id):
        await api("getChatMember", chat_id=GROUP, user_id=user_id)
    await api("getChatAdministrators", chat_id=-1003)
    await api("setMyCommands", commands=[{"command": "latest", "description": "Newest"}])
    await api("getMyCommands")
    emu.user_says(-1002, "/topic kursk", user_id=7, thread_id=5)
    emu.user_says(-1003, "posted")
    emu.user_says(USER, "a reply", reply_to=first["message_id"])
    emu.press_button(USER, first["message_id"], "m", check=False)
    emu.bot_added(-1002, by_user_id=7)
    emu.bot_removed(USER)
    emu.migrate(GROUP, -1004)
    await api("leaveChat", chat_id=-1002)
    await api("getUpdates")
    await api("setWebhook", url="http://127.0.0.1:9/hook", allowed_updates=["message"])
    for _ in range(100):
        if (await api("getWebhookInfo")).get("last_error_message"):
            break
        await asyncio.sleep(0.02)
    problems = []
    for method, result in calls:
        returns = spec["methods"][method]["returns"]
        tries = [_problems(spec, result, type_name, method) for type_name in returns]
        problems += [] if [] in tries else min(tries, key=len)
    assert problems == []
    assert "last_error_message" in calls[-1][1]
