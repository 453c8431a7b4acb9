"""The counts a report's title and lede state, to tell look-alike events apart.

Split from `bot.dedup` because reading numbers is its own concern: which casualty or weapon
word a number counts (within its clause), which pairs of counts cannot describe one event
(`conflicts`), and which titles are issues of a series (`other_issues`). `bot.dedup` stores
the `Facts` in a signature and `choose_story` refuses a story they contradict.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from bot import tokeniser

_U32 = 0xFFFFFFFF
# Clause breaks: a number belongs to the casualty word of its own clause ("killed 41 and
# wounded 180", "загинули 12 людей, ще 43 поранені").
CLAUSE = re.compile(
    r"[.,;:!?()\[\]—–]|\b(?:and|but|while|when|as|after|але|коли|після|но|когда|после|і|й|та|а|и)\b"
)
COUNTED = ("~drone", "~missile")  # counts that two reports of one event repeat
_TOLLS = ("~kill", "~injure")  # counts that only rise as an event is reported
_COUNT_REACH = 3  # content tokens between a number and the word it counts


@dataclass(frozen=True, slots=True)
class Facts:
    """The counts a report's title and lede state, to tell look-alike events apart.

    `killed` and `injured` are the highest tolls stated (0: none); `counted` holds the kinds
    of `COUNTED` that come with a number; `numbers` are all numbers stated, years left out.
    """

    killed: int = 0
    injured: int = 0
    counted: frozenset[str] = frozenset()
    numbers: frozenset[int] = frozenset()


_MONTHS = """january february march april may june july august september october november
december січень лютий березень квітень травень червень липень серпень вересень жовтень
листопад грудень січня лютого березня квітня травня червня липня серпня вересня жовтня
листопада грудня январь февраль март апрель май июнь июль август сентябрь октябрь ноябрь
декабрь января февраля марта апреля мая июня июля августа сентября октября ноября декабря"""
_MONTH_TOKENS = frozenset(tokeniser.words(tokeniser.normalised(_MONTHS)))
"""Month names as the tokeniser reads them: a day of the month beside one is a date."""


def stated_facts(clauses: Sequence[Sequence[str]]) -> Facts:
    """The counts stated (see `_counts`); days of the month are dates, not counts: two
    reports "on 15 September" share no fact, and "3 killed on 15 September" states 3 dead."""
    found = _counts(clauses, dates=False)
    killed, injured = (max((n for n, k in found if k == toll), default=0) for toll in _TOLLS)
    counted = frozenset(k for _, k in found if k in COUNTED)
    return Facts(killed, injured, counted, frozenset(n for n, _ in found))


def _counts(
    clauses: Sequence[Sequence[str]], *, dates: bool = True
) -> list[tuple[int, str | None]]:
    """Each number stated (years left out, and days of the month unless `dates`) and the
    toll or counted word it counts, if any: the nearest such word of its clause, looking
    ahead first ("12 people killed") and then back ("killing 12")."""
    found = []
    for clause in clauses:
        for i, token in enumerate(clause):
            number = min(int(token), _U32) if token.isdecimal() and len(token) < 11 else 0
            if not number or 1900 <= number <= 2100:
                continue
            if not dates and number <= 31 and _beside_month(clause, i):
                continue
            after = clause[i + 1 : i + 1 + _COUNT_REACH]
            before = clause[max(0, i - _COUNT_REACH) : i][::-1]
            kind = next((t for t in (*after, *before) if t in _TOLLS or t in COUNTED), None)
            found.append((number, kind))
    return found


def _beside_month(clause: Sequence[str], index: int) -> bool:
    """True when the token at `index` has a month name right before or after it."""
    return (index + 1 < len(clause) and clause[index + 1] in _MONTH_TOKENS) or (
        index > 0 and clause[index - 1] in _MONTH_TOKENS
    )


@lru_cache(maxsize=4096)
def _title_pattern(title: str) -> tuple[frozenset[str], frozenset[int]]:
    """A title's words, and its numbers unless it speaks of a toll ("death toll ... rises
    to 18" is an update, not the next issue)."""
    clauses = [tokeniser.words(c) for c in CLAUSE.split(tokeniser.normalised(title))]
    words = frozenset(t for clause in clauses for t in clause if not t.isdecimal())
    if words.intersection(_TOLLS):
        return words, frozenset()
    return words, frozenset(number for number, _ in _counts(clauses))


def other_issues(first_title: str, second_title: str) -> bool:
    """True for two issues of a series: the same title words with other numbers ("Daily
    Report 215" and "216", "key events, day 1,012" and "1,013"), however alike the texts.
    """
    first_words, first_numbers = _title_pattern(first_title)
    second_words, second_numbers = _title_pattern(second_title)
    return first_words == second_words and first_numbers != second_numbers


def conflicts(first: Facts, first_at: datetime, second: Facts, second_at: datetime) -> bool:
    """True when two reports' counts cannot describe one event.

    A toll only rises while an event is reported, so a later report stating fewer dead (or
    injured) than an earlier one is about another strike; and two reports that both count
    drones (or missiles) yet share no number at all count different attacks.
    """
    early, late = (first, second) if first_at <= second_at else (second, first)
    if 0 < late.killed < early.killed or 0 < late.injured < early.injured:
        return True
    return bool(first.counted & second.counted) and not first.numbers & second.numbers
