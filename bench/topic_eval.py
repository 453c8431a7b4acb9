"""Topic tagging quality on real headlines: per-topic and micro precision/recall, and speed.

The headlines are the entries of the shared corpus feeds (corpus/feeds/news and
corpus/dedup/rss_link_database_2022). bench/data/topic_labels.csv stores only references
(file, entry index, entry link) and the topics a reader following them would want; the text is
read from the corpus at run time. Labels were written from the headline alone, by what it is
about, before looking at what the keywords match: "Kyiv" used for the government is not the
`kyiv` topic, a district court "of Kyiv" is not news about the city.

Run: `.venv/bin/python bench/topic_eval.py`. The last line is the micro figure.
"""

from __future__ import annotations

import csv
import json
import re
import sys
import time
import tomllib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import feedparser

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.models import Topic  # noqa: E402 (the path above makes the project importable as a script)
from bot.topics import TopicIndex, compile_topics  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
LABELS_FILE = ROOT / "bench" / "data" / "topic_labels.csv"
TOPICS_FILE = ROOT / "bot" / "data" / "topics.toml"
_TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True, slots=True)
class Headline:
    """One labelled corpus entry: its headline, description and the expected topics."""

    ref: str
    title: str
    description: str
    expected: frozenset[str]


@dataclass(frozen=True, slots=True)
class Result:
    """Micro figures over all labelled headlines, plus per-topic counts."""

    precision: float
    recall: float
    headlines: int
    per_topic: dict[str, tuple[int, int, int]]  # key -> (true pos, false pos, false neg)


def load_topics(path: Path = TOPICS_FILE) -> list[Topic]:
    """The bundled topics file as `Topic` values."""
    with path.open("rb") as handle:
        rows = tomllib.load(handle)["topic"]
    return [
        Topic(
            key=row["key"],
            label=row["label"],
            aliases=tuple(row.get("aliases", ())),
            keywords=tuple(row["keywords"]),
            breaking=bool(row.get("breaking", False)),
        )
        for row in rows
    ]


def _entries(path: Path) -> list[tuple[str, str, str]]:
    """(link, title, description) of every entry of a corpus feed or RSS-database file."""
    if path.suffix == ".json":
        return [
            (e["link"], e["title"], e.get("description") or "")
            for e in json.loads(path.read_text())
        ]
    parsed = feedparser.parse(path.read_bytes())
    return [
        (e.get("link") or e.get("id", ""), e.get("title", ""), e.get("summary", ""))
        for e in parsed.entries
    ]


def load_headlines(corpus: Path = CORPUS, labels: Path = LABELS_FILE) -> list[Headline]:
    """Labelled headlines, read from the corpus; a reference that no longer fits is an error."""
    cache: dict[str, list[tuple[str, str, str]]] = {}
    headlines = []
    with labels.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["file"] not in cache:
                cache[row["file"]] = _entries(corpus / row["file"])
            entries = cache[row["file"]]
            link, title, description = entries[int(row["index"])]
            if link != row["link"]:
                raise ValueError(f"{row['file']}#{row['index']}: link {link!r} != {row['link']!r}")
            headlines.append(
                Headline(
                    ref=f"{row['file']}#{row['index']}",
                    title=" ".join(title.split()),
                    description=" ".join(_TAG.sub(" ", description).split()),
                    expected=frozenset(row["topics"].split()),
                )
            )
    return headlines


def evaluate(index: TopicIndex, headlines: Sequence[Headline]) -> Result:
    """Compare `index.match(title)` with the labels, per topic and overall (micro)."""
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for headline in headlines:
        got = index.match(headline.title)
        tp.update(got & headline.expected)
        fp.update(got - headline.expected)
        fn.update(headline.expected - got)
    t, f, n = sum(tp.values()), sum(fp.values()), sum(fn.values())
    per_topic = {key: (tp[key], fp[key], fn[key]) for key in sorted({*tp, *fp, *fn})}
    return Result(
        precision=t / (t + f) if t + f else 1.0,
        recall=t / (t + n) if t + n else 1.0,
        headlines=len(headlines),
        per_topic=per_topic,
    )


def measure_speed(index: TopicIndex, headlines: Sequence[Headline], rounds: int = 7) -> float:
    """Headline + description texts matched per second (the pipeline's unit of work).

    The fastest of several rounds: on a shared machine the slower rounds measure the
    neighbours, not the matcher.
    """
    texts = [f"{h.title}\n{h.description}" for h in headlines]
    fastest = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for text in texts:
            index.match(text)
        fastest = min(fastest, time.perf_counter() - start)
    return len(texts) / fastest


def main() -> None:
    """Print per-topic figures, the misses, the speed and the summary line."""
    start = time.perf_counter()
    index = compile_topics(load_topics())
    compiled = time.perf_counter() - start
    headlines = load_headlines()
    result = evaluate(index, headlines)
    print(f"{'topic':<18} {'tp':>3} {'fp':>3} {'fn':>3}  precision  recall")
    for key, (tp, fp, fn) in result.per_topic.items():
        precision = f"{tp / (tp + fp):.2f}" if tp + fp else "-"
        recall = f"{tp / (tp + fn):.2f}" if tp + fn else "-"
        print(f"{key:<18} {tp:>3} {fp:>3} {fn:>3}  {precision:>9}  {recall:>6}")
    for headline in headlines:
        got = index.match(headline.title)
        if got != headline.expected:
            extra = ",".join(sorted(got - headline.expected)) or "-"
            missed = ",".join(sorted(headline.expected - got)) or "-"
            print(f"  {headline.ref}: extra={extra} missed={missed}")
    print(f"compile: {compiled * 1000:.1f} ms for {len(index.topics)} topics")
    print(f"speed: {measure_speed(index, headlines):.0f} headlines+descriptions/s")
    print(
        f"topics: precision={result.precision:.3f} recall={result.recall:.3f} "
        f"headlines={result.headlines}"
    )


if __name__ == "__main__":
    main()
