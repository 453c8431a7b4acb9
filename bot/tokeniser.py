"""Report text as content tokens: the words near-duplicate detection compares.

Its own module because the normalising is a concern of its own and `bot.dedup` (MinHash,
bands, verification) and `bot.facts` (the counts a lede states) both read text through it.
Stop words, number words, stems and synonyms are for English, Ukrainian and Russian news copy.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache

_STEM = 5  # letters kept after the ending is cut: Харкові/Харкова and drone/drones meet

_STOP_TEXT = """
    a an the and or but if of in on at to for from by with without into onto over under about
    after before during since until as than then there here this that these those it its is
    are was were be been being has have had do does did not no nor so such can could will
    would shall should may might must he she they them his her their we our you your i me my
    who whom which what when where why how all any both each few more most other some own
    same too very just also only up down out off again further once said says say told
    according new amid while via per
    і й та або але а в у на до з із зі від по за під над при про для через без між як що
    це цей ця ці той ті він вона вони воно його її їх ми ви я не ні так же ж чи б би бо
    вже ще також тому коли де хто який яка яке які було був була були є буде мають має
    щодо після перед заявив заявила повідомив повідомила повідомили сказав каже понад
    и во к ко с со от о об между что это этот эта эти тот те он она они оно ее ли
    уже еще когда кто который которая которое которые был была были будет есть после
    заявил заявила сообщил сообщила сообщили сказал более из под его их также как где но бы
    чем при этом том
"""
_STOP_WORDS = frozenset(_STOP_TEXT.split())
_NUMBER_WORDS = {
    word: str(number)
    for words in (
        "one two three four five six seven eight nine ten eleven twelve",
        "один два три чотири пять шість сім вісім девять десять",
        "одна дві троє четверо пятеро шестеро семеро восьмеро",
        "один два три четыре пять шесть семь восемь девять десять",
        "одна две трое четверо пятеро шестеро семеро восьмеро",
    )
    for number, word in enumerate(words.split(), start=1)
} | {"двоє": "2", "двое": "2"}
# Words that news copy uses interchangeably for one fact; each group becomes one token.
_SYNONYMS = {
    "~kill": "killed kill kills killing dead died dies death deaths toll fatalities "
    "загинули загиблих загинув загинула загибель вбито погибли погибших погиб погибла убиты",
    "~injure": "injured injures injuring injury injuries wounded wounding hurt "
    "поранені поранено пораненими постраждали ранены раненых пострадали",
    "~drone": "drone drones uav uavs shahed shaheds дрон дрони дронів безпілотник безпілотники "
    "бпла беспилотник беспилотники беспилотников",
    "~missile": "missile missiles rocket rockets ракета ракети ракет ракеты",
    "~exchange": "exchange exchanges swap swaps swapped обмін обміну обмен обмена",
    "~prisoner": "prisoner prisoners pow pows captive captives captivity полонені полонених "
    "полону полон військовополонені пленные пленных плена плен военнопленные",
    "~truce": "truce ceasefire перемиря перемирие",
    "~bomb": "bomb bombs bombing bombed авіабомби авиабомбы",
}
_ENDINGS_TEXT = """ими ами ями ого ому его ему ою ею ої ий ій ый ая яя ое ее ые ие ых их ым им ом ем
ам ям ах ях ов ев ів ей ой ую юю ться тся ся ли ла ло ть ти ю у а я о е і ї и ы й ь є"""
_CYRILLIC_ENDINGS = sorted(_ENDINGS_TEXT.split(), key=len, reverse=True)
_APOSTROPHES = ("’", "'", "ʼ", "`")  # dropped; ё is read as е
# Each pattern starts with its mark, the lookbehind after it checking the character before:
# the same matches as a leading lookbehind, but the scan can skip ahead to the marks.
_POSSESSIVE = re.compile(r"['’ʼ](?<=[a-z].)s\b")
_THOUSANDS = re.compile(r"[,.\u00a0\u202f](?<=\d.)(?=\d{3}\b)")
_TOKEN = re.compile(r"\d+|[^\W\d_]+")
_NOBODY = re.compile(r"\bno one\b")  # not a count of one


def content_tokens(text: str) -> list[str]:
    """Normalised content tokens in order: the unit of both MinHash and the title checks.

    Lower-cased, ё folded to е, apostrophes and possessive 's dropped, thousands separators
    joined ("1,000" -> "1000"), letters and digits split ("61bn" -> "61", "bn"), number words
    as digits, stop words of English, Ukrainian and Russian and single letters dropped, every
    word cut to a short stem so inflected and plural forms meet, and news synonyms ("killed",
    "dead") merged into one token.
    """
    return list(tokens(text))


@lru_cache(maxsize=4096)
def tokens(text: str) -> tuple[str, ...]:
    """`content_tokens`, cached: stored titles are verified again and again."""
    return tuple(words(normalised(text)))


def normalised(text: str) -> str:
    """`text` folded for tokenising: case, apostrophes, possessives, thousands separators."""
    folded = _POSSESSIVE.sub("", unicodedata.normalize("NFKC", text).casefold())
    folded = _THOUSANDS.sub("", folded)
    for mark in _APOSTROPHES:
        if mark in folded:
            folded = folded.replace(mark, "")
    if "ё" in folded:
        folded = folded.replace("ё", "е")
    return _NOBODY.sub("nobody", folded) if "no one" in folded else folded


def words(folded: str) -> list[str]:
    """The content tokens of `folded`, a `normalised(text)`, in order."""
    return [t for t in map(_token, _TOKEN.findall(folded)) if t]


@lru_cache(maxsize=65536)
def _token(word: str) -> str:
    """One word's token, or "" for a stop word (cached: news vocabulary repeats)."""
    word = _NUMBER_WORDS.get(word, word)
    if word.isdecimal():
        return word.lstrip("0") or "0"
    if len(word) < 2 or word in _STOP_WORDS:
        return ""
    stem = _stem(word)
    return _synonyms().get(stem, stem)


def _stem(word: str) -> str:
    """Cut one Cyrillic case ending, or an English plural/-ed/-ing, then keep a prefix."""
    if "а" <= word[0] <= "я" or word[0] in "іїєґ":
        for ending in _CYRILLIC_ENDINGS:
            if word.endswith(ending) and len(word) - len(ending) >= 3:
                word = word[: -len(ending)]
                break
    elif len(word) > 4 or (len(word) == 4 and word.endswith("s")):
        if word.endswith("ies"):
            word = word[:-3] + "y"
        elif word.endswith(("ches", "shes", "sses", "xes")):
            word = word[:-2]
        elif word.endswith("ing") and len(word) > 5:
            word = word[:-3]
        elif word.endswith("ed"):
            word = word[:-2]
        elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
            word = word[:-1]
    return word[:_STEM]


@cache
def _synonyms() -> dict[str, str]:
    """Stem -> group token, built once with the same stemmer the text goes through."""
    return {_stem(word): group for group, words in _SYNONYMS.items() for word in words.split()}
