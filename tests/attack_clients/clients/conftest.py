"""Make the project importable and give each client test its own loopback server."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = str(Path(__file__).resolve().parents[3])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from .http_fake import FakeService, serve  # noqa: E402


@pytest.fixture()
def fake() -> Iterator[FakeService]:
    """A fresh scriptable server on a free 127.0.0.1 port, stopped after the test."""
    with serve() as service:
        yield service
