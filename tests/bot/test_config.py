"""Settings validation names the variable and shows an example; files load or say what is wrong."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings, load_settings, load_sources, load_topics
from bot.errors import ConfigError
from bot.models import SourceKind


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("FETCH_INTERVAL", "soon", "FETCH_INTERVAL"),
        ("FETCH_INTERVAL", "0", "FETCH_INTERVAL"),
        ("ADMIN_IDS", "12,abc", "ADMIN_IDS"),
        ("DATABASE_URL", "mysql://root@localhost/x", "DATABASE_URL"),
        ("DATABASE_URL", "not a url", "DATABASE_URL"),
        ("SEND_RATE", "-3", "SEND_RATE"),
        ("TELEGRAM_API_URL", "api.telegram.org", "TELEGRAM_API_URL"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL"),
    ],
)
def test_a_malformed_variable_is_named_with_an_example(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, named: str
) -> None:
    """Each bad value raises a ConfigError that names its variable and shows `NAME=...`."""
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings(_env_file=None)
    assert named in str(caught.value)
    assert f"Example: {named}=" in str(caught.value)


def test_environment_values_are_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    """ADMIN_IDS splits on commas; sync database drivers move to their async twins."""
    monkeypatch.setenv("ADMIN_IDS", " 5, 7 ,9")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db/conflict")
    settings = load_settings(_env_file=None)
    assert settings.admin_ids == frozenset({5, 7, 9})
    assert settings.database_url == "postgresql+asyncpg://u:p@db/conflict"


def test_missing_token_explains_botfather() -> None:
    """`run` needs a token; asking for it without one says where to get it."""
    settings = Settings(_env_file=None)
    with pytest.raises(ConfigError, match="BotFather"):
        _ = settings.token


ROOT = Path(__file__).resolve().parents[2]


def test_a_copy_of_env_example_with_a_token_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`cp .env.example .env`, as the README says, then the token: the empty lines it leaves
    (METRICS_PORT=, TOPICS_FILE=, WEBHOOK_SECRET= …) mean "not set", and did not (ops audit
    1, 2): METRICS_PORT was refused, the files were read as the directory ".", and an empty
    WEBHOOK_SECRET ran a webhook that took forged updates."""
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    (tmp_path / ".env").write_text(
        example.replace("TELEGRAM_BOT_TOKEN=\n", "TELEGRAM_BOT_TOKEN=1:x\n")
    )
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.token == "1:x"
    assert settings.metrics_port is None and settings.webhook_secret is None
    assert settings.sources_file is None and settings.topics_file is None
    assert settings.webhook_url is None


def test_an_empty_variable_means_not_set(monkeypatch: pytest.MonkeyPatch) -> None:
    """`WEBHOOK_SECRET=` in the environment is no secret at all, and `TELEGRAM_BOT_TOKEN=`
    (or a token of spaces) no token: each gets the "is not set" answer, not "refused"."""
    for name in ("WEBHOOK_SECRET", "TELEGRAM_BOT_TOKEN", "METRICS_PORT", "FETCH_INTERVAL"):
        monkeypatch.setenv(name, "")
    settings = load_settings(_env_file=None)
    assert settings.webhook_secret is None and settings.fetch_interval == 300
    with pytest.raises(ConfigError, match="is not set"):
        _ = settings.token
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "  12:abc \n")
    assert load_settings(_env_file=None).token == "12:abc"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql:/postgres:s3cretpw@127.0.0.1/x", "the password hidden"),
        ("postgresql+asyncpg://u@127.0.0.1:99999/x", "the port must be 1 to 65535"),
    ],
)
def test_a_broken_database_url_is_one_line_without_its_password(
    monkeypatch: pytest.MonkeyPatch, url: str, shown: str
) -> None:
    """A URL that does not parse was echoed with its password, and a port past 65535 ended in
    a traceback (ops audit 7)."""
    monkeypatch.setenv("DATABASE_URL", url)
    with pytest.raises(ConfigError) as caught:
        load_settings(_env_file=None)
    message = str(caught.value)
    assert "s3cretpw" not in message and len(message.splitlines()) == 1
    if shown != "the password hidden":
        assert shown in message


def test_dotenv_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A .env file in the working directory is read."""
    (tmp_path / ".env").write_text("FETCH_INTERVAL=42\nADMIN_IDS=3\n")
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.fetch_interval == 42
    assert settings.admin_ids == frozenset({3})


def test_bundled_files_load() -> None:
    """The bundled sources and topics parse into values."""
    assert load_sources()
    assert len(load_topics()) >= 20


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[source]]\nname = 'x'\n", "needs name and url"),
        ("[[source]]\nname = 'x'\nurl = 'ftp://x'\n", "http"),
        ("[[source]]\nname = 'x'\nurl = 'https://'\n", "names no host"),
        ("[[source]]\nname = 'x'\nurl = 'http://[::1'\n", "names no host"),
        ("[[source]]\nname = 'x'\nurl = 'https://x'\nkind = 'rss'\n", "kind must be one of"),
        (
            "[[source]]\nname='a'\nurl='https://a'\n[[source]]\nname='A'\nurl='https://b'\n",
            "used twice",
        ),
        ("[[source]\n", "not valid TOML"),
    ],
)
def test_bad_sources_file_says_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    """A broken sources file raises a ConfigError naming the file and the problem."""
    path = tmp_path / "sources.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_sources(path)


def test_sources_file_fields(tmp_path: Path) -> None:
    """Kind, language and full_text are read; kind defaults to feed."""
    path = tmp_path / "sources.toml"
    path.write_text(
        "[[source]]\nname = 'A'\nurl = 'http://127.0.0.1:1/a'\nlanguage = 'UK'\nfull_text = true\n"
        "[[source]]\nname = 'B'\nurl = 'https://b.example/api'\nkind = 'reliefweb'\n"
    )
    first, second = load_sources(path)
    assert (first.kind, first.language, first.full_text) == (SourceKind.FEED, "uk", True)
    assert second.kind is SourceKind.RELIEFWEB


def test_missing_topics_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the topics file"):
        load_topics(tmp_path / "nope.toml")


@pytest.mark.parametrize("value", ["inf", "-inf", "1e12", "604801"])
def test_fetch_interval_must_be_finite_and_at_most_a_week(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    """FETCH_INTERVAL=inf or 1e12 once passed and then failed every source at fetch time
    (audit-cli #11): it is refused at start-up, naming the variable with an example."""
    monkeypatch.setenv("FETCH_INTERVAL", value)
    with pytest.raises(ConfigError) as caught:
        load_settings(_env_file=None)
    assert str(caught.value).startswith("FETCH_INTERVAL is invalid")
    assert "Example: FETCH_INTERVAL=300" in str(caught.value)


def test_a_week_is_the_longest_fetch_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FETCH_INTERVAL", "604800")
    assert load_settings(_env_file=None).fetch_interval == 604800


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("sslmode=require", "ssl=require"),
        ("sslmode=disable", "ssl=disable"),
        ("sslmode=prefer", "ssl=prefer"),
        ("sslmode=verify-full", "ssl=verify-full"),
        ("ssl=require", "ssl=require"),
    ],
)
def test_libpq_sslmode_becomes_asyncpg_ssl(
    monkeypatch: pytest.MonkeyPatch, query: str, expected: str
) -> None:
    """Hosted PostgreSQL hands out URLs with libpq's `sslmode=`, which asyncpg's connect()
    refused with a TypeError traceback (audit-cli #2); it is translated to asyncpg's `ssl=`."""
    monkeypatch.setenv("DATABASE_URL", f"postgresql://u:p@db.example:5432/bot?{query}")
    settings = load_settings(_env_file=None)
    assert settings.database_url == f"postgresql+asyncpg://u:p@db.example:5432/bot?{expected}"


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("postgresql://u@db/bot?sslmode=sometimes", "sslmode"),
        ("postgresql://u@db/bot?connect_timeout=10", "connect_timeout"),
        ("postgresql://u@db/bot?sslrootcert=/etc/ca.pem", "PGSSLROOTCERT"),
        ("sqlite+aiosqlite:///:memory:", "in-memory"),
        ("sqlite://", "in-memory"),
    ],
)
def test_database_urls_the_bot_cannot_use_are_refused(
    monkeypatch: pytest.MonkeyPatch, url: str, named: str
) -> None:
    """A libpq-only parameter asyncpg does not take, or an in-memory SQLite database (empty
    again for each connection, so `stories` found no tables after `db upgrade`), is a
    configuration error naming DATABASE_URL, not a traceback later."""
    monkeypatch.setenv("DATABASE_URL", url)
    with pytest.raises(ConfigError) as caught:
        load_settings(_env_file=None)
    assert str(caught.value).startswith("DATABASE_URL is invalid")
    assert named in str(caught.value)


def _write(tmp_path: Path, text: str, name: str = "sources.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


SOURCE = "[[source]]\nname = 'Outlet'\nurl = 'https://outlet.example/rss'\n"
TOPIC = "[[topic]]\nkey = 'kursk'\nkeywords = ['Kursk']\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (SOURCE + "language = 'English'\n", "(Outlet): language must be a language tag"),
        (SOURCE + "language = 'en_GB'\n", "(Outlet): language must be a language tag"),
        (SOURCE + "language = ['en']\n", "(Outlet): language must be a string"),
        (SOURCE + "full_text = 'false'\n", "(Outlet): full_text must be true or false"),
        (SOURCE + "breaking = 1\n", "(Outlet): breaking must be true or false"),
        (SOURCE + "kind = ['feed']\n", "(Outlet): kind must be a string"),
        (SOURCE + "ful_text = true\n", "(Outlet): unknown key 'ful_text'"),
        (SOURCE + "langauge = 'en'\n", "(Outlet): unknown key 'langauge'"),
        ("[[source]]\nname = 5\nurl = 'https://a.example'\n", "source #1: name must be a string"),
        ("[[source]]\nname = 'A'\nurl = ['https://a.example']\n", "(A): url must be a string"),
        (f"[[source]]\nname = '{'N' * 201}'\nurl = 'https://a.example'\n", "at most 200"),
        ("[[sources]]\nname = 'A'\nurl = 'https://a.example'\n", "unknown top-level key 'sources'"),
        (SOURCE + "[[topic]]\nkey = 'x'\n", "unknown top-level key 'topic'"),
        ("name = 'A'\nurl = 'https://a.example'\n", "unknown top-level keys 'name', 'url'"),
        ("[source]\nname = 'A'\nurl = 'https://a.example'\n", "[[source]] tables"),
    ],
)
def test_sources_file_types_and_keys_are_checked(tmp_path: Path, text: str, message: str) -> None:
    """Wrong types were coerced (full_text = "false" stored as true, language = ["en"] as
    "['en']"), misspelt keys ignored, and a `[[sources]]` typo deactivated every source
    (audit-cli #3, #4, #7): each is one line naming the file, the source and the key."""
    _refused_in_one_line(load_sources, _write(tmp_path, text), message)


def _refused_in_one_line(load: Callable[[Path], object], path: Path, message: str) -> None:
    """`load(path)` fails with one line that starts with the file and holds `message`."""
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert str(caught.value).startswith(str(path))
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_unknown_top_level_key_suggests_the_source_table(tmp_path: Path) -> None:
    path = _write(tmp_path, "[[sources]]\nname = 'A'\nurl = 'https://a.example'\n")
    with pytest.raises(ConfigError, match=r"defines no \[\[source\]\].*write \[\[source\]\]"):
        load_sources(path)


@pytest.mark.parametrize(
    ("language", "stored"),
    [("en", "en"), ("UK", "uk"), ("pt-BR", "pt-br"), ("en-GB-oxendict", "en"), ("", None)],
)
def test_source_language_fits_the_column(tmp_path: Path, language: str, stored: str | None) -> None:
    """A valid tag longer than the 10-character column crashed PostgreSQL (audit-cli #3):
    such a tag is kept as its primary subtag; shorter tags are kept lower-cased."""
    (source,) = load_sources(_write(tmp_path, SOURCE + f"language = '{language}'\n"))
    assert source.language == stored


def test_an_empty_sources_file_means_no_file_sources(tmp_path: Path) -> None:
    """An empty file (or only comments) is how a bot fed only by /addsource is configured,
    and how the tests run without polling; `source = []` says the same explicitly."""
    assert load_sources(_write(tmp_path, "# no sources\n")) == ()
    assert load_sources(_write(tmp_path, "source = []\n")) == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[topic]]\nkey = 'kursk'\nkeywords = 'Kursk'\n", "(kursk): keywords must be a list"),
        ("[[topic]]\nkey = 'kursk'\nkeywords = [['Kursk']]\n", "(kursk): keywords must be a list"),
        ("[[topic]]\nkey = 'kursk'\nkeywords = [1, 2]\n", "(kursk): keywords must be a list"),
        (TOPIC + "aliases = 'kursk region'\n", "(kursk): aliases must be a list of strings"),
        (TOPIC + "label = 5\n", "(kursk): label must be a string"),
        (TOPIC + "breaking = 'yes'\n", "(kursk): breaking must be true or false"),
        (TOPIC + "keywrods = ['x']\n", "(kursk): unknown key 'keywrods'"),
        ("[[topic]]\nkey = 5\nkeywords = ['x']\n", "topic #1: key must be a string"),
        ("[[topics]]\nkey = 'kursk'\nkeywords = ['Kursk']\n", "unknown top-level key 'topics'"),
        ("[[topic]]\nkey = 'Gaza Strip!'\nkeywords = ['Gaza']\n", "must be one word of letters"),
        ("[[topic]]\nkey = '-gaza'\nkeywords = ['Gaza']\n", "must be one word of letters"),
    ],
)
def test_topics_file_types_and_keys_are_checked(tmp_path: Path, text: str, message: str) -> None:
    """`keywords = "Kursk"` became the keywords K, u, r, s, k and tagged every story with a
    "U.S." in it (audit-cli #7): wrong types and unknown keys are refused, one line each."""
    _refused_in_one_line(load_topics, _write(tmp_path, text, "topics.toml"), message)


@pytest.mark.parametrize("key", ["north-korea", "north_korea", "газа", "k2"])
def test_topic_keys_of_one_word_are_taken(tmp_path: Path, key: str) -> None:
    """A key with a space or punctuation became two hashtags and a topic no command could
    name (audit-cli 7); one word of letters, digits, hyphens or underscores is a key."""
    (topic,) = load_topics(_write(tmp_path, f"[[topic]]\nkey = '{key}'\nkeywords = ['x']\n"))
    assert topic.key == key


def test_topics_file_fields(tmp_path: Path) -> None:
    """Every documented topic key is read."""
    path = _write(
        tmp_path,
        "[[topic]]\nkey = 'North-Korea'\nlabel = 'North Korea'\naliases = ['dprk']\n"
        "keywords = ['Pyongyang', 'КНДР']\nbreaking = true\n",
        "topics.toml",
    )
    (topic,) = load_topics(path)
    assert (topic.key, topic.label, topic.aliases) == ("north-korea", "North Korea", ("dprk",))
    assert (topic.keywords, topic.breaking) == (("Pyongyang", "КНДР"), True)


@pytest.mark.parametrize(("loader", "what"), [(load_sources, "sources"), (load_topics, "topics")])
def test_a_file_that_is_not_utf8_is_named(tmp_path: Path, loader: Any, what: str) -> None:
    """A Cyrillic name saved as windows-1251 gave a UnicodeDecodeError traceback (audit-cli #8)."""
    path = tmp_path / f"{what}.toml"
    path.write_bytes("[[source]]\nname = 'Б'\n".encode("cp1251"))
    with pytest.raises(ConfigError, match=rf"the {what} file {path} is not UTF-8 text"):
        loader(path)


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    """Windows editors that save UTF-8 often add a BOM; tomllib alone rejects it."""
    path = tmp_path / "sources.toml"
    path.write_bytes(b"\xef\xbb\xbf" + SOURCE.encode())
    assert [s.name for s in load_sources(path)] == ["Outlet"]
