"""Migrations (issues #2 and #7): the migrated schema is the models' schema on both engines,
and each step is additive, so instances of the previous version keep running during it."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, make_url, select, text

from bot.db import Base, ChatRow, make_engine, make_sessionmaker
from bot.migrate import upgrade
from tests.conftest import ROOT, TEST_DATABASE_URL, _admin_execute

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


@pytest.mark.postgres
async def test_instances_started_together_migrate_one_at_a_time() -> None:
    """Four instances started at once on a new PostgreSQL database each created the tables,
    and all but one died on "duplicate key … pg_type" (ops audit 4): they now migrate under
    an advisory lock, the later ones finding the schema at head."""
    if not TEST_DATABASE_URL:
        pytest.skip("needs TEST_DATABASE_URL (PostgreSQL); CI sets it")
    name = f"cb_race_{uuid.uuid4().hex[:8]}"
    await _admin_execute(f'CREATE DATABASE "{name}"')
    try:
        url = make_url(TEST_DATABASE_URL).set(database=name).render_as_string(hide_password=False)
        env = {**os.environ, "DATABASE_URL": url}
        processes = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "db",
                "upgrade",
                env=env,
                cwd=ROOT,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            for _ in range(4)
        ]  # processes, as instances are: Alembic's context is one per process
        for process in processes:
            _out, err = await asyncio.wait_for(process.communicate(), 120)
            assert process.returncode == 0, err.decode()
        engine = make_engine(url)
        async with engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
        await engine.dispose()
    finally:
        await _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
