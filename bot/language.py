"""Which language a story is in, so chats can ask for `en uk` and get nothing else.

py3langid ships its model inside the wheel (nothing is downloaded), but on its own it
confuses Ukrainian and Russian in short headlines and picks exotic languages for short
English ones. Two things fix that: letters only one of the two alphabets has weigh heavily
between uk and ru, and the model is restricted to the languages a conflict news bot meets.
When the text is too short or the model unsure, the source's configured language (the hint)
wins.
"""

from __future__ import annotations

import logging
import math
import re
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt
from py3langid.langid import MODEL_FILE, LanguageIdentifier

log = logging.getLogger(__name__)

UNDETERMINED = "und"
"""Returned when there is nothing to go on and no hint (BCP 47, as py3langid itself uses)."""

LANGUAGES = (
    "en",
    "uk",
    "ru",
    "be",
    "bg",
    "sr",
    "mk",
    "kk",
    "pl",
    "cs",
    "sk",
    "sl",
    "hr",
    "bs",
    "de",
    "fr",
    "es",
    "it",
    "pt",
    "nl",
    "ro",
    "hu",
    "lt",
    "lv",
    "et",
    "fi",
    "sv",
    "da",
    "no",
    "el",
    "tr",
    "ka",
    "hy",
    "az",
    "ar",
    "he",
    "fa",
    "zh",
    "ja",
    "ko",
    "hi",
    "ur",
)
"""The languages detection may answer: Europe, the former Soviet Union, the Middle East and
the largest Asian ones. Fewer labels mean fewer absurd answers for short headlines."""

_CYRILLIC_LANGUAGES = ("ru", "uk", "be", "bg", "sr", "mk", "kk")
_MIN_LETTERS = 12
"""Below this many letters the model is guessing and a hint is preferred."""

_UK_TELLING_RATE = 0.07
_RU_TELLING_RATE = 0.024
_STRAY_RATE = 0.005
"""How often a letter of the other alphabet turns up anyway (a quoted name, a typo)."""
_FLOOR = 1e-9

_MIN_CONFIDENCE = 0.6
_SAMPLE_CHARS = 3000

_LETTER = re.compile(r"[^\W\d_]")
_CYRILLIC_LETTER = re.compile(r"[\u0400-\u0481\u048a-\u04ff]")
"""The letters (`_LETTER`) of the Cyrillic block: all of U+0400-U+04FF but the thousands
sign and the combining marks U+0482-U+0489 (a test checks this against `_LETTER`)."""
_ASCII_NON_LETTERS = bytes(b for b in range(128) if not chr(b).isalpha())
_UKRAINIAN_ONLY = re.compile(r"[іїєґІЇЄҐ]|(?<=[бпвмфрзкБПВМФРЗК])['’ʼ](?=[яюЯЮ])")
_RUSSIAN_ONLY = re.compile(r"[ыэъёЫЭЪЁ]")
_OWN_LETTERS = (
    (re.compile(r"[ўЎ]"), "be"),
    (re.compile(r"[әғқңөұүһӘҒҚҢӨҰҮҺ]"), "kk"),
    (re.compile(r"[ђћЂЋ]"), "sr"),
    (re.compile(r"[ѓќѕЃЌЅ]"), "mk"),
    (re.compile(r"[јљњџЈЉЊЏ]"), "sr"),
)


def detect_language(text: str, hint: str | None = None) -> str:
    """The ISO 639-1 code of `text`'s language, or the hint when the text cannot tell.

    Cyrillic text is weighed by its letters first: і ї є ґ occur in Ukrainian and not in
    Russian, ы э ъ ё the other way round, and that holds for a four-word headline where
    n-gram statistics do not (see `_detect_cyrillic`). Other text goes to the model; the
    hint wins when there are fewer than a dozen letters or the model is unsure. A hint such
    as "en-US" is reduced to "en". Without a hint and without letters the answer is
    `UNDETERMINED` ("und").
    """
    hint_code = language_code(hint)
    sample = text[:_SAMPLE_CHARS]
    letters, cyrillic = _count_letters(sample)
    if not letters:
        return hint_code or UNDETERMINED
    if cyrillic * 2 > letters:
        return _detect_cyrillic(sample, cyrillic, hint_code)
    language, confidence = _classify(sample)
    if hint_code and (letters < _MIN_LETTERS or confidence < _MIN_CONFIDENCE):
        return hint_code
    return language


def _count_letters(text: str) -> tuple[int, int]:
    """How many letters `text` has, and how many of them are Cyrillic.

    ASCII text, most of what feeds send, is counted by deleting its non-letter bytes, which
    is several times faster than matching each letter; in ASCII `[^\\W\\d_]` is `[A-Za-z]`.
    """
    if text.isascii():
        return len(text.encode("ascii").translate(None, _ASCII_NON_LETTERS)), 0
    return len(_LETTER.findall(text)), len(_CYRILLIC_LETTER.findall(text))


def language_code(hint: str | None) -> str | None:
    """The two-letter code in a tag such as "en-US", "pt_PT" or "uk"; None for anything else."""
    if not hint:
        return None
    code = re.split(r"[-_]", hint.strip().lower(), maxsplit=1)[0]
    return code if len(code) == 2 and code.isalpha() else None


def _detect_cyrillic(text: str, letters: int, hint: str | None) -> str:
    """Ukrainian or Russian by their telling letters and the model; other Cyrillic languages
    by their own letters or the hint.

    About 7% of the letters of Ukrainian text are ones Russian lacks (і ї є ґ, and the
    apostrophe before я/ю), and 2.4% of Russian text ones Ukrainian lacks (ы э ё ъ); a stray
    one in the other language is rare but happens (a quoted name). Each side's count is
    scored as that likelihood and added to the model's log-probability, so one і in a long
    Russian text does not make it Ukrainian, while a short headline with one і is. Bulgarian
    has no letters of its own and the model confuses it with Russian in short text, so it
    (like any Cyrillic language) is answered when the source is configured with it and the
    text shows no Ukrainian or Russian letters.
    """
    for pattern, language in _OWN_LETTERS:
        if pattern.search(text):
            return language
    ukrainian = len(_UKRAINIAN_ONLY.findall(text))
    russian = len(_RUSSIAN_ONLY.findall(text))
    if not ukrainian and not russian and hint in _CYRILLIC_LANGUAGES:
        return hint
    plain = max(letters - ukrainian - russian, 0)
    model = dict(_rank(text, ("ru", "uk")))
    scores = {
        "uk": math.log(max(model.get("uk", 0.0), _FLOOR))
        + ukrainian * math.log(_UK_TELLING_RATE)
        + russian * math.log(_STRAY_RATE)
        + plain * math.log(1 - _UK_TELLING_RATE),
        "ru": math.log(max(model.get("ru", 0.0), _FLOOR))
        + russian * math.log(_RU_TELLING_RATE)
        + ukrainian * math.log(_STRAY_RATE)
        + plain * math.log(1 - _RU_TELLING_RATE),
    }
    return max(scores, key=lambda language: scores[language])


def _classify(text: str) -> tuple[str, float]:
    language, confidence = _identifier().classify(text)
    return str(language), float(confidence)


def _rank(text: str, allowed: tuple[str, ...]) -> list[tuple[str, float]]:
    return [(str(lang), float(p)) for lang, p in _identifier().rank(text) if lang in allowed]


_Scores = npt.NDArray[np.float32]
_Ints = npt.NDArray[np.intp]

_WALK_DEPTH = 6
"""The longest byte string the model's automaton tracks (its deepest state); walking the last
this many bytes from the start state reaches the state the full walk is in."""


_HAS_WALK_LAYOUT = {"tk_row", "_rowbase"} <= set(getattr(LanguageIdentifier, "__slots__", ()))
"""py3langid 0.4's model layout (one transition row index per state, `_raw_score`), which
`_Identifier` relies on; with another release the stock identifier is used, only slower."""


class _Identifier(LanguageIdentifier):  # type: ignore[misc]  # py3langid has no type hints
    """py3langid's identifier with its byte-by-byte automaton walk done by numpy.

    Scoring is py3langid's own (`_decide`, `classify`, `rank`); only the feature counts are
    found differently. The model's automaton is a trie with failure links folded in, so its
    state after a byte depends on the last `_WALK_DEPTH` bytes only: every position's state
    is found at once by walking those bytes for all positions together, a few array lookups
    instead of a Python loop over every byte, which cost about 0.2 ms of a 500-byte text's
    0.35. The states are then checked against the automaton's transitions, which proves
    them the ones the sequential walk finds; if that ever fails (a deeper model), the
    sequential walk runs. Features are counted in the order they first occur, as
    `collections.Counter` does, and the float16 weights are widened once instead of on
    every call (matmul widened them anyway), so the scores are the same to the last bit.
    """

    __slots__ = ("_next", "_outputs", "_rows", "_weights")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._next: _Ints = np.frombuffer(self.tk_nextmove, dtype=self.tk_nextmove.typecode)
        rows = np.frombuffer(self.tk_row, dtype=self.tk_row.typecode).astype(np.intp)
        self._rows: _Ints = rows << 8
        self._outputs: _Ints = np.asarray(self.tk_output, dtype=np.intp)
        self._weights: _Scores = self.nb_ptc.astype(np.float32)

    def set_languages(self, langs: list[str] | None = None) -> None:
        super().set_languages(langs)
        self._weights = self.nb_ptc.astype(np.float32)

    def _raw_score(self, text: bytes) -> _Scores:
        counted = self._feature_counts(text)
        if counted is None:
            scores: _Scores = super()._raw_score(text)
            return scores
        features, counts = counted
        raw: _Scores = np.log1p(counts) @ self._weights[features] + self.nb_pc
        return raw

    def _feature_counts(self, text: bytes) -> tuple[_Ints, _Scores] | None:
        """(features, counts) in order of first occurrence; None when the text has no
        features or the states fail the check, so that py3langid decides."""
        data = np.frombuffer(text, dtype=np.uint8).astype(np.intp)
        size = data.size
        if not size:
            return None
        states = np.zeros(size, dtype=np.intp)
        for back in range(min(_WALK_DEPTH, size) - 1, -1, -1):
            states[back:] = self._next[self._rows[states[back:]] + data[: size - back]]
        previous = np.concatenate((np.zeros(1, dtype=np.intp), states[:-1]))
        if not np.array_equal(self._next[self._rows[previous] + data], states):
            return None
        found = self._outputs[states]
        found = found[found >= 0]
        if not found.size:
            return None
        order = np.argsort(found, kind="stable")
        ordered = found[order]
        starts = np.flatnonzero(np.concatenate(((True,), ordered[1:] != ordered[:-1])))
        counts = np.diff(np.append(starts, ordered.size))
        by_first = np.argsort(order[starts])
        return ordered[starts][by_first], counts[by_first].astype(np.float32)


@cache
def _identifier() -> LanguageIdentifier:
    """Load the model once (about a second), on first use rather than on import."""
    kind = _Identifier if _HAS_WALK_LAYOUT else LanguageIdentifier
    identifier = kind.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(LANGUAGES))
    log.debug("language model loaded for %d languages", len(LANGUAGES))
    return identifier
