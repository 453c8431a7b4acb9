"""Migrations (issues #2 and #7): the migrated schema is the models' schema on both engines,
and each step is additive, so instances of the previous version keep running during it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, select, text

from bot.db import Base, ChatRow, make_engine, make_sessionmaker
from bot.migrate import upgrade

# Full-text search lives outside the models: FTS5 tables on SQLite, a generated column on
# PostgreSQL (see 0001).
SEARCH_OBJECTS = ("story_fts", "search", "ix_story_search")


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return [
        diff
        for diff in compare_metadata(context, Base.metadata)
        if not any(name in repr(diff) for name in SEARCH_OBJECTS)
    ]


async def test_the_migrated_schema_is_the_models_schema(database_url: str) -> None:
    engine = make_engine(database_url)
    async with engine.connect() as connection:
        differences = await connection.run_sync(_differences)
    await engine.dispose()
    assert differences == []


async def test_upgrading_from_the_first_schema_keeps_every_row(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    await asyncio.to_thread(upgrade, url, "0001")
    engine = make_engine(url)
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO chat (id, type, timezone, digest, languages, active, created_at) "
                "VALUES (42, 'private', 'UTC', 'off', '', 1, :now)"
            ),
            {"now": datetime(2026, 5, 1, tzinfo=UTC).isoformat()},
        )
    await engine.dispose()
    await asyncio.to_thread(upgrade, url)
    engine = make_engine(url)
    async with make_sessionmaker(engine)() as session:
        chat = (await session.scalars(select(ChatRow))).one()
    await engine.dispose()
    assert (chat.id, chat.send_after) == (42, None)
