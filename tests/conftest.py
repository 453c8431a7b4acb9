"""Shared fixtures: the real-world corpus from ../shared, skipped only outside CI."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The path of ../shared/corpus; skips when it is absent, except in CI where it must exist."""
    if CORPUS.is_dir():
        return CORPUS
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but the corpus is missing at {CORPUS}")
    pytest.skip("../shared/corpus is not here (a fresh clone); CI always has it")
