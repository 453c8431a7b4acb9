"""The other side of the emulated chats: what users, admins and Telegram itself do.

Tests call these to make things happen to the bot (a message, a button press, being added,
blocked or migrated) and to script Telegram's own failures. `Emulator` inherits them; they are
kept apart from the server so that each file holds one concern.
"""

from __future__ import annotations

from collections import deque

from bot.emulator_methods import METHODS
from bot.emulator_world import (
    ANONYMOUS_ADMIN_ID,
    CHAT_TYPES,
    DEFAULT_USER_ID,
    ApiError,
    Chat,
    World,
    command_entities,
)
from bot.telegram_html import FormattedText


class EmulatorControls:
    """User-side and Telegram-side actions on a `World`."""

    world: World

    def _chat(self, chat_id: int) -> Chat:
        chat = self.world.chats.get(chat_id)
        if chat is None:
            raise KeyError(f"chat {chat_id} is unknown to the emulator; add_chat() it first")
        return chat

    def _default_user(self, chat: Chat, user_id: int | None) -> int:
        if user_id is not None:
            return user_id
        return chat.id if chat.type == "private" else DEFAULT_USER_ID

    def add_chat(
        self,
        chat_id: int,
        type: str = "private",
        *,
        title: str | None = None,
        username: str | None = None,
        first_name: str | None = None,
        is_forum: bool = False,
        admins: tuple[int, ...] | list[int] = (),
    ) -> None:
        """A chat the bot is already in; the first admin of a group is its creator.

        Private chats have positive ids (the user's), the others negative ones, as in Telegram.
        """
        if type not in CHAT_TYPES:
            raise ValueError(f"chat type must be one of {CHAT_TYPES}, not {type!r}")
        if (type == "private") != (chat_id > 0):
            raise ValueError("private chats have positive ids, groups and channels negative ones")
        if chat_id in self.world.chats:
            raise ValueError(f"chat {chat_id} exists already")
        status = "administrator" if type == "channel" else "member"
        members = {chat_id} if type == "private" else set(admins)
        chat = Chat(chat_id, type, title, username, first_name, is_forum, tuple(admins), status)
        chat.members = members
        self.world.chats[chat_id] = chat
        if type == "private":
            chat.first_name = self.world.user(chat_id, username, first_name).first_name
        for user_id in admins:
            self.world.user(user_id)

    def user_says(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        username: str | None = None,
        first_name: str | None = None,
        thread_id: int | None = None,
        reply_to: int | None = None,
        as_group: bool = False,
    ) -> int:
        """A user writes `text` (a /command gets its bot_command entity); returns its message_id.

        Writing in an unknown private chat opens it, as /start does; a channel gets a
        channel_post instead of a message; a group the bot has left sends the bot nothing.
        `as_group` is an anonymous admin writing as the group: from GroupAnonymousBot, with
        the group as `sender_chat`.
        """
        if chat_id > 0 and chat_id not in self.world.chats:
            self.add_chat(chat_id, username=username, first_name=first_name)
        chat = self._chat(chat_id)
        if chat.migrated_to is not None:
            raise ValueError(f"chat {chat_id} was migrated to {chat.migrated_to}")
        if as_group:
            self.world.user(ANONYMOUS_ADMIN_ID, "GroupAnonymousBot", "Group").is_bot = True
            sender = ANONYMOUS_ADMIN_ID
        else:
            sender = self._default_user(chat, user_id)
            self.world.user(sender, username, first_name)
            chat.members.add(sender)
        msg = self.world.store(
            chat,
            None if chat.type == "channel" else sender,
            content=FormattedText(text, command_entities(text)),
            thread_id=thread_id,
            reply_to=reply_to,
            sender_chat_id=chat.id if as_group and chat.type != "channel" else None,
        )
        if chat.type == "private" or chat.bot_status not in ("left", "kicked"):
            kind = "channel_post" if chat.type == "channel" else "message"
            self.world.push_update(kind, self.world.message_json(msg))
        return msg.message_id

    def press_button(
        self,
        chat_id: int,
        message_id: int,
        data: str,
        *,
        user_id: int | None = None,
        check: bool = True,
    ) -> str:
        """A user presses the inline button carrying `data`; returns the callback_query id.

        With `check` (the default) the message must have such a button, which catches typos
        in tests; `check=False` sends any data, as a stale or forged client could.
        """
        msg = self.world.message(chat_id, message_id)
        if msg is None:
            raise KeyError(f"no message {message_id} in chat {chat_id}")
        rows = (msg.reply_markup or {}).get("inline_keyboard", [])
        offered = [b.get("callback_data") for row in rows for b in row if "callback_data" in b]
        if check and data not in offered:
            raise ValueError(f"message {message_id} has no button {data!r}; it has {offered}")
        chat = self._chat(chat_id)
        user = self.world.user(self._default_user(chat, user_id))
        query_id = str(4_000_000_000_000 + len(self.world.callback_queries) + 1)
        self.world.callback_queries[query_id] = False
        query = {
            "id": query_id,
            "from": user.as_json(),
            "message": self.world.message_json(msg),
            "chat_instance": str(abs(chat_id) * 7919),
            "data": data,
        }
        self.world.push_update("callback_query", query)
        return query_id

    def _membership_update(self, chat: Chat, by: int, new_status: str) -> None:
        world = self.world
        old = world.member_json(chat, world.bot.id)
        chat.bot_status = new_status
        new = world.member_json(chat, world.bot.id)
        payload = {"chat": chat.as_json(), "from": world.user(by).as_json(), "date": world.now()}
        world.push_update(
            "my_chat_member", payload | {"old_chat_member": old, "new_chat_member": new}
        )

    def bot_added(self, chat_id: int, by_user_id: int | None = None) -> None:
        """The bot is added to a group or channel (or a user restarts it): my_chat_member."""
        chat = self._chat(chat_id)
        status = "administrator" if chat.type == "channel" else "member"
        by = by_user_id or (chat.admins[0] if chat.admins else self._default_user(chat, None))
        self._membership_update(chat, by, status)

    def bot_removed(self, chat_id: int, by_user_id: int | None = None) -> None:
        """The user blocks the bot, or an admin kicks it: my_chat_member, then sends get 403."""
        chat = self._chat(chat_id)
        by = by_user_id or (chat.admins[0] if chat.admins else self._default_user(chat, None))
        self._membership_update(chat, by, "kicked")

    def block(self, chat_id: int) -> None:
        """Sends to this chat get 403 from now on, without any update telling the bot."""
        self._chat(chat_id).bot_status = "kicked"

    def unblock(self, chat_id: int) -> None:
        """Undo `block`, silently."""
        chat = self._chat(chat_id)
        chat.bot_status = "administrator" if chat.type == "channel" else "member"

    def migrate(self, chat_id: int, new_chat_id: int) -> None:
        """A group becomes a supergroup: service messages in both, then the old id gets 400."""
        old = self._chat(chat_id)
        if old.type != "group" or new_chat_id in self.world.chats:
            raise ValueError("only a group migrates, and to an id not yet in use")
        new = Chat(new_chat_id, "supergroup", old.title, old.username, None, False, old.admins)
        new.bot_status, new.members = old.bot_status, set(old.members)
        self.world.chats[new_chat_id] = new
        by = self.world.user(old.admins[0] if old.admins else DEFAULT_USER_ID).id
        for chat, field, other in (
            (old, "migrate_to_chat_id", new.id),
            (new, "migrate_from_chat_id", old.id),
        ):
            msg = self.world.store(chat, by, service={field: other})
            self.world.push_update("message", self.world.message_json(msg))
        old.migrated_to = new_chat_id

    def fail_next(
        self,
        method: str,
        error_code: int,
        description: str,
        *,
        retry_after: int | None = None,
        migrate_to_chat_id: int | None = None,
        count: int = 1,
    ) -> None:
        """The next `count` calls of `method` fail with this error, before anything else."""
        known = METHODS.get(method.lower())
        if known is None:
            raise ValueError(f"the emulator does not serve {method!r}")
        error = ApiError(
            error_code, description, retry_after=retry_after, migrate_to_chat_id=migrate_to_chat_id
        )
        self.world.failures.setdefault(known.name, deque()).extend([error] * count)

    def set_unavailable(self, unavailable: bool = True) -> None:
        """Answer every Bot API call with 502 Bad Gateway (the controls keep working)."""
        self.world.unavailable = unavailable

    def reset_counts(self) -> None:
        """Zero `violations` (and their kinds) and `requests_by_method`."""
        self.world.violations = 0
        self.world.flood.refusals.clear()
        self.world.requests_by_method.clear()
