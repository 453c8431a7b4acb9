"""Settings from the environment (and `.env`), and the sources and topics files.

This is the only module that reads `os.environ`. `load_settings()` is called once in
`cli.main()`; tests build `Settings(_env_file=None, ...)` directly. Validation errors come out
as `ConfigError`s that name the variable and show a correct example.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.errors import ConfigError
from bot.models import Source, SourceKind, Topic

DATA = resources.files("bot") / "data"

EXAMPLES: dict[str, str] = {
    "TELEGRAM_BOT_TOKEN": "TELEGRAM_BOT_TOKEN=123456789:AAH... (from @BotFather: /newbot)",
    "TELEGRAM_API_URL": "TELEGRAM_API_URL=https://api.telegram.org",
    "DATABASE_URL": "DATABASE_URL=sqlite+aiosqlite:///conflictbot.db "
    "or postgresql+asyncpg://user:pass@localhost/conflictbot",
    "SOURCES_FILE": "SOURCES_FILE=/etc/conflictbot/sources.toml",
    "TOPICS_FILE": "TOPICS_FILE=/etc/conflictbot/topics.toml",
    "FETCH_INTERVAL": "FETCH_INTERVAL=300 (seconds, at least 1)",
    "ADMIN_IDS": "ADMIN_IDS=12345678,87654321",
    "SEND_RATE": "SEND_RATE=25 (messages per second, above 0)",
    "WEBHOOK_URL": "WEBHOOK_URL=https://bot.example.org/telegram",
    "WEBHOOK_SECRET": "WEBHOOK_SECRET=a-long-random-string (A-Z, a-z, 0-9, _ and -)",
    "PORT": "PORT=8443",
    "LOG_LEVEL": "LOG_LEVEL=INFO (DEBUG, INFO, WARNING or ERROR)",
    "PAID_BROADCAST": "PAID_BROADCAST=false",
    "ALLOW_PRIVATE_SOURCES": "ALLOW_PRIVATE_SOURCES=false",
    "METRICS_PORT": "METRICS_PORT=9108",
    "DEDUP_WINDOW_HOURS": "DEDUP_WINDOW_HOURS=72",
    "FETCH_CONCURRENCY": "FETCH_CONCURRENCY=10",
    "MAX_FEED_BYTES": "MAX_FEED_BYTES=5000000",
    "MAX_PAGE_BYTES": "MAX_PAGE_BYTES=3000000",
}

_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+psycopg2": "postgresql+asyncpg",
}
_ASYNC_DRIVERS = {"sqlite+aiosqlite", "postgresql+asyncpg"}


class Settings(BaseSettings):
    """Every setting of PRODUCT.md's configuration table, plus a few operator extras."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", validate_default=True
    )

    telegram_bot_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org"
    database_url: str = "sqlite+aiosqlite:///conflictbot.db"
    sources_file: Path | None = None
    topics_file: Path | None = None
    fetch_interval: float = Field(default=300, ge=1)
    admin_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    send_rate: float = Field(default=25, gt=0, le=1000)
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    port: int = Field(default=8443, ge=1, le=65535)
    log_level: str = "INFO"
    paid_broadcast: bool = False
    allow_private_sources: bool = False
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    dedup_window_hours: float = Field(default=72, gt=0)
    fetch_concurrency: int = Field(default=10, ge=1, le=200)
    max_feed_bytes: int = Field(default=5_000_000, ge=10_000)
    max_page_bytes: int = Field(default=3_000_000, ge=10_000)

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_admin_ids(cls, value: Any) -> Any:
        """Accept "1,2, 3" (and an empty string) as well as any iterable of ints."""
        if isinstance(value, str):
            parts = [part.strip() for part in value.replace(";", ",").split(",")]
            return frozenset(int(part) for part in parts if part)
        return value

    @field_validator("database_url", mode="before")
    @classmethod
    def _async_driver(cls, value: Any) -> Any:
        """Parse the URL and move sync drivers to their async twins (sqlite -> aiosqlite)."""
        if not isinstance(value, str):
            return value
        try:
            url = make_url(value.strip())
        except ArgumentError as exc:
            raise ValueError(f"not a database URL: {value!r}") from exc
        driver = _DRIVERS.get(url.drivername, url.drivername)
        if driver not in _ASYNC_DRIVERS:
            raise ValueError(f"unsupported database driver {url.drivername!r}")
        return url.set(drivername=driver).render_as_string(hide_password=False)

    @field_validator("log_level", mode="before")
    @classmethod
    def _level(cls, value: Any) -> Any:
        if isinstance(value, str):
            level = value.strip().upper()
            if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
                raise ValueError(f"unknown log level {value!r}")
            return level
        return value

    @field_validator("telegram_api_url", "webhook_url", mode="before")
    @classmethod
    def _http_url(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip().rstrip("/")
            if not value:
                return None
            if not value.startswith(("http://", "https://")):
                raise ValueError(f"must start with http:// or https://, got {value!r}")
        return value

    @property
    def token(self) -> str:
        """The bot token; `run` checks it is set before anything asks."""
        if self.telegram_bot_token is None:
            raise ConfigError(
                "TELEGRAM_BOT_TOKEN is not set. Talk to @BotFather on Telegram, send /newbot, "
                "and put the token it gives you in .env: " + EXAMPLES["TELEGRAM_BOT_TOKEN"]
            )
        return self.telegram_bot_token.get_secret_value()

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def load_settings(**overrides: Any) -> Settings:
    """Build Settings from the environment and `.env`, turning errors into a ConfigError."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None


def describe_validation_error(exc: ValidationError) -> str:
    """One line per bad variable: its name, what was wrong, and a correct example."""
    lines = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else "?"
        name = field.upper()
        reason = str(error["msg"]).removeprefix("Value error, ")
        example = EXAMPLES.get(name, f"{name}=...")
        lines.append(f"{name} is invalid: {reason}. Example: {example}")
    return "\n".join(lines)


def _read_toml(path: Path | None, bundled: str, what: str) -> tuple[dict[str, Any], str]:
    """Read the operator's file, or the bundled default; name the file in every error."""
    try:
        if path is None:
            text = (DATA / bundled).read_text(encoding="utf-8")
            label = f"bundled {bundled}"
        else:
            text = Path(path).read_text(encoding="utf-8")
            label = str(path)
    except OSError as exc:
        raise ConfigError(f"cannot read the {what} file {path}: {exc.strerror}") from None
    try:
        return tomllib.loads(text), label
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"the {what} file {label} is not valid TOML: {exc}") from None


def load_sources(path: Path | None = None) -> tuple[Source, ...]:
    """The sources to poll, from `path` or the bundled `sources.toml`."""
    data, label = _read_toml(path, "sources.toml", "sources")
    sources: list[Source] = []
    seen: set[str] = set()
    for index, raw in enumerate(data.get("source", []), start=1):
        where = f"{label}, source #{index}"
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}: expected a [[source]] table")
        name = str(raw.get("name", "")).strip()
        url = str(raw.get("url", "")).strip()
        if not name or not url:
            raise ConfigError(
                f'{where}: needs name and url, e.g. name = "Outlet", url = "https://…"'
            )
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"{where} ({name}): url must be http(s), got {url!r}")
        if name.casefold() in seen:
            raise ConfigError(f"{where}: the name {name!r} is used twice")
        seen.add(name.casefold())
        try:
            kind = SourceKind(str(raw.get("kind", "feed")).strip().lower())
        except ValueError:
            kinds = ", ".join(k.value for k in SourceKind)
            raise ConfigError(f"{where} ({name}): kind must be one of {kinds}") from None
        language = raw.get("language")
        sources.append(
            Source(
                name=name,
                url=url,
                kind=kind,
                language=str(language).strip().lower() if language else None,
                full_text=bool(raw.get("full_text", False)),
                breaking=bool(raw.get("breaking", False)),
            )
        )
    return tuple(sources)


def load_topics(path: Path | None = None) -> tuple[Topic, ...]:
    """The topics that exist, from `path` or the bundled `topics.toml`."""
    data, label = _read_toml(path, "topics.toml", "topics")
    topics: list[Topic] = []
    seen: set[str] = set()
    for index, raw in enumerate(data.get("topic", []), start=1):
        where = f"{label}, topic #{index}"
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}: expected a [[topic]] table")
        key = str(raw.get("key", "")).strip().lower()
        if not key or len(key.encode()) > 40:
            raise ConfigError(f'{where}: needs a short key, e.g. key = "north-korea"')
        if key in seen:
            raise ConfigError(f"{where}: the key {key!r} is used twice")
        seen.add(key)
        keywords = tuple(str(k) for k in raw.get("keywords", []) if str(k).strip())
        if not keywords:
            raise ConfigError(f"{where} ({key}): needs at least one keyword")
        topics.append(
            Topic(
                key=key,
                label=str(raw.get("label", key)).strip() or key,
                aliases=tuple(str(a) for a in raw.get("aliases", [])),
                keywords=keywords,
                breaking=bool(raw.get("breaking", False)),
            )
        )
    return tuple(topics)
