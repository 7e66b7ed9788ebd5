"""The feature log: what the devices of a split network sent its service stage, kept by the service.

An honest-but-curious service keeps the intermediate features of every query it
answers (Titcombe et al. 2021's threat); the operator reads them back, with who sent
them, through the admin API. One file per model, one JSON line per query, appended
with a single ``os.write`` to an ``O_APPEND`` file before the answer leaves (as the
query log's segments are), so every worker appends to the same file without a lock
and a killed worker loses nothing it answered. Only models with a vector input
(``ServedModel.vector_input``) are logged here, so the other models' path is untouched.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from sqlalchemy import Engine, select

from app.storage.tables import users

UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


class FeatureLog:
    """Appends (user, time, feature rows) per query to ``<directory>/<model>.jsonl``; reads them back."""

    def __init__(self, directory: Path, engine: Engine) -> None:
        self.directory = directory
        self.engine = engine

    def _path(self, model: str) -> Path:
        return self.directory / f"{UNSAFE.sub('_', model)}.jsonl"

    def record(self, model: str, user_id: int | None, X: np.ndarray) -> None:
        """Append one query's feature rows; once this returns, killing the process cannot lose them."""
        line = orjson.dumps(
            {"user_id": user_id, "at": time.time(), "features": np.ascontiguousarray(X, dtype=np.float32)},
            option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_APPEND_NEWLINE,
        )
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
        try:
            fd = os.open(self._path(model), flags, 0o600)
        except FileNotFoundError:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(self._path(model), flags, 0o600)
        try:
            rest = memoryview(line)
            while rest:
                rest = rest[os.write(fd, rest) :]
        finally:
            os.close(fd)

    def read(self, model: str, limit: int, username: str | None = None) -> list[dict[str, Any]]:
        """The latest ``limit`` queries of ``model`` (of one user, if named), newest first, with the user's name.

        A torn last line (its writer died inside ``write``) was never answered and is skipped.
        """
        try:
            data = self._path(model).read_bytes()
        except FileNotFoundError:
            return []
        entries = [orjson.loads(line) for line in data[: data.rfind(b"\n") + 1].splitlines()]
        with self.engine.connect() as conn:
            ids = {e["user_id"] for e in entries if e["user_id"] is not None}
            names = dict(conn.execute(select(users.c.id, users.c.username).where(users.c.id.in_(ids))).all())
        picked = [
            {"username": names.get(e["user_id"]), "at": e["at"], "features": e["features"]}
            for e in reversed(entries)
            if username is None or names.get(e["user_id"]) == username
        ]
        return picked[: max(1, limit)]
