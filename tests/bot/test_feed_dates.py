"""bot.feed_dates: the dates feedparser cannot read."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.feed_dates import parse_loose_date


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Seg, 24 Set 2018 19:42:40 -0300", datetime(2018, 9, 24, 22, 42, 40, tzinfo=UTC)),
        ("Mon, 28 Oct 2024 12:30:00 +0300", datetime(2024, 10, 28, 9, 30, tzinfo=UTC)),
        ("28 октября 2024 10:15", datetime(2024, 10, 28, 10, 15, tzinfo=UTC)),
        ("Пн, 28 жовт 2024 08:00:00 +0200", datetime(2024, 10, 28, 6, 0, tzinfo=UTC)),
        ("Di, 3. Dez. 2024 07:05:00 +0100", datetime(2024, 12, 3, 6, 5, tzinfo=UTC)),
        ("Sat, Dec 16 2023 02:02:33 PM", datetime(2023, 12, 16, 14, 2, 33, tzinfo=UTC)),
        ("Dec 16, 2023 12:05 AM", datetime(2023, 12, 16, 0, 5, tzinfo=UTC)),
        ("24 Set 2018", datetime(2018, 9, 24, tzinfo=UTC)),
        ("31 Feb 2024 10:00", None),
        ("12 Foo 2024", None),
        ("yesterday", None),
        ("", None),
    ],
)
def test_parse_loose_date(raw: str, expected: datetime | None):
    """Dates with non-English month names or AM/PM parse to UTC; nonsense gives None."""
    assert parse_loose_date(raw) == expected
