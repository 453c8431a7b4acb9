"""bot.extract: main text and descriptions of article pages, measured on the corpus pages.

Token-overlap F1 (multiset of lower-cased word tokens) against the expected text, measured
with the settings in bot.extract (trafilatura 2.3, favor_precision, no comments or tables):

    fundus (27 pages)            mean 0.972, worst 0.903 (BBC explainer: a list is missed)
    Zyte benchmark (26 pages)    mean 0.987, worst 0.871 (The Hill: a related-links line)

The thresholds below sit a little under those figures, so a trafilatura upgrade or a junk
rule that loses real text fails here.
"""

from __future__ import annotations

import gzip
import json
import re
import statistics
from collections import Counter
from functools import cache
from pathlib import Path

import pytest

from bot.extract import extract_description, extract_main_text
from bot.normalise import fold_text
from tests.conftest import CORPUS

FIXTURES = Path(__file__).parent / "fixtures"
CORPUS_ARTICLES = CORPUS / "articles"
MIN_PAGE_F1 = 0.85
MIN_MEAN_F1 = 0.95
TOKEN = re.compile(r"\w+")


def token_f1(got: str, expected: str) -> float:
    """Harmonic mean of precision and recall over word tokens, counted with multiplicity."""
    got_tokens = Counter(token.lower() for token in TOKEN.findall(got))
    expected_tokens = Counter(token.lower() for token in TOKEN.findall(expected))
    overlap = sum((got_tokens & expected_tokens).values())
    if not overlap:
        return 0.0
    precision = overlap / sum(got_tokens.values())
    recall = overlap / sum(expected_tokens.values())
    return 2 * precision * recall / (precision + recall)


@cache
def fundus_expected(articles: Path) -> dict[str, dict[str, str]]:
    return json.loads((articles / "fundus" / "expected.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@cache
def zyte_expected(articles: Path) -> dict[str, dict[str, str]]:
    return json.loads(
        (articles / "scrapinghub_aeb" / "ground-truth.subset.json").read_text(encoding="utf-8")
    )  # type: ignore[no-any-return]


@cache
def trafilatura_expected(articles: Path) -> dict[str, dict[str, object]]:
    return json.loads(
        (articles / "trafilatura_eval" / "evaldata.subset.json").read_text(encoding="utf-8")
    )  # type: ignore[no-any-return]


@cache
def extracted(path: Path, url: str) -> str:
    """Each corpus page is extracted once per test session, however many tests read it."""
    body = path.read_bytes()
    return extract_main_text(gzip.decompress(body) if path.suffix == ".gz" else body, url)


def page_ids(kind: str) -> list[str]:
    """Parametrize ids from the corpus listing; empty (and the tests skipped) without it."""
    if kind == "fundus" and (CORPUS_ARTICLES / "fundus").is_dir():
        return sorted(fundus_expected(CORPUS_ARTICLES))
    if kind == "zyte" and (CORPUS_ARTICLES / "scrapinghub_aeb").is_dir():
        return sorted(zyte_expected(CORPUS_ARTICLES))
    if kind == "trafilatura" and (CORPUS_ARTICLES / "trafilatura_eval").is_dir():
        return sorted(trafilatura_expected(CORPUS_ARTICLES))
    return []


def fundus_f1(corpus: Path, name: str) -> float:
    expected = fundus_expected(corpus / "articles")[name]
    page = corpus / "articles" / "fundus" / "html" / name
    return token_f1(extracted(page, expected["url"]), expected["expected_plain_text"])


def zyte_f1(corpus: Path, key: str) -> float:
    expected = zyte_expected(corpus / "articles")[key]
    page = corpus / "articles" / "scrapinghub_aeb" / "html" / f"{key}.html.gz"
    return token_f1(extracted(page, expected["url"]), expected["articleBody"])


@pytest.mark.parametrize("name", page_ids("fundus"))
def test_fundus_page_main_text(corpus: Path, name: str):
    """Each fundus page's extracted text matches its expected plain text (token F1)."""
    assert fundus_f1(corpus, name) >= MIN_PAGE_F1


@pytest.mark.parametrize("key", page_ids("zyte"))
def test_zyte_benchmark_page_main_text(corpus: Path, key: str):
    """Each Zyte benchmark page's extracted text matches its articleBody (token F1)."""
    assert zyte_f1(corpus, key) >= MIN_PAGE_F1


def test_mean_f1_over_both_sets(corpus: Path):
    """Averaged over the pages, extraction stays near the measured 0.97 and 0.99."""
    articles = corpus / "articles"
    fundus = [fundus_f1(corpus, name) for name in fundus_expected(articles)]
    zyte = [zyte_f1(corpus, key) for key in zyte_expected(articles)]
    assert len(fundus) == 27
    assert len(zyte) == 26
    assert statistics.mean(fundus) >= MIN_MEAN_F1
    assert statistics.mean(zyte) >= MIN_MEAN_F1


# Annotations of trafilatura's evaluation set we knowingly miss, by page, list and position
# (the annotated strings themselves stay in the corpus). Each was checked by hand.
KNOWN_MISSES = {
    # trafilatura finds only the standfirst on this page, with any setting.
    ("scmp.com.playbook.html", "with", 0): "body not found",
    ("scmp.com.playbook.html", "with", 1): "body not found",
    ("scmp.com.playbook.html", "with", 2): "body not found",
    # A credit line ("Additional reporting by ...") in its own block; favor_precision drops
    # it, and it is not news for a summary anyway.
    ("reuters.com.parasite.html", "with", 2): "credit line dropped",
    # The standfirst under the headline; favor_precision drops it (the default keeps it, but
    # lets in more boilerplate elsewhere). extract_description returns the same sentence.
    ("standard.co.uk.caribbean.html", "with", 0): "standfirst dropped",
    # The annotated sentence is the page's meta description, not part of its body text;
    # extract_description returns it (tested below).
    ("infobae.com-ucrania.html", "with", 0): "meta description only",
    # "Lesen Sie dazu auch ..." is a read-also pointer; our junk rules drop it on purpose.
    ("bundespolizei.de-Belarus.html", "with", 2): "read-also pointer is junk to us",
    # The page title is kept as the first line of the text; the annotation counts it as
    # boilerplate.
    ("bundespolizei.de-Belarus.html", "without", 0): "headline kept",
}


@pytest.mark.parametrize("url", page_ids("trafilatura"))
def test_trafilatura_eval_with_and_without(corpus: Path, url: str):
    """Every "with" snippet is in the text and no "without" snippet is, bar the known misses."""
    entry = trafilatura_expected(corpus / "articles")[url]
    text = extracted(corpus / "articles" / "trafilatura_eval" / str(entry["local_file"]), url)
    page = str(entry["file"])
    found = {"with": True, "without": False}
    for kind in ("with", "without"):
        snippets = entry[kind]
        assert isinstance(snippets, list)
        for index, snippet in enumerate(snippets):
            expected = found[kind] if (page, kind, index) not in KNOWN_MISSES else not found[kind]
            assert (snippet in text) is expected, (page, kind, index)


def test_known_misses_name_real_annotations(corpus: Path):
    """The known-miss list points at annotations that exist, so it cannot silently go stale."""
    by_file = {
        str(entry["file"]): entry for entry in trafilatura_expected(corpus / "articles").values()
    }
    for page, kind, index in KNOWN_MISSES:
        snippets = by_file[page][kind]
        assert isinstance(snippets, list)
        assert index < len(snippets)


@pytest.mark.parametrize(
    ("page", "index"),
    [("infobae.com-ucrania.html", 0), ("standard.co.uk.caribbean.html", 0)],
)
def test_description_holds_what_the_body_misses(corpus: Path, page: str, index: int):
    """Where the annotated lead is only the page's description, extract_description has it."""
    entry = next(e for e in trafilatura_expected(corpus / "articles").values() if e["file"] == page)
    html = (corpus / "articles" / "trafilatura_eval" / str(entry["local_file"])).read_bytes()
    snippets = entry["with"]
    assert isinstance(snippets, list)
    description = extract_description(html)
    assert description is not None
    assert snippets[index] in description


def test_own_page_keeps_the_article_and_drops_the_furniture():
    """Navigation, byline, ads, share prompts, related links, comment form, cookie note and
    footer are gone; the four paragraphs of the report stay, in order."""
    html = (FIXTURES / "article_page.html").read_text(encoding="utf-8")
    text = extract_main_text(html, "https://www.example-outlet.com/world/grain-convoy-odesa")
    starts = (
        "A convoy of 40 trucks",
        "The drivers had waited",
        "Port officials said",
        "Insurers have raised",
    )
    report = [line for line in text.split("\n") if line.startswith(starts)]
    assert [line[:12] for line in report] == [start[:12] for start in starts]
    for junk in (
        "Subscribe",
        "Advertisement",
        "Share this",
        "Related articles",
        "Harvest estimates",
        "LEAVE A REPLY",
        "Please enter",
        "reCAPTCHA",
        "cookies",
        "All rights reserved",
        "By Olena",
    ):
        assert junk not in text


@pytest.mark.parametrize(
    "html", ["", "   ", b"", "<html></html>", "<html><body></body></html>", b"\x00\x01\x02"]
)
def test_nothing_to_extract_gives_an_empty_string(html: str | bytes):
    """Empty or content-free input gives "" rather than None or an exception."""
    assert extract_main_text(html) == ""


def test_bytes_follow_the_page_charset():
    """A windows-1251 page given as bytes reads as Cyrillic through its meta charset."""
    paragraph = (
        "Колона вантажівок із зерном прибула до порту у вівторок вранці, повідомили в обласній адміністрації. "
        * 3
    )
    html = (
        '<html><head><meta charset="windows-1251"><title>Зерно</title></head><body><article>'
        f"<h1>Колона прибула до порту</h1><p>{paragraph}</p><p>{paragraph}</p></article></body></html>"
    ).encode("cp1251")
    assert fold_text(paragraph) in extract_main_text(html)


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (
            '<meta property="og:description" content="OG text"><meta name="twitter:description" content="TW">'
            '<meta name="description" content="Meta">',
            "OG text",
        ),
        (
            '<meta name="twitter:description" content="TW text"><meta name="description" content="Meta">',
            "TW text",
        ),
        ('<meta property="twitter:description" content="TW as property">', "TW as property"),
        ('<meta name="Description" content="  Meta\n  text  ">', "Meta text"),
        ('<meta itemprop="description" content="Microdata">', "Microdata"),
        (
            '<meta property="og:description" content="">'
            '<meta name="description" content="Fallback">',
            "Fallback",
        ),
        ('<meta property="og:description" content="Tom &amp; Jerry &hellip;">', "Tom & Jerry …"),
        ('<meta property="og:description" content="l&amp;#39;uomo">', "l'uomo"),
        ('<meta property="og:title" content="Only a title">', None),
        ("", None),
    ],
)
def test_extract_description(head: str, expected: str | None):
    """og:description, then twitter:description, then meta description; entities decoded."""
    assert (
        extract_description(f"<html><head>{head}</head><body><p>Body</p></body></html>") == expected
    )


def test_extract_description_of_own_page():
    """The fixture's og:description wins, with its double-escaped apostrophes decoded."""
    html = (FIXTURES / "article_page.html").read_bytes()
    description = extract_description(html)
    assert description is not None
    assert description.startswith("A convoy of 40 trucks reached the port")
    assert "'without losses'" in description


@pytest.mark.parametrize("html", ["", b"", "<<<>>>", b"\xff\xfe\x00"])
def test_extract_description_of_nothing_is_none(html: str | bytes):
    """No page, no description."""
    assert extract_description(html) is None
