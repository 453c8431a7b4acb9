"""Telegram's HTML parse mode, offline: visible text and entities, or the 400 it would give.

Split from `bot.telegram_rules` (which checks lengths and keyboards) because the parser is a
concern of its own: it follows TDLib's `parse_html` (the code behind the Bot API), its error
messages, byte offsets, entity order and leniencies, and the emulator uses it to store what a
chat would show.

One deliberate difference: TDLib keeps a bare `&` that does not start a supported entity as a
literal, although the documentation says it must be escaped. With `strict=True` (the default)
such an `&` is an error, because it always means a string went out unescaped, and an unescaped
`&lt` in a link or headline silently changes the text. A bare `>` is accepted, as Telegram does.
Markdown and MarkdownV2 are not parsed: their text is measured as it is (a known gap; we send HTML).

[pure]
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

PARSE_ERROR_PREFIX = "Bad Request: can't parse entities: "
UNSUPPORTED_PARSE_MODE = "Bad Request: unsupported parse_mode"


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_SIMPLE_TAGS = {
    **dict.fromkeys(("b", "strong"), "bold"),
    **dict.fromkeys(("i", "em"), "italic"),
    **dict.fromkeys(("u", "ins"), "underline"),
    **dict.fromkeys(("s", "strike", "del"), "strikethrough"),
    **dict.fromkeys(("span", "tg-spoiler"), "spoiler"),
    "pre": "pre",
}
_SUPPORTED_TAGS = frozenset(_SIMPLE_TAGS) | {"a", "code", "blockquote", "tg-emoji"}
# TDLib orders entities by offset, then longer first, then by a priority per type (this order).
_ENTITY_ORDER = _words(
    "blockquote expandable_blockquote pre code text_link bold italic underline strikethrough "
    "spoiler custom_emoji"
)
_PRIORITY = {kind: rank for rank, kind in enumerate(_ENTITY_ORDER)}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
# What TDLib counts as whitespace; telegram_rules checks button URLs with it too.
SPACES = " \t\r\n\v\f"
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):(?!\d)")


@dataclass(frozen=True, slots=True)
class Entity:
    """A MessageEntity as the Bot API returns it; offsets and lengths in UTF-16 code units."""

    type: str
    offset: int
    length: int
    url: str | None = None
    language: str | None = None
    custom_emoji_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The JSON object, with the optional fields only when set."""
        return {key: value for key, value in asdict(self).items() if value is not None}


@dataclass(frozen=True, slots=True)
class FormattedText:
    """The visible text of a message and its entities."""

    text: str
    entities: tuple[Entity, ...] = ()


class EntityParseError(ValueError):
    """The markup cannot be parsed; `description` is Telegram's full 400 description."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.description = PARSE_ERROR_PREFIX + reason


@dataclass(slots=True)
class _Open:
    """A start tag waiting for its end tag."""

    tag: str
    argument: str
    utf16_start: int
    chunk_start: int
    expandable: bool


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's limits and entity offsets."""
    return sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8", "surrogatepass"))


def _fail(text: str, index: int, what: str, then: str = "") -> EntityParseError:
    return EntityParseError(f"{what} at byte offset {_byte_offset(text, index)}{then}")


def _skip_spaces(text: str, i: int) -> int:
    while i < len(text) and text[i] in SPACES:
        i += 1
    return i


def _name_end(text: str, i: int, stops: str = ">") -> int:
    while i < len(text) and text[i] not in SPACES and text[i] not in stops:
        i += 1
    return i


def _decode_entity(text: str, pos: int) -> tuple[str, int] | None:
    """Decode the character reference at `pos` as TDLib does (the `;` is optional)."""
    end, n = pos + 1, len(text)
    if end < n and text[end] == "#":
        hexadecimal = end + 1 < n and text[end + 1] == "x"
        end = start = end + 1 + hexadecimal
        digits = "0123456789abcdefABCDEF" if hexadecimal else "0123456789"
        while end < n and text[end] in digits:
            end += 1
        code = int(text[start:end], 16 if hexadecimal else 10) if end > start else 0
        if code == 0 or code >= 0x10FFFF or end - pos >= 10:
            return None
        if 0xD800 <= code <= 0xDFFF:
            raise EntityParseError(
                "Text contains invalid Unicode characters after decoding HTML entities, "
                "check for unmatched surrogate code units"
            )
        char = chr(code)
    else:
        while end < n and text[end].isascii() and text[end].isalpha():
            end += 1
        if text[pos + 1 : end] not in _NAMED_ENTITIES:
            return None
        char = _NAMED_ENTITIES[text[pos + 1 : end]]
    return char, end + (end < n and text[end] == ";")


def _decode_run(text: str, start: int, stop: int, strict: bool) -> str:
    """Decode the character references in `text[start:stop]`, which holds no tag."""
    out, i = [], start
    while (amp := text.find("&", i, stop)) >= 0:
        out.append(text[i:amp])
        decoded = _decode_entity(text, amp)
        if decoded is None and strict:
            raise _fail(text, amp, 'Character "&"', ' must be escaped as "&amp;"')
        out.append(decoded[0] if decoded else "&")
        i = decoded[1] if decoded else amp + 1
    out.append(text[i:stop])
    return "".join(out)


def normalise_link(url: str) -> str | None:
    """The URL Telegram would link `<a href>` to, or None when it drops the link silently."""
    if not url or any(ch in SPACES for ch in url):
        return None
    if "://" not in url:
        if _SCHEME.match(url):
            return None
        url = "http://" + url
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme in ("tg", "ton"):
        return url
    if scheme not in ("http", "https") or not host or ("." not in host and host != "localhost"):
        return None
    return urlunsplit((scheme, parts.netloc, parts.path or "/", parts.query, parts.fragment))


def _close_entity(open_: _Open, utf16_now: int, plain: list[str]) -> Entity | None:
    length = utf16_now - open_.utf16_start
    start, tag, arg = open_.utf16_start, open_.tag, open_.argument
    if length <= 0:
        return None
    if tag in _SIMPLE_TAGS:
        return Entity(_SIMPLE_TAGS[tag], start, length)
    if tag == "code":
        return Entity("code", start, length, language=arg or None)
    if tag == "blockquote":
        return Entity("expandable_" * open_.expandable + "blockquote", start, length)
    if tag == "tg-emoji":
        if not arg.isdigit():
            raise EntityParseError("Invalid custom emoji identifier specified")
        return Entity("custom_emoji", start, length, custom_emoji_id=arg)
    url = normalise_link(arg or "".join(plain[open_.chunk_start :]))
    return Entity("text_link", start, length, url=url) if url else None


def _merge_pre_code(entities: list[Entity]) -> list[Entity]:
    """`<pre><code class="language-x">` is one pre entity with a language, as in Telegram.

    A code entity that is not exactly a pre's content keeps no language (the Bot API has no
    such field on code).
    """
    out = [e for e in entities if e.type != "code"]
    pres = {(e.offset, e.length): e for e in out if e.type == "pre"}
    for code in (e for e in entities if e.type == "code"):
        pre = pres.get((code.offset, code.length))
        if code.language and pre is not None:
            out[out.index(pre)] = Entity("pre", code.offset, code.length, language=code.language)
        else:
            out.append(Entity("code", code.offset, code.length))
    return out


def _parse_attributes(text: str, i: int, tag: str, begin: int, strict: bool) -> tuple[int, _Open]:
    """Read the attributes of the start tag at `begin`; returns the index of its `>`."""
    open_ = _Open(tag, "", 0, 0, expandable=False)
    while (i := _skip_spaces(text, i)) >= len(text) or text[i] != ">":
        if i >= len(text):
            raise _fail(text, begin, "Unclosed start tag")
        name_end = _name_end(text, i, "=>")
        name = text[i:name_end].lower()
        if not name:
            raise _fail(text, begin, f'Empty attribute name in the tag "{tag}"')
        i, value = _skip_spaces(text, name_end), ""
        if i < len(text) and text[i] == "=":
            i, value = _attribute_value(text, _skip_spaces(text, i + 1), tag, begin, strict)
        if (tag, name) in (("a", "href"), ("tg-emoji", "emoji-id")):
            open_.argument = value
        elif tag in ("code", "span") and name == "class":
            prefix = "language-" if tag == "code" else "tg-"
            open_.argument = value[len(prefix) :] if value.startswith(prefix) else ""
        elif tag == "blockquote" and name == "expandable":
            open_.expandable = True
    return i, open_


def _attribute_value(text: str, i: int, tag: str, begin: int, strict: bool) -> tuple[int, str]:
    """Read a quoted string (entities decoded) or a name token (lower-cased) at `i`."""
    if i >= len(text):
        raise _fail(text, begin, f'Unclosed start tag "{tag}"')
    if text[i] in "'\"":
        end = text.find(text[i], i + 1)
        if end < 0:
            raise _fail(text, begin, "Unclosed start tag")
        return end + 1, _decode_run(text, i + 1, end, strict)
    end = i
    while end < len(text) and text[end].isascii() and (text[end].isalnum() or text[end] in ".-"):
        end += 1
    if end >= len(text) or (text[end] not in SPACES and text[end] != ">"):
        raise _fail(text, i, "Unexpected end of name token")
    return end, text[i:end].lower()


def _start_tag(text: str, begin: int, strict: bool) -> tuple[int, _Open]:
    """Read the start tag at `begin`; returns the index after its `>` and the open tag."""
    name_end = _name_end(text, begin + 1)
    if name_end >= len(text):
        raise _fail(text, begin, "Unclosed start tag")
    tag = text[begin + 1 : name_end].lower()
    if tag not in _SUPPORTED_TAGS:
        raise _fail(text, begin, f'Unsupported start tag "{tag}"')
    end, open_ = _parse_attributes(text, name_end, tag, begin, strict)
    if tag == "span" and open_.argument != "spoiler":
        raise _fail(text, begin, 'Tag "span" must have class "tg-spoiler"')
    return end + 1, open_


def _end_tag(text: str, begin: int, stack: list[_Open]) -> int:
    """Check the end tag at `begin` against the innermost open tag (`</>` closes any)."""
    if not stack:
        raise _fail(text, begin, "Unexpected end tag")
    name_end = _name_end(text, begin + 2)
    name = text[begin + 2 : name_end].lower()
    close = _skip_spaces(text, name_end)
    if close >= len(text) or text[close] != ">":
        raise _fail(text, begin, "Unclosed end tag")
    if name and name != stack[-1].tag:
        found = f', expected "</{stack[-1].tag}>", found "</{name}>"'
        raise _fail(text, begin, "Unmatched end tag", found)
    return close + 1


def parse_html(text: str, *, strict: bool = True) -> FormattedText:
    """Parse Telegram HTML into visible text and entities, or raise EntityParseError.

    The text is not trimmed here (see `parse_text`); entities of zero length are dropped, and an
    `<a>` whose URL Telegram would not accept stays plain text without an error.
    """
    plain: list[str] = []
    utf16, i = 0, 0
    stack: list[_Open] = []
    entities: list[Entity] = []
    while i < len(text):
        lt = text.find("<", i)
        chunk = _decode_run(text, i, len(text) if lt < 0 else lt, strict)
        plain.append(chunk)
        utf16 += utf16_len(chunk)
        if lt < 0:
            break
        if text.startswith("</", lt):
            i = _end_tag(text, lt, stack)
            entity = _close_entity(stack.pop(), utf16, plain)
            entities += [entity] if entity else []
        else:
            i, open_ = _start_tag(text, lt, strict)
            open_.utf16_start, open_.chunk_start = utf16, len(plain)
            stack.append(open_)
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    merged = _merge_pre_code(entities)
    merged.sort(key=lambda e: (e.offset, -e.length, _PRIORITY[e.type]))
    return FormattedText("".join(plain), tuple(merged))


def _trim(formatted: FormattedText) -> FormattedText:
    """Strip surrounding whitespace as Telegram does, moving and clipping the entities."""
    text = formatted.text
    stripped = text.strip()
    if stripped == text:
        return formatted
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    size = utf16_len(stripped)
    entities = []
    for e in formatted.entities:
        start, end = max(e.offset - lead, 0), min(e.offset + e.length - lead, size)
        if end > start:
            entities.append(
                Entity(e.type, start, end - start, e.url, e.language, e.custom_emoji_id)
            )
    return FormattedText(stripped, tuple(entities))


def parse_text(text: str, parse_mode: str | None, *, strict: bool = True) -> FormattedText:
    """The message as Telegram would store it: parsed per `parse_mode`, then trimmed.

    Raises EntityParseError for bad markup and ValueError (with Telegram's description as its
    message) for an unknown parse mode.
    """
    mode = (parse_mode or "").lower()
    if mode == "html":
        return _trim(parse_html(text, strict=strict))
    if mode in ("", "markdown", "markdownv2"):
        return _trim(FormattedText(text))
    raise ValueError(UNSUPPORTED_PARSE_MODE)


def html_to_plain(text: str) -> str:
    """The visible text of an HTML message (entities decoded, tags removed, trimmed)."""
    return parse_text(text, "HTML", strict=False).text
