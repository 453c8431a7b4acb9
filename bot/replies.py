"""HTML for the bot's own replies (welcome, following, settings, sources, stats) [pure].

Alerts and story lists live in `formatting`; this module renders the conversational answers,
with every outside string escaped through `formatting.escape`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, time

from bot.formatting import MAX_MESSAGE, cut, escape, truncate_html
from bot.models import ChatPrefs, DigestMode, Story, Topic
from bot.timing import zone

WELCOME = (
    "<b>conflictbot</b> follows the war news for you.\n"
    "1. It reads many outlets and merges reports of one event into one story.\n"
    "2. Follow topics (<code>/follow kursk</code>) or everything (<code>/follow all</code>).\n"
    "3. Ask any time: <code>/latest</code>, <code>/topic north-korea</code>; /help lists the rest."
)

STOPPED = "👋 Stopped. Everything about this chat is deleted; /start brings me back."
NOT_STOPPED = "Nothing changed: alerts go on as before."


STOP_QUESTION = "Stop all alerts here and delete everything stored about this chat?"


def timezone_set(zone: str) -> str:
    return f"🕒 Time zone set to <code>{escape(zone)}</code>."


def quiet_set(hours: tuple[time, time] | None, zone: str) -> str:
    """The answer to /quiet: the hours in the chat's zone, or that there are none."""
    if hours is None:
        return "🔔 Quiet hours are off."
    start, end = hours
    return (
        f"🌙 Quiet from {start:%H:%M} to {end:%H:%M} ({escape(zone)}); "
        "what arrives then comes as one catch-up message after."
    )


def digest_set(mode: DigestMode, at: time | None) -> str:
    """The answer to /digest (a daily digest without a time is at 08:00, as parsed)."""
    if mode is DigestMode.OFF:
        return "🔔 Instant alerts: each story as it arrives."
    if mode is DigestMode.HOURLY:
        return "🗞 One digest an hour instead of single alerts."
    when = f"{at:%H:%M}" if at else "08:00"
    return f"🗞 One digest a day at {when} (your time zone) instead of single alerts."


def languages_set(codes: frozenset[str]) -> str:
    return f"🌐 Stories in: {escape(' '.join(sorted(codes)) or 'all languages')}."


def source_added(name: str, items: int) -> str:
    return f"➕ Added <b>{escape(name)}</b> ({items} item{'' if items == 1 else 's'} now)."


def none_in_languages(heading: str, languages: frozenset[str]) -> str:
    """A list the chat's /language setting left empty: say so, so the bot does not look broken."""
    codes = escape(" ".join(sorted(languages)))
    return (
        f"<b>{escape(heading)}</b>\nNothing here in your languages ({codes}); "
        "<code>/language all</code> shows every language."
    )


def outlet_names(story: Story) -> str:
    """Plain text naming a story's outlets, for a button's pop-up (no HTML there)."""
    names = list(dict.fromkeys(item.source for item in story.items)) or [story.source]
    return f"{len(names)} outlets: " + ", ".join(names)


def muted(topic: Topic) -> str:
    return f"🔕 Muted <b>{escape(topic.label)}</b>."


def unmuted(topic: Topic) -> str:
    return f"🔔 Following <b>{escape(topic.label)}</b> again."


def mute_lifted(topic: Topic) -> str:
    return f"🔔 <b>{escape(topic.label)}</b> is no longer muted."


GROUP_HELLO = (
    "Hello! I post conflict news alerts here.\n"
    "An admin chooses what: <code>/follow kursk</code> or <code>/follow all</code>.\n"
    "Anyone can ask <code>/latest</code> or <code>/topic north-korea</code>; /help lists the rest."
)


def error(message: str, example: str | None) -> str:
    """A polite correction: what was wrong, and a command that works."""
    text = f"⚠️ {escape(message)}"
    if example:
        text += f"\nExample: <code>{escape(example)}</code>"
    return text


def followed(
    added: Sequence[str], already: Sequence[str], unknown: Sequence[tuple[str, list[str]]]
) -> str:
    lines = []
    if added:
        lines.append("✅ Following: " + ", ".join(f"<b>{escape(a)}</b>" for a in added))
    if already:
        lines.append("Already following: " + ", ".join(escape(a) for a in already))
    for name, suggestions in unknown:
        line = f"❓ No topic called <b>{escape(name)}</b>."
        if suggestions:
            line += (
                " Did you mean "
                + " or ".join(f"<code>{escape(s)}</code>" for s in suggestions)
                + "?"
            )
        else:
            quoted = f'<code>/follow "{escape(name)}"</code>'
            line += f" To follow it as a keyword, put it in quotes: {quoted}"
        lines.append(line)
    return "\n".join(lines) or "Nothing changed."


def no_matches(query: str, suggestions: Sequence[str]) -> str:
    """A search that found nothing: say so, and offer topics that look like the query."""
    text = f"No stories match “{escape(query)}” yet."
    if suggestions:
        text += " Topics: " + ", ".join(f"<code>/topic {escape(s)}</code>" for s in suggestions)
    else:
        text += " <code>/topic</code> lists the topics."
    return text


def outages(failing: Sequence[tuple[str, str]]) -> str:
    """One notice for the sources that began a long outage in one pass: (name, error)."""
    if len(failing) == 1:
        name, error = failing[0]
        return f"⚠️ Source <b>{escape(name)}</b> keeps failing: {escape(error)}"
    lines = [f"⚠️ {len(failing)} sources keep failing:"]
    lines += [
        f"• <b>{escape(cut(name, 100))}</b>: {escape(cut(error, 200))}" for name, error in failing
    ]
    return truncate_html("\n".join(lines), MAX_MESSAGE)


def trend_caption(total: int, label: str, days: int) -> str:
    """The chart's caption (plain text: a photo caption is sent without parse mode)."""
    stories = "1 story" if total == 1 else f"{total} stories"
    return f"{stories} on {label} over the last {days} days"


def unfollowed(removed: Sequence[str], missing: Sequence[str]) -> str:
    lines = []
    if removed:
        lines.append("🔕 Stopped: " + ", ".join(f"<b>{escape(r)}</b>" for r in removed))
    if missing:
        lines.append(
            "Not followed here: "
            + ", ".join(escape(m) for m in missing)
            + ". <code>/following</code> shows what is."
        )
    return "\n".join(lines) or "Nothing changed."


def _hours(prefs: ChatPrefs) -> str:
    if prefs.quiet_start is None or prefs.quiet_end is None:
        return "off"
    return f"{prefs.quiet_start:%H:%M}-{prefs.quiet_end:%H:%M}"


def settings_lines(prefs: ChatPrefs) -> list[str]:
    digest = {DigestMode.OFF: "off (instant alerts)", DigestMode.HOURLY: "hourly"}.get(
        prefs.digest, f"daily at {prefs.digest_at:%H:%M}" if prefs.digest_at else "daily"
    )
    languages = " ".join(sorted(prefs.languages)) or "all"
    return [
        f"Time zone: <code>{escape(prefs.timezone)}</code>",
        f"Quiet hours: {_hours(prefs)}",
        f"Digest: {digest}",
        f"Languages: {escape(languages)}",
    ]


def following(
    everything: bool,
    topics: Sequence[Topic],
    keywords: Sequence[str],
    excludes: Sequence[str],
    prefs: ChatPrefs | None,
    muted: Sequence[Topic] = (),
) -> str:
    """/following: what this chat (thread) follows and what it muted, then its settings."""
    lines = ["<b>This chat follows</b>"]
    if everything:
        lines.append("• everything")
    lines += [f"• {escape(topic.label)} (<code>{escape(topic.key)}</code>)" for topic in topics]
    lines += [f"• “{escape(word)}”" for word in keywords]
    lines += [f"• not: {escape(word)}" for word in excludes]
    if len(lines) == 1:
        lines.append("nothing yet: try <code>/follow kursk</code> or <code>/follow all</code>")
    lines += [
        f"• muted: {escape(topic.label)} (<code>/follow {escape(topic.key)}</code> lifts it)"
        for topic in muted
    ]
    if prefs is not None:
        lines += ["", "<b>Settings</b>", *settings_lines(prefs)]
    return "\n".join(lines)


def sources_health(
    rows: Sequence[tuple[str, str, bool, int, str | None, datetime | None]], tz: str
) -> str:
    """/sources: name (linked), healthy or failing, last success."""
    if not rows:
        return "No sources are configured."
    lines = ["<b>Sources</b>"]
    for name, url, healthy, failures, error_text, last_ok in rows:
        mark = "🟢" if healthy else ("🟡" if failures < 5 else "🔴")
        when = last_ok.astimezone(zone(tz)).strftime("%d %b %H:%M") if last_ok else "never"
        line = f'{mark} <a href="{escape(url)}">{escape(name)}</a>, last success {when}'
        if not healthy and error_text:
            line += f" ({escape(error_text[:80])})"
        lines.append(line)
    return "\n".join(lines)


def stats(values: Mapping[str, int | str], title: str = "Stats") -> str:
    """/stats and /health: a bold title, then one `name: value` line each."""
    lines = [f"<b>{escape(title)}</b>"]
    lines += [f"{escape(str(key))}: {escape(str(value))}" for key, value in values.items()]
    return "\n".join(lines)
