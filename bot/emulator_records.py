"""What the emulator saw the bot do, as plain records, and how a message reads in a terminal.

Records keep the text exactly as the bot sent it (HTML and all), so tests can assert on markup;
`render_for_terminal` turns one into what a reader of the chat would see.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from bot.telegram_html import EntityParseError, FormattedText, parse_text


@dataclass(frozen=True, slots=True)
class SentRecord:
    """One accepted sendMessage or sendPhoto. `time` is the emulator's clock at acceptance."""

    method: str
    chat_id: int
    message_id: int
    time: float
    text: str | None = None
    caption: str | None = None
    parse_mode: str | None = None
    reply_markup: Mapping[str, Any] | None = None
    thread_id: int | None = None
    photo: bytes | None = None
    disable_notification: bool = False
    link_preview_options: Mapping[str, Any] | None = None

    @property
    def buttons(self) -> list[Mapping[str, Any]]:
        """The inline buttons, row by row, flattened."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [button for row in rows for button in row]

    def button_data(self, text: str) -> str:
        """The callback_data of the button labelled `text` (KeyError if there is none)."""
        for button in self.buttons:
            if button.get("text") == text and "callback_data" in button:
                return str(button["callback_data"])
        raise KeyError(f"no callback button {text!r} among {[b.get('text') for b in self.buttons]}")

    def render(self) -> str:
        """This message as the terminal chat shows it."""
        return render_for_terminal(self)


@dataclass(frozen=True, slots=True)
class EditRecord:
    """An accepted editMessageText, editMessageReplyMarkup or deleteMessage."""

    method: str
    chat_id: int
    message_id: int
    time: float
    text: str | None = None
    parse_mode: str | None = None
    reply_markup: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class CallbackAnswer:
    """An accepted answerCallbackQuery."""

    callback_query_id: str
    time: float
    text: str | None = None
    show_alert: bool = False
    url: str | None = None


def _utf16_index(text: str) -> dict[int, int]:
    """Map each UTF-16 offset that starts a character to its index in the Python string."""
    mapping, units = {}, 0
    for index, ch in enumerate(text):
        mapping[units] = index
        units += 2 if ord(ch) > 0xFFFF else 1
    mapping[units] = len(text)
    return mapping


def _decorate(formatted: FormattedText) -> str:
    """Mark bold as **x**, italic as _x_, code as `x` and links as `text <url>`."""
    text = formatted.text
    index = _utf16_index(text)
    marks: list[tuple[int, int, int, str]] = []
    for e in formatted.entities:
        start, end = index[e.offset], index[e.offset + e.length]
        opening, closing = {
            "bold": ("**", "**"),
            "italic": ("_", "_"),
            "code": ("`", "`"),
            "pre": ("```\n", "\n```"),
            "text_link": ("", "" if e.url == text[start:end] else f" <{e.url}>"),
        }.get(e.type, ("", ""))
        marks.append((end, 0, -start, closing))
        marks.append((start, 1, -end, opening))
    out, cursor = [], 0
    for position, _, _, mark in sorted(marks):
        out += [text[cursor:position], mark]
        cursor = position
    out.append(text[cursor:])
    return "".join(out)


def render_for_terminal(record: SentRecord | EditRecord) -> str:
    """The message as readable plain text: decoded entities, marked-up emphasis, a button line.

    Markup Telegram would have refused cannot reach a record, but a record built by hand may
    carry any text; that is shown as it is.
    """
    body = record.text
    lines: list[str] = []
    if isinstance(record, SentRecord) and record.method == "sendPhoto":
        size = "" if record.photo is None else f", {len(record.photo)} bytes"
        lines.append(f"[photo{size}]")
        body = record.caption
    if body:
        try:
            lines.append(_decorate(parse_text(body, record.parse_mode, strict=False)))
        except (EntityParseError, ValueError):
            lines.append(body)
    for row in (record.reply_markup or {}).get("inline_keyboard", []):
        lines.append(" ".join(f"[{button.get('text', '')}]" for button in row))
    return "\n".join(lines)


def current_messages(
    sent: Sequence[SentRecord], edits: Sequence[EditRecord], chat_id: int
) -> list[SentRecord]:
    """The sends to a chat as they stand after `edits`: text and keyboard new, deletions gone."""
    current = {r.message_id: r for r in sent if r.chat_id == chat_id}
    for edit in edits:
        record = current.get(edit.message_id)
        if record is None or edit.chat_id != chat_id:
            continue
        if edit.method == "deleteMessage":
            del current[edit.message_id]
        elif edit.method == "editMessageText":
            current[edit.message_id] = replace(
                record, text=edit.text, parse_mode=edit.parse_mode, reply_markup=edit.reply_markup
            )
        else:
            current[edit.message_id] = replace(record, reply_markup=edit.reply_markup)
    return list(current.values())


def record_to_json(record: SentRecord | EditRecord | CallbackAnswer) -> dict[str, Any]:
    """A JSON-safe dict for the control API; photo bytes are base64 and sends carry `rendered`."""
    out: dict[str, Any] = {name: getattr(record, name) for name in record.__dataclass_fields__}
    if isinstance(record, SentRecord):
        out["photo"] = None if record.photo is None else base64.b64encode(record.photo).decode()
    if not isinstance(record, CallbackAnswer):
        out["rendered"] = render_for_terminal(record)
    return out
