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
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
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
    letters = _LETTER.findall(sample)
    if not letters:
        return hint_code or UNDETERMINED
    cyrillic = sum(1 for ch in letters if _CYRILLIC.match(ch))
    if cyrillic * 2 > len(letters):
        return _detect_cyrillic(sample, cyrillic, hint_code)
    language, confidence = _classify(sample)
    if hint_code and (len(letters) < _MIN_LETTERS or confidence < _MIN_CONFIDENCE):
        return hint_code
    return language


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


@cache
def _identifier() -> LanguageIdentifier:
    """Load the model once (about a second), on first use rather than on import."""
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(LANGUAGES))
    log.debug("language model loaded for %d languages", len(LANGUAGES))
    return identifier
