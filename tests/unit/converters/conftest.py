"""Fixtures of the converter tests."""

from pathlib import Path

import pytest


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """Where a conversion writes the common layout."""
    return tmp_path / "converted"
