"""The Bot API methods the emulator serves, with the parameters each one reads.

`METHODS` is the single table: the HTTP layer dispatches through it, handlers can only read the
parameters declared here, and the spec test checks every name in it against the Bot API.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from bot.emulator_messages import (
    answer_callback_query,
    delete_message,
    edit_message_reply_markup,
    edit_message_text,
    send_chat_action,
    send_message,
    send_photo,
)
from bot.emulator_params import Args, Kind, Param
from bot.emulator_world import ApiError, Webhook, World, bad_request

MAX_POLL_SECONDS = 50
POLL_CONFLICT = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
_COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")

Handler = Callable[[World, Args], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Method:
    """One Bot API method: its name, the parameters it reads and its implementation."""

    name: str
    params: tuple[Param, ...]
    handler: Handler


async def get_me(world: World, args: Args) -> dict[str, Any]:
    """getMe: the bot's User, with the bot-only capability fields."""
    capabilities = {"can_join_groups": True, "can_read_all_group_messages": False}
    return world.bot.as_json() | capabilities | {"supports_inline_queries": False}


async def get_updates(world: World, args: Args) -> list[dict[str, Any]]:
    """getUpdates: long polling; a newer call ends an older one with 409, as Telegram does."""
    if world.webhook.url:
        raise ApiError(409, WEBHOOK_CONFLICT)
    allowed = args.json("allowed_updates")
    if isinstance(allowed, list):
        world.allowed_updates = frozenset(map(str, allowed)) or None
    world.confirm(args.integer("offset") or 0)
    limit = min(max(args.integer("limit") or 100, 1), 100)
    timeout = min(max(args.integer("timeout") or 0, 0), MAX_POLL_SECONDS)
    world.poll_generation += 1
    mine = world.poll_generation
    world.notify()
    deadline = world.loop_time() + timeout
    while True:
        if mine != world.poll_generation:
            raise ApiError(409, POLL_CONFLICT)
        if world.webhook.url:
            raise ApiError(409, WEBHOOK_CONFLICT)
        remaining = deadline - world.loop_time()
        if world.updates or world.closing or remaining <= 0:
            return list(world.updates)[:limit]
        await world.wait_change(remaining)


def _drop_or_keep(world: World, args: Args) -> None:
    if args.flag("drop_pending_updates"):
        world.updates.clear()


async def delete_webhook(world: World, args: Args) -> bool:
    """deleteWebhook: back to long polling."""
    world.webhook = Webhook()
    _drop_or_keep(world, args)
    world.notify()
    return True


async def set_webhook(world: World, args: Args) -> bool:
    """setWebhook: HTTPS as Telegram demands, or plain HTTP to loopback (an emulator rule)."""
    url = args.string("url") or ""
    if not url:
        return await delete_webhook(world, args)
    parts = urlsplit(url)
    loopback = parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS
    if not (loopback or (parts.scheme == "https" and parts.hostname)):
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    secret = args.string("secret_token")
    if secret is not None and not _SECRET.fullmatch(secret):
        raise bad_request("secret token contains unallowed characters")
    allowed = args.json("allowed_updates")
    allowed_list = [str(kind) for kind in allowed] if isinstance(allowed, list) else None
    if allowed_list is not None:
        world.allowed_updates = frozenset(allowed_list) or None
    world.webhook = Webhook(url, secret, args.integer("max_connections") or 40, allowed_list)
    _drop_or_keep(world, args)
    world.notify()
    return True


async def get_webhook_info(world: World, args: Args) -> dict[str, Any]:
    """getWebhookInfo: the URL (empty when polling) and the number of pending updates."""
    hook = world.webhook
    info: dict[str, Any] = {
        "url": hook.url,
        "has_custom_certificate": False,
        "pending_update_count": len(world.updates),
    }
    if hook.url:
        info["max_connections"] = hook.max_connections
    if hook.allowed_updates is not None:
        info["allowed_updates"] = hook.allowed_updates
    if hook.last_error_date is not None:
        info |= {
            "last_error_date": hook.last_error_date,
            "last_error_message": hook.last_error_message,
        }
    return info


def _scope_key(args: Args) -> tuple[str, str]:
    scope = args.json("scope")
    if scope is not None and not (
        isinstance(scope, Mapping) and isinstance(scope.get("type"), str)
    ):
        raise bad_request("can't parse BotCommandScope JSON object")
    return json.dumps(scope or {"type": "default"}, sort_keys=True), args.string(
        "language_code"
    ) or ""


async def set_my_commands(world: World, args: Args) -> bool:
    """setMyCommands: per scope and language, checked as Telegram checks them."""
    commands = args.json("commands")
    if not isinstance(commands, list) or not all(isinstance(c, Mapping) for c in commands):
        raise bad_request("can't parse commands JSON object")
    if len(commands) > 100:
        raise bad_request("BOT_COMMANDS_TOO_MUCH")
    for command in commands:
        if not _COMMAND_NAME.fullmatch(str(command.get("command", ""))):
            raise bad_request("BOT_COMMAND_INVALID")
        description = command.get("description")
        if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
    cleaned = [{"command": c["command"], "description": c["description"]} for c in commands]
    world.commands[_scope_key(args)] = cleaned
    return True


async def get_my_commands(world: World, args: Args) -> list[dict[str, str]]:
    """getMyCommands: exactly what was set for this scope and language (no fallback)."""
    return list(world.commands.get(_scope_key(args), []))


async def delete_my_commands(world: World, args: Args) -> bool:
    """deleteMyCommands."""
    world.commands.pop(_scope_key(args), None)
    return True


async def get_chat(world: World, args: Args) -> dict[str, Any]:
    """getChat: a ChatFullInfo."""
    return world.find_chat(args.chat() or 0).full_info()


async def get_chat_member(world: World, args: Args) -> dict[str, Any]:
    """getChatMember: creator for the first admin, administrator, member or left."""
    chat = world.find_chat(args.chat() or 0)
    return world.member_json(chat, args.integer("user_id") or 0)


async def get_chat_administrators(world: World, args: Args) -> list[dict[str, Any]]:
    """getChatAdministrators: the configured admins, plus the bot when it is one."""
    chat = world.find_chat(args.chat() or 0)
    if chat.type == "private":
        raise bad_request("there are no administrators in the private chat")
    admins = [world.member_json(chat, user_id) for user_id in chat.admins]
    if chat.bot_status == "administrator":
        admins.append(world.member_json(chat, world.bot.id))
    return admins


async def leave_chat(world: World, args: Args) -> bool:
    """leaveChat: the bot leaves a group or channel and gets its own my_chat_member update."""
    chat = world.find_chat(args.chat() or 0)
    if chat.type == "private":
        raise bad_request("chat member status can't be changed in private chats")
    if chat.bot_status in ("left", "kicked"):
        raise chat.forbidden()
    old = world.member_json(chat, world.bot.id)
    chat.bot_status = "left"
    world.push_update(
        "my_chat_member",
        {
            "chat": chat.as_json(),
            "from": world.bot.as_json(),
            "date": world.now(),
            "old_chat_member": old,
            "new_chat_member": world.member_json(chat, world.bot.id),
        },
    )
    return True


async def accept(world: World, args: Args) -> bool:
    """close and logOut: nothing to do here."""
    return True


def _p(name: str, kind: Kind, missing: str | None = None) -> Param:
    return Param(name, kind, None if missing is None else f"Bad Request: {missing}")


_CHAT = _p("chat_id", Kind.CHAT_ID, "chat_id is empty")
_THREAD = _p("message_thread_id", Kind.INT)
_MARKUP = _p("reply_markup", Kind.JSON)
_PARSE_MODE = _p("parse_mode", Kind.STR)
_SCOPE = (_p("scope", Kind.JSON), _p("language_code", Kind.STR))
_SILENT = _p("disable_notification", Kind.BOOL)
_REPLY = _p("reply_parameters", Kind.JSON)
_EDIT_TARGET = (
    _p("chat_id", Kind.CHAT_ID),
    _p("message_id", Kind.INT),
    _p("inline_message_id", Kind.STR),
)
_DROP = _p("drop_pending_updates", Kind.BOOL)
_ALLOWED = _p("allowed_updates", Kind.JSON)

METHODS: dict[str, Method] = {
    method.name.lower(): method
    for method in (
        Method("getMe", (), get_me),
        Method(
            "getUpdates",
            (_p("offset", Kind.INT), _p("limit", Kind.INT), _p("timeout", Kind.INT), _ALLOWED),
            get_updates,
        ),
        Method("deleteWebhook", (_DROP,), delete_webhook),
        Method(
            "setWebhook",
            (
                _p("url", Kind.STR),
                _p("max_connections", Kind.INT),
                _ALLOWED,
                _DROP,
                _p("secret_token", Kind.STR),
            ),
            set_webhook,
        ),
        Method("getWebhookInfo", (), get_webhook_info),
        Method(
            "setMyCommands",
            (_p("commands", Kind.JSON, 'parameter "commands" is required'), *_SCOPE),
            set_my_commands,
        ),
        Method("getMyCommands", _SCOPE, get_my_commands),
        Method("deleteMyCommands", _SCOPE, delete_my_commands),
        Method(
            "sendMessage",
            (
                _CHAT,
                _THREAD,
                _p("text", Kind.STR, "message text is empty"),
                _PARSE_MODE,
                _p("link_preview_options", Kind.JSON),
                _SILENT,
                _REPLY,
                _MARKUP,
            ),
            send_message,
        ),
        Method(
            "sendPhoto",
            (
                _CHAT,
                _THREAD,
                _p("photo", Kind.FILE, "there is no photo in the request"),
                _p("caption", Kind.STR),
                _PARSE_MODE,
                _SILENT,
                _REPLY,
                _MARKUP,
            ),
            send_photo,
        ),
        Method(
            "editMessageText",
            (*_EDIT_TARGET, _p("text", Kind.STR), _PARSE_MODE, _MARKUP),
            edit_message_text,
        ),
        Method("editMessageReplyMarkup", (*_EDIT_TARGET, _MARKUP), edit_message_reply_markup),
        Method(
            "deleteMessage",
            (_CHAT, _p("message_id", Kind.INT, "message identifier is not specified")),
            delete_message,
        ),
        Method(
            "answerCallbackQuery",
            (
                _p("callback_query_id", Kind.STR, "QUERY_ID_INVALID"),
                _p("text", Kind.STR),
                _p("show_alert", Kind.BOOL),
                _p("url", Kind.STR),
            ),
            answer_callback_query,
        ),
        Method(
            "sendChatAction",
            (_CHAT, _THREAD, _p("action", Kind.STR, "wrong parameter action in request")),
            send_chat_action,
        ),
        Method("getChat", (_CHAT,), get_chat),
        Method(
            "getChatMember",
            (_CHAT, _p("user_id", Kind.INT, "invalid user_id specified")),
            get_chat_member,
        ),
        Method("getChatAdministrators", (_CHAT,), get_chat_administrators),
        Method("leaveChat", (_CHAT,), leave_chat),
        Method("close", (), accept),
        Method("logOut", (), accept),
    )
}
