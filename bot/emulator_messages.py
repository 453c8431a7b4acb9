"""The emulator's Bot API methods that post, change or acknowledge messages.

Each checks what Telegram checks, in about Telegram's order: the content (markup, limits,
keyboard), then the chat (unknown, migrated, blocked), then flood control; only a send that
passes all of them is stored, recorded and answered with a Message.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

from bot.emulator_params import Args, Upload
from bot.emulator_records import CallbackAnswer, EditRecord, SentRecord
from bot.emulator_world import ApiError, Chat, StoredMessage, World, bad_request
from bot.telegram_html import parse_text
from bot.telegram_rules import check_caption, check_message, check_reply_markup

CHAT_ACTIONS = frozenset(
    {
        *("typing", "upload_photo", "record_video", "upload_video", "record_voice"),
        *("upload_voice", "upload_document", "choose_sticker", "find_location"),
        *("record_video_note", "upload_video_note"),
    }
)
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"
MAX_CALLBACK_ANSWER = 200


def _reject(problem: str | None) -> None:
    if problem is not None:
        raise ApiError(400, problem)


def _markup(value: Any) -> Mapping[str, Any] | None:
    if value is None or isinstance(value, Mapping):
        return value
    raise bad_request("can't parse reply keyboard markup JSON object")


def _inline(markup: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The part of a reply markup a Message carries: only an inline keyboard."""
    if markup is None or "inline_keyboard" not in markup:
        return None
    return {"inline_keyboard": markup["inline_keyboard"]}


def _reply_target(world: World, chat: Chat, parameters: Any) -> int | None:
    if not isinstance(parameters, Mapping) or not isinstance(parameters.get("message_id"), int):
        return None
    message_id: int = parameters["message_id"]
    if world.message(chat.id, message_id) is not None:
        return message_id
    if parameters.get("allow_sending_without_reply"):
        return None
    raise bad_request("message to be replied not found")


def _record(world: World, method: str, msg: StoredMessage, args: Args, **fields: Any) -> None:
    world.sent.append(
        SentRecord(
            method,
            msg.chat_id,
            msg.message_id,
            world.clock(),
            thread_id=args.integer("message_thread_id"),
            disable_notification=args.flag("disable_notification"),
            **fields,
        )
    )
    world.notify()


async def send_message(world: World, args: Args) -> dict[str, Any]:
    """sendMessage: a text message, HTML checked as Telegram parses it."""
    text, parse_mode = args.string("text") or "", args.string("parse_mode")
    markup = _markup(args.json("reply_markup"))
    _reject(check_message(text, parse_mode, markup, strict=world.strict_html))
    chat = world.writable_chat(args.chat() or 0)
    reply_to = _reply_target(world, chat, args.json("reply_parameters"))
    world.admit(chat)
    content = parse_text(text, parse_mode, strict=world.strict_html)
    msg = world.store(
        chat,
        world.bot.id,
        content=content,
        reply_markup=_inline(markup),
        thread_id=args.integer("message_thread_id"),
        reply_to=reply_to,
    )
    preview = args.json("link_preview_options")
    _record(
        world,
        "sendMessage",
        msg,
        args,
        text=text,
        parse_mode=parse_mode,
        reply_markup=markup,
        link_preview_options=preview if isinstance(preview, Mapping) else None,
    )
    return world.message_json(msg)


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG, GIF or JPEG (0, 0 for WebP); None if it is no image at all."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data.startswith(b"GIF8") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return 0, 0
    if not data.startswith(b"\xff\xd8"):
        return None
    index = 2
    while index + 9 < len(data) and data[index] == 0xFF:
        marker, length = data[index + 1], int.from_bytes(data[index + 2 : index + 4], "big")
        if marker in (0xC0, 0xC1, 0xC2):
            height, width = struct.unpack(">HH", data[index + 5 : index + 9])
            return int(width), int(height)
        index += 2 + length
    return 0, 0


def _photo(world: World, photo: Upload | str | None) -> tuple[dict[str, Any], bytes | None]:
    """The PhotoSize fields (but the ids) for an upload, a known file_id or a URL, and the bytes."""
    data: bytes | None
    if isinstance(photo, Upload):
        if not photo.data:
            raise bad_request("there is no photo in the request")
        data, size = photo.data, image_size(photo.data)
        if size is None:
            raise bad_request("IMAGE_PROCESS_FAILED")
    elif isinstance(photo, str) and photo in world.files:
        data = world.files[photo]
        size = image_size(data) if data else (0, 0)
    elif isinstance(photo, str) and photo.startswith(("http://", "https://")):
        data, size = None, (0, 0)
    else:
        raise bad_request("wrong file identifier/HTTP URL specified")
    width, height = size or (0, 0)
    return {"width": width, "height": height} | ({"file_size": len(data)} if data else {}), data


def _keep_file(world: World, data: bytes | None) -> dict[str, str]:
    """Register a sent photo under new file ids, so that it can be sent again by file_id."""
    number = len(world.files) + 1
    file_id = f"AgACAgQAAx0Photo{number:06d}"
    world.files[file_id] = data
    return {"file_id": file_id, "file_unique_id": f"AQAD{number:06d}"}


async def send_photo(world: World, args: Args) -> dict[str, Any]:
    """sendPhoto: an uploaded image (its bytes are kept) or a file_id or URL, with a caption."""
    caption, parse_mode = args.string("caption"), args.string("parse_mode")
    markup = _markup(args.json("reply_markup"))
    _reject(check_caption(caption, parse_mode, markup, strict=world.strict_html))
    chat = world.writable_chat(args.chat() or 0)
    reply_to = _reply_target(world, chat, args.json("reply_parameters"))
    photo_size, data = _photo(world, args.file("photo"))
    world.admit(chat)
    photo_size = _keep_file(world, data) | photo_size
    msg = world.store(
        chat,
        world.bot.id,
        caption=parse_text(caption or "", parse_mode, strict=world.strict_html),
        photo=photo_size,
        reply_markup=_inline(markup),
        thread_id=args.integer("message_thread_id"),
        reply_to=reply_to,
    )
    _record(
        world,
        "sendPhoto",
        msg,
        args,
        caption=caption,
        parse_mode=parse_mode,
        reply_markup=markup,
        photo=data,
    )
    return world.message_json(msg)


def _own_message(world: World, args: Args, not_found: str) -> tuple[Chat, StoredMessage]:
    """The bot's own message named by chat_id and message_id (inline messages are unknown)."""
    if args.string("inline_message_id"):
        raise bad_request("MESSAGE_ID_INVALID")
    chat_ref, message_id = args.chat(), args.integer("message_id")
    if chat_ref is None or message_id is None:
        raise bad_request("message identifier is not specified")
    chat = world.writable_chat(chat_ref)
    msg = world.message(chat.id, message_id)
    if msg is None:
        raise bad_request(not_found)
    if msg.sender_id != world.bot.id:
        raise bad_request("message can't be edited")
    return chat, msg


def _edit_markup(value: Any) -> Mapping[str, Any] | None:
    markup = _markup(value)
    if markup is not None and "inline_keyboard" not in markup:
        raise bad_request("inline keyboard expected")
    return markup


async def edit_message_text(world: World, args: Args) -> dict[str, Any]:
    """editMessageText: new text and keyboard (no reply_markup removes the keyboard)."""
    chat, msg = _own_message(world, args, "message to edit not found")
    if msg.content is None:
        raise bad_request("there is no text in the message to edit")
    text, parse_mode = args.string("text") or "", args.string("parse_mode")
    markup = _edit_markup(args.json("reply_markup"))
    _reject(check_message(text, parse_mode, markup, strict=world.strict_html))
    content = parse_text(text, parse_mode, strict=world.strict_html)
    if (content, _inline(markup)) == (msg.content, msg.reply_markup):
        raise bad_request(NOT_MODIFIED)
    msg.content, msg.reply_markup, msg.edit_date = content, _inline(markup), world.now()
    world.edits.append(
        EditRecord(
            "editMessageText",
            chat.id,
            msg.message_id,
            world.clock(),
            text=text,
            parse_mode=parse_mode,
            reply_markup=markup,
        )
    )
    world.notify()
    return world.message_json(msg)


async def edit_message_reply_markup(world: World, args: Args) -> dict[str, Any]:
    """editMessageReplyMarkup: a new inline keyboard, or none."""
    chat, msg = _own_message(world, args, "message to edit not found")
    markup = _edit_markup(args.json("reply_markup"))
    _reject(check_reply_markup(markup))
    if _inline(markup) == msg.reply_markup:
        raise bad_request(NOT_MODIFIED)
    msg.reply_markup, msg.edit_date = _inline(markup), world.now()
    world.edits.append(
        EditRecord(
            "editMessageReplyMarkup", chat.id, msg.message_id, world.clock(), reply_markup=markup
        )
    )
    world.notify()
    return world.message_json(msg)


async def delete_message(world: World, args: Args) -> bool:
    """deleteMessage: any message of the chat, once."""
    chat = world.writable_chat(args.chat() or 0)
    msg = world.message(chat.id, args.integer("message_id") or 0)
    if msg is None:
        raise bad_request("message to delete not found")
    msg.deleted = True
    world.edits.append(EditRecord("deleteMessage", chat.id, msg.message_id, world.clock()))
    world.notify()
    return True


async def send_chat_action(world: World, args: Args) -> bool:
    """sendChatAction: "typing" and friends; nothing is recorded but the request count."""
    if args.string("action") not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    world.writable_chat(args.chat() or 0)
    return True


async def answer_callback_query(world: World, args: Args) -> bool:
    """answerCallbackQuery: each button press can be answered once."""
    query_id = args.string("callback_query_id") or ""
    if world.callback_queries.get(query_id) is not False:
        raise bad_request(QUERY_TOO_OLD)
    text = args.string("text")
    if text is not None and len(text) > MAX_CALLBACK_ANSWER:
        raise bad_request("MESSAGE_TOO_LONG")
    world.callback_queries[query_id] = True
    answer = CallbackAnswer(
        query_id,
        world.clock(),
        text=text,
        show_alert=args.flag("show_alert"),
        url=args.string("url"),
    )
    world.callback_answers.append(answer)
    world.notify()
    return True
