"""How good and how fast is our summariser? ROUGE against the outlets' own descriptions.

References are the short descriptions outlets write for their pages (og:description, else the
meta description or twitter:description). Sources are the known main texts of the corpus pages
(Fundus `expected_plain_text`, ScrapingHub `articleBody`), with every description sentence that
appears verbatim removed from them, so that no method can simply copy the reference.

Methods: ours (`bot.summariser.summarise`), Lead-1, Lead-3, and sumy's LexRank and TextRank (two
sentences each; their documents are built with our splitter, since NLTK punkt cannot be
downloaded here). Scores are ROUGE-1/2/L F1 from rouge-score with its Porter stemmer. Speed is
the fastest of five rounds over all pages, as seconds per 100 summaries.

Only English pages are scored: rouge-score's tokenizer keeps [a-z0-9] only, so Cyrillic scores
nothing and accented Latin words fall apart, and its stemmer is English. Pages are kept when
py3langid says English; the skipped ones are counted in the output.

Usage: python bench/summary_eval.py [--corpus PATH]
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import py3langid
from rouge_score import rouge_scorer
from sumy.nlp.stemmers import Stemmer
from sumy.parsers.plaintext import PlaintextParser
from sumy.summarizers.lex_rank import LexRankSummarizer
from sumy.summarizers.text_rank import TextRankSummarizer
from sumy.utils import get_stop_words

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.sentences import split_sentences  # noqa: E402  (after the path set-up above)
from bot.summariser import summarise  # noqa: E402

DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus"
METRICS = ("rouge1", "rouge2", "rougeL")
# Each method runs this many times over all pages; the fastest run is reported.
TIMING_RUNS = 5
WORD = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class Page:
    """One scored page: its headline, main text (description removed) and reference."""

    name: str
    headline: str
    source: str
    reference: str


class _MetaReader(HTMLParser):
    """Collects <meta> descriptions and titles from a page's markup."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        if tag != "meta":
            return
        values = {k.lower(): v or "" for k, v in attrs}
        key = (values.get("property") or values.get("name") or "").lower()
        if key and values.get("content") and key not in self.meta:
            self.meta[key] = values["content"]

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def read_meta(html: str) -> tuple[str, str]:
    """The page's description and title, each with whitespace folded ("" when absent)."""
    reader = _MetaReader()
    reader.feed(html)
    description = next(
        (
            reader.meta[k]
            for k in ("og:description", "description", "twitter:description")
            if k in reader.meta
        ),
        "",
    )
    title = reader.meta.get("og:title") or reader.title
    return fold(description), fold(title)


def fold(text: str) -> str:
    """Whitespace folded to single spaces."""
    return " ".join(text.split())


def without_reference(text: str, reference: str) -> str:
    """`text` with each reference sentence that occurs in it verbatim removed."""
    for sentence in split_sentences(reference):
        if len(WORD.findall(sentence)) >= 4:
            text = "\n".join(line.replace(sentence, " ").strip() for line in text.splitlines())
    return "\n".join(line for line in text.splitlines() if line.strip())


def load_pages(corpus: Path) -> tuple[list[Page], dict[str, int]]:
    """Every English corpus page with a description; and counts of the pages skipped, by reason."""
    raw: list[tuple[str, str, str, str]] = []  # name, html, known title, main text
    articles = corpus / "articles"
    fundus = json.loads((articles / "fundus" / "expected.json").read_text(encoding="utf-8"))
    for name, item in fundus.items():
        page = gzip.decompress((articles / "fundus" / "html" / name).read_bytes())
        title = item["expected"].get("title") or ""
        raw.append((name, page.decode("utf-8"), title, item["expected_plain_text"]))
    truth_path = articles / "scrapinghub_aeb" / "ground-truth.subset.json"
    truth = json.loads(truth_path.read_text(encoding="utf-8"))
    for key, item in truth.items():
        page = gzip.decompress(
            (articles / "scrapinghub_aeb" / "html" / f"{key}.html.gz").read_bytes()
        )
        raw.append((key[:12], page.decode("utf-8"), "", item["articleBody"]))
    pages: list[Page] = []
    skipped = {"no description": 0, "not English": 0, "no text left": 0}
    for name, markup, title, text in raw:
        description, meta_title = read_meta(markup)
        if len(WORD.findall(description)) < 4:
            skipped["no description"] += 1
            continue
        if py3langid.classify(text[:2000])[0] != "en":
            skipped["not English"] += 1
            continue
        source = without_reference(text, description)
        if not split_sentences(source):
            skipped["no text left"] += 1
            continue
        pages.append(Page(name, fold(title) or meta_title, source, description))
    return pages, skipped


class OurTokenizer:
    """sumy's tokenizer protocol on top of our splitter (NLTK punkt is not available here)."""

    language = "english"

    def to_sentences(self, paragraph: str) -> tuple[str, ...]:
        return tuple(split_sentences(paragraph))

    def to_words(self, sentence: str) -> tuple[str, ...]:
        return tuple(WORD.findall(sentence))


def sumy_method(summarizer_class: type, count: int = 2) -> Callable[[Page], str]:
    """A baseline that runs one of sumy's summarizers for `count` sentences."""
    tokenizer = OurTokenizer()
    summarizer = summarizer_class(Stemmer("english"))
    summarizer.stop_words = get_stop_words("english")

    def run(page: Page) -> str:
        document = PlaintextParser.from_string(page.source, tokenizer).document
        return " ".join(str(s) for s in summarizer(document, count))

    return run


def lead(count: int) -> Callable[[Page], str]:
    """The first `count` sentences of the source."""
    return lambda page: " ".join(split_sentences(page.source)[:count])


def ours(page: Page) -> str:
    """Our summariser, with the defaults the bot uses."""
    return summarise(page.headline, [page.source])


def faithful(summary: str, source: str) -> bool:
    """Every sentence of the summary occurs in the source (whitespace folded)."""
    folded = fold(source)
    return all(fold(s.removesuffix("…")) in folded for s in split_sentences(summary))


def timings(methods: dict[str, Callable[[Page], str]], pages: Sequence[Page]) -> dict[str, float]:
    """Seconds per 100 summaries: the fastest of TIMING_RUNS rounds, the methods taking turns
    in each round so that a busy machine slows them alike."""
    best = dict.fromkeys(methods, float("inf"))
    for _ in range(TIMING_RUNS):
        for name, method in methods.items():
            start = time.perf_counter()
            for page in pages:
                method(page)
            best[name] = min(best[name], time.perf_counter() - start)
    return {name: seconds / len(pages) * 100 for name, seconds in best.items()}


def evaluate(
    methods: dict[str, Callable[[Page], str]], pages: Sequence[Page]
) -> dict[str, dict[str, float]]:
    """ROUGE F1 means, seconds per 100 summaries and the faithful share, per method."""
    scorer = rouge_scorer.RougeScorer(list(METRICS), use_stemmer=True)
    speed = timings(methods, pages)
    results: dict[str, dict[str, float]] = {}
    for name, method in methods.items():
        summaries = [method(page) for page in pages]
        scores = [scorer.score(p.reference, s) for p, s in zip(pages, summaries, strict=True)]
        row = {m: statistics.fmean(s[m].fmeasure for s in scores) for m in METRICS}
        row["s_per_100"] = speed[name]
        row["faithful"] = statistics.fmean(
            faithful(s, p.source) for p, s in zip(pages, summaries, strict=True)
        )
        row["chars"] = statistics.fmean(len(s) for s in summaries)
        results[name] = row
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Score every method, print the table and the one-line summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = parser.parse_args(argv)
    pages, skipped = load_pages(args.corpus)
    if not pages:
        print("no pages to score", file=sys.stderr)
        return 1
    methods: dict[str, Callable[[Page], str]] = {
        "ours": ours,
        "lead1": lead(1),
        "lead3": lead(3),
        "lexrank": sumy_method(LexRankSummarizer),
        "textrank": sumy_method(TextRankSummarizer),
    }
    results = evaluate(methods, pages)
    reference_chars = statistics.fmean(len(p.reference) for p in pages)
    print(f"pages scored: {len(pages)}; skipped: {skipped}; reference chars: {reference_chars:.0f}")
    print(
        f"{'method':<10}{'rouge1':>8}{'rouge2':>8}{'rougeL':>8}{'s/100':>9}{'faithful':>10}{'chars':>7}"
    )
    for name, row in results.items():
        print(
            f"{name:<10}{row['rouge1']:>8.4f}{row['rouge2']:>8.4f}{row['rougeL']:>8.4f}"
            f"{row['s_per_100']:>9.4f}{row['faithful']:>10.2f}{row['chars']:>7.0f}"
        )
    best = {m: max(results["lead1"][m], results["lead3"][m]) for m in METRICS}
    speedup = results["lexrank"]["s_per_100"] / results["ours"]["s_per_100"]
    mine = results["ours"]
    print(
        f"summary: rouge1={mine['rouge1']:.4f} rouge2={mine['rouge2']:.4f} "
        f"rougeL={mine['rougeL']:.4f} best_lead_rouge1={best['rouge1']:.4f} "
        f"best_lead_rouge2={best['rouge2']:.4f} best_lead_rougeL={best['rougeL']:.4f} "
        f"speedup_vs_lexrank={speedup:.1f} pages={len(pages)}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
