"""Charts for /trend: counting stories per local day, and a PNG with one bar per day (#5)."""

from __future__ import annotations

import io
import struct
from datetime import UTC, date, datetime, timedelta

import matplotlib.image
import pytest

from bot import charts

NOW = datetime(2026, 5, 19, 21, 30, tzinfo=UTC)  # 00:30 on 20 May in Kyiv
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) from the PNG's IHDR chunk."""
    assert png[:8] == PNG_SIGNATURE
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def count_bars(png: bytes) -> int:
    """How many bars the chart shows: the most runs of coloured pixels along any pixel row.

    Axes, ticks and text are black or grey, the background white; only bars (and legend
    patches, one per row) are saturated colour. Every bar reaches down to the x axis, so the
    row just above it crosses each bar once.
    """
    image = matplotlib.image.imread(io.BytesIO(png), format="png")[..., :3]
    coloured = (image.max(axis=2) - image.min(axis=2)) > 0.2
    best = 0
    for row in coloured:
        starts = int(row[0]) + int((row[1:] & ~row[:-1]).sum())
        best = max(best, starts)
    return best


def series_rows(per_day: dict[int, list[str]]) -> list[tuple[datetime, str]]:
    """(time, topic) rows: `per_day[n]` lists the topics of stories seen n days before NOW."""
    return [
        (NOW - timedelta(days=ago, minutes=minute), topic)
        for ago, topics in per_day.items()
        for minute, topic in enumerate(topics)
    ]


def test_count_per_day_has_fourteen_local_days_oldest_first() -> None:
    """Fourteen days ending today in the chat's zone; a story at 21:30 UTC counts on the next
    day in Kyiv; stories older than the window are left out."""
    rows = [
        (NOW, "kursk"),
        (NOW - timedelta(hours=1), "kursk"),
        (NOW - timedelta(days=20), "kursk"),
    ]
    kyiv = charts.count_per_day(rows, now=NOW, tz="Europe/Kyiv")
    assert len(kyiv.days) == charts.DAYS == 14
    assert kyiv.days[-1].isoformat() == "2026-05-20"
    assert kyiv.days[0].isoformat() == "2026-05-07"
    assert kyiv.totals[-1] == 1 and kyiv.totals[-2] == 1 and sum(kyiv.totals) == 2
    utc = charts.count_per_day(rows, now=NOW, tz="UTC")
    assert utc.days[-1].isoformat() == "2026-05-19" and utc.totals[-1] == 2


def test_count_per_day_keeps_the_busiest_topics_and_folds_the_rest() -> None:
    """At most TOP_TOPICS layers by topic, busiest first; the rest (and untagged stories) are
    one "other" layer, so the stacked totals still count every story."""
    topics = [f"topic-{n}" for n in range(charts.TOP_TOPICS + 3)]
    rows = series_rows({0: topics + topics[:3] + [""], 1: topics[:2]})
    series = charts.count_per_day(rows, now=NOW, tz="UTC")
    names = [name for name, _ in series.layers]
    assert names[:3] == ["topic-0", "topic-1", "topic-2"]
    assert len(names) == charts.TOP_TOPICS + 1 and names[-1] == "other"
    assert sum(series.totals) == len(rows)


@pytest.mark.parametrize(
    ("per_day", "bars"),
    [
        ({ago: ["kursk"] * (ago % 4 + 1) for ago in range(14)}, 14),
        ({ago: ["kursk", "drones", "energy", ""][: ago % 4 + 1] for ago in range(14)}, 14),
        ({0: ["kursk"], 3: ["drones"] * 30, 13: [""]}, 3),
        ({}, 0),
    ],
    ids=["one-topic-14-days", "stacked-14-days", "three-days", "empty"],
)
def test_render_png_draws_one_bar_per_day_with_stories(
    per_day: dict[int, list[str]], bars: int
) -> None:
    """The PNG decodes, is 800x400, and shows one (stacked) bar for each day with stories."""
    series = charts.count_per_day(series_rows(per_day), now=NOW, tz="UTC")
    png = charts.render_png(series, "Stories per day: test")
    assert png_size(png) == (800, 400)
    assert count_bars(png) == bars


def test_the_text_chart_has_a_line_per_day() -> None:
    """Bars scale to the busiest day; a day with one story still shows a bar."""
    days = tuple(date(2026, 12, d) for d in range(1, 4))
    text = charts.render_text(
        charts.Series(days, (("kursk", (0, 1, 20)),)), "Stories per day: Kursk"
    )
    assert text.splitlines() == [
        "Stories per day: Kursk",
        "Tue 01 Dec 0",
        "Wed 02 Dec ▇ 1",
        "Thu 03 Dec " + "▇" * 20 + " 20",
    ]
