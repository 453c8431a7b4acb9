"""Alembic environment: runs migrations over the async engine of `DATABASE_URL`."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from bot.db import Base, make_engine

config = context.config
target_metadata = Base.metadata


MIGRATION_LOCK = 0x636F6E666C696374  # "conflict": the advisory lock instances migrate under


def _run(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # Instances started together on a new database would each create the tables; one at
        # a time, the later ones find the schema at head and do nothing.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_async())
