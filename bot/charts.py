"""/trend charts: stories per day over the last 14 days, drawn headless (matplotlib Agg).

Counting is a pure function; drawing returns PNG bytes and touches no file or display.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.timing import zone

DAYS = 14
TOP_TOPICS = 6


@dataclass(frozen=True, slots=True)
class Series:
    """Counts per day (oldest first) for each stacked layer (a topic, or "other")."""

    days: tuple[date, ...]
    layers: tuple[tuple[str, tuple[int, ...]], ...]

    @property
    def totals(self) -> tuple[int, ...]:
        return tuple(sum(values[i] for _, values in self.layers) for i in range(len(self.days)))


def count_per_day(
    rows: Sequence[tuple[datetime, str]], *, now: datetime, tz: str, days: int = DAYS
) -> Series:
    """Bucket (time, topic) rows into local days; keep the busiest topics, fold the rest."""
    local_zone = zone(tz)
    today = now.astimezone(local_zone).date()
    span = tuple(today - timedelta(days=offset) for offset in range(days - 1, -1, -1))
    index = {day: i for i, day in enumerate(span)}
    per_topic: dict[str, list[int]] = {}
    totals: Counter[str] = Counter()
    for seen, topic in rows:
        day = seen.astimezone(local_zone).date()
        if day not in index:
            continue
        name = topic or "other"
        per_topic.setdefault(name, [0] * days)[index[day]] += 1
        totals[name] += 1
    keep = [name for name, _ in totals.most_common(TOP_TOPICS) if name != "other"]
    layers = [(name, tuple(per_topic[name])) for name in keep]
    rest = [0] * days
    for name, values in per_topic.items():
        if name not in keep:
            rest = [a + b for a, b in zip(rest, values, strict=True)]
    if any(rest):
        layers.append(("other", tuple(rest)))
    return Series(days=span, layers=tuple(layers))


def render_text(series: Series, title: str, width: int = 20) -> str:
    """The chart as plain text, one line per day with a bar ("Tue 08 Dec ▇▇▇ 3"): for a chat
    that cannot take the photo."""
    totals = series.totals
    top = max(totals, default=0) or 1
    lines = [title]
    for day, count in zip(series.days, totals, strict=True):
        bar = "▇" * max(1 if count else 0, round(width * count / top))
        lines.append(f"{day:%a %d %b} {bar} {count}".replace("  ", " "))
    return "\n".join(lines)


def render_png(series: Series, title: str) -> bytes:
    """A stacked bar chart, one bar per day, as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 4), dpi=100)
    axes = figure.subplots()
    positions = list(range(len(series.days)))
    bottom = [0] * len(series.days)
    for name, values in series.layers or (("stories", tuple(0 for _ in series.days)),):
        axes.bar(positions, values, bottom=bottom, label=name)
        bottom = [a + b for a, b in zip(bottom, values, strict=True)]
    axes.set_xticks(
        positions, [day.strftime("%d %b") for day in series.days], rotation=45, fontsize=8
    )
    axes.set_ylabel("stories per day")
    axes.set_title(title)
    if len(series.layers) > 1:
        axes.legend(fontsize=8, loc="upper left")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
