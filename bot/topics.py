"""Topic rules compiled once: which topics a text is about, and which topic a name means.

Keywords come from the topics file (syntax in its header): words and phrases matched whole
(`ai` never matches inside `said`), case-insensitively, with ’ ' ʼ dropped and ё read as е;
English words also match their plural and possessive (`drone` -> `drones`, `Kursk's`); a
trailing `*` on a word matches that stem with any ending (`Курськ*` -> Курська, Курській).
Hyphens and spaces between words are the same (`North-Korea`). A keyword word of two or
three capitals (`US`, `IS`, `UAV`) is an acronym and matches only in capitals, so "tell us"
is not about the US; longer ones (`NATO`) match in any case, as outlets write "Nato".

Matching walks a trie of word sequences over the text's words, so every topic whose keyword
occurs is found even when keywords of several topics start at the same word ("Zaporizhzhia
nuclear plant" is both `zaporizhzhia` and `nuclear`), and the cost does not grow with the
number of keywords. `compile_keywords` builds the same matcher for a chat's own phrases: plain
words only, so nothing a user types is ever a pattern.
"""

from __future__ import annotations

import difflib
import logging
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from bot.errors import ConfigError
from bot.models import Topic

log = logging.getLogger(__name__)

_APOSTROPHES = ("’", "'", "ʼ", "`", "‘")
_WORD = re.compile(r"[^\W_]+")
_LATIN_WORD = re.compile(r"[a-z0-9]+")
_NAME_SEPARATORS = re.compile(r"[\s_\-–—./#]+")
_CACHE_LIMIT = 50_000  # distinct words remembered per matcher before the memo is reset
_ACRONYM = "\x00"
"""Marks a keyword word written in capitals of two or three letters (`US`, `IS`, `UAV`):
it matches only a word written in capitals too, so "US" is not the pronoun "us"."""
_ACRONYM_KEYWORD = re.compile(r"[A-ZА-ЯІЇЄҐ]{2,3}")
_TEXT_ACRONYM = re.compile(r"\b[A-ZА-ЯІЇЄҐ]{2,3}\b")


def fold_text(text: str) -> str:
    """NFKC, case-folded, apostrophes dropped, ё read as е (str.replace: the fast path)."""
    folded = unicodedata.normalize("NFKC", text).casefold().replace("ё", "е")
    for mark in _APOSTROPHES:
        if mark in folded:
            folded = folded.replace(mark, "")
    return folded


def fold_words(text: str) -> list[str]:
    """The words of `text` as matching sees them (see `fold_text`): runs of letters/digits.

    Splitting on whitespace first and running the regex only on chunks with punctuation
    inside gives the same words as `_WORD.findall` on the whole text, faster.
    """
    words: list[str] = []
    for chunk in fold_text(text).split():
        if chunk.isalnum():
            words.append(chunk)
        else:
            words.extend(_WORD.findall(chunk))
    return words


@dataclass(eq=False, slots=True)
class _Node:
    """One position inside keywords: the words that may come next, and what ends here."""

    exact: dict[str, _Node] = field(default_factory=dict)
    stems: dict[str, _Node] = field(default_factory=dict)
    stem_lengths: tuple[int, ...] = ()
    ends: set[str] = field(default_factory=set)

    def child(self, word: str, stem: bool) -> _Node:
        table = self.stems if stem else self.exact
        if word not in table:
            table[word] = _Node()
            if stem:
                self.stem_lengths = tuple(sorted({*self.stem_lengths, len(word)}))
        return table[word]

    def step(self, word: str, upper: frozenset[str] = frozenset()) -> list[_Node]:
        """The nodes reached by reading `word` here (plural/possessive forms included);
        `upper` holds the words the text writes in capitals, which acronyms may match."""
        found = [self.exact[w] for w in _spellings(word) if w in self.exact]
        if word in upper and (acronym := self.exact.get(_ACRONYM + word)) is not None:
            found.append(acronym)
        for length in self.stem_lengths:
            if length > len(word):
                break
            node = self.stems.get(word[:length])
            if node is not None:
                found.append(node)
        return found


def _spellings(word: str) -> tuple[str, ...]:
    """`word` and, for a Latin word, its singular: drones -> drone, Kursk's -> kursks -> kursk."""
    if len(word) > 3 and word.endswith("es") and _LATIN_WORD.fullmatch(word):
        return (word, word[:-1], word[:-2])
    if len(word) > 2 and word.endswith("s") and _LATIN_WORD.fullmatch(word):
        return (word, word[:-1])
    return (word,)


class _Matcher:
    """A trie of keyword word sequences, each ending in a set of labels; thread-safe to read."""

    __slots__ = ("_acronyms", "_memo", "_root")

    def __init__(self) -> None:
        self._root = _Node()
        self._acronyms = False
        self._memo: tuple[dict[str, list[_Node]], set[str]] = ({}, set())
        """Each remembered word's first step, and those of them that begin some keyword: one
        attribute, so that a thread never reads one reset half."""

    def add(self, words: Sequence[tuple[str, bool]], label: str) -> None:
        node = self._root
        for word, stem in words:
            node = node.child(word, stem)
            self._acronyms |= word.startswith(_ACRONYM)
        node.ends.add(label)

    def labels(self, text: str, *, first: bool = False) -> set[str]:
        """Labels of every keyword found in `text`; with `first`, stop at the first one."""
        words = fold_words(text)
        upper = self._upper(text)
        starters = self._starters(set(words), upper)
        found: set[str] = set()
        if not starters:
            return found
        for start in [i for i, word in enumerate(words) if word in starters]:
            nodes = starters[words[start]]
            position = start + 1
            while nodes:
                for node in nodes:
                    found |= node.ends
                if found and first:
                    return found
                if position == len(words):
                    break
                nodes = [n for node in nodes for n in node.step(words[position], upper)]
                position += 1
        return found

    def _upper(self, text: str) -> frozenset[str]:
        """The words `text` writes in capitals (as matching folds them), if any keyword is an
        acronym."""
        if not self._acronyms:
            return frozenset()
        return frozenset(fold_text(word) for word in _TEXT_ACRONYM.findall(text))

    def _starters(self, words: set[str], upper: frozenset[str]) -> dict[str, list[_Node]]:
        """Those of `words` that begin a keyword, with the nodes they lead to.

        The first step of a word from the root is remembered (news vocabulary repeats a
        lot), so most texts cost a few set operations; the memo starts over when it grows
        past `_CACHE_LIMIT` distinct words. Threads share it without a lock: a reset puts a new
        memo in place (a thread still using the old one finishes with it), a word goes into
        `live` before the memo, so a word found in the memo is never missing from `live`, and
        only this call's own `words` are iterated.
        """
        memo, live = self._memo
        unseen = words.difference(memo)
        if len(memo) + len(unseen) > _CACHE_LIMIT:
            memo, live = {}, set()
            self._memo = (memo, live)
            unseen = words
        for word in unseen:
            nodes = self._root.step(word)
            if nodes:
                live.add(word)
            memo[word] = nodes
        found = {word: memo.get(word) or self._root.step(word) for word in words if word in live}
        for word in upper & words:
            acronym = self._root.exact.get(_ACRONYM + word)
            if acronym is not None:
                found[word] = [*found.get(word, ()), acronym]
        return found


def parse_keyword(keyword: str) -> tuple[tuple[str, bool], ...]:
    """Split a topics-file keyword into (word, is_stem) pairs; raises ValueError when empty.

    A word ending in `*` is a stem; a `*` anywhere else is dropped like other punctuation. A
    word of two or three capitals is an acronym (marked `_ACRONYM`).
    """
    parts: list[tuple[str, bool]] = []
    for chunk in _NAME_SEPARATORS.split(keyword.strip()):
        stem = chunk.endswith("*")
        words = fold_words(chunk)
        if _ACRONYM_KEYWORD.fullmatch(chunk):
            parts.extend((_ACRONYM + w, False) for w in words)
            continue
        parts.extend((w, False) for w in words[:-1])
        if words:
            parts.append((words[-1], stem))
    if not parts:
        raise ValueError(f"keyword {keyword!r} has no letters or digits")
    return tuple(parts)


def normalise_name(name: str) -> str:
    """How topic names compare: case, accents and punctuation do not ("#North_Korea")."""
    decomposed = unicodedata.normalize("NFKD", fold_text(name))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(_WORD.findall(bare))


class TopicIndex:
    """The compiled topics: keyword matching plus lookup by key, label or alias."""

    __slots__ = ("_by_key", "_by_name", "_matcher", "_places", "topics")

    def __init__(self, topics: Sequence[Topic]) -> None:
        self.topics: tuple[Topic, ...] = tuple(topics)
        self._places = frozenset(t.key for t in self.topics if t.place)
        self._by_key = {t.key: t for t in self.topics}
        self._by_name: dict[str, Topic] = {}
        self._matcher = _Matcher()
        for topic in self.topics:
            for name in (topic.key, topic.label, *topic.aliases):
                self._claim(normalise_name(name), topic)
            for keyword in topic.keywords:
                try:
                    self._matcher.add(parse_keyword(keyword), topic.key)
                except ValueError as exc:
                    raise ConfigError(f"topic {topic.key!r}: {exc}") from exc
        log.debug("compiled %d topics", len(self.topics))

    def _claim(self, name: str, topic: Topic) -> None:
        if not name:
            raise ConfigError(f"topic {topic.key!r} has an empty key, label or alias")
        owner = self._by_name.setdefault(name, topic)
        if owner.key != topic.key:
            raise ConfigError(
                f"topics {owner.key!r} and {topic.key!r} both answer to the name {name!r}; "
                "rename one of the keys, labels or aliases"
            )

    def match(self, text: str) -> frozenset[str]:
        """The keys of every topic with a keyword in `text`."""
        return frozenset(self._matcher.labels(text))

    def places(self, text: str) -> frozenset[str]:
        """The keys of the place topics (`place = true`) with a keyword in `text`."""
        return self.match(text) & self._places if self._places else frozenset()

    def any_place(self, keys: frozenset[str]) -> bool:
        """Whether any of these topic keys is a place topic."""
        return not self._places.isdisjoint(keys)

    def get(self, key: str) -> Topic | None:
        """The topic with exactly this key (as stored with stories and subscriptions)."""
        return self._by_key.get(key)

    def resolve(self, name: str) -> Topic | None:
        """The topic a person means by a key, label or alias, in any case or spelling."""
        return self._by_name.get(normalise_name(name))

    def suggest(self, name: str, limit: int = 3) -> list[Topic]:
        """Topics whose names look like `name`, best first: for a "did you mean" answer."""
        wanted = normalise_name(name)
        if not wanted or limit <= 0:
            return []
        names = list(self._by_name)
        ranked = [n for n in names if n.startswith(wanted) or f" {wanted}" in n]
        ranked += difflib.get_close_matches(wanted, names, n=len(names), cutoff=0.6)
        found: dict[str, Topic] = {}
        for candidate in ranked:
            topic = self._by_name[candidate]
            found.setdefault(topic.key, topic)
        return list(found.values())[:limit]


def compile_topics(topics: Sequence[Topic]) -> TopicIndex:
    """Compile the topics once (at start-up); raises ConfigError on clashing names or keywords."""
    return TopicIndex(topics)


class KeywordMatcher:
    """A chat's own follow or mute phrases: plain words, matched whole and case-insensitively."""

    __slots__ = ("_matcher", "phrases")

    def __init__(self, phrases: Iterable[str]) -> None:
        self.phrases: tuple[str, ...] = tuple(phrases)
        self._matcher = _Matcher()
        for phrase in self.phrases:
            words = fold_words(phrase)
            if not words:
                raise ValueError(f"{phrase!r} has no letters or digits to match")
            self._matcher.add([(w, False) for w in words], phrase)

    def matches(self, text: str) -> bool:
        """True when any phrase occurs in `text`."""
        return bool(self._matcher.labels(text, first=True))

    def which(self, text: str) -> set[str]:
        """The phrases (as given) that occur in `text`."""
        return self._matcher.labels(text)


def compile_keywords(words: Sequence[str]) -> KeywordMatcher:
    """Compile a chat's phrases; a phrase without letters or digits raises ValueError.

    Phrases are never patterns: `*`, brackets and the like are plain punctuation, so
    `drone*` means the word "drone" (and "drones").
    """
    return KeywordMatcher(words)
