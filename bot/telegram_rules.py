"""What Telegram accepts in a message: length limits, inline keyboards, and (through
`bot.telegram_html`) HTML parse mode.

The Bot API refuses a message it cannot take, and the refusal arrives only at send time, as a
400 with a description. These rules let the formatter's property tests and the emulator give
the same verdict offline.

[pure]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from bot.telegram_html import SPACES, EntityParseError, FormattedText, parse_text, utf16_len

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_BUTTONS = 100

TEXT_EMPTY = "Bad Request: message text is empty"
TEXT_TOO_LONG = "Bad Request: message is too long"
CAPTION_TOO_LONG = "Bad Request: message caption is too long"
NOT_UTF8 = "Bad Request: text must be encoded in UTF-8"
BUTTON_DATA_INVALID = "Bad Request: BUTTON_DATA_INVALID"
BUTTON_URL_INVALID = "Bad Request: BUTTON_URL_INVALID"
BUTTON_TEXT_INVALID = "Bad Request: BUTTON_TEXT_INVALID"
MARKUP_TOO_LONG = "Bad Request: reply markup is too long"
BUTTON_PREFIX = "Bad Request: can't parse inline keyboard button: "
KEYBOARD_NOT_ARRAYS = (
    BUTTON_PREFIX + 'Field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
)
MARKUP_INVALID = "Bad Request: can't parse reply keyboard markup JSON object"

BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)


def _measure(text: str, parse_mode: str | None, strict: bool) -> FormattedText | str:
    """The stored form of `text`, or Telegram's description of why it cannot be parsed."""
    try:
        text.encode("utf-8")
        return parse_text(text, parse_mode, strict=strict)
    except EntityParseError as exc:
        return exc.description
    except UnicodeEncodeError:
        return NOT_UTF8
    except ValueError as exc:
        return str(exc)


def check_message(
    text: str,
    parse_mode: str | None,
    reply_markup: Mapping[str, Any] | None,
    *,
    strict: bool = True,
) -> str | None:
    """Telegram's 400 description for this sendMessage/editMessageText, or None if accepted.

    The length limit counts UTF-16 code units of the visible text after parsing and trimming,
    so markup and escapes are free and an emoji outside the BMP counts twice.
    """
    formatted = _measure(text, parse_mode, strict)
    if isinstance(formatted, str):
        return formatted
    if not formatted.text:
        return TEXT_EMPTY
    if utf16_len(formatted.text) > MAX_TEXT_LENGTH:
        return TEXT_TOO_LONG
    return check_reply_markup(reply_markup)


def check_caption(
    caption: str | None,
    parse_mode: str | None,
    reply_markup: Mapping[str, Any] | None,
    *,
    strict: bool = True,
) -> str | None:
    """As `check_message`, for a media caption: it may be empty, and holds 1024 units at most."""
    formatted = _measure(caption or "", parse_mode, strict)
    if isinstance(formatted, str):
        return formatted
    if utf16_len(formatted.text) > MAX_CAPTION_LENGTH:
        return CAPTION_TOO_LONG
    return check_reply_markup(reply_markup)


def button_url_ok(url: object) -> bool:
    """A button URL must be http(s) with a host, or a tg:// link."""
    if not isinstance(url, str) or any(ch in SPACES for ch in url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    scheme = parts.scheme.lower()
    return (scheme in ("http", "https") and bool(parts.hostname)) or (
        scheme == "tg" and bool(parts.netloc)
    )


def _check_button(button: object) -> str | None:
    if not isinstance(button, Mapping):
        return BUTTON_PREFIX + "InlineKeyboardButton must be an Object"
    text = button.get("text")
    if not isinstance(text, str):
        return BUTTON_PREFIX + 'Field "text" must be of type String'
    if not text.strip():
        return BUTTON_TEXT_INVALID
    actions = [key for key in BUTTON_ACTIONS if button.get(key) not in (None, "")]
    if not actions:
        return BUTTON_PREFIX + "Text buttons are unallowed in the inline keyboard"
    if len(actions) > 1:
        return BUTTON_PREFIX + f"exactly one action field must be used, found {', '.join(actions)}"
    data = button.get("callback_data")
    if data is not None and (
        not isinstance(data, str) or len(data.encode("utf-8")) > MAX_CALLBACK_DATA_BYTES
    ):
        return BUTTON_DATA_INVALID
    if "url" in actions and not button_url_ok(button["url"]):
        return BUTTON_URL_INVALID
    return None


def check_reply_markup(reply_markup: Mapping[str, Any] | None) -> str | None:
    """Telegram's 400 description for this reply_markup, or None if it is acceptable.

    Inline keyboards are checked button by button; reply keyboards, removal and force-reply
    markups are only checked for shape.
    """
    if reply_markup is None:
        return None
    if not isinstance(reply_markup, Mapping):
        return MARKUP_INVALID
    if "inline_keyboard" not in reply_markup:
        known = ("keyboard", "remove_keyboard", "force_reply")
        return None if any(key in reply_markup for key in known) else MARKUP_INVALID
    rows = reply_markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        return KEYBOARD_NOT_ARRAYS
    if sum(len(row) for row in rows) > MAX_BUTTONS:
        return MARKUP_TOO_LONG
    for row in rows:
        for button in row:
            problem = _check_button(button)
            if problem:
                return problem
    return None
