"""Telegram's acceptance rules: HTML parse mode, limits and inline keyboards.

The expected error texts and offsets follow TDLib's `parse_html`, the parser behind the Bot API.
"""

from __future__ import annotations

import html
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.telegram_html import (
    UNSUPPORTED_PARSE_MODE,
    EntityParseError,
    html_to_plain,
    normalise_link,
    parse_html,
    parse_text,
    utf16_len,
)
from bot.telegram_rules import (
    BUTTON_DATA_INVALID,
    BUTTON_TEXT_INVALID,
    BUTTON_URL_INVALID,
    CAPTION_TOO_LONG,
    KEYBOARD_NOT_ARRAYS,
    MARKUP_INVALID,
    MARKUP_TOO_LONG,
    NOT_UTF8,
    TEXT_EMPTY,
    TEXT_TOO_LONG,
    check_caption,
    check_message,
    check_reply_markup,
)

PARSE = "Bad Request: can't parse entities: "
BUTTON = "Bad Request: can't parse inline keyboard button: "


@pytest.mark.parametrize(
    ("markup", "reason"),
    [
        ("Kyiv <foo>x</foo>", 'Unsupported start tag "foo" at byte offset 5'),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("Київ <br>", 'Unsupported start tag "br" at byte offset 9'),
        ("🚀 <b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x</i>", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<b>x</b></", "Unexpected end tag at byte offset 8"),
        ("🚀<b", "Unclosed start tag at byte offset 4"),
        ("x <", "Unclosed start tag at byte offset 2"),
        ("<b>x</b", "Unclosed end tag at byte offset 4"),
        ('<a href="x>y</a>', "Unclosed start tag at byte offset 0"),
        ("<b flag", "Unclosed start tag at byte offset 0"),
        ("<b =x>y</b>", 'Empty attribute name in the tag "b" at byte offset 0'),
        ("<b x=  ", 'Unclosed start tag "b" at byte offset 0'),
        ("<b x=ab,c>y</b>", "Unexpected end of name token at byte offset 5"),
        (
            '<span class="other">x</span>',
            'Tag "span" must have class "tg-spoiler" at byte offset 0',
        ),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ('<tg-emoji emoji-id="abc">👍</tg-emoji>', "Invalid custom emoji identifier specified"),
        (
            "&#xD800;",
            "Text contains invalid Unicode characters after decoding HTML entities, "
            "check for unmatched surrogate code units",
        ),
        ("Tom & Jerry", 'Character "&" at byte offset 4 must be escaped as "&amp;"'),
        ("&nbsp;", 'Character "&" at byte offset 0 must be escaped as "&amp;"'),
        ("AT&T", 'Character "&" at byte offset 2 must be escaped as "&amp;"'),
        ("&#0;", 'Character "&" at byte offset 0 must be escaped as "&amp;"'),
        (
            '<a href="https://x.org/?a=1&b=2">x</a>',
            'Character "&" at byte offset 27 must be escaped as "&amp;"',
        ),
    ],
)
def test_parse_html_refuses_what_telegram_refuses(markup: str, reason: str) -> None:
    """Bad markup raises with Telegram's reason, byte offsets counted in UTF-8."""
    with pytest.raises(EntityParseError) as caught:
        parse_html(markup)
    assert caught.value.reason == reason
    assert caught.value.description == PARSE + reason


def _e(kind: str, offset: int, length: int, **extra: str) -> dict[str, Any]:
    return {"type": kind, "offset": offset, "length": length, **extra}


@pytest.mark.parametrize(
    ("markup", "text", "entities"),
    [
        ("<b>Headline</b>\nBody", "Headline\nBody", [_e("bold", 0, 8)]),
        ("<strong>a</strong><em>b</em>", "ab", [_e("bold", 0, 1), _e("italic", 1, 1)]),
        ("<u>a</u><ins>b</ins>", "ab", [_e("underline", 0, 1), _e("underline", 1, 1)]),
        (
            "<s>a</s><strike>b</strike><del>c</del>",
            "abc",
            [_e("strikethrough", 0, 1), _e("strikethrough", 1, 1), _e("strikethrough", 2, 1)],
        ),
        ("<B>x</B>", "x", [_e("bold", 0, 1)]),
        ("🚀 <i>x</i>", "🚀 x", [_e("italic", 3, 1)]),
        ("<i>🚀</i>", "🚀", [_e("italic", 0, 2)]),
        ("<b>bold <i>both</i></b>", "bold both", [_e("bold", 0, 9), _e("italic", 5, 4)]),
        ("<i><b>x</b> y</i>", "x y", [_e("italic", 0, 3), _e("bold", 0, 1)]),
        ("<code><b>x</b></code>", "x", [_e("code", 0, 1), _e("bold", 0, 1)]),
        (
            '<a href="https://example.org/a?b=1&amp;c=2">link</a>',
            "link",
            [_e("text_link", 0, 4, url="https://example.org/a?b=1&c=2")],
        ),
        ('<a href="example.org">x</a>', "x", [_e("text_link", 0, 1, url="http://example.org/")]),
        ("<a href=example.org>x</a>", "x", [_e("text_link", 0, 1, url="http://example.org/")]),
        ('<a href="javascript:alert(1)">x</a>', "x", []),
        (
            '<a href="tg://resolve?domain=x">x</a>',
            "x",
            [_e("text_link", 0, 1, url="tg://resolve?domain=x")],
        ),
        (
            "<a>https://example.org/x</a>",
            "https://example.org/x",
            [_e("text_link", 0, 21, url="https://example.org/x")],
        ),
        ("<a>not a link</a>", "not a link", []),
        (
            '<pre><code class="language-python">x = 1</code></pre>',
            "x = 1",
            [_e("pre", 0, 5, language="python")],
        ),
        ("<pre><code>x</code></pre>", "x", [_e("pre", 0, 1), _e("code", 0, 1)]),
        ('<code class="language-python">x</code>', "x", [_e("code", 0, 1)]),
        ("<pre>x</pre>", "x", [_e("pre", 0, 1)]),
        (
            '<tg-spoiler>s</tg-spoiler><span class="tg-spoiler">t</span>',
            "st",
            [_e("spoiler", 0, 1), _e("spoiler", 1, 1)],
        ),
        ("<blockquote>q</blockquote>", "q", [_e("blockquote", 0, 1)]),
        ("<blockquote expandable>q</blockquote>", "q", [_e("expandable_blockquote", 0, 1)]),
        (
            '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>',
            "👍",
            [_e("custom_emoji", 0, 2, custom_emoji_id="5368324170671202286")],
        ),
        ("&lt;b&gt; &amp; &quot;q&quot; &#65;&#x42;", '<b> & "q" AB', []),
        ("&lt no semicolon", "< no semicolon", []),
        ("&#128640;", "🚀", []),
        ("<b></b>x", "x", []),
        ("a > b", "a > b", []),
        ("<b>x</>", "x", [_e("bold", 0, 1)]),
        ("<b>x</b   >", "x", [_e("bold", 0, 1)]),
        ('<b class="ignored" data-x=1>x</b>', "x", [_e("bold", 0, 1)]),
        ("<i>\n</i>", "\n", [_e("italic", 0, 1)]),
    ],
)
def test_parse_html_gives_text_and_entities(
    markup: str, text: str, entities: list[dict[str, Any]]
) -> None:
    """Accepted markup gives the visible text and Telegram's entities, in Telegram's order."""
    parsed = parse_html(markup)
    assert parsed.text == text
    assert [e.as_dict() for e in parsed.entities] == entities


@pytest.mark.parametrize(
    ("markup", "text"),
    [("Tom & Jerry", "Tom & Jerry"), ("&nbsp;&ge;", "&nbsp;&ge;"), ("&#99999999;", "&#99999999;")],
)
def test_lenient_parse_keeps_bare_ampersands_like_telegram(markup: str, text: str) -> None:
    """With strict=False an `&` that starts no supported entity stays literal, as on the server."""
    assert parse_html(markup, strict=False).text == text


@pytest.mark.parametrize(
    ("markup", "text", "entities"),
    [
        ("  <b>x</b> \n", "x", [_e("bold", 0, 1)]),
        ("<b> x </b>", "x", [_e("bold", 0, 1)]),
        ("\n🚀 <i>ab</i>", "🚀 ab", [_e("italic", 3, 2)]),
        ("<i> </i>x", "x", []),
    ],
)
def test_parse_text_trims_and_moves_entities(
    markup: str, text: str, entities: list[dict[str, Any]]
) -> None:
    """Telegram strips surrounding whitespace; entities shift and clip with it."""
    parsed = parse_text(markup, "HTML")
    assert parsed.text == text
    assert [e.as_dict() for e in parsed.entities] == entities


def test_parse_text_refuses_an_unknown_parse_mode() -> None:
    """Only HTML, Markdown and MarkdownV2 exist (any case)."""
    with pytest.raises(ValueError, match="unsupported parse_mode"):
        parse_text("x", "XML")


def _keyboard(*buttons: dict[str, Any]) -> dict[str, Any]:
    return {"inline_keyboard": [list(buttons)]}


@pytest.mark.parametrize(
    ("text", "parse_mode", "markup", "expected"),
    [
        ("<b>ok</b>", "HTML", None, None),
        ("ok", None, None, None),
        ("", None, None, TEXT_EMPTY),
        ("   \n", "HTML", None, TEXT_EMPTY),
        ("<b> </b>", "HTML", None, TEXT_EMPTY),
        ("x" * 4096, None, None, None),
        ("x" * 4097, None, None, TEXT_TOO_LONG),
        ("x" * 4097, "HTML", None, TEXT_TOO_LONG),
        ("<b>" + "x" * 4096 + "</b>", "HTML", None, None),
        ("&amp;" * 4096, "HTML", None, None),
        ("&amp;" * 4097, "HTML", None, TEXT_TOO_LONG),
        ("😀" * 2048, None, None, None),
        ("😀" * 2049, None, None, TEXT_TOO_LONG),
        ("ї" * 4096, None, None, None),
        ("  " + "x" * 4096 + "\n", None, None, None),
        ("<foo>", "HTML", None, PARSE + 'Unsupported start tag "foo" at byte offset 0'),
        ("<b>x", "HTML", None, PARSE + 'Can\'t find end tag corresponding to start tag "b"'),
        ("<foo>", None, None, None),
        ("<b>x</b>", "html", None, None),
        ("x", "XML", None, UNSUPPORTED_PARSE_MODE),
        ("x\ud800", None, None, NOT_UTF8),
        ("x", None, _keyboard({"text": "Read", "url": "https://example.org/a"}), None),
        ("x", None, _keyboard({"text": "Mute", "callback_data": "m:" + "a" * 62}), None),
        ("x", None, _keyboard({"text": "Mute", "callback_data": "a" * 65}), BUTTON_DATA_INVALID),
        ("x", None, _keyboard({"text": "Mute", "callback_data": "ї" * 32}), None),
        ("x", None, _keyboard({"text": "Mute", "callback_data": "ї" * 33}), BUTTON_DATA_INVALID),
        ("x", None, _keyboard({"text": "Mute", "callback_data": 5}), BUTTON_DATA_INVALID),
        (
            "<foo>",
            "HTML",
            _keyboard({"text": "x"}),
            PARSE + 'Unsupported start tag "foo" at byte offset 0',
        ),
    ],
)
def test_check_message(
    text: str, parse_mode: str | None, markup: dict[str, Any] | None, expected: str | None
) -> None:
    """check_message answers Telegram's description, or None when Telegram would send it."""
    assert check_message(text, parse_mode, markup) == expected


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        (None, None),
        (_keyboard({"text": "x"}), BUTTON + "Text buttons are unallowed in the inline keyboard"),
        (
            _keyboard({"text": "x", "callback_data": ""}),
            BUTTON + "Text buttons are unallowed in the inline keyboard",
        ),
        (_keyboard({"callback_data": "a"}), BUTTON + 'Field "text" must be of type String'),
        (_keyboard({"text": " ", "callback_data": "a"}), BUTTON_TEXT_INVALID),
        (_keyboard({"text": "x", "url": "ftp://example.org/f"}), BUTTON_URL_INVALID),
        (_keyboard({"text": "x", "url": "javascript:alert(1)"}), BUTTON_URL_INVALID),
        (_keyboard({"text": "x", "url": "http://"}), BUTTON_URL_INVALID),
        (_keyboard({"text": "x", "url": "https://exa mple.org"}), BUTTON_URL_INVALID),
        (_keyboard({"text": "x", "url": "tg://resolve?domain=example"}), None),
        (_keyboard({"text": "x", "url": "HTTPS://example.org"}), None),
        (
            _keyboard({"text": "x", "url": "https://example.org", "callback_data": "a"}),
            BUTTON + "exactly one action field must be used, found url, callback_data",
        ),
        (_keyboard({"text": "x", "callback_game": {}}), None),
        (_keyboard({"text": "x", "switch_inline_query": "kursk"}), None),
        ({"inline_keyboard": [{"text": "x", "callback_data": "a"}]}, KEYBOARD_NOT_ARRAYS),
        ({"inline_keyboard": "x"}, KEYBOARD_NOT_ARRAYS),
        ({"inline_keyboard": [["x"]]}, BUTTON + "InlineKeyboardButton must be an Object"),
        (
            {"inline_keyboard": [[{"text": str(i), "callback_data": str(i)} for i in range(100)]]},
            None,
        ),
        (
            {"inline_keyboard": [[{"text": str(i), "callback_data": str(i)}] for i in range(101)]},
            MARKUP_TOO_LONG,
        ),
        ({"inline_keyboard": []}, None),
        ({"remove_keyboard": True}, None),
        ({"keyboard": [[{"text": "a"}]]}, None),
        ({"force_reply": True}, None),
        ({"colour": "red"}, MARKUP_INVALID),
    ],
)
def test_check_reply_markup(markup: dict[str, Any] | None, expected: str | None) -> None:
    """Every inline button has text and exactly one valid action; data fits in 64 bytes."""
    assert check_reply_markup(markup) == expected


@pytest.mark.parametrize(
    ("caption", "parse_mode", "expected"),
    [
        (None, None, None),
        ("", "HTML", None),
        ("x" * 1024, None, None),
        ("x" * 1025, None, CAPTION_TOO_LONG),
        ("<b>" + "x" * 1024 + "</b>", "HTML", None),
        ("<b>x", "HTML", PARSE + 'Can\'t find end tag corresponding to start tag "b"'),
    ],
)
def test_check_caption(caption: str | None, parse_mode: str | None, expected: str | None) -> None:
    """A photo caption may be empty and holds at most 1024 units after parsing."""
    assert check_caption(caption, parse_mode, None) == expected


def test_check_caption_checks_the_keyboard_too() -> None:
    """A caption's reply markup gets the same checks as a message's."""
    assert check_caption("x", None, _keyboard({"text": "x"})) is not None


@pytest.mark.parametrize(
    ("markup", "plain"),
    [
        ("<b>Headline</b>\n<i>Summary</i> &amp; more", "Headline\nSummary & more"),
        ('<a href="https://e.org">Source</a> · +4 outlets', "Source · +4 outlets"),
        ("  padded  ", "padded"),
        ("Tom & Jerry", "Tom & Jerry"),
    ],
)
def test_html_to_plain(markup: str, plain: str) -> None:
    """html_to_plain is the text a reader sees."""
    assert html_to_plain(markup) == plain


@pytest.mark.parametrize(("text", "units"), [("", 0), ("abc", 3), ("ї", 1), ("😀", 2), ("a😀b", 4)])
def test_utf16_len(text: str, units: int) -> None:
    """Characters outside the BMP count as two UTF-16 code units."""
    assert utf16_len(text) == units


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.org/a?b#c", "https://example.org/a?b#c"),
        ("example.org", "http://example.org/"),
        ("example.org?q=<", "http://example.org/?q=<"),
        ("HTTP://Example.org", "http://Example.org/"),
        ("localhost:8080/x", "http://localhost:8080/x"),
        ("tg://user?id=1", "tg://user?id=1"),
        ("javascript:alert(1)", None),
        ("mailto:a@example.org", None),
        ("ftp://example.org", None),
        ("nodot", None),
        ("example.org ", None),
        ("", None),
        ("http://[broken", None),
    ],
)
def test_normalise_link(url: str, expected: str | None) -> None:
    """Links get a scheme and a path as Telegram adds them; others are dropped silently."""
    assert normalise_link(url) == expected


_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=300)


@given(_TEXT)
def test_escaped_text_parses_back_to_itself(text: str) -> None:
    """Any text escaped with html.escape parses (strictly) to itself, without entities."""
    parsed = parse_html(html.escape(text))
    assert parsed.text == text
    assert parsed.entities == ()


@given(_TEXT.filter(lambda t: t != ""))
def test_bold_escaped_text_is_one_entity_over_all_of_it(text: str) -> None:
    """`<b>` around escaped text gives one bold entity whose length is the UTF-16 length."""
    parsed = parse_html(f"<b>{html.escape(text, quote=False)}</b>")
    assert [e.as_dict() for e in parsed.entities] == [_e("bold", 0, utf16_len(text))]


@given(st.text(max_size=200), st.sampled_from([None, "HTML", "MarkdownV2"]))
def test_check_message_answers_for_any_input(text: str, parse_mode: str | None) -> None:
    """check_message never raises: it answers None or a "Bad Request: ..." description."""
    result = check_message(text, parse_mode, None)
    assert result is None or result.startswith("Bad Request: ")
