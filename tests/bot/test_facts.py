"""The counts reports state: which pairs cannot be one event, which titles are a series."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.dedup import signature
from bot.facts import Facts, conflicts, other_issues

T0 = datetime(2024, 9, 3, 8, 0, tzinfo=UTC)

EARLY = T0
LATE = T0 + timedelta(hours=3)


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        (Facts(killed=12), Facts(killed=18), False),
        (Facts(killed=12, injured=43), Facts(injured=18), True),
        (Facts(killed=12), Facts(killed=7), True),
        (Facts(killed=12), Facts(injured=5), False),
        (
            Facts(counted=frozenset({"~drone"}), numbers=frozenset({145, 62})),
            Facts(counted=frozenset({"~drone"}), numbers=frozenset({34})),
            True,
        ),
        (
            Facts(counted=frozenset({"~drone"}), numbers=frozenset({145, 62})),
            Facts(counted=frozenset({"~drone"}), numbers=frozenset({62})),
            False,
        ),
        (
            Facts(counted=frozenset({"~missile"}), numbers=frozenset({93})),
            Facts(counted=frozenset({"~drone"}), numbers=frozenset({34})),
            False,
        ),
    ],
    ids=[
        "toll rises",
        "fewer injured later",
        "fewer dead later",
        "different kinds",
        "drones counted, no shared number",
        "drones counted, one shared number",
        "drones and missiles",
    ],
)
def test_conflicts_tells_counts_of_another_event(
    first: Facts, second: Facts, expected: bool
) -> None:
    """A later, lower toll or drone counts with no number in common mean another event,
    whichever report arrives first."""
    assert conflicts(first, EARLY, second, LATE) is expected
    assert conflicts(second, LATE, first, EARLY) is expected


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        (
            "OSCE SMM Daily Report 215/2020 issued on 9 September 2020",
            "OSCE SMM Daily Report 216/2020 issued on 10 September 2020",
            True,
        ),
        (
            "Russia-Ukraine war: list of key events, day 1,012",
            "Russia-Ukraine war: list of key events, day 1,013",
            True,
        ),
        (
            "Death toll from strike on Kharkiv store rises to 12",
            "Death toll from strike on Kharkiv store rises to 18",
            False,
        ),
        (
            "Russian missile hits Odesa port, killing eight",
            "Russian missile hits Odesa port, killing eight",
            False,
        ),
        ("Russia fires 93 missiles at Ukraine", "Ukraine downs 81 of 93 Russian missiles", False),
    ],
    ids=["daily report", "day of the war", "toll update", "same title", "other words"],
)
def test_other_issues_of_a_series_are_told_apart(first: str, second: str, expected: bool) -> None:
    """Titles that differ only in a number that is not a toll are issues of a series."""
    assert other_issues(first, second) is expected


@pytest.mark.parametrize(
    ("text", "killed", "numbers"),
    [
        ("3 people were killed on 15 September in Kharkiv", 3, {3}),
        ("On 25 сентября 2020 года погибли 4 человека", 4, {4}),
        ("5 вересня загинули двоє, 12 поранені", 2, {2, 12}),
        ("Russia launched 15 drones on March 3", 0, {15}),
        ("The OSCE recorded 15 ceasefire violations", 0, {15}),
    ],
)
def test_days_of_the_month_are_dates_not_counts(text: str, killed: int, numbers: set[int]) -> None:
    """A day beside a month name is neither a toll nor a number two reports can share: two
    bulletins "issued on 15 September" state no common fact."""
    facts = signature("A report", text, "en").facts
    assert (facts.killed, set(facts.numbers)) == (killed, numbers)


def test_a_dated_series_is_still_told_apart_by_its_dates() -> None:
    assert other_issues("Situation report, 15 September", "Situation report, 16 September")
