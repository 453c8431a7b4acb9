"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.db

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chat",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("username", sa.String(length=100), nullable=True),
        sa.Column("timezone", sa.String(length=60), nullable=False),
        sa.Column("quiet_start", sa.String(length=5), nullable=True),
        sa.Column("quiet_end", sa.String(length=5), nullable=True),
        sa.Column("digest", sa.String(length=10), nullable=False),
        sa.Column("digest_at", sa.String(length=5), nullable=True),
        sa.Column("last_digest_at", bot.db.UtcDateTime(), nullable=True),
        sa.Column("languages", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", bot.db.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat")),
    )
    op.create_table(
        "source",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("language", sa.String(length=10), nullable=True),
        sa.Column("full_text", sa.Boolean(), nullable=False),
        sa.Column("breaking", sa.Boolean(), nullable=False),
        sa.Column("origin", sa.String(length=10), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.Text(), nullable=True),
        sa.Column("body_hash", sa.String(length=64), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_success_at", bot.db.UtcDateTime(), nullable=True),
        sa.Column("last_attempt_at", bot.db.UtcDateTime(), nullable=True),
        sa.Column("next_fetch_at", bot.db.UtcDateTime(), nullable=True),
        sa.Column("claimed_until", bot.db.UtcDateTime(), nullable=True),
        sa.Column("first_fetch_done", sa.Boolean(), nullable=False),
        sa.Column("outage_notified", sa.Boolean(), nullable=False),
        sa.Column("created_at", bot.db.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_source")),
        sa.UniqueConstraint("name", name=op.f("uq_source_name")),
    )
    op.create_table(
        "story",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("headline", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("source_name", sa.String(length=200), nullable=False),
        sa.Column("language", sa.String(length=10), nullable=False),
        sa.Column("topics", sa.Text(), nullable=False),
        sa.Column("outlets", sa.Integer(), nullable=False),
        sa.Column("breaking", sa.Boolean(), nullable=False),
        sa.Column("first_seen_at", bot.db.UtcDateTime(), nullable=False),
        sa.Column("last_seen_at", bot.db.UtcDateTime(), nullable=False),
        sa.Column("published_at", bot.db.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_story")),
    )
    with op.batch_alter_table("story", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_story_first_seen_at"), ["first_seen_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_story_published_at"), ["published_at"], unique=False)

    op.create_table(
        "worker",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("started_at", bot.db.UtcDateTime(), nullable=False),
        sa.Column("heartbeat_at", bot.db.UtcDateTime(), nullable=False),
        sa.Column("sent_per_s", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_worker")),
    )
    op.create_table(
        "delivery",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("thread_id", sa.Integer(), nullable=False),
        sa.Column("story_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", bot.db.UtcDateTime(), nullable=False),
        sa.Column("claimed_by", sa.String(length=40), nullable=True),
        sa.Column("claimed_at", bot.db.UtcDateTime(), nullable=True),
        sa.Column("sent_at", bot.db.UtcDateTime(), nullable=True),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("outlets_sent", sa.Integer(), nullable=False),
        sa.Column("needs_edit", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", bot.db.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["chat_id"],
            ["chat.id"],
            name=op.f("fk_delivery_chat_id_chat"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["story_id"], ["story.id"], name=op.f("fk_delivery_story_id_story"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery")),
        sa.UniqueConstraint(
            "chat_id", "thread_id", "story_id", name=op.f("uq_delivery_chat_id_thread_id_story_id")
        ),
    )
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_delivery_chat_id"), ["chat_id"], unique=False)
        batch_op.create_index("ix_delivery_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_delivery_story_id"), ["story_id"], unique=False)

    op.create_table(
        "follow",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("thread_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("created_at", bot.db.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["chat_id"],
            ["chat.id"],
            name=op.f("fk_follow_chat_id_chat"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow")),
        sa.UniqueConstraint(
            "chat_id",
            "thread_id",
            "kind",
            "value",
            name=op.f("uq_follow_chat_id_thread_id_kind_value"),
        ),
    )
    with op.batch_alter_table("follow", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_follow_chat_id"), ["chat_id"], unique=False)

    op.create_table(
        "item",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("story_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("guid", sa.String(length=700), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=10), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("published_at", bot.db.UtcDateTime(), nullable=False),
        sa.Column("fetched_at", bot.db.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"], ["source.id"], name=op.f("fk_item_source_id_source"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["story_id"], ["story.id"], name=op.f("fk_item_story_id_story"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item")),
        sa.UniqueConstraint("content_hash", name=op.f("uq_item_content_hash")),
        sa.UniqueConstraint("source_id", "guid", name=op.f("uq_item_source_id_guid")),
        sa.UniqueConstraint("url", name=op.f("uq_item_url")),
    )
    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_item_story_id"), ["story_id"], unique=False)

    op.create_table(
        "story_band",
        sa.Column("band_key", sa.BigInteger(), nullable=False),
        sa.Column("story_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("seen_at", bot.db.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["story_id"],
            ["story.id"],
            name=op.f("fk_story_band_story_id_story"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("band_key", "story_id", name=op.f("pk_story_band")),
    )
    with op.batch_alter_table("story_band", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_story_band_story_id"), ["story_id"], unique=False)

    op.create_table(
        "story_topic",
        sa.Column("story_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("topic", sa.String(length=60), nullable=False),
        sa.Column("first_seen_at", bot.db.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["story_id"],
            ["story.id"],
            name=op.f("fk_story_topic_story_id_story"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("story_id", "topic", name=op.f("pk_story_topic")),
    )
    with op.batch_alter_table("story_topic", schema=None) as batch_op:
        batch_op.create_index("ix_story_topic_topic_seen", ["topic", "first_seen_at"], unique=False)
    _create_search()


def downgrade() -> None:
    _drop_search()
    with op.batch_alter_table("story_topic", schema=None) as batch_op:
        batch_op.drop_index("ix_story_topic_topic_seen")

    op.drop_table("story_topic")
    with op.batch_alter_table("story_band", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_story_band_story_id"))

    op.drop_table("story_band")
    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_item_story_id"))

    op.drop_table("item")
    with op.batch_alter_table("follow", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_follow_chat_id"))

    op.drop_table("follow")
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delivery_story_id"))
        batch_op.drop_index("ix_delivery_due")
        batch_op.drop_index(batch_op.f("ix_delivery_chat_id"))

    op.drop_table("delivery")
    op.drop_table("worker")
    with op.batch_alter_table("story", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_story_first_seen_at"))
        batch_op.drop_index(batch_op.f("ix_story_published_at"))

    op.drop_table("story")
    op.drop_table("source")
    op.drop_table("chat")


SQLITE_SEARCH = (
    "CREATE VIRTUAL TABLE story_fts USING fts5(headline, summary, content='story', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER story_fts_insert AFTER INSERT ON story BEGIN "
    "INSERT INTO story_fts(rowid, headline, summary) "
    "VALUES (new.id, new.headline, new.summary); END",
    "CREATE TRIGGER story_fts_delete AFTER DELETE ON story BEGIN "
    "INSERT INTO story_fts(story_fts, rowid, headline, summary) "
    "VALUES ('delete', old.id, old.headline, old.summary); END",
    "CREATE TRIGGER story_fts_update AFTER UPDATE OF headline, summary ON story BEGIN "
    "INSERT INTO story_fts(story_fts, rowid, headline, summary) "
    "VALUES ('delete', old.id, old.headline, old.summary); "
    "INSERT INTO story_fts(rowid, headline, summary) "
    "VALUES (new.id, new.headline, new.summary); END",
)
POSTGRES_SEARCH = (
    "ALTER TABLE story ADD COLUMN search tsvector GENERATED ALWAYS AS "
    "(setweight(to_tsvector('simple', coalesce(headline, '')), 'A') || "
    "setweight(to_tsvector('simple', coalesce(summary, '')), 'B')) STORED",
    "CREATE INDEX ix_story_search ON story USING gin (search)",
)


def _create_search() -> None:
    """Full-text search over stories: FTS5 on SQLite, a generated tsvector on PostgreSQL."""
    dialect = op.get_bind().dialect.name
    for statement in SQLITE_SEARCH if dialect == "sqlite" else POSTGRES_SEARCH:
        op.execute(statement)


def _drop_search() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("story_fts_insert", "story_fts_delete", "story_fts_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS story_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_story_search")
        op.execute("ALTER TABLE story DROP COLUMN IF EXISTS search")
