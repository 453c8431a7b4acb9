"""The project's exception tree: one root, and the few kinds a boundary treats differently."""

from __future__ import annotations


class ConflictBotError(Exception):
    """Root of every error this project raises on purpose."""


class UserError(ConflictBotError):
    """Bad input from a chat: shown to the user with a correct example, never logged as a fault."""

    def __init__(self, message: str, example: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.example = example


class ConfigError(ConflictBotError):
    """A setting, sources file or topics file is wrong; the message names it and shows a fix."""


class SourceError(ConflictBotError):
    """A source could not be fetched or parsed; carried as a value, never raised far."""
