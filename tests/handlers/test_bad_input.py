"""Bad input, one table in one conversation: each gets one short, polite answer, with a working
example where one fits, never a traceback or an apology for a crash; the bot answers after
the whole table (issue #5)."""

from __future__ import annotations

from pathlib import Path

from bot.emulator import SentRecord
from bot.store import chats
from tests.handlers.test_commands import ONE_FEED, UNKNOWN
from tests.helpers import harness

EXAMPLE = "Example: <code>"
COUNT = "from 1 to 20"
TERMS = "Name a topic, a &quot;phrase&quot; in quotes, or all."
SHORT = "is too short to follow"
HOURS = "HH:MM-HH:MM"
DIGEST = "Say off, hourly, or daily"
LANGUAGES = "two-letter codes"
ZONE = "time zone"
POINTER = "I answer commands"
NO_MATCH = "No stories match"

# (what the user sends, a part of the answer, whether the answer must show an example)
BAD_INPUT = [
    # counts: wrong types, out of range, huge, unicode digits, too long
    ("/latest -1", COUNT, True),
    ("/latest 0", COUNT, True),
    ("/latest 21", COUNT, True),
    ("/latest 99999999999999999999", COUNT, True),
    ("/latest banana", COUNT, True),
    ("/latest 1.5", COUNT, True),
    ("/latest ²", COUNT, True),
    ("/latest 3 4", COUNT, True),
    ("/latest " + "9" * 5000, COUNT, True),
    # follow terms: empty, punctuation, invisible, HTML, SQL, unknown, too many, too long
    ("/follow", TERMS, True),
    ('/follow ""', TERMS, True),
    ("/follow -", SHORT, True),
    ("/follow --", SHORT, True),
    ("/follow \u200b\u200b", TERMS, True),
    ("/follow \x00\x01", TERMS, True),
    ("/follow 🔥🔥", SHORT, True),
    ("/follow \u202eksruk", "Did you mean <code>kursk</code>?", False),
    ("/follow <b>x", "No topic called <b>&lt;b&gt;x</b>", False),
    ("/follow &amp;", "No topic called <b>&amp;amp;</b>", False),
    ("/follow '; DROP TABLE chat;--", SHORT, True),
    ("/follow atlantis", 'put it in quotes: <code>/follow "atlantis"</code>', False),
    ("/follow kursj", "Did you mean <code>kursk</code>?", False),
    ("/follow " + "a" * 5000, "too long", True),
    ("/follow " + " ".join(f"w{i}x" for i in range(11)), "At most 10", True),
    ("/follow " + "b" * 61, "under 60 characters", True),
    ("/follow all -", SHORT, True),
    ("/unfollow", TERMS, True),
    ("/unfollow nothing", "Not followed here: nothing. <code>/following</code> shows", False),
    # searches and topic names
    ("/topic " + "x" * 300, "under 200 characters", True),
    ("/topic '; DROP TABLE story;--", NO_MATCH, False),
    ("/topic <script>alert(1)</script>", "&lt;script&gt;", False),
    ("/topic حرب", NO_MATCH, False),
    ("/topic \u202e\u200bzzqq", NO_MATCH, False),
    ("/trend atlantis", "No topic called", True),
    ("/trend " + "q" * 300, "under 200 characters", True),
    # time zones
    ("/timezone", ZONE, True),
    ("/timezone Mars/Olympus", ZONE, True),
    ("/timezone Europe/Kyiv Europe/Paris", ZONE, True),
    ("/timezone ../../etc/passwd", ZONE, True),
    ("/timezone Europe/Kyv", "Did you mean Europe/Kyiv?", True),
    ("/timezone " + "z" * 100, ZONE, True),
    # quiet hours and digests
    ("/quiet", HOURS, True),
    ("/quiet 25:00-07:00", "00:00 to 23:59", True),
    ("/quiet 23:00", HOURS, True),
    ("/quiet 7-7", "the same", True),
    ("/quiet 23:61-07:00", "00:00 to 23:59", True),
    ("/quiet soon", HOURS, True),
    ("/quiet 23:00-07:00 please", HOURS, True),
    ("/digest", DIGEST, True),
    ("/digest weekly", DIGEST, True),
    ("/digest daily 25:00", "looks like 08:00", True),
    ("/digest hourly now", DIGEST, True),
    # languages
    ("/language", "language codes", True),
    ("/language xx-yy", LANGUAGES, True),
    ("/language english", LANGUAGES, True),
    ("/language <b>", LANGUAGES, True),
    ("/language xx", "'xx' is not a language", True),
    ("/language en qq", "'qq' is not a language", True),
    ("/language all en", "all alone", True),
    ("/timezone PST", ZONE, True),
    ("/timezone UTC+5:20", "or :30 or :45", True),
    # unknown and admin-only commands, other bots' commands
    ("/nonsense", UNKNOWN, True),
    ("/stats", UNKNOWN, True),
    ("/addsource http://127.0.0.1/feed", UNKNOWN, True),
    ("/removesource", UNKNOWN, True),
    ("/following@other_bot", UNKNOWN, True),
    ("/follow@conflictbot_bot", TERMS, True),
    # plain text
    ("hello", POINTER, False),
    ("x" * 4000, POINTER, False),
    ("<b>bold", POINTER, False),
    ("'; DROP TABLE chat;--", POINTER, False),
    ("\u202e\u200b", POINTER, False),
]


def visible_length(record: SentRecord) -> int:
    return len(record.render())


async def test_bad_input_gets_one_short_polite_answer(database_url: str, tmp_path: Path) -> None:
    """Each of the bad inputs gets exactly one short answer that says what was wrong (with an
    example where one fits); nothing crashes, nothing is stored, and the bot answers after."""
    assert len(BAD_INPUT) >= 40
    async with harness(database_url, tmp_path, **ONE_FEED) as h:
        await h.fetch()
        chat = h.chat()
        for text, expected, example in BAD_INPUT:
            answers = await chat.send(text, settle=0.1)
            assert len(answers) == 1, (text[:40], [a.text for a in answers])
            (answer,) = answers
            assert expected in answer.text, (text[:40], answer.text)
            assert (EXAMPLE in answer.text) is example, (text[:40], answer.text)
            assert visible_length(answer) <= 300, (text[:40], answer.text)
            for crash in ("Traceback", "went wrong", "Error:", "None"):
                assert crash not in answer.text, (text[:40], answer.text)
        assert h.deps.counters.get("handler_errors", 0) == 0
        async with h.deps.sessions() as session:
            assert await chats.follows(session, chat.chat_id) == []
            prefs = await chats.get_prefs(session, chat.chat_id)
            assert prefs is not None and prefs.timezone == "UTC" and prefs.quiet_start is None
            assert prefs.languages == frozenset()
        (latest,) = await chat.send("/latest 1")
        assert latest.text.startswith("<b>Latest story</b>")
