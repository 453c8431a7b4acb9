"""/trend [TOPIC]: a PNG of stories per day over 14 days, sent as a photo (issue #5)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.store import stories
from tests.bot.test_charts import count_bars, png_size
from tests.handlers.test_commands import ONE_FEED, Newsdesk
from tests.helpers import Clock, harness

# One story a day: (place, event), unlike each other so that none merge.
NEWS = [
    ("Lviv", "library reopens"),
    ("Poltava", "bakery wins award"),
    ("Chernihiv", "tram line extended"),
    ("Uzhhorod", "choir tours abroad"),
    ("Rivne", "orchard harvest begins"),
    ("Ternopil", "ferry resumes service"),
    ("Lutsk", "chess club hosts final"),
    ("Vinnytsia", "museum restores mural"),
    ("Cherkasy", "river clean-up draws crowds"),
    ("Zhytomyr", "market hall renovated"),
    ("Khmelnytskyi", "violin school graduates"),
    ("Ivano-Frankivsk", "stadium roof repaired"),
    ("Chernivtsi", "archive digitised"),
    ("Kropyvnytskyi", "bridge repainted"),
]


async def test_trend_draws_fourteen_daily_bars(database_url: str, tmp_path: Path) -> None:
    """With stories on each of the last 14 days, /trend sends a PNG photo with 14 bars and a
    caption counting them; /trend drones shows only the days with drone stories. The days
    are those the stories were published on: the sample feeds' May backlog, fetched on the
    first day, is not counted (audit 6)."""
    clock = Clock(datetime.now(UTC) - timedelta(days=13))
    async with harness(database_url, tmp_path, clock=clock, **ONE_FEED) as h:
        desk = Newsdesk(h)
        await h.fetch()
        drone_days = 0
        for day, (place, event) in enumerate(NEWS):
            drones = day % 3 == 0
            drone_days += drones
            title = f"{place}: {event}" + (", drones seen overhead" if drones else "")
            desk.publish(f"day-{day}", title, f"In {place} the {event.strip()} on day {day}.")
            await h.fetch()
            if day < 13:
                clock.advance(days=1)
        async with h.deps.sessions() as session:
            assert await stories.count_stories(session) > len(NEWS)  # and the May backlog
        chat = h.chat()
        (chart,) = await chat.send("/trend", settle=0.1)
        assert chart.method == "sendPhoto" and chart.photo is not None
        assert png_size(chart.photo) == (800, 400)
        assert count_bars(chart.photo) == 14
        assert chart.caption == f"{len(NEWS)} stories on all topics over the last 14 days"
        (drones_chart,) = await chat.send("/trend uav", settle=0.1)
        assert drones_chart.photo is not None
        assert count_bars(drones_chart.photo) == drone_days == 5
        assert re.match(r"\d+ stories on Drones over the last 14 days", drones_chart.caption or "")


async def test_one_story_is_one_story_in_the_caption(database_url: str, tmp_path: Path) -> None:
    """The caption counts in words a reader would use: "1 story", not "1 stories"."""
    async with harness(database_url, tmp_path, **ONE_FEED) as h:
        desk = Newsdesk(h)
        await h.fetch()
        desk.publish("one", "Drones seen over Lviv", "Drones were seen over Lviv on Monday.")
        await h.fetch()
        (chart,) = await h.chat().send("/trend uav", settle=0.1)
        assert chart.caption == "1 story on Drones over the last 14 days"


async def test_a_refused_photo_comes_as_a_text_chart(database_url: str, tmp_path: Path) -> None:
    """A server that refuses the photo (BadRequest) left /trend silent: the same counts come
    as a text chart, one line per day, with the caption."""
    async with harness(database_url, tmp_path, **ONE_FEED) as h:
        desk = Newsdesk(h)
        await h.fetch()
        desk.publish("one", "Drones seen over Lviv", "Drones were seen over Lviv on Monday.")
        await h.fetch()
        h.emulator.fail_next("sendPhoto", 400, "Bad Request: wrong file identifier")
        (answer,) = await h.chat().send("/trend uav", settle=0.1)
        assert answer.method == "sendMessage"
        assert answer.text.count("\n") >= 14 and "▇ 1" in answer.text
        assert answer.text.endswith("1 story on Drones over the last 14 days")
