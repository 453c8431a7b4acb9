"""bot.charsets: bodies decoded right whatever was (or was not) declared."""

from __future__ import annotations

import codecs

import pytest

from bot.charsets import decode_document

RUSSIAN = "Москва и Казань: новости дня"
UKRAINIAN = "Київ, Харків і Одеса: новини дня"
PORTUGUESE = "Negociações de paz avançam em Genebra"
GERMAN = "Genève et Zürich, Straße"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"plain ascii", "plain ascii"),
        (UKRAINIAN.encode(), UKRAINIAN),
        (codecs.BOM_UTF8 + RUSSIAN.encode(), RUSSIAN),
        (codecs.BOM_UTF16_LE + RUSSIAN.encode("utf-16-le"), RUSSIAN),
        (codecs.BOM_UTF16_BE + RUSSIAN.encode("utf-16-be"), RUSSIAN),
    ],
)
def test_unicode_bodies_need_no_guess(body: bytes, expected: str):
    """A BOM or valid UTF-8 decides at once, with no warning."""
    assert decode_document(body) == (expected, None)


@pytest.mark.parametrize(
    ("text", "codec"),
    [
        (RUSSIAN, "cp1251"),
        (RUSSIAN, "koi8_r"),
        (UKRAINIAN, "cp1251"),
        (PORTUGUESE, "latin-1"),
        (GERMAN, "cp1252"),
    ],
)
def test_undeclared_single_byte_text_is_recognised(text: str, codec: str):
    """Without any declaration, the decoding that reads as words wins, and a warning says so."""
    decoded, warning = decode_document(text.encode(codec))
    assert decoded == text
    assert warning is not None
    assert "no encoding declared" in warning


@pytest.mark.parametrize(
    ("text", "codec", "content_type", "declaration", "warns"),
    [
        (RUSSIAN, "cp1251", "text/xml; charset=windows-1251", "", False),
        (RUSSIAN, "koi8_r", None, '<?xml version="1.0" encoding="KOI8-R"?>', False),
        (RUSSIAN, "cp1251", "text/xml; charset=iso-8859-1", "", True),
        (
            RUSSIAN,
            "cp1251",
            "text/html; charset=iso-8859-1",
            '<?xml version="1.0" encoding="windows-1251"?>',
            False,
        ),
        (PORTUGUESE, "cp1252", None, '<?xml version="1.0" encoding="ISO-8859-1"?>', False),
        (PORTUGUESE, "latin-1", "text/xml; charset=no-such-codec", "", True),
    ],
)
def test_declarations_are_trusted_unless_they_produce_mojibake(
    text: str, codec: str, content_type: str | None, declaration: str, warns: bool
):
    """A right declaration is used silently; a wrong one is overridden with a warning."""
    decoded, warning = decode_document((declaration + text).encode(codec), content_type)
    assert decoded == declaration + text
    assert (warning is not None) is warns


def test_binary_garbage_still_decodes_with_a_warning():
    """Bytes that are no text in any candidate still give a string (KOI8-R maps every byte),
    flagged as a guess, so the caller never sees a UnicodeDecodeError."""
    decoded, warning = decode_document(bytes(range(128, 256)) * 3)
    assert len(decoded) == 128 * 3
    assert warning is not None
