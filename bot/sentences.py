"""Rule-based sentence splitting for English, Ukrainian and Russian news text.

Why our own rules rather than pysbd: measured on the table in tests/bot/test_sentences.py,
pysbd mis-splits Cyrillic abbreviations ("вул.", "ген.", "тис.") and is about two orders of
magnitude slower, while the summariser splits thousands of descriptions a second.

The splitter looks at each terminator (. ! ? … and runs of them, with any closing quotes or
brackets) that is followed by whitespace, and keeps the text together when:

- the next word starts with a lower-case letter (an unknown abbreviation, or a quote that goes
  on: `"Why?" he asked`);
- the word before a period is a title or a word that only ever precedes something ("Gen.",
  "St.", "Mr.", "e.g.", "вул.", "ген."), a single letter (initials: "J. Sullivan", "В. Зеленський"),
  or a month or count word followed by a number ("Oct. 27", "No. 2", "окт. 2024");
- the word before a period can end a sentence ("U.S.", "a.m.", "etc.", "т.д.", "тис.") but the
  next word is not a usual sentence opener (English) or not capitalised (Cyrillic).

A line break ends a sentence: callers pass paragraphs separated by newlines, and a heading or
caption on its own line must not be glued to the next paragraph. The one exception is a hard
wrap: a line without a terminator followed by a line that starts in lower case is joined to it.
"""

from __future__ import annotations

import re

__all__ = ["split_sentences"]


# A terminator run, any closing quotes/brackets after it, then the whitespace we split on.
_BOUNDARY = re.compile(r"(?:[.!?…]+)[\"'”’»)\]]*(?=\s)")
_ENDS = re.compile(r"[.!?…:;][\"'”’»)\]]*$")
_OPENING = "\"'“‘«([—–-"


def _words(text: str) -> frozenset[str]:
    """A word list written as one string (easier to read and edit than a list literal)."""
    return frozenset(text.split())


# Never the end of a sentence: titles, "and so on" that always continues, Cyrillic place words.
_NEVER_FINAL = _words(
    """
    mr mrs ms dr prof gen lt col sgt capt maj cmdr adm gov sen rep rev st mt ft fr hon pres
    supt insp cpl pvt gens sens reps messrs mme mlle sr e.g i.e vs cf approx dept est fig
    ген генерал-лейт проф акад вул ул пров просп пл пер бул обл р-н им ім св див напр тов гр
    пос смт с-ще т.зв т.ч т.е пор порівн мал рис
    """
)

# The end of a sentence only when the next word is a usual sentence opener.
_MAYBE_FINAL_EN = _words("u.s u.k u.n u.s.a e.u a.m p.m etc inc ltd co corp jr bros plc al")
# US states as AP datelines write them ("LA CROSSE, Wis. (AP) —"); case matters ("ill.").
_US_STATES = _words(
    """
    Ala Ariz Ark Calif Colo Conn Del Fla Ga Ill Ind Kan Ky La Md Mass Mich Minn Miss Mo Mont
    Neb Nev N.H N.J N.M N.Y N.C N.D Okla Ore Pa R.I S.C S.D Tenn Tex Va Vt Wash W.Va Wis Wyo
    """
)
# The end of a sentence only when the next word is capitalised.
_MAYBE_FINAL_CYR = _words("т.д т.п ін др")
# Units after an amount: "2024 р.", "XX ст.", "5 млн. грн." end a sentence before a capital;
# without an amount before them they are place or title words ("ст. Лозова", "г. Москва").
_UNITS_CYR = _words("р г рр гг ст тис млн млрд трлн грн руб дол коп км кг")
_NUMBER = re.compile(r"^(?:\d[\d.,]*|[IVXLC]+)$")

# Followed by a number, these continue the sentence ("Oct. 27", "No. 2", "27 окт. 2024").
_BEFORE_NUMBER = _words(
    """
    jan feb mar apr jun jul aug sep sept oct nov dec no nos vol art p pp ch sec
    січ лют бер квіт трав черв лип серп вер верес жовт лист груд
    янв фев февр мар апр авг сен сент окт нояб дек
    № ст п пп ч гл рис табл
    """
)

_OPENERS_EN = _words(
    """
    a an the he she it they we i you his her its their our this that these those there here
    but and or so yet however meanwhile still also then now in on at for from after before
    while when if as since although though according under over during with without by
    some many most more several few all both each no one two three four five officials
    police authorities president mr mrs ms dr
    """
)


def split_sentences(text: str) -> list[str]:
    """Split `text` into sentences, each stripped and non-empty, in their original order."""
    sentences: list[str] = []
    for paragraph in _paragraphs(text):
        sentences.extend(_split_line(paragraph))
    return sentences


def _paragraphs(text: str) -> list[str]:
    """Non-blank lines, with hard-wrapped lines joined back.

    A line that ends without a terminator and is followed by one starting in lower case is a
    wrap inside a sentence (pretty-printed feeds do this), not a paragraph break.
    """
    paragraphs: list[str] = []
    for line in text.splitlines():
        line = " ".join(line.split())
        if not line:
            continue
        if paragraphs and line[0].islower() and not _ENDS.search(paragraphs[-1]):
            paragraphs[-1] = f"{paragraphs[-1]} {line}"
        else:
            paragraphs.append(line)
    return paragraphs


def _split_line(line: str) -> list[str]:
    """Split one paragraph at the boundaries that pass `_is_boundary`."""
    pieces: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(line):
        if _is_boundary(line, start, match.start(), match.end()):
            piece = line[start : match.end()].strip()
            if piece:
                pieces.append(piece)
            start = match.end()
    rest = line[start:].strip()
    if rest:
        pieces.append(rest)
    return pieces


def _is_boundary(line: str, start: int, term_start: int, term_end: int) -> bool:
    """Decide whether the terminator at line[term_start:term_end] ends a sentence."""
    following = _next_word(line, term_end)
    if not following:
        return False
    first = following[0]
    if first.islower():
        return False
    terminator = line[term_start:term_end].rstrip("\"'”’»)]")
    if terminator != ".":
        return True
    words = line[start:term_start].rsplit(maxsplit=2)[-2:]
    if not words or line[term_start - 1].isspace():
        return True
    previous = words[0] if len(words) == 2 else ""
    at_line_start = start == 0 and len(words) == 1
    return not _is_abbreviation(words[-1], previous, following, at_line_start=at_line_start)


def _next_word(line: str, pos: int) -> str:
    """The next word after `pos`, with opening quotes, brackets and dashes removed."""
    rest = line[pos:].lstrip()
    word = rest.split(maxsplit=1)[0] if rest else ""
    return word.lstrip(_OPENING)


def _is_abbreviation(word: str, previous: str, following: str, *, at_line_start: bool) -> bool:
    """Whether `word` (the text before a period) is an abbreviation that continues the sentence.

    `previous` is the word before it ("" at the start of a sentence), `following` the next word.
    """
    bare = word.lstrip(_OPENING + "/").casefold()
    if not bare:
        return False
    next_is_number = following[0].isdigit()
    if bare in _BEFORE_NUMBER and next_is_number:
        return True
    if bare in _NEVER_FINAL:
        return True
    if bare in _UNITS_CYR:
        amount = _NUMBER.match(previous) or previous.rstrip(".").casefold() in _UNITS_CYR
        return not (amount and following[0].isupper())
    if len(bare) == 1 and bare.isalpha():
        return True  # an initial: "J. Sullivan", "В. Зеленський", "м. Київ"
    if bare.isdigit() and at_line_start and len(bare) <= 2:
        return True  # a numbered list item: "1. The first point"
    if bare in _MAYBE_FINAL_EN or word.lstrip(_OPENING) in _US_STATES:
        return following.casefold().strip(",;:") not in _OPENERS_EN
    if bare in _MAYBE_FINAL_CYR:
        return not following[0].isupper()
    return False
