"""Make the project importable; learned trees shared by the tree tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = str(Path(__file__).resolve().parents[3])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from .tree_fixtures import FIELDS, Scenario, build  # noqa: E402


@pytest.fixture(scope="session")
def scenario() -> Scenario:
    """A tree that splits on ``cheated`` (it predicts the label well)."""
    return build(FIELDS, FIELDS)


@pytest.fixture(scope="session")
def blind_scenario() -> Scenario:
    """A tree that never sees ``cheated``: nothing to leak."""
    return build(FIELDS, [f for f in FIELDS if f["name"] != "cheated"])
