"""The docs say what the code does: the README's command table and /help against
handlers.COMMANDS, `.env.example` and the README's configuration table against Settings (#5).

When one of these fails, the docs drifted from the code: update the README, `.env.example` or
the COMMANDS table so that they agree again.
"""

from __future__ import annotations

import re

import pytest

from bot import formatting
from bot.config import Settings
from handlers import COMMANDS, Command, help_rows
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
ENV_EXAMPLE = (ROOT / ".env.example").read_text(encoding="utf-8")


def section(title: str) -> str:
    """The README's `## title` section, up to the next `## ` heading."""
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def table_rows(text: str) -> list[list[str]]:
    """The cells of each Markdown table row in `text` (header and rule rows left out)."""
    rows = []
    for line in text.splitlines():
        if not line.startswith("| ") or set(line) <= {"|", "-", " "}:
            continue
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        rows.append([cell.replace("\\|", "|") for cell in cells])
    return rows[1:]


COMMAND_ROWS = table_rows(section("Commands"))


def readme_rows(command: Command) -> list[list[str]]:
    """The README rows whose first cell documents `/name` (a command may have several)."""
    pattern = re.compile(rf"`/{command.name}\b[^`]*`")
    return [row for row in COMMAND_ROWS if pattern.match(row[0])]


@pytest.mark.parametrize("command", COMMANDS, ids=[c.name for c in COMMANDS])
def test_readme_documents_every_command_with_an_example(command: Command) -> None:
    """Each command has a README row with its aliases, "(admin)" if it is one, and an
    example that uses it."""
    rows = readme_rows(command)
    assert rows, f"README.md has no row for /{command.name}"
    first = " ".join(row[0] for row in rows)
    for alias in command.aliases:
        assert f"`/{alias}`" in first, f"README.md does not give /{command.name}'s alias /{alias}"
    assert ("(admin)" in first) is command.admin_only
    for row in rows:
        assert len(row) == 3, row
        example = row[2].strip("`")
        assert example.split()[0] == f"/{command.name}", f"example {example!r} of /{command.name}"


def test_readme_documents_no_command_that_does_not_exist() -> None:
    """Every command the README's table names is in COMMANDS (or an alias there)."""
    known = {name for command in COMMANDS for name in (command.name, *command.aliases)}
    named = {name for row in COMMAND_ROWS for name in re.findall(r"`/([a-z_]+)", row[0])}
    assert named - known == set()
    assert len(COMMAND_ROWS) >= len(COMMANDS)


def test_help_lists_every_public_command_with_its_example() -> None:
    """/help (rendered from COMMANDS) shows every public command, its aliases and its
    example, and no admin command."""
    text = formatting.render_help(help_rows())
    for command in COMMANDS:
        for name in (command.name, *command.aliases):
            shown = re.search(rf"^/{name}\b|, /{name}\b", text, re.MULTILINE) is not None
            assert shown is not command.admin_only, name
        assert (formatting.escape(command.example) in text) is not command.admin_only


def settings_fields() -> set[str]:
    return {name.upper() for name in Settings.model_fields}


def test_env_example_lists_every_setting() -> None:
    """`.env.example` has a line `NAME=` for each Settings field, and no other."""
    listed = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE, re.MULTILINE))
    assert listed == settings_fields()


def test_readme_configuration_table_lists_every_setting() -> None:
    """The README's configuration table names each Settings field, and no other."""
    rows = table_rows(section("Configuration"))
    named = {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row[0])}
    assert named == settings_fields()
