"""Tables, the engine and the session factory.

Times are stored as naive UTC (`UtcDateTime` converts at the boundary) so SQLite and
PostgreSQL behave the same. Idempotency lives here as unique constraints: an item per
canonical URL and per (source, GUID), a delivery per (chat, thread, story).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import ConnectionPoolEntry

BUSY_TIMEOUT_S = 15.0
"""How long an SQLite statement waits for another connection's lock before "database is locked"
(a backup or a sqlite3 shell holding a transaction for a moment is waited out)."""

# SQLite only auto-increments an "INTEGER PRIMARY KEY"; PostgreSQL gets 64-bit ids.
BigId = BigInteger().with_variant(Integer, "sqlite")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in Python, naive UTC in the database (same on both engines)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class SourceRow(Base):
    """A source and its fetch state (conditional GET, health, back-off, claim lease)."""

    __tablename__ = "source"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    url: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(20), default="feed")
    language: Mapped[str | None] = mapped_column(String(10))
    full_text: Mapped[bool] = mapped_column(Boolean, default=False)
    breaking: Mapped[bool] = mapped_column(Boolean, default=False)
    origin: Mapped[str] = mapped_column(String(10), default="file")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    body_hash: Mapped[str | None] = mapped_column(String(64))
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_success_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    next_fetch_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    first_fetch_done: Mapped[bool] = mapped_column(Boolean, default=False)
    outage_notified: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class StoryRow(Base):
    """One event: the merged reports of one or more outlets."""

    __tablename__ = "story"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    headline: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text)
    url: Mapped[str] = mapped_column(Text)
    source_name: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(10), default="en")
    topics: Mapped[str] = mapped_column(Text, default="")
    outlets: Mapped[int] = mapped_column(Integer, default=1)
    breaking: Mapped[bool] = mapped_column(Boolean, default=False)
    first_seen_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    published_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class ItemRow(Base):
    """One outlet's article; exact repeats are refused by the unique keys."""

    __tablename__ = "item"
    __table_args__ = (UniqueConstraint("source_id", "guid"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("source.id", ondelete="CASCADE"))
    story_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("story.id", ondelete="CASCADE"), index=True
    )
    guid: Mapped[str] = mapped_column(String(700))
    url: Mapped[str] = mapped_column(String(2000), unique=True)
    title: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(10))
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    published_at: Mapped[datetime] = mapped_column(UtcDateTime)
    fetched_at: Mapped[datetime] = mapped_column(UtcDateTime)


class StoryBandRow(Base):
    """MinHash LSH band keys of a story's items, as versions before the in-memory band index
    (`bot.band_index`) wrote them; kept because migrations are additive, written by nothing
    now (the test oracle, tests/bot/reference_store.py, reads rows it writes itself)."""

    __tablename__ = "story_band"

    band_key: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    story_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("story.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime)


class StoryTopicRow(Base):
    """A story's topics, one row each, for topic lists and 24 h counts."""

    __tablename__ = "story_topic"
    __table_args__ = (Index("ix_story_topic_topic_seen", "topic", "first_seen_at"),)

    story_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("story.id", ondelete="CASCADE"), primary_key=True
    )
    topic: Mapped[str] = mapped_column(String(60), primary_key=True)
    first_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ChatRow(Base):
    """A chat (private, group, supergroup or channel) and its settings."""

    __tablename__ = "chat"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    type: Mapped[str] = mapped_column(String(20), default="private")
    title: Mapped[str | None] = mapped_column(Text)
    username: Mapped[str | None] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(60), default="UTC")
    quiet_start: Mapped[str | None] = mapped_column(String(5))
    quiet_end: Mapped[str | None] = mapped_column(String(5))
    digest: Mapped[str] = mapped_column(String(10), default="off")
    digest_at: Mapped[str | None] = mapped_column(String(5))
    last_digest_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    languages: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Wall-clock seconds (time.time()) before which no sender may message this chat: a
    # sender's lease while it sends, then Telegram's per-chat spacing. Shared by instances.
    send_after: Mapped[float | None] = mapped_column(Float)


class FollowRow(Base):
    """What a chat (or one of its forum threads) follows: a topic, all, a keyword, an exclusion."""

    __tablename__ = "follow"
    __table_args__ = (UniqueConstraint("chat_id", "thread_id", "kind", "value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("chat.id", ondelete="CASCADE", onupdate="CASCADE"), index=True
    )
    thread_id: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(10))
    value: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class DeliveryRow(Base):
    """The outbox: one alert of one story to one chat thread, claimed, sent and marked."""

    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint("chat_id", "thread_id", "story_id"),
        Index("ix_delivery_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    chat_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("chat.id", ondelete="CASCADE", onupdate="CASCADE"), index=True
    )
    thread_id: Mapped[int] = mapped_column(Integer, default=0)
    story_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("story.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(10), default="queued")
    priority: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(40))
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    outlets_sent: Mapped[int] = mapped_column(Integer, default=0)
    needs_edit: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class WorkerRow(Base):
    """A running instance and its heartbeat, so claims of a dead one can be taken back."""

    __tablename__ = "worker"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    role: Mapped[str] = mapped_column(String(10), default="all")
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_per_s: Mapped[float] = mapped_column(Float, default=0)


class SendScheduleRow(Base):
    """The next free global send slot (wall-clock seconds), reserved in blocks by instances
    so that together they stay under SEND_RATE (PostgreSQL; one process paces itself)."""

    __tablename__ = "send_schedule"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    next_slot: Mapped[float] = mapped_column(Float, default=0.0)


def _sqlite_pragmas(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    """WAL for concurrent readers, foreign keys on, and a busy timeout instead of instant errors."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={round(BUSY_TIMEOUT_S * 1000)}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str, *, pool_size: int = 5) -> AsyncEngine:
    """One engine per process; SQLite gets its pragmas on every new connection."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded values after commit (no lazy loads under async)."""
    return async_sessionmaker(engine, expire_on_commit=False)
