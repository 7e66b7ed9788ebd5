"""Resumable results: one JSON per finished cell under ``DIR/cells/``.

A cell's JSON is written last and atomically (temporary file, then rename), so
its presence means the cell finished; a finished cell is never computed again.
Failures go to ``DIR/failed/`` instead and are retried on the next run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from attack_clients.jsonfile import write_json


class ResultStore:
    """Finished cells (``cells/<key>.json`` plus ``cells/<key>/`` files) and failures."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.cells = self.root / "cells"
        self.failed = self.root / "failed"

    def claim(self, profile: str) -> None:
        """Mark the folder as holding ``profile``'s cells; refuse to mix profiles in one folder."""
        marker = self.root / "profile.txt"
        if marker.is_file() and marker.read_text().strip() != profile:
            raise ValueError(f"{self.root} holds cells of profile {marker.read_text().strip()!r}, not {profile!r}")
        self.root.mkdir(parents=True, exist_ok=True)
        marker.write_text(f"{profile}\n")

    def _json(self, key: str) -> Path:
        return self.cells / f"{key}.json"

    def files(self, key: str) -> Path:
        """The folder of a cell's files (reconstructions)."""
        return self.cells / key

    def done(self, key: str) -> bool:
        return self._json(key).is_file()

    def load(self, key: str) -> dict[str, Any]:
        return json.loads(self._json(key).read_text())

    def save(self, key: str, result: Mapping[str, Any], files: Mapping[str, bytes]) -> None:
        """Files first, the JSON (the "finished" mark) last; clears an earlier failure."""
        if files:
            folder = self.files(key)
            folder.mkdir(parents=True, exist_ok=True)
            for name, content in files.items():
                (folder / name).write_bytes(content)
        write_json(self._json(key), result)
        (self.failed / f"{key}.txt").unlink(missing_ok=True)

    def fail(self, key: str, message: str) -> None:
        self.failed.mkdir(parents=True, exist_ok=True)
        (self.failed / f"{key}.txt").write_text(message)

    def failures(self) -> dict[str, str]:
        """Cells whose last attempt failed, with the error."""
        if not self.failed.is_dir():
            return {}
        return {path.stem: path.read_text() for path in sorted(self.failed.glob("*.txt"))}
