"""bot.assignment: a batch's articles are replayed in memory exactly as the store would have
stored them one at a time (issue #3: ingest throughput)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot import dedup
from bot.assignment import (
    CANDIDATE_STORIES,
    ITEMS_PER_CANDIDATE,
    NEW_STORY,
    Assigner,
    Report,
    StoredReports,
)
from bot.intake import prepare
from bot.models import Article
from bot.topics import compile_topics

NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)
WINDOW = timedelta(hours=72)
NO_TOPICS = compile_topics([])


def assigner(postings: dict[int, list[int]], dates: dict[int, datetime]) -> Assigner:
    return Assigner("Wire A", WINDOW, postings, dict[int, datetime | None](dates))


def test_ranked_takes_most_shared_bands_then_newest_inside_the_window() -> None:
    """Stories are ranked by how many of the article's bands they hold, ties newest (highest
    id) first; a story first reported before `since` is left out."""
    postings = {1: [30, 20, 10], 2: [20, 10], 3: [40, 5]}
    published = {40: NOW, 30: NOW, 20: NOW, 10: NOW, 5: NOW - timedelta(days=5)}
    ranking = assigner(postings, published).ranked([1, 2, 3, 99], NOW - WINDOW)
    assert ranking is not None and ranking.stories == [20, 10, 40, 30]


def test_ranked_keeps_only_the_best_candidate_stories() -> None:
    """At most CANDIDATE_STORIES stories are verified, the ones sharing most bands."""
    stories = list(range(1, CANDIDATE_STORIES + 11))
    postings = {key: stories[: key + 1] for key in range(len(stories))}
    published = dict.fromkeys(stories, NOW)
    ranking = assigner(postings, published).ranked(list(postings), NOW - WINDOW)
    assert ranking is not None and ranking.stories == stories[:CANDIDATE_STORIES]


def report(order: int, story: int, title: str) -> Report:
    sig = dedup.signature(title, "", "en")
    return Report(order, dedup.Candidate(story, sig, "Wire B", title, NOW))


def test_candidates_are_a_storys_first_and_latest_reports_counting_the_batchs_own() -> None:
    """A stored story offers its first report and its latest ITEMS_PER_CANDIDATE, and the
    reports this batch added to it count among the latest, as the database rows would."""
    plan = assigner({}, {7: NOW})
    first = report(1, 7, "first")
    latest = [report(n, 7, f"stored {n}") for n in range(2, 2 + ITEMS_PER_CANDIDATE)]
    plan.load({7: StoredReports(first, latest), 8: None})
    titles = [c.title for c in plan.candidates([7, 8], [])]
    assert titles == ["first", *(r.candidate.title for r in latest)]
    added = [report(-1, 7, "added 1"), report(-2, 7, "added 2")]
    plan.added[7] = added
    titles = [c.title for c in plan.candidates([7], [])]
    assert titles == ["first", "stored 4", "stored 5", "added 1", "added 2"]


def article(title: str, text: str, url: str, published: datetime = NOW) -> Article:
    return Article("Wire A", url, url, title, text, "en", published, url[-8:].rjust(64, "0"))


def test_a_merge_that_moves_a_storys_date_out_of_the_window_makes_rankings_stale() -> None:
    """A merge moves a story's date back (to its earliest report): a later article of the
    batch whose window no longer covers it must not verify it, so its ranking is made again;
    a move that keeps the story inside the window changes nothing."""
    plan = assigner({1: [5, 4]}, {5: NOW, 4: NOW})
    ranking = plan.ranked([1], NOW - timedelta(hours=10))
    assert ranking is not None and ranking.stories == [5, 4]
    plan.published[4] = NOW - timedelta(hours=5)
    assert not plan.stale(ranking)
    plan.published[5] = NOW - timedelta(hours=11)
    assert plan.stale(ranking)
    again = plan.ranked([1], ranking.since)
    assert again is not None and again.stories == [4]


def test_ranking_asks_for_the_dates_it_needs() -> None:
    """Dates are read on demand: a ranking that reaches a story without a known date asks
    for it (and the next few), then goes on; a story that does not exist is left out."""
    plan = Assigner("Wire A", WINDOW, {1: [7, 6, 5], 2: [7]}, {7: NOW})
    assert plan.likely([1, 2]) == [7, 6, 5]
    assert plan.ranked([1, 2], NOW - WINDOW) is None
    assert plan.undated == {6, 5}
    plan.dates.update({6: None, 5: NOW - timedelta(days=9)})
    ranking = plan.ranked([1, 2], NOW - WINDOW)
    assert ranking is not None and ranking.stories == [7]


def test_a_batch_joins_its_own_new_story() -> None:
    """Two reports of one event in one batch: the first starts a story (a provisional id at
    NEW_STORY), the second joins it through the batch's own band index."""
    text = "A Russian drone struck the central hospital in Kupiansk, injuring five medics."
    items = prepare(
        [
            article("Drone hits Kupiansk hospital, five medics hurt", text, "https://a/1", NOW),
            article(
                "Five medics injured as drone strikes Kupiansk hospital", text, "https://a/2", NOW
            ),
        ],
        NO_TOPICS,
    )
    plan = assigner({}, {})
    first = plan.assign(items[0], [])
    second = plan.assign(items[1], [])
    assert first == (NEW_STORY, True)
    assert second == (NEW_STORY, False)
    assert plan.new_stories == 1
