"""Shared fixtures: the corpus, a migrated database per test (SQLite, or PostgreSQL when
TEST_DATABASE_URL is set), settings, the emulator and the loopback feed server."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bot.config import Settings
from bot.migrate import upgrade

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
TOKEN = "123456789:AAHfakeTokenForTestsOnly_abcdefghijkl"
ADMIN_ID = 1001


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that take a database run on PostgreSQL too (`-m postgres` in CI)."""
    for item in items:
        if "database_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The path of ../shared/corpus; skips when it is absent, except in CI where it must exist."""
    if CORPUS.is_dir():
        return CORPUS
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but the corpus is missing at {CORPUS}")
    pytest.skip("../shared/corpus is not here (a fresh clone); CI always has it")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file per session; each test gets a copy (fast and isolated)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


async def _admin_execute(statement: str) -> None:
    admin_url = make_url(TEST_DATABASE_URL)
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str | None]:
    """A migrated PostgreSQL template database, when TEST_DATABASE_URL is set."""
    if not TEST_DATABASE_URL:
        yield None
        return
    name = f"cb_template_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin_execute(f'CREATE DATABASE "{name}"'))
    upgrade(make_url(TEST_DATABASE_URL).set(database=name).render_as_string(hide_password=False))
    yield name
    asyncio.run(_admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def database_url(
    tmp_path: Path, sqlite_template: Path, postgres_template: str | None
) -> AsyncIterator[str]:
    """A fresh, migrated database for one test."""
    if postgres_template is None:
        path = tmp_path / "bot.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    name = f"cb_test_{uuid.uuid4().hex[:10]}"
    await _admin_execute(f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"')
    yield make_url(TEST_DATABASE_URL).set(database=name).render_as_string(hide_password=False)
    await _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_settings(database_url: str, **overrides: object) -> Settings:
    """Settings for a test: no .env, a fake token, one admin, no automatic fetch soon."""
    values: dict[str, object] = {
        "telegram_bot_token": TOKEN,
        "telegram_api_url": "http://127.0.0.1:9",
        "database_url": database_url,
        "fetch_interval": 3600,
        "admin_ids": str(ADMIN_ID),
        "send_rate": 30,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]
