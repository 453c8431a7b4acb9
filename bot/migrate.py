"""Apply the Alembic migrations shipped inside the package (`conflictbot db upgrade`).

Alembic's env runs its own event loop, so `upgrade()` is synchronous: the CLI calls it before
starting the bot, async callers (tests) call it through `asyncio.to_thread`.
"""

from __future__ import annotations

import logging
from importlib import resources

from alembic import command
from alembic.config import Config

log = logging.getLogger(__name__)


def alembic_config(database_url: str) -> Config:
    """An Alembic Config pointing at the bundled scripts and the given database."""
    config = Config()
    config.set_main_option("script_location", str(resources.files("bot") / "migrations"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database schema up to `revision` (idempotent)."""
    command.upgrade(alembic_config(database_url), revision)
    log.debug("database schema is at %s", revision)
