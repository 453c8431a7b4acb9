"""Settings from the environment (and `.env`), and the sources and topics files.

This is the only module that reads `os.environ`. `load_settings()` is called once in
`cli.main()`; tests build `Settings(_env_file=None, ...)` directly. Validation errors come out
as `ConfigError`s that name the variable and show a correct example.
"""

from __future__ import annotations

import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
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
    "FETCH_INTERVAL": "FETCH_INTERVAL=300 (seconds, from 1 to 604800, a week)",
    "ADMIN_IDS": "ADMIN_IDS=12345678,87654321",
    "SEND_RATE": "SEND_RATE=25 (messages per second, above 0)",
    "WEBHOOK_URL": "WEBHOOK_URL=https://bot.example.org/telegram",
    "WEBHOOK_SECRET": "WEBHOOK_SECRET=a-long-random-string (A-Z, a-z, 0-9, _ and -)",
    "PORT": "PORT=8443",
    "LOG_LEVEL": "LOG_LEVEL=INFO (DEBUG, INFO, WARNING or ERROR)",
    "PAID_BROADCAST": "PAID_BROADCAST=false",
    "ALLOW_PRIVATE_SOURCES": "ALLOW_PRIVATE_SOURCES=false",
    "METRICS_PORT": "METRICS_PORT=9108",
    "DEDUP_WINDOW_HOURS": "DEDUP_WINDOW_HOURS=72 (hours, at most 8760, a year)",
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
_SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
# What SQLAlchemy hands to asyncpg.connect() as it is: string-valued keywords only.
_ASYNCPG_QUERY = {"ssl", "prepared_statement_cache_size", "target_session_attrs", "passfile"}
# libpq's certificate parameters: asyncpg has no keyword for them but reads these variables.
_LIBPQ_BY_ENV = {
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "sslcrl": "PGSSLCRL",
}
MAX_FETCH_INTERVAL_S = 7 * 24 * 3600
"""A week: longer is surely a typo, and far-off times overflow the scheduler's date maths."""


_PASSWORD = re.compile(r"(^[\w+.-]+:/*[^:/@\s]*:)[^@\s]*@")
"""The password of "scheme://user:password@host", also with the slashes mistyped."""


class Settings(BaseSettings):
    """Every setting of PRODUCT.md's configuration table, plus a few operator extras."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
        env_ignore_empty=True,  # `NAME=` (as .env.example leaves most) means "not set"
    )

    telegram_bot_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org"
    database_url: str = "sqlite+aiosqlite:///conflictbot.db"
    sources_file: Path | None = None
    topics_file: Path | None = None
    fetch_interval: float = Field(default=300, ge=1, le=MAX_FETCH_INTERVAL_S, allow_inf_nan=False)
    admin_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    send_rate: float = Field(default=25, gt=0, le=1000)
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    port: int = Field(default=8443, ge=1, le=65535)
    log_level: str = "INFO"
    paid_broadcast: bool = False
    allow_private_sources: bool = False
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    dedup_window_hours: float = Field(default=72, gt=0, le=24 * 365, allow_inf_nan=False)
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
            shown = _PASSWORD.sub(r"\1***@", value)  # a URL that does not parse: hide it by pattern
            raise ValueError(f"not a database URL: {shown!r}") from exc
        if url.port is not None and not 0 < url.port < 65536:
            raise ValueError(f"the port must be 1 to 65535, not {url.port}")
        driver = _DRIVERS.get(url.drivername, url.drivername)
        if driver not in _ASYNC_DRIVERS:
            raise ValueError(f"unsupported database driver {url.drivername!r}")
        url = url.set(drivername=driver)
        if driver == "sqlite+aiosqlite":
            _refuse_memory(url)
        else:
            url = url.set(query=_asyncpg_query(dict(url.query)))
        return url.render_as_string(hide_password=False)

    @field_validator("telegram_bot_token", mode="before")
    @classmethod
    def _bare_token(cls, value: Any) -> Any:
        """A token pasted with a space or a line break around it is the same token."""
        if isinstance(value, str):
            return value.strip() or None
        return value

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


def _refuse_memory(url: URL) -> None:
    """An in-memory SQLite database is new and empty for each connection: `db upgrade` would
    migrate one and `stories` find no tables in the next, and nothing would be kept."""
    database = url.database or ""
    if (
        database in ("", ":memory:")
        or "mode=memory" in database
        or url.query.get("mode") == ("memory")
    ):
        raise ValueError(
            "an in-memory SQLite database is empty again for every connection, so nothing "
            "would be kept; name a file"
        )


def _asyncpg_query(query: dict[str, str | tuple[str, ...]]) -> dict[str, str | tuple[str, ...]]:
    """libpq's query parameters in asyncpg's terms, since SQLAlchemy passes them to connect().

    Hosted PostgreSQL hands out URLs with `sslmode=require`; asyncpg calls that `ssl=require`
    (same modes). A parameter asyncpg has no keyword for would end in a TypeError at the first
    connection, so it is refused here, with the environment variable to use where one exists.
    """
    if "sslmode" in query:
        mode = query.pop("sslmode")
        if "ssl" in query and query["ssl"] != mode:
            raise ValueError("give sslmode= or ssl=, not both")
        query["ssl"] = mode
    ssl = query.get("ssl")
    if ssl is not None and ssl not in _SSL_MODES:
        raise ValueError(f"sslmode (ssl) must be one of {', '.join(_SSL_MODES)}, got {ssl!r}")
    for key in query:
        if key in _LIBPQ_BY_ENV:
            raise ValueError(
                f"asyncpg does not take {key}= in the URL; set {_LIBPQ_BY_ENV[key]} in the "
                "environment instead"
            )
        if key not in _ASYNCPG_QUERY:
            taken = ", ".join(f"{name}=" for name in ["sslmode", *sorted(_ASYNCPG_QUERY)])
            raise ValueError(f"asyncpg does not take {key}= in the URL (it takes {taken})")
    return query


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


SOURCE_KEYS = ("name", "url", "kind", "language", "full_text", "breaking")
TOPIC_KEYS = ("key", "label", "aliases", "keywords", "breaking", "place")
# The source table's column sizes (bot/db.py): longer values crash PostgreSQL on insert.
NAME_MAX = 200
LANGUAGE_MAX = 10
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")


def _read_toml(path: Path | None, bundled: str, what: str) -> tuple[dict[str, Any], str]:
    """Read the operator's file, or the bundled default; name the file in every error.

    A UTF-8 byte order mark (which Windows editors add) is accepted; tomllib alone refuses it.
    """
    label = f"bundled {bundled}" if path is None else str(path)
    try:
        raw = (DATA / bundled).read_bytes() if path is None else Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the {what} file {path}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"the {what} file {label} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at "
            f"position {exc.start}); save it as UTF-8"
        ) from None
    try:
        return tomllib.loads(text), label
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"the {what} file {label} is not valid TOML: {exc}") from None


def _tables(data: dict[str, Any], table: str, label: str) -> list[Any]:
    """The `[[table]]` entries, refusing anything else at the top level.

    A misspelt table (`[[sources]]`) used to read as "no sources" and so deactivated every
    source. An empty file, or `source = []`, still means none: that is deliberate (a bot fed
    only by /addsource, or a test that polls nothing).
    """
    unknown = sorted(key for key in data if key != table)
    if unknown:
        names = ", ".join(repr(key) for key in unknown)
        plural = "s" if len(unknown) > 1 else ""
        if table in data:
            advice = f"the file holds only [[{table}]] tables"
        else:
            advice = f"the file defines no [[{table}]]: write [[{table}]] above each {table}"
        raise ConfigError(f"{label}: unknown top-level key{plural} {names}; {advice}")
    entries = data.get(table, [])
    if not isinstance(entries, list):
        raise ConfigError(
            f"{label}: {table} must be [[{table}]] tables (two brackets), one per {table}"
        )
    return entries


def _check_keys(raw: dict[str, Any], allowed: tuple[str, ...], where: str) -> None:
    """A misspelt key (`ful_text`) would silently leave the setting at its default."""
    for key in raw:
        if key not in allowed:
            raise ConfigError(f"{where}: unknown key {key!r} (the keys are {', '.join(allowed)})")


def _text(raw: dict[str, Any], key: str, where: str, default: str = "") -> str:
    """A string value, stripped; a number or a list is refused rather than `str()`-ed."""
    value = raw.get(key, default)
    if not isinstance(value, str):
        raise ConfigError(f'{where}: {key} must be a string in quotes, e.g. {key} = "…"')
    return value.strip()


def _flag(raw: dict[str, Any], key: str, where: str) -> bool:
    """A TOML boolean; `"false"` in quotes used to count as true."""
    value = raw.get(key, False)
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: {key} must be true or false (no quotes), got {value!r}")
    return value


def _texts(raw: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    """A list of strings; a bare string used to be split into its letters."""
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f'{where}: {key} must be a list of strings, e.g. {key} = ["…", "…"]')
    return tuple(value)


def _language(raw: dict[str, Any], where: str) -> str | None:
    """A BCP 47 tag, lower-cased; unset or empty means "detect".

    The column holds 10 characters, so a longer valid tag (`en-GB-oxendict`) keeps only its
    primary subtag, which is what stories are grouped by anyway.
    """
    tag = _text(raw, "language", where)
    if not tag:
        return None
    if not _LANGUAGE_TAG.fullmatch(tag):
        raise ConfigError(
            f'{where}: language must be a language tag such as "en", "uk" or "pt-BR", got {tag!r}'
        )
    tag = tag.lower()
    return tag if len(tag) <= LANGUAGE_MAX else tag.split("-")[0]


def load_sources(path: Path | None = None) -> tuple[Source, ...]:
    """The sources to poll, from `path` or the bundled `sources.toml`."""
    data, label = _read_toml(path, "sources.toml", "sources")
    sources: list[Source] = []
    seen: set[str] = set()
    for index, raw in enumerate(_tables(data, "source", label), start=1):
        where = f"{label}, source #{index}"
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}: expected a [[source]] table")
        name = _text(raw, "name", where)
        if len(name) > NAME_MAX:
            raise ConfigError(
                f"{where}: name must be at most {NAME_MAX} characters (it has {len(name)})"
            )
        if name:
            where = f"{where} ({name})"
        _check_keys(raw, SOURCE_KEYS, where)
        url = _text(raw, "url", where)
        if not name or not url:
            raise ConfigError(
                f'{where}: needs name and url, e.g. name = "Outlet", url = "https://…"'
            )
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"{where}: url must be http(s), got {url!r}")
        if not _host(url):
            raise ConfigError(f"{where}: url names no host, got {url!r}")
        if name.casefold() in seen:
            raise ConfigError(f"{where}: the name {name!r} is used twice")
        seen.add(name.casefold())
        try:
            kind = SourceKind(_text(raw, "kind", where, "feed").lower())
        except ValueError:
            kinds = ", ".join(k.value for k in SourceKind)
            raise ConfigError(f"{where}: kind must be one of {kinds}") from None
        sources.append(
            Source(
                name=name,
                url=url,
                kind=kind,
                language=_language(raw, where),
                full_text=_flag(raw, "full_text", where),
                breaking=_flag(raw, "breaking", where),
            )
        )
    return tuple(sources)


def _host(url: str) -> str | None:
    try:
        return urlsplit(url).hostname
    except ValueError:  # a malformed port or IPv6 address
        return None


_TOPIC_KEY = re.compile(r"[^\W_][\w-]*")


def load_topics(path: Path | None = None) -> tuple[Topic, ...]:
    """The topics that exist, from `path` or the bundled `topics.toml`."""
    data, label = _read_toml(path, "topics.toml", "topics")
    topics: list[Topic] = []
    seen: set[str] = set()
    for index, raw in enumerate(_tables(data, "topic", label), start=1):
        where = f"{label}, topic #{index}"
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}: expected a [[topic]] table")
        key = _text(raw, "key", where).lower()
        if not key or len(key.encode()) > 40:
            raise ConfigError(f'{where}: needs a short key, e.g. key = "north-korea"')
        if not _TOPIC_KEY.fullmatch(key):
            raise ConfigError(
                f"{where}: the key {key!r} must be one word of letters, digits and hyphens "
                '(it is typed in commands and shown as a hashtag), e.g. key = "gaza-strip"'
            )
        where = f"{where} ({key})"
        _check_keys(raw, TOPIC_KEYS, where)
        if key in seen:
            raise ConfigError(f"{where}: the key {key!r} is used twice")
        seen.add(key)
        keywords = tuple(k for k in _texts(raw, "keywords", where) if k.strip())
        if not keywords:
            raise ConfigError(f"{where}: needs at least one keyword")
        topics.append(
            Topic(
                key=key,
                label=_text(raw, "label", where, key) or key,
                aliases=_texts(raw, "aliases", where),
                keywords=keywords,
                breaking=_flag(raw, "breaking", where),
                place=_flag(raw, "place", where),
            )
        )
    return tuple(topics)
