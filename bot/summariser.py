"""A short extractive summary of a story: one to three whole sentences from its reports.

Why extractive and rule-based: a reader must be able to trust every word (each sentence is an
outlet's own), the bot summarises thousands of descriptions per fetch pass on a small VPS, and
nothing may download a model. Measured against the outlets' own descriptions in
bench/summary_eval.py, it beats Lead-1/Lead-3 on ROUGE and runs far faster than LexRank.

Sentences are scored for position (news puts the point first), centrality (words the other
sentences and the other outlets' reports share) and coverage of the headline's content words,
then chosen greedily with a penalty for repeating what is already chosen, and given back in
their original order. The weights and the two-sentence target were picked on a coarse grid
over the bench's 40 English pages (no per-page rules); nearby settings score within noise.

The text is expected to be cleaned already, but page junk still turns up in feeds, so small
conservative filters drop subscribe prompts, comment forms, captions, bylines, datelines and
quote-only fragments here too.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from bot.sentences import split_sentences

__all__ = ["summarise"]

log = logging.getLogger(__name__)

ELLIPSIS = "…"
MAX_SENTENCES = 3

# Weights of the three signals; each signal is scaled to 0..1 first.
_W_POSITION = 0.45
_W_HEADLINE = 0.30
_W_CENTRAL = 0.25
# A further sentence is added only when its score, after the redundancy penalty, reaches this
# share of the first choice's.
_KEEP_RATIO = 0.3
# Other outlets' reports are corroboration first and candidates second.
_OTHER_TEXT_POSITION = 0.5
# How fast the position signal falls: 1 / (1 + index) ** _DECAY.
_DECAY = 1.0
# Sentences are added while the summary is shorter than this: about two sentences of news.
_TARGET_CHARS = 350
# Only a text's opening is considered: news puts the point first, and it bounds the cost.
_SENTENCES_PER_TEXT = 25
_CHARS_PER_TEXT = 8000

_WORD = re.compile(r"\w+", re.UNICODE)
_QUOTED = re.compile(r"“[^”]*”|\"[^\"]*\"|«[^»]*»|„[^“”]*[“”]")
# Closing quotes and brackets, which may follow a sentence's terminator.
_CLOSERS = "\"'”’»)]"
# How feeds mark a description they cut: "… [+1234 chars]", "[…]", "[...]".
_CUT_OFF = re.compile(r"\s*(?:…|\.\.\.)?\s*(?:\[\+\d+ chars\]|\[(?:…|\.\.\.)\])$")

# Junk recognised by how a sentence starts (matched at its start only, which keeps this cheap).
_JUNK_START = re.compile(
    r"""
    \W*(?:subscribe\b|sign\s+(?:up|in)\b|log\s*in\b|read\s+(?:more|also|next)\b
        |see\s+also\b|related\s*(?:stories|articles|coverage)?\s*:|more\s+(?:articles|stories)\b
        |(?:advertisement|advert)\s*$|share\s+(?:this|on)\b|follow\s+us\b|click\s+here\b|watch\s*:|listen\s*:|listen\s+(?:here|now|to\s+(?:the|this|our))\b
        |leave\s+a\s+(?:reply|comment)\b|please\s+(?:enter|reload|enable|log)\b|skip\s+to\b
        |support\s+(?:our|independent)\b|donate\b|join\s+our\b|download\s+(?:our|the)\s+app\b
        |(?:last\s+)?(?:updated|published|posted)\s*:?\s*(?:on\s+|at\s+)?
         (?:\d|(?:mon|tue|wed|thu|fri|sat|sun|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)
         [a-z]*\.?,?\s+\d)
         # not "Published on 5 December, the UN report says …": a clause after the date
         (?![\w .:/-]{0,30},\s+(?-i:[a-zа-яіїєґ]))
        |(?:additional\s+)?(?:reporting|writing|editing)\s+by\b
        |читайте\s+(?:також|также)\b|підписуйтес[ья]\b|подписывайтесь\b|реклама\b)
    """,
    re.IGNORECASE | re.VERBOSE,
)
# Junk and captions recognised anywhere in a sentence; only tried when one of these hints (all
# lower case) occurs in it, since a scan with many alternatives at every position is slow.
_HINTS = (
    "captcha",
    "cookie",
    "reserved",
    "©",
    "newsletter",
    "http",
    "www.",
    "comment",
    "email",
    "photo",
    "image",
    "picture",
    "video",
    "getty",
    "reuters/",
    "afp",
    "shutterstock",
    "credit",
    "фото",
)
_JUNK_ANYWHERE = re.compile(
    r"""
    captcha|\bcookies?\b.{0,60}\b(?:accept|consent|policy|settings)\b|all\s+rights\s+reserved|©
    |\bnewsletter|https?://|\bwww\.|\bcomments?\s+(?:are|is)\s+closed\b|\byour\s+email\s+address
    """,
    re.IGNORECASE | re.VERBOSE,
)
_CAPTION = re.compile(
    r"""
    \b(?:photo|image|picture|video|фото)\s*(?:by\b|:|credit\b)|\bgetty\s+images\b
    |\bAP\s+Photo\b|\bREUTERS/|\bAFP\s+(?:via|/)|\(photo\b|^file\s+photo\b|\bshutterstock\b
    |\bcredit\s*:|\bimage\s+source\b|^фото\b
    """,
    re.IGNORECASE | re.VERBOSE,
)
_NAME = r"[A-ZА-ЯІЇЄҐ][\w'’.-]*"
# "By Jane Doe and Tom Lee, Reuters", "By Olena Kovalenko | Published 14:05": names, then
# at most a tail of capitalised words or numbers ("By Monday, troops withdrew" is a sentence).
_BYLINE = re.compile(
    rf"^(?i:by|від|автор)\s+{_NAME}(?:,?\s+(?:{_NAME}|and|&|van|de|von|der))*"
    r"(?:\s*[,|·–—-]\s*(?:[A-ZА-ЯІЇЄҐ0-9][\w'’.:/-]*\s*)*)?$"
)
_DATELINE = re.compile(
    r"""
    ^(?:
        [A-ZА-ЯІЇЄҐ][A-ZА-ЯІЇЄҐ'’./-]+(?:\s+[A-ZА-ЯІЇЄҐ][A-ZА-ЯІЇЄҐ'’./-]+){0,3}
        (?:,\s*[\w'’. -]{2,30}?)?\s*(?:\([\w /.-]{2,30}\))?
      | [A-ZА-ЯІЇЄҐ][\w'’.-]+(?:\s+[A-ZА-ЯІЇЄҐ][\w'’.-]+){0,2}(?:,\s*[\w'’. -]{2,30}?)?
        \s*\((?:Reuters|AP|AFP|CNN|UPI|dpa|ANI|IANS|Bloomberg|Xinhua|Ukrinform|УНІАН|РБК)\)
    )\s*[-–—]+\s+(?=[A-ZА-ЯІЇЄҐ"“«])
    """,
    re.VERBOSE,
)


def _words(text: str) -> frozenset[str]:
    """A word list written as one string (easier to read and edit than a list literal)."""
    return frozenset(text.split())


_STOP = {
    "en": _words(
        """
        a about after again against all also am an and any are as at be because been before
        being between both but by can could did do does doing down during each few for from
        further had has have having he her here hers him his how i if in into is it its itself
        just me more most my no nor not now of off on once only or other our out over own said
        same says she should so some such than that the their them then there these they this
        those through to too under until up very was we were what when where which while who
        whom why will with would you your yet according told report reports reported
        """
    ),
    "uk": _words(
        """
        і й та а але або в у на з із зі до від по за про при для що як це цей ця ці той та
        те не ні же ж би б вже ще також так тому який яка яке які його її їх він вона вони
        воно ми ви я був була було були є бути має мають після під над між через щодо
        """
    ),
    "ru": _words(
        """
        и а но или в во на с со к ко до от по за о об про при для что как это этот эта эти
        тот та то не ни же бы уже еще также так поэтому который которая которое которые его
        ее их он она они оно мы вы я был была было были есть быть после под над между через
        """
    ),
}
_ALL_STOP = frozenset().union(*_STOP.values())


@dataclass(frozen=True, slots=True)
class _Candidate:
    """One usable sentence with where it came from and its content-word stems."""

    text: str
    doc: int
    index: int
    words: frozenset[str]
    complete: bool


def summarise(
    headline: str, texts: Sequence[str], *, max_chars: int = 600, language: str = "en"
) -> str:
    """One to three whole sentences that say what the story is, in their original order.

    `texts` are the story's reports, the representative first; the others corroborate and may
    supply a sentence. Complete sentences (ending in . ! or ?) are preferred; a text with none
    gives its best fragment alone. If no usable sentence is left after filtering, the headline
    is the summary, so the result is empty only when the headline and all texts are. A first
    sentence longer than `max_chars` is cut at a word boundary and ends with "…". `language`
    picks the stop words ("en", "uk", "ru"; any other uses all three lists).
    """
    stop = _STOP.get(language, _ALL_STOP)
    head_words = _stems(headline, stop)
    candidates = _candidates(texts, head_words, stop, headline)
    if not candidates:
        return _cut(" ".join(headline.split()), max_chars)
    complete = [c for c in candidates if c.complete]
    chosen = _choose(complete, head_words, max_chars) if complete else []
    if not chosen:
        # Only fragments (a standfirst without a full stop, a cut-off description): the best
        # one alone, never glued to another.
        chosen = _choose(candidates, head_words, max_chars)[:1]
    if len(chosen) == 1:
        return _cut(chosen[0].text, max_chars)
    chosen.sort(key=lambda c: (c.doc, c.index))
    return " ".join(c.text for c in chosen)


def _candidates(
    texts: Sequence[str], head_words: frozenset[str], stop: frozenset[str], headline: str
) -> list[_Candidate]:
    """Every sentence of every text that survives the junk, caption and headline filters."""
    found: list[_Candidate] = []
    folded_headline = " ".join(headline.casefold().split())
    for doc, text in enumerate(texts):
        index = 0
        for raw in split_sentences(_opening(text)):
            sentence = _clean(raw)
            if sentence is None or " ".join(sentence.casefold().split()) == folded_headline:
                continue
            words = _stems(sentence, stop)
            if not words or _repeats(words, head_words):
                continue
            complete = _complete(sentence)
            found.append(_Candidate(sentence, doc, index, words, complete))
            index += 1
            if index == _SENTENCES_PER_TEXT:
                break
    return found


def _opening(text: str) -> str:
    """The first `_CHARS_PER_TEXT` characters of a long text, cut at a line break if there is one.

    Only the first `_SENTENCES_PER_TEXT` sentences are candidates, so splitting the rest of a
    long article would be wasted work.
    """
    if len(text) <= _CHARS_PER_TEXT:
        return text
    head = text[:_CHARS_PER_TEXT]
    line_end = head.rfind("\n")
    return head[:line_end] if line_end > 0 else head


def _clean(sentence: str) -> str | None:
    """The sentence without a leading dateline, or None when it is junk or not a statement."""
    sentence = " ".join(sentence.split())
    sentence = _DATELINE.sub("", sentence, count=1)
    if sentence.endswith("]"):
        sentence = _CUT_OFF.sub("…", sentence)
    if not sentence or _JUNK_START.match(sentence):
        return None
    folded = sentence.casefold()
    if any(hint in folded for hint in _HINTS) and (
        _JUNK_ANYWHERE.search(sentence) or _CAPTION.search(sentence)
    ):
        return None
    if _BYLINE.match(sentence) or sentence.endswith(":"):
        return None
    word_count = len(_WORD.findall(sentence))
    if word_count < 4 or (word_count < 8 and not _terminated(sentence)):
        return None  # headings, labels and menu items rather than sentences
    if any(q in sentence for q in '“"«„') and len(_WORD.findall(_QUOTED.sub(" ", sentence))) < 3:
        return None  # a bare quotation with nobody saying it
    if sentence[0].islower():
        return None  # a fragment left by a cut or a bad split
    return sentence


def _complete(sentence: str) -> bool:
    """Whether `sentence` ends in . ! or ? (not an ellipsis), then any closing quotes or
    brackets; tested from the end, as a regex search would try every position first."""
    bare = sentence.rstrip(_CLOSERS)
    return bool(bare) and bare[-1] in ".!?" and bare[-2:-1] not in (".", "…")


def _terminated(sentence: str) -> bool:
    """Whether `sentence` ends in . ! ? or …, then any closing quotes or brackets."""
    bare = sentence.rstrip(_CLOSERS)
    return bool(bare) and bare[-1] in ".!?…"


def _stems(text: str, stop: frozenset[str]) -> frozenset[str]:
    """Content words cut to five characters: a crude stemmer that also fits Slavic endings."""
    return frozenset(
        word if word.isdigit() else word[:5]
        for word in _WORD.findall(text.casefold())
        if word not in stop and (len(word) >= 3 or word.isdigit())
    )


def _repeats(words: frozenset[str], head_words: frozenset[str]) -> bool:
    """Whether a sentence says little beyond the headline (a near-repeat of it)."""
    if not head_words:
        return False
    shared = len(words & head_words)
    return shared / len(words) >= 0.8 or shared / len(words | head_words) >= 0.7


def _choose(
    candidates: list[_Candidate], head_words: frozenset[str], max_chars: int
) -> list[_Candidate]:
    """Greedy selection by score with a redundancy penalty (MMR-like), within the budget.

    The best sentence is always chosen, even when it alone exceeds `max_chars` (the caller cuts
    it). More follow while the summary is shorter than about two sentences' worth
    (`_TARGET_CHARS`), each the best remaining one after discounting the words already said,
    as long as it still scores `_KEEP_RATIO` of the first and fits.
    """
    scores = _scores(candidates, head_words)
    first = max(range(len(candidates)), key=scores.__getitem__)
    chosen = [candidates[first]]
    covered = set(candidates[first].words)
    used = len(candidates[first].text)
    remaining = set(range(len(candidates))) - {first}
    while remaining and len(chosen) < MAX_SENTENCES and used < min(_TARGET_CHARS, max_chars):
        fitting = [i for i in remaining if used + 1 + len(candidates[i].text) <= max_chars]
        if not fitting:
            break
        gains = {
            i: scores[i] * len(candidates[i].words - covered) / len(candidates[i].words)
            for i in fitting
        }
        pick = max(gains, key=gains.__getitem__)
        if gains[pick] < scores[first] * _KEEP_RATIO:
            break
        chosen.append(candidates[pick])
        covered |= candidates[pick].words
        used += 1 + len(candidates[pick].text)
        remaining.discard(pick)
    return chosen


def _scores(candidates: list[_Candidate], head_words: frozenset[str]) -> list[float]:
    """Position, headline coverage and centrality of each candidate, weighted into one score."""
    frequency = Counter(word for c in candidates for word in c.words)
    central = [
        sum(frequency[word] - 1 for word in c.words) / len(c.words) ** 0.5 for c in candidates
    ]
    top = max(central) or 1.0
    scores = []
    for candidate, centrality in zip(candidates, central, strict=True):
        position = 1.0 / (1 + candidate.index) ** _DECAY
        if candidate.doc:
            position *= _OTHER_TEXT_POSITION
        coverage = len(candidate.words & head_words) / len(head_words) if head_words else 0.0
        scores.append(
            _W_POSITION * position + _W_HEADLINE * coverage + _W_CENTRAL * centrality / top
        )
    return scores


def _cut(text: str, max_chars: int) -> str:
    """`text` if it fits, else cut at the last word boundary that fits, ending with "…"."""
    if len(text) <= max_chars:
        return text
    if max_chars <= 1:
        return ELLIPSIS[:max_chars]
    head = text[: max_chars - 1]
    space = head.rfind(" ")
    if space > max_chars // 3:
        head = head[:space]
    return head.rstrip(" ,;:—–-") + ELLIPSIS
