"""Settings validation names the variable and shows an example; files load or say what is wrong."""

from __future__ import annotations

from pathlib import Path

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
