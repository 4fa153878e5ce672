"""Shared test fixtures and paths."""

from pathlib import Path

import pytest

# ../shared beside the project root: corpora and eval data, read in place (see its README.md).
SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(scope="session")
def shared() -> Path:
    """The ../shared folder; tests that use it are skipped when it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"../shared not found: {SHARED}")
    return SHARED
