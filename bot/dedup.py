"""Near-duplicate detection: which recent story, if any, a new report belongs to.

Exact repeats (canonical URL, GUID, content hash) are the database's unique keys; this module
finds the *reworded* reports of one event (other outlets, or the same outlet's update under a
new URL). The cost per item stays flat however many stories are stored:

1. `signature()` turns title + lede into a MinHash over normalised content tokens, plus the
   few counts the lede states (`Facts`: the toll, numbers of drones or missiles); the tokens
   come from `bot.tokeniser`, the counts from `bot.facts`;
2. `band_keys()` cuts the MinHash into one-value LSH bands, one key each. Each process keeps
   the keys of the window's reports in memory (`bot.band_index`, loaded from the items'
   signatures) and, for a new item, loads the items of the stories sharing the most keys
   inside the time window: a bounded handful, not the archive. One-value bands find
   reworded reports that share only a few words;
3. `choose_story()` is the strict second stage: it drops the stories whose counts contradict
   the report (`conflicts`) and the items that name only other places (the place topics of
   the topics file, matched on title and lede), and joins the best remaining item that
   clears `match_margin`.

bench/dedup_eval.py runs the same three steps over in-memory rows (`ClusterIndex`).

Stories are per language: token hashes are salted with the article's language, so an English
and a Ukrainian report of one event stay two stories, each delivered to the chats that read
that language. Everything is deterministic across processes: no `hash()` of str, fixed MinHash
permutations, band keys made of the MinHash values themselves.
"""

from __future__ import annotations

import logging
import math
import re
import struct
import zlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache, lru_cache
from itertools import chain
from operator import attrgetter

import numpy as np
import numpy.typing as npt
from datasketch import MinHash
from datasketch.hashfunc import sha1_hash32

from bot import tokeniser
from bot.facts import CLAUSE, COUNTED, Facts, conflicts, other_issues, stated_facts

log = logging.getLogger(__name__)

NUM_PERM = 128
BANDS = 64  # one MinHash value per band, the first BANDS of them
DEFAULT_WINDOW = timedelta(hours=72)

# Verification, tuned on the even time-blocks of bench/data/dedup_events.toml and checked on
# the odd ones (bench/dedup_eval.py prints both). A candidate item is joined when
#   0.5*similarity + 0.4*coverage + 0.1*title_overlap + 0.1*shared_number
# reaches a bar that rises from 0.24 (same minute) to 0.64 (48 h apart or more): reports of
# one event come in within hours, while the look-alikes that must stay apart (another strike
# on the same city, another ship in the same port) come a day or two later.
_W_SIMILARITY = 0.5
_W_COVERAGE = 0.4
_W_OVERLAP = 0.1
_W_NUMBER = 0.1  # both state the same number above 2: "34 drones", "390 prisoners"
_BAR = 0.24
_BAR_RISE = 0.4
_BAR_RISE_OVER = timedelta(hours=48)
_SPREAD_POWER = 1.5  # a title word shared by k candidate stories weighs 1/k**1.5
_MIN_SIMILARITY = 0.1  # below this the titles agree by chance (the usual war vocabulary)

_EMPTY = 0xFFFFFFFF  # datasketch's slot value when no token was seen
_LEDE_TOKENS = 40  # body tokens used: the lede carries the facts, the rest is the outlet's own
_LEDE_CHARS = 3000  # enough text for the lede of any report; a full article is not read on
_MINHASH = struct.Struct(f"<{NUM_PERM}I")
_FACTS = struct.Struct("<IIBB")  # killed, injured, counted kinds (bits), how many numbers
_FACTS_PLACES = struct.Struct("<IIBBB")  # the same, then how many places
_MAX_PLACES = 16
_MAX_NUMBERS = 16
_NO_FACTS = Facts()  # `Signature.facts` by default; frozen, so one instance serves every signature
_U32 = 0xFFFFFFFF
_EMPTY_VALUES = (_EMPTY,) * NUM_PERM  # the MinHash of no token at all


@dataclass(frozen=True, slots=True)
class Signature:
    """A MinHash of one report's content tokens and its `Facts`; the shell stores `to_bytes()`."""

    values: tuple[int, ...]
    facts: Facts = _NO_FACTS
    places: frozenset[int] = frozenset()
    """The places the title and lede name (`place_keys` of place topics): two reports that
    both name places, and no place in common, are about two events."""
    _array: npt.NDArray[np.uint32] | None = field(
        default=None, init=False, compare=False, repr=False
    )

    def array(self) -> npt.NDArray[np.uint32]:
        """The MinHash as an array, made once: a stored report is verified against many."""
        made = self._array
        if made is None:
            made = np.array(self.values, dtype=np.uint32)
            object.__setattr__(self, "_array", made)  # a cache, not state: frozen otherwise
        return made

    def to_bytes(self) -> bytes:
        """Little-endian uint32s: the MinHash, then the facts, up to 16 numbers and up to 16
        places."""
        facts = self.facts
        bits = sum(1 << i for i, kind in enumerate(COUNTED) if kind in facts.counted)
        numbers = sorted(facts.numbers)[:_MAX_NUMBERS]
        places = sorted(self.places)[:_MAX_PLACES]
        killed, injured = min(facts.killed, _U32), min(facts.injured, _U32)
        return (
            _MINHASH.pack(*self.values)
            + _FACTS_PLACES.pack(killed, injured, bits, len(numbers), len(places))
            + struct.pack(f"<{len(numbers) + len(places)}I", *numbers, *places)
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Signature:
        """Inverse of `to_bytes`; the earlier layouts read back too (a bare MinHash with no
        facts, facts without places); refuses a blob of another layout. The layouts differ
        in length modulo 4, so none is taken for another."""
        size, minhash = len(data), _MINHASH.size
        if size == minhash:
            return cls(_MINHASH.unpack_from(data))
        head = minhash + _FACTS.size
        if size >= head and size == head + 4 * data[head - 1]:
            return cls(_MINHASH.unpack_from(data), _facts_from(bytes(data[minhash:])))
        head = minhash + _FACTS_PLACES.size
        if size >= head and size == head + 4 * (data[head - 2] + data[head - 1]):
            facts, places = _facts_and_places(bytes(data[minhash:]))
            return cls(_MINHASH.unpack_from(data), facts, places)
        raise ValueError(f"not a signature: {len(data)} bytes")

    @property
    def empty(self) -> bool:
        """True when no content token was seen (a title of stop words or symbols)."""
        return all(v == _EMPTY for v in self.values)

    def similarity(self, other: Signature) -> float:
        """The MinHash estimate of the Jaccard similarity; 0 when either side is empty."""
        if self.empty or other.empty or len(self.values) != len(other.values):
            return 0.0
        return sum(map(int.__eq__, self.values, other.values)) / len(self.values)


@lru_cache(maxsize=4096)
def _facts_from(tail: bytes) -> Facts:
    """The facts part of a stored signature, read once per distinct value: most reports state
    no count or the same few, and a batch reads thousands of stored signatures."""
    killed, injured, bits, count = _FACTS.unpack_from(tail)
    return _facts(killed, injured, bits, struct.unpack_from(f"<{count}I", tail, _FACTS.size))


@lru_cache(maxsize=4096)
def _facts_and_places(tail: bytes) -> tuple[Facts, frozenset[int]]:
    """`_facts_from` for the layout with places."""
    killed, injured, bits, count, placed = _FACTS_PLACES.unpack_from(tail)
    values = struct.unpack_from(f"<{count + placed}I", tail, _FACTS_PLACES.size)
    return _facts(killed, injured, bits, values[:count]), frozenset(values[count:])


def _facts(killed: int, injured: int, bits: int, numbers: Sequence[int]) -> Facts:
    """Facts from their stored fields (`Signature.to_bytes`)."""
    counted = frozenset(k for i, k in enumerate(COUNTED) if bits >> i & 1)
    return Facts(killed, injured, counted, frozenset(numbers))


def place_keys(places: Iterable[str]) -> frozenset[int]:
    """Place topic keys as a signature stores them (32-bit, the same in every process)."""
    return frozenset(zlib.crc32(place.encode()) for place in places)


@dataclass(frozen=True, slots=True)
class Candidate:
    """One stored report of a story that shares a band key with the new report."""

    story_id: int
    signature: Signature
    source: str
    title: str
    published_at: datetime


@cache
def _permutations() -> npt.NDArray[np.uint32]:
    """The fixed MinHash permutations (seed 1) as datasketch draws them: rows `a` and `b`.

    Drawn by datasketch itself, once per process, so the stored signatures keep matching.
    """
    drawn = MinHash(num_perm=NUM_PERM, seed=1, hashfunc=sha1_hash32, scheme="affine32")
    return np.asarray(drawn.permutations, dtype=np.uint32)


@lru_cache(maxsize=65536)
def _feature_hash(feature: str) -> int:
    """datasketch's affine32 input for one salted feature: `sha1_hash32`, then the
    MurmurHash3 32-bit finalizer it pre-mixes with (cached: news vocabulary repeats)."""
    value: int = sha1_hash32(feature.encode())
    value ^= value >> 16
    value = (value * 0x85EBCA6B) & _U32
    value ^= value >> 13
    value = (value * 0xC2B2AE35) & _U32
    return value ^ (value >> 16)


@lru_cache(maxsize=256)
def _salt(language: str) -> str:
    """A language tag's primary subtag, case-folded: "en-GB" -> "en"."""
    return re.split(r"[-_]", language.strip().casefold(), maxsplit=1)[0]


@lru_cache(maxsize=1024)
def _read(title: str, text: str) -> tuple[frozenset[str], frozenset[str], Facts, list[str]]:
    """Title tokens, lede tokens, the lede's facts and the MinHash features of one report.

    Cached for `choose_story`, which reads the report that `signature` has just read; callers
    pass the text cut to `_LEDE_CHARS`, so the cache holds no whole articles.
    """
    clauses = [tokeniser.words(c) for c in CLAUSE.split(tokeniser.normalised(title))]
    title_tokens = [t for clause in clauses for t in clause]
    lede: list[str] = []
    for clause in CLAUSE.split(tokeniser.normalised(text)):
        if len(lede) >= _LEDE_TOKENS:
            break
        words = tokeniser.words(clause)[: _LEDE_TOKENS - len(lede)]
        clauses.append(words)
        lede.extend(words)
    features = set(lede) | set(title_tokens) | {f"title|{t}" for t in title_tokens}
    return frozenset(title_tokens), frozenset(lede), stated_facts(clauses), sorted(features)


def signature(
    title: str, text: str, language: str, places: frozenset[str] = frozenset()
) -> Signature:
    """The MinHash of a report (title tokens count twice, the lede's once), its facts and
    the places it names (`places`: the keys of the place topics its title and lede match).

    The language (its primary subtag) salts every token, so reports in different languages
    never share a band key.
    """
    salt = _salt(language)
    _, _, facts, features = _read(title, text[:_LEDE_CHARS])
    keys = place_keys(places)
    if not features:
        return Signature(_EMPTY_VALUES, facts, keys)
    # datasketch's MinHash.update_batch (scheme affine32) without its per-call set-up: the
    # same uint32 arithmetic, a * h + b wrapping mod 2**32, then the minimum per permutation.
    hashes = np.fromiter(
        (_feature_hash(f"{salt}|{f}") for f in features), dtype=np.uint32, count=len(features)
    )
    a, b = _permutations()
    values = (hashes[:, np.newaxis] * a + b).min(axis=0)
    return Signature(tuple(values.tolist()), facts, keys)


def band_keys(sig: Signature) -> tuple[int, ...]:
    """One key per LSH band (one MinHash value each); none for an empty signature.

    Two reports share a key with probability equal to their Jaccard similarity per band, so a
    pair at 0.05 meets in 64 bands with probability 0.96: candidate recall is nearly complete,
    the store keeps the stories sharing the most keys, and `choose_story` decides. A key is
    the band's number above its 32-bit value, exact (no hash to collide) and cheap to make
    for the whole archive at once (`band_key_rows`), as each process's band index does.
    """
    if sig.empty:
        return ()
    return tuple(band << 32 | value for band, value in enumerate(sig.values[:BANDS]))


def match_margin(
    title_tokens: frozenset[str],
    lede_tokens: frozenset[str],
    sig: Signature,
    candidate: Candidate,
    gap: timedelta,
    spread: Mapping[str, int] | None = None,
) -> float | None:
    """How far a report clears the bar for joining `candidate`'s story; None when it cannot.

    Four pieces of evidence, because each alone fails on some headline: the MinHash
    similarity of the two reports; the share of the candidate's title words that the new
    title or lede repeats (a reworded headline keeps the facts of the lede); the plain overlap
    of the two titles; and a number above 2 that both state. The title words are weighed by
    `spread`, how many candidate stories use each: a word that many current stories share
    ("Russian", "drone") is weak evidence. The bar rises with the time between them.
    """
    weights = _Weights(title_tokens, lede_tokens, spread or {})
    return weights.margin(sig, candidate, gap, sig.similarity(candidate.signature))


class _Weights:
    """`match_margin`'s title-word weights for one report against many candidates: each
    word's weight is worked out once, and so is the report's own title weight. The sums run
    over the same sets in the same order as one candidate at a time would, so the margins
    are the same floats to the last bit."""

    __slots__ = ("_power", "_spread", "_title", "_title_weight", "_words")

    def __init__(
        self, title_tokens: frozenset[str], lede_tokens: frozenset[str], spread: Mapping[str, int]
    ) -> None:
        self._spread = spread
        self._power: dict[str, float] = {}
        self._title = title_tokens
        self._words = title_tokens | lede_tokens
        self._title_weight = self.weight(title_tokens)

    def weight(self, tokens: frozenset[str]) -> float:
        power = self._power
        missing = [token for token in tokens if token not in power]
        for token in missing:
            power[token] = math.pow(max(1, self._spread.get(token, 1)), -_SPREAD_POWER)
        return sum(map(power.__getitem__, tokens))

    def margin(
        self, sig: Signature, candidate: Candidate, gap: timedelta, similarity: float
    ) -> float | None:
        if similarity < _MIN_SIMILARITY:
            return None
        theirs = _title_set(candidate.title)
        theirs_weight = self.weight(theirs)
        coverage = self.weight(theirs & self._words) / (theirs_weight or 1)
        overlap = self.weight(theirs & self._title) / (min(theirs_weight, self._title_weight) or 1)
        shared = any(n > 2 for n in sig.facts.numbers & candidate.signature.facts.numbers)
        score = _W_SIMILARITY * similarity + _W_COVERAGE * coverage + _W_OVERLAP * overlap
        score += _W_NUMBER * shared
        return score - (_BAR + _BAR_RISE * min(1.0, gap / _BAR_RISE_OVER))


def _similarities(sig: Signature, candidates: Sequence[Candidate]) -> list[float]:
    """`sig.similarity(c.signature)` for every candidate, in one array comparison."""
    if not candidates or sig.empty:
        return [0.0] * len(candidates)
    if any(len(c.signature.values) != len(sig.values) for c in candidates):
        return [sig.similarity(c.signature) for c in candidates]
    table = np.concatenate([c.signature.array() for c in candidates]).reshape(len(candidates), -1)
    equal = (table == sig.array()).sum(axis=1).tolist()
    empty = (table == _EMPTY).all(axis=1).tolist()
    size = len(sig.values)
    return [0.0 if none else same / size for same, none in zip(equal, empty, strict=True)]


_TITLE = attrgetter("title")


@lru_cache(maxsize=8192)
def _title_set(title: str) -> frozenset[str]:
    """A title's tokens as a set, made once: a stored title is weighed against many reports."""
    return frozenset(tokeniser.tokens(title))


@lru_cache(maxsize=8192)
def _story_words(titles: tuple[str, ...]) -> frozenset[str]:
    """Every title token of one story's candidate reports (for `choose_story`'s spread)."""
    return frozenset(chain.from_iterable(map(tokeniser.tokens, titles)))


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
    are ignored. A story any of whose items `conflicts` with the report is not joined, however
    alike the words (one wrong merge pulls every later report of the other event along), nor
    an item that is `other_issues` of the report. `source` is only logged: an outlet's update
    is matched like any other report, as outlets also report *different* look-alike strikes.
    """
    title_tokens, lede_tokens, _, _ = _read(title, text[:_LEDE_CHARS])
    stories: dict[int, list[Candidate]] = {}
    for cand in candidates:
        if abs(published_at - cand.published_at) <= window:
            stories.setdefault(cand.story_id, []).append(cand)
    kept = [cand for items in stories.values() for cand in items]
    similarity = dict(zip(map(id, kept), _similarities(sig, kept), strict=True))
    if all(value < _MIN_SIMILARITY for value in similarity.values()):
        return None  # no report can clear the bar (`match_margin` refuses each)
    spread = Counter(
        chain.from_iterable(_story_words(tuple(map(_TITLE, items))) for items in stories.values())
    )
    weights = _Weights(title_tokens, lede_tokens, spread)
    best: tuple[float, int] | None = None
    facts = sig.facts
    for story_id, items in stories.items():
        near = [cand for cand in items if similarity[id(cand)] >= _MIN_SIMILARITY]
        if not near or any(
            conflicts(facts, published_at, c.signature.facts, c.published_at) for c in items
        ):
            continue
        for cand in near:
            if other_issues(title, cand.title) or _other_places(sig, cand.signature):
                continue
            gap = abs(published_at - cand.published_at)
            margin = weights.margin(sig, cand, gap, similarity[id(cand)])
            if margin is not None and margin >= 0 and (best is None or margin > best[0]):
                best = (margin, story_id)
    if best is not None:
        log.debug("report from %s joins story %d (margin %.3f)", source, best[1], best[0])
    return None if best is None else best[1]


def _other_places(sig: Signature, theirs: Signature) -> bool:
    """Both reports name places and none in common: a strike on Odesa and one on Kharkiv the
    same night read alike, but are two events. A report that names no place may be either."""
    return bool(sig.places) and bool(theirs.places) and not sig.places & theirs.places


def band_key_rows(minhashes: npt.NDArray[np.uint32]) -> npt.NDArray[np.int64]:
    """`band_keys` of many MinHashes at once (one per row, none of them empty)."""
    bands = np.arange(BANDS, dtype=np.int64) << 32
    return bands | minhashes[:, :BANDS].astype(np.int64)


def empty_rows(minhashes: npt.NDArray[np.uint32]) -> npt.NDArray[np.bool_]:
    """Which rows of MinHashes saw no token (`Signature.empty`)."""
    return np.asarray((minhashes == _EMPTY).all(axis=1))
