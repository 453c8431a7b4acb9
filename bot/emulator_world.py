"""The emulator's state: chats, users, messages, the update queue, and their Bot API JSON.

Every object the emulator returns is built here, with the field names of the Bot API types
(tests/bot/test_emulator.py checks them against the published spec), so that
python-telegram-bot de-serialises them as it would Telegram's.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.emulator_flood import FloodControl, FloodLimits
from bot.emulator_records import CallbackAnswer, EditRecord, SentRecord
from bot.telegram_html import Entity, FormattedText, utf16_len

DEFAULT_USER_ID = 100_001
ANONYMOUS_ADMIN_ID = 1087968824
"""GroupAnonymousBot: the `from` of a message an anonymous group admin sends as the group."""
_COMMAND = re.compile(r"(?<![\w/@])/\w{1,64}(?:@\w{1,32})?", re.ASCII)
CHAT_TYPES = ("private", "group", "supergroup", "channel")
ACCEPTED_GIFT_TYPES = dict.fromkeys(
    ("unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription"), False
) | {"gifts_from_channels": False}
ADMIN_RIGHTS = {
    "can_be_edited": False,
    "is_anonymous": False,
    "can_manage_chat": True,
    "can_delete_messages": True,
    "can_manage_video_chats": True,
    "can_restrict_members": True,
    "can_promote_members": False,
    "can_change_info": True,
    "can_invite_users": True,
    "can_post_stories": False,
    "can_edit_stories": False,
    "can_delete_stories": False,
}


class ApiError(Exception):
    """A refusal in Telegram's shape: error_code, description and optional parameters."""

    def __init__(
        self,
        error_code: int,
        description: str,
        *,
        retry_after: int | None = None,
        migrate_to_chat_id: int | None = None,
    ) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.parameters: dict[str, int] = {}
        if retry_after is not None:
            self.parameters["retry_after"] = retry_after
        if migrate_to_chat_id is not None:
            self.parameters["migrate_to_chat_id"] = migrate_to_chat_id

    def as_json(self) -> dict[str, Any]:
        """The response body."""
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = dict(self.parameters)
        return body


def bad_request(reason: str) -> ApiError:
    """A 400 with Telegram's "Bad Request: " prefix."""
    return ApiError(400, f"Bad Request: {reason}")


@dataclass(slots=True)
class User:
    """A Telegram user (or the bot itself)."""

    id: int
    first_name: str
    username: str | None = None
    is_bot: bool = False

    def as_json(self) -> dict[str, Any]:
        """The User object."""
        out: dict[str, Any] = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.username:
            out["username"] = self.username
        return out


@dataclass(slots=True)
class Chat:
    """A chat the bot knows; `bot_status` is the bot's membership (member, administrator, ...)."""

    id: int
    type: str
    title: str | None = None
    username: str | None = None
    first_name: str | None = None
    is_forum: bool = False
    admins: tuple[int, ...] = ()
    bot_status: str = "member"
    migrated_to: int | None = None
    members: set[int] = field(default_factory=set)
    last_message_id: int = 0

    def as_json(self) -> dict[str, Any]:
        """The Chat object."""
        out: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.type == "private":
            out["first_name"] = self.first_name or f"User{self.id}"
        else:
            out["title"] = self.title or f"{self.type.title()} {abs(self.id)}"
        if self.username:
            out["username"] = self.username
        if self.is_forum:
            out["is_forum"] = True
        return out

    def full_info(self) -> dict[str, Any]:
        """The ChatFullInfo object of getChat."""
        extra = {"accent_color_id": 0, "max_reaction_count": 11}
        return self.as_json() | extra | {"accepted_gift_types": dict(ACCEPTED_GIFT_TYPES)}

    def forbidden(self) -> ApiError:
        """The 403 a send gets once the bot is blocked, kicked or gone."""
        if self.type == "private":
            return ApiError(403, "Forbidden: bot was blocked by the user")
        kind = "group" if self.type == "group" else self.type
        if self.bot_status == "kicked":
            return ApiError(403, f"Forbidden: bot was kicked from the {kind} chat")
        return ApiError(403, f"Forbidden: bot is not a member of the {kind} chat")


@dataclass(slots=True)
class StoredMessage:
    """A message in a chat, from the bot or a user, as it is now."""

    chat_id: int
    message_id: int
    sender_id: int | None
    date: int
    content: FormattedText | None = None
    caption: FormattedText | None = None
    photo: dict[str, Any] | None = None
    reply_markup: dict[str, Any] | None = None
    thread_id: int | None = None
    reply_to: int | None = None
    edit_date: int | None = None
    deleted: bool = False
    sender_chat_id: int | None = None
    service: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Webhook:
    """What setWebhook stored; an empty url means long polling."""

    url: str = ""
    secret_token: str | None = None
    max_connections: int = 40
    allowed_updates: list[str] | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None


class World:
    """Everything the emulated Telegram knows, shared by the Bot API methods and the controls."""

    def __init__(
        self,
        bot: User,
        *,
        limits: FloodLimits,
        clock: Callable[[], float],
        strict_html: bool = True,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.bot = bot
        self.clock = clock
        self.wall_clock = wall_clock
        self.strict_html = strict_html
        self.flood = FloodControl(limits, clock)
        self.users: dict[int, User] = {bot.id: bot}
        self.chats: dict[int, Chat] = {}
        self.messages: dict[tuple[int, int], StoredMessage] = {}
        self.updates: deque[dict[str, Any]] = deque()
        self.next_update_id = 1
        self.allowed_updates: frozenset[str] | None = None
        self.webhook = Webhook()
        self.commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self.callback_queries: dict[str, bool] = {}
        self.files: dict[str, bytes | None] = {}
        self.sent: list[SentRecord] = []
        self.edits: list[EditRecord] = []
        self.callback_answers: list[CallbackAnswer] = []
        self.requests_by_method: Counter[str] = Counter()
        self.violations = 0
        self.failures: dict[str, deque[ApiError]] = {}
        self.unavailable = False
        self.closing = False
        self.poll_generation = 0
        self._changed = asyncio.Event()

    def now(self) -> int:
        """Unix time for `date` fields."""
        return int(self.wall_clock())

    def loop_time(self) -> float:
        """The event loop's clock, for real waits such as long polling."""
        return asyncio.get_running_loop().time()

    def notify(self) -> None:
        """Wake everything waiting in `wait_change` (long polls, webhook delivery, wait_for)."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_change(self, seconds: float | None) -> None:
        """Sleep until the next `notify` or for `seconds`, whichever comes first."""
        event = self._changed
        try:
            await asyncio.wait_for(event.wait(), seconds)
        except TimeoutError:
            return

    def user(
        self, user_id: int, username: str | None = None, first_name: str | None = None
    ) -> User:
        """The user with this id, created on first sight; new names given here are kept."""
        user = self.users.setdefault(user_id, User(user_id, first_name or f"User{user_id}"))
        if username:
            user.username = username
        if first_name:
            user.first_name = first_name
        return user

    def find_chat(self, ref: int | str) -> Chat:
        """The chat for a chat_id parameter (an id or "@username"), as Telegram resolves it."""
        chat: Chat | None
        if isinstance(ref, str):
            name = ref.removeprefix("@").lower()
            chat = next(
                (c for c in self.chats.values() if (c.username or "").lower() == name), None
            )
        else:
            chat = self.chats.get(ref)
        if chat is None:
            raise bad_request("chat not found")
        if chat.migrated_to is not None:
            raise ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                migrate_to_chat_id=chat.migrated_to,
            )
        return chat

    def writable_chat(self, ref: int | str) -> Chat:
        """The chat, if the bot may post there now."""
        chat = self.find_chat(ref)
        if chat.bot_status in ("kicked", "left"):
            raise chat.forbidden()
        return chat

    def admit(self, chat: Chat) -> None:
        """Apply flood control to one send, counting a violation when it is refused."""
        wait = self.flood.admit(chat.id, chat.type != "private")
        if wait is not None:
            self.violations += 1
            raise ApiError(429, f"Too Many Requests: retry after {wait}", retry_after=wait)

    def store(self, chat: Chat, sender_id: int | None, **fields: Any) -> StoredMessage:
        """Add a message to `chat` with the next message id."""
        chat.last_message_id += 1
        msg = StoredMessage(chat.id, chat.last_message_id, sender_id, self.now(), **fields)
        self.messages[(chat.id, msg.message_id)] = msg
        return msg

    def message(self, chat_id: int, message_id: int) -> StoredMessage | None:
        """A message that exists and was not deleted."""
        msg = self.messages.get((chat_id, message_id))
        return None if msg is None or msg.deleted else msg

    def message_json(self, msg: StoredMessage, *, with_reply: bool = True) -> dict[str, Any]:
        """The Message object; a reply carries the message it replies to, one level deep."""
        chat = self.chats[msg.chat_id]
        out: dict[str, Any] = {"message_id": msg.message_id, "date": msg.date}
        if chat.type == "channel":
            out["sender_chat"] = chat.as_json()
        elif msg.sender_id is not None:
            out["from"] = self.users[msg.sender_id].as_json()
        if msg.sender_chat_id is not None and chat.type != "channel":
            out["sender_chat"] = self.chats[msg.sender_chat_id].as_json()
        out["chat"] = chat.as_json()
        if msg.thread_id is not None and chat.type == "supergroup":
            out["message_thread_id"] = msg.thread_id
            if chat.is_forum:
                out["is_topic_message"] = True
        replied = self.message(msg.chat_id, msg.reply_to) if msg.reply_to else None
        if replied is not None and with_reply:
            out["reply_to_message"] = self.message_json(replied, with_reply=False)
        if msg.edit_date is not None:
            out["edit_date"] = msg.edit_date
        _put_text(out, "text", "entities", msg.content)
        if msg.photo is not None:
            out["photo"] = [msg.photo]
        _put_text(out, "caption", "caption_entities", msg.caption)
        if msg.reply_markup is not None:
            out["reply_markup"] = msg.reply_markup
        return out | msg.service

    def member_json(self, chat: Chat, user_id: int, status: str | None = None) -> dict[str, Any]:
        """The ChatMember object of a user in a chat (the status is looked up unless given)."""
        if status is None:
            status = self._status_of(chat, user_id)
        out: dict[str, Any] = {"status": status, "user": self.user(user_id).as_json()}
        if status == "creator":
            out["is_anonymous"] = False
        elif status == "administrator":
            out |= ADMIN_RIGHTS
            if chat.type == "channel":
                out |= {"can_post_messages": True, "can_edit_messages": True}
            else:
                out["can_pin_messages"] = True
        elif status == "kicked":
            out["until_date"] = 0
        return out

    def _status_of(self, chat: Chat, user_id: int) -> str:
        if user_id == self.bot.id:
            return chat.bot_status
        if chat.type == "private":
            return "member" if user_id == chat.id else "left"
        if chat.admins and user_id == chat.admins[0]:
            return "creator"
        if user_id in chat.admins:
            return "administrator"
        return "member" if user_id in chat.members else "left"

    def push_update(self, kind: str, payload: dict[str, Any]) -> None:
        """Queue an update, unless the bot asked not to receive this kind."""
        if self.allowed_updates is not None and kind not in self.allowed_updates:
            return
        self.updates.append({"update_id": self.next_update_id, kind: payload})
        self.next_update_id += 1
        self.notify()

    def confirm(self, offset: int) -> None:
        """getUpdates' offset: forget updates below it, or all but the last -offset."""
        if offset > 0:
            while self.updates and self.updates[0]["update_id"] < offset:
                self.updates.popleft()
        elif offset < 0:
            while len(self.updates) > -offset:
                self.updates.popleft()

    def take_failure(self, method: str) -> ApiError | None:
        """The next scripted failure for `method`, if any is left."""
        queue = self.failures.get(method)
        return queue.popleft() if queue else None


def _put_text(out: dict[str, Any], key: str, entities_key: str, text: FormattedText | None) -> None:
    if text is None or (key == "caption" and not text.text):
        return
    out[key] = text.text
    if text.entities:
        out[entities_key] = [entity.as_dict() for entity in text.entities]


def command_entities(text: str) -> tuple[Entity, ...]:
    """bot_command entities for each `/command` or `/command@bot` in a user's text."""
    return tuple(
        Entity("bot_command", utf16_len(text[: m.start()]), utf16_len(m.group()))
        for m in _COMMAND.finditer(text)
    )
