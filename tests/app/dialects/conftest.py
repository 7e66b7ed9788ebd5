"""Fixtures of the v2/v1 and Azure dialect tests: fresh users, a tree model, the models in-process."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from tests.conftest import LiveServer

IMAGE = "faces-softmax"
TREES = ("steak-tree", "gss-tree", "fair-tree")


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@dataclass(frozen=True)
class User:
    name: str
    key: str


@pytest.fixture()
def user(live_server: LiveServer, request: pytest.FixtureRequest) -> User:
    """A fresh user, so that budgets, rate limits and the query log start empty."""
    name = f"{re.sub(r'[^A-Za-z0-9_.-]', '-', request.node.name)[:40]}-{uuid.uuid4().hex[:8]}"
    return User(name, live_server.create_user(name))


@pytest.fixture()
def key(user: User) -> str:
    return user.key


@pytest.fixture(scope="session")
def tree_name(live_server: LiveServer) -> str:
    """The first built-in tree model this server has (steak/gss with the data, fair without)."""
    for name in TREES:
        url = f"{live_server.url}/v2/models/{name}"
        response = requests.get(url, headers=bearer(live_server.admin_key), timeout=30)
        if response.status_code == 200:
            return name
    pytest.fail(f"none of the tree models {TREES} is served")


@pytest.fixture(scope="session")
def models(app) -> dict[str, Any]:
    """The built-in models in-process (same cache as the live server): the local computation."""
    return app.extensions["mlaas"].registry.builtins


def tree_records(fields: list[dict[str, Any]], rows: int) -> list[dict[str, Any]]:
    """Valid records cycling through each field's categories or range; every third value missing."""
    records = []
    for i in range(rows):
        record: dict[str, Any] = {}
        for j, field in enumerate(fields):
            if (i + j) % 3 == 2:
                continue
            if field["optype"] == "categorical":
                record[field["name"]] = field["categories"][(i + j) % len(field["categories"])]
            else:
                low, high = field.get("minimum") or 0.0, field.get("maximum") or 1.0
                # quarters: exact in FP32, so the wire and the local computation see the same value
                record[field["name"]] = round(4 * (low + (high - low) * (i + 1) / (rows + 1))) / 4
        records.append(record)
    return records
