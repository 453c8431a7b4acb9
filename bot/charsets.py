"""The text of a body whose encoding is undeclared, misdeclared or declared: mojibake avoided.

Feeds and pages arrive as bytes with, at best, a charset in the Content-Type or the XML
declaration, and both are sometimes wrong or missing (KOI8-R and windows-1251 Russian feeds,
Latin-1 Portuguese ones). feedparser guesses with chardet only when chardet happens to be
installed, so the result would depend on the machine; this module decides the same way
everywhere, with no dependency beyond the standard library.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from itertools import pairwise

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_XML_ENCODING = re.compile(rb"<\?xml[^>]{0,200}?encoding\s*=\s*[\"']([A-Za-z0-9._:-]{1,40})[\"']")
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]{1,40})", re.IGNORECASE)
_GUESSES = ("cp1252", "cp1251", "koi8_r")
"""What undeclared non-UTF-8 feeds are in practice: Western European and the two Cyrillic."""
_LATIN1_ALIASES = frozenset({"latin_1", "iso8859_1", "ascii"})
_WORD = re.compile(r"[^\W\d_]+")
_INNER_MARK = re.compile(r"(?<=[^\W\d_])([^\w\s])(?=[^\W\d_])")
_CYRILLIC_LETTER = re.compile(r"[\u0400-\u04ff]")
_LATIN_LETTER = re.compile(r"[A-Za-z\u00c0-\u024f]")
_SCORED_CHARS = 200_000


def decode_document(body: bytes, content_type: str | None = None) -> tuple[str, str | None]:
    """The body as text, and a warning when its encoding had to be guessed or overridden.

    A BOM decides, then valid UTF-8 (a single-byte Cyrillic or Latin text is practically
    never valid UTF-8). Otherwise the declared encodings (the Content-Type charset, the XML
    declaration) and the usual undeclared ones are each tried, and the decoding whose words
    look like words wins; a declared one keeps the benefit of the doubt. Mojibake is
    recognisable: KOI8-R read as windows-1252 gives words such as "ëÁË" (lower case before
    upper case, mostly accented letters), Latin-1 read as windows-1251 mixes Cyrillic and
    Latin letters in one word.
    """
    for bom, codec in _BOMS:
        if body.startswith(bom):
            try:
                return body.decode(codec), None
            except UnicodeDecodeError:
                break
    try:
        return body.decode("utf-8"), None
    except UnicodeDecodeError:
        pass
    declared = _declared_encodings(body, content_type)
    scored: list[tuple[int, str, str]] = []
    for codec in dict.fromkeys([*declared, *_GUESSES]):
        try:
            text = body.decode(codec)
        except UnicodeDecodeError:
            continue
        scored.append((_plausibility(text[:_SCORED_CHARS]), codec, text))
    if not scored:
        return body.decode("utf-8", "replace"), "the encoding is unknown; read as UTF-8"
    best_score, best_codec, best_text = max(scored, key=lambda item: item[0])
    for score, codec, text in scored:
        if codec in declared and score + max(2, abs(score) // 5) > best_score:
            return text, None
    if declared:
        return best_text, f"declared as {declared[0]} but the text reads as {best_codec}"
    return best_text, f"not UTF-8 and no encoding declared; read as {best_codec}"


def _declared_encodings(body: bytes, content_type: str | None) -> list[str]:
    names: list[str] = []
    charset = _CHARSET.search(content_type or "")
    if charset:
        names.append(charset.group(1))
    declaration = _XML_ENCODING.search(body[:1024])
    if declaration:
        names.append(declaration.group(1).decode("ascii"))
    codecs_found: list[str] = []
    for name in names:
        try:
            codec = codecs.lookup(name).name
        except LookupError:
            continue
        codec = "cp1252" if codec in _LATIN1_ALIASES else codec
        if codec not in ("utf-8", *codecs_found):
            codecs_found.append(codec)
    return codecs_found


def _plausibility(text: str) -> int:
    """How much `text` reads like real words, counted per space-separated token with non-ASCII
    letters: +1 for a normal one, -2 for a mojibake-shaped one (a symbol between two letters
    as in "п╕дстанц╕ю", Cyrillic and Latin letters mixed, a capital after a small letter, or
    a Latin word made mostly of accented letters). All-caps tokens count for nothing."""
    score = 0
    for token in text.split():
        if token.isascii():
            continue
        word = "".join(_WORD.findall(token))
        if not word or word.isupper():
            continue
        accented = sum(1 for ch in word if not ch.isascii())
        latin = bool(_LATIN_LETTER.search(word))
        if (
            any(unicodedata.category(m.group(1))[0] in "SC" for m in _INNER_MARK.finditer(token))
            or (latin and _CYRILLIC_LETTER.search(word))
            or any(a.islower() and b.isupper() for a, b in pairwise(word))
            or (latin and len(word) >= 3 and accented * 2 > len(word))
        ):
            score -= 2
        else:
            score += 1
    return score
