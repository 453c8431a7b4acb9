"""Near-duplicate detection: which recent story, if any, a new report belongs to.

Exact repeats (canonical URL, GUID, content hash) are the database's unique keys; this module
finds the *reworded* reports of one event (other outlets, or the same outlet's update under a
new URL). The cost per item stays flat however many stories are stored:

1. `signature()` turns title + lede into a MinHash over normalised content tokens;
2. `band_keys()` cuts it into LSH bands, each hashed to a signed 64-bit key. The store keeps
   rows `(band_key, story_id, published_at)` and, for a new item, loads the items of the
   stories that share a key inside the time window: a handful, not the archive;
3. `choose_story()` verifies those candidates, because headlines are short and reworded and a
   raw MinHash estimate alone is noisy (see `match_margin`).

`ClusterIndex` runs the same three steps over in-memory rows, for the benchmark and tests.

Stories are per language: token hashes are salted with the article's language, so an English
and a Ukrainian report of one event stay two stories, each delivered to the chats that read
that language. Everything is deterministic across processes: no `hash()` of str, fixed MinHash
permutations, blake2b band keys.
"""

from __future__ import annotations

import hashlib
import logging
import re
import struct
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Protocol

from datasketch import MinHash
from datasketch.hashfunc import sha1_hash32

log = logging.getLogger(__name__)

NUM_PERM = 128
BAND_ROWS = 2
BANDS = NUM_PERM // BAND_ROWS
DEFAULT_WINDOW = timedelta(hours=72)

# Verification, tuned on bench/data/dedup_events.toml (see bench/dedup_eval.py). A candidate
# item is joined when  0.5*similarity + 0.4*coverage + 0.1*title_overlap  reaches a bar that
# rises from 0.24 (same minute) to 0.64 (48 h apart or more): reports of one event come in
# within hours, while the look-alikes that must stay apart (another strike on the same city,
# another ship in the same port) come a day or two later.
_W_SIMILARITY = 0.5
_W_COVERAGE = 0.4
_W_OVERLAP = 0.1
_BAR = 0.24
_BAR_RISE = 0.4
_BAR_RISE_OVER = timedelta(hours=48)
_MIN_SIMILARITY = 0.1  # below this the titles agree by chance (the usual war vocabulary)

_SCHEME = b"conflictbot-dedup-1"  # in every band key: a changed scheme never meets old rows
_EMPTY = 0xFFFFFFFF  # datasketch's slot value when no token was seen
_STEM = 5  # letters kept after the ending is cut: Харкові/Харкова and drone/drones meet
_LEDE_TOKENS = 40  # body tokens used: the lede carries the facts, the rest is the outlet's own
_SIGNATURE_BYTES = 4 * NUM_PERM

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
    заявил заявила сообщил сообщила сообщили сказал более
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
_FOLD = str.maketrans({"’": "", "'": "", "ʼ": "", "`": "", "ё": "е"})
_THOUSANDS = re.compile(r"(?<=\d)[,.\u00a0\u202f](?=\d{3}\b)")
_TOKEN = re.compile(r"\d+|[^\W\d_]+")


class ArticleLike(Protocol):
    """What `ClusterIndex.add` reads of an item (an `Article` fits)."""

    @property
    def source(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def language(self) -> str: ...
    @property
    def published_at(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class Signature:
    """A MinHash of one report's content tokens; the shell stores `to_bytes()`."""

    values: tuple[int, ...]

    def to_bytes(self) -> bytes:
        """Little-endian uint32s, 4 bytes per permutation."""
        return struct.pack(f"<{len(self.values)}I", *self.values)

    @classmethod
    def from_bytes(cls, data: bytes) -> Signature:
        """Inverse of `to_bytes`; refuses a blob of another size (another scheme)."""
        if len(data) != _SIGNATURE_BYTES:
            raise ValueError(f"a signature is {_SIGNATURE_BYTES} bytes, got {len(data)}")
        return cls(struct.unpack(f"<{NUM_PERM}I", data))

    @property
    def empty(self) -> bool:
        """True when no content token was seen (a title of stop words or symbols)."""
        return all(v == _EMPTY for v in self.values)

    def similarity(self, other: Signature) -> float:
        """The MinHash estimate of the Jaccard similarity; 0 when either side is empty."""
        if self.empty or other.empty or len(self.values) != len(other.values):
            return 0.0
        same = sum(a == b for a, b in zip(self.values, other.values, strict=True))
        return same / len(self.values)


@dataclass(frozen=True, slots=True)
class Candidate:
    """One stored report of a story that shares a band key with the new report."""

    story_id: int
    signature: Signature
    source: str
    title: str
    published_at: datetime


def content_tokens(text: str) -> list[str]:
    """Normalised content tokens in order: the unit of both MinHash and the title checks.

    Lower-cased, ё folded to е, apostrophes dropped, thousands separators joined
    ("1,000" -> "1000"), letters and digits split ("61bn" -> "61", "bn"), number words as
    digits, stop words of English, Ukrainian and Russian and single letters dropped, every
    word cut to a short stem so inflected and plural forms meet, and news synonyms ("killed",
    "dead") merged into one token.
    """
    folded = _THOUSANDS.sub("", unicodedata.normalize("NFKC", text).casefold()).translate(_FOLD)
    synonyms = _synonyms()
    tokens = []
    for word in _TOKEN.findall(folded):
        word = _NUMBER_WORDS.get(word, word)
        if word.isdigit():
            tokens.append(word.lstrip("0") or "0")
        elif len(word) > 1 and word not in _STOP_WORDS:
            stem = _stem(word)
            tokens.append(synonyms.get(stem, stem))
    return tokens


def _stem(word: str) -> str:
    """Cut one Cyrillic case ending, or an English plural/-ed/-ing, then keep a prefix."""
    if "а" <= word[0] <= "я" or word[0] in "іїєґ":
        for ending in _CYRILLIC_ENDINGS:
            if word.endswith(ending) and len(word) - len(ending) >= 3:
                word = word[: -len(ending)]
                break
    elif len(word) > 4:
        if word.endswith("ies"):
            word = word[:-3] + "y"
        elif word.endswith(("ches", "shes", "sses", "xes")):
            word = word[:-2]
        elif word.endswith("ing") and len(word) > 5:
            word = word[:-3]
        elif word.endswith("ed"):
            word = word[:-2]
        elif word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
    return word[:_STEM]


@cache
def _synonyms() -> dict[str, str]:
    """Stem -> group token, built once with the same stemmer the text goes through."""
    return {_stem(word): group for group, words in _SYNONYMS.items() for word in words.split()}


@cache
def _permutations() -> object:
    """The fixed MinHash permutations (seed 1), built once per process."""
    return MinHash(num_perm=NUM_PERM, seed=1, hashfunc=sha1_hash32, scheme="affine32").permutations


def signature(title: str, text: str, language: str) -> Signature:
    """The MinHash of a report: title tokens count twice, the lede's first tokens once.

    The language (its primary subtag) salts every token, so reports in different languages
    never share a band key.
    """
    salt = re.split(r"[-_]", language.strip().casefold(), maxsplit=1)[0]
    title_tokens = content_tokens(title)
    features = {f"{salt}|{t}" for t in content_tokens(text)[:_LEDE_TOKENS]}
    features.update(f"{salt}|{t}" for t in title_tokens)
    features.update(f"{salt}|title|{t}" for t in title_tokens)
    minhash = MinHash(
        num_perm=NUM_PERM, hashfunc=sha1_hash32, permutations=_permutations(), scheme="affine32"
    )
    minhash.update_batch([f.encode() for f in sorted(features)])
    return Signature(tuple(int(v) for v in minhash.hashvalues))


def band_keys(sig: Signature) -> tuple[int, ...]:
    """One signed 64-bit key per LSH band; none for an empty signature.

    Two reports share a key when both rows of a band agree. With 64 bands of 2 rows a pair
    at Jaccard 0.15 meets with probability about 0.77 and at 0.25 about 0.98: loose enough
    for reworded headlines, and `choose_story` rejects the chance meetings.
    """
    if sig.empty:
        return ()
    keys = []
    for band in range(len(sig.values) // BAND_ROWS):
        rows = sig.values[band * BAND_ROWS : (band + 1) * BAND_ROWS]
        blob = _SCHEME + struct.pack(f"<H{BAND_ROWS}I", band, *rows)
        digest = hashlib.blake2b(blob, digest_size=8).digest()
        keys.append(int.from_bytes(digest, "little", signed=True))
    return tuple(keys)


def match_margin(
    title_tokens: frozenset[str],
    lede_tokens: frozenset[str],
    sig: Signature,
    candidate: Candidate,
    gap: timedelta,
) -> float | None:
    """How far a report clears the bar for joining `candidate`'s story; None when it cannot.

    Three pieces of evidence, because each alone fails on some headline: the MinHash
    similarity of the two reports; the share of the candidate's title words that the new
    title or lede repeats (a reworded headline keeps the facts of the lede); and the plain
    overlap of the two titles. The bar rises with the time between them.
    """
    similarity = sig.similarity(candidate.signature)
    if similarity < _MIN_SIMILARITY:
        return None
    theirs = frozenset(content_tokens(candidate.title))
    coverage = len(theirs & (title_tokens | lede_tokens)) / (len(theirs) or 1)
    overlap = len(theirs & title_tokens) / (min(len(theirs), len(title_tokens)) or 1)
    score = _W_SIMILARITY * similarity + _W_COVERAGE * coverage + _W_OVERLAP * overlap
    return score - (_BAR + _BAR_RISE * min(1.0, gap / _BAR_RISE_OVER))


def choose_story(
    title: str,
    text: str,
    sig: Signature,
    source: str,
    published_at: datetime,
    candidates: Sequence[Candidate],
    *,
    window: timedelta = DEFAULT_WINDOW,
) -> int | None:
    """The story the report joins (the one it clears the bar for by most), or None for new.

    Candidates outside `window` of `published_at` (either side: feeds arrive out of order)
    are ignored. `source` is accepted for the shell's logging and future use: an outlet's
    update is matched like any other report, because outlets also publish look-alike
    reports of *different* strikes on the same city.
    """
    title_tokens = frozenset(content_tokens(title))
    lede_tokens = frozenset(content_tokens(text)[:_LEDE_TOKENS])
    best: tuple[float, int] | None = None
    for cand in candidates:
        gap = abs(published_at - cand.published_at)
        if gap > window:
            continue
        margin = match_margin(title_tokens, lede_tokens, sig, cand, gap)
        if margin is not None and margin >= 0 and (best is None or margin > best[0]):
            best = (margin, cand.story_id)
    if best is not None:
        log.debug("report from %s joins story %d (margin %.3f)", source, best[1], best[0])
    return None if best is None else best[1]


@dataclass
class ClusterIndex:
    """The production matching over in-memory rows, for the benchmark and pure tests.

    It mirrors the store: band rows `(band_key, story_id, published_at)`; a new report loads
    every item of the stories that share a band key within the window, and `choose_story`
    decides. Nothing is pruned: it is meant for bounded runs.
    """

    window: timedelta = DEFAULT_WINDOW
    _bands: dict[int, list[tuple[int, datetime]]] = field(default_factory=dict)
    _stories: dict[int, list[Candidate]] = field(default_factory=dict)

    def add(self, item: ArticleLike) -> int:
        """File one report and return its story id (a new id when no story fits)."""
        sig = signature(item.title, item.text, item.language)
        keys = band_keys(sig)
        candidates = [
            c for s in self._stories_near(keys, item.published_at) for c in self._stories[s]
        ]
        story = choose_story(
            item.title,
            item.text,
            sig,
            item.source,
            item.published_at,
            candidates,
            window=self.window,
        )
        if story is None:
            story = len(self._stories) + 1
        cand = Candidate(story, sig, item.source, item.title, item.published_at)
        self._stories.setdefault(story, []).append(cand)
        for key in keys:
            self._bands.setdefault(key, []).append((story, item.published_at))
        return story

    def _stories_near(self, keys: Sequence[int], published_at: datetime) -> list[int]:
        """Story ids sharing a band key with a row inside the window, first seen first."""
        found: dict[int, None] = {}
        for key in keys:
            for story, at in self._bands.get(key, ()):
                if abs(at - published_at) <= self.window:
                    found.setdefault(story)
        return list(found)
