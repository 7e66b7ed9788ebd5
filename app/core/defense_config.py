"""Which defence applies to a (user, model) pair, shared live across workers.

Settings live in the database (so they survive restarts); a version counter bumped
on every change lets each worker notice within ``refresh_seconds`` with one cheap
SELECT, without a restart. The most specific setting wins: user, then model, then
the global default.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, select

from app.core.errors import BadRequest, NotFound
from app.storage.rows import replace
from app.storage.tables import defense_settings, settings_version
from defenses import DefenseSpecError, Pipeline, parse_spec

SCOPES = ("global", "model", "user")
GLOBAL = ""
NO_DEFENSE = parse_spec([])
"""The pipeline of no step (immutable, so shared)."""


def validate(spec: Any) -> Pipeline:
    """Parse a spec or raise the 400 every dialect and the admin API share."""
    try:
        return parse_spec(spec)
    except DefenseSpecError as exc:
        raise BadRequest(f"invalid defence spec: {exc}") from exc


class DefenseConfig:
    """Per-worker cache of the defence settings, refreshed when the version moves."""

    def __init__(self, engine: Engine, refresh_seconds: float) -> None:
        self.engine = engine
        self.refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._checked_at = float("-inf")
        self._version = -1
        self._pipelines: dict[tuple[str, str], Pipeline] = {}

    def seed(self, global_spec: str | None, spec_file: str | None) -> None:
        """Apply start-up settings where the database has none yet (runtime changes win)."""
        entries: list[tuple[str, str, Any]] = []
        if spec_file:
            content = json.loads(Path(spec_file).read_text())
            if "global" in content:
                entries.append(("global", GLOBAL, content["global"]))
            entries += [("model", name, spec) for name, spec in content.get("models", {}).items()]
            entries += [("user", name, spec) for name, spec in content.get("users", {}).items()]
        if global_spec:
            entries.append(("global", GLOBAL, json.loads(global_spec)))
        for scope, name, spec in entries:
            validate(spec)
            if self.get(scope, name) is None:
                self.put(scope, name, spec)

    def get(self, scope: str, name: str) -> list[Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(defense_settings.c.spec).where(
                    (defense_settings.c.scope == scope) & (defense_settings.c.name == name)
                )
            ).first()
        return None if row is None else json.loads(row.spec)

    def put(self, scope: str, name: str, spec: Any) -> list[Any]:
        canonical = validate(spec).to_spec()
        with self.engine.begin() as conn:
            replace(
                conn, defense_settings, {"scope": scope, "name": name},
                {"spec": json.dumps(canonical), "updated_at": time.time()},
            )
            self._bump(conn)
        return canonical

    def delete(self, scope: str, name: str) -> None:
        with self.engine.begin() as conn:
            removed = conn.execute(
                delete(defense_settings).where((defense_settings.c.scope == scope) & (defense_settings.c.name == name))
            ).rowcount
            if not removed:
                raise NotFound(f"no {scope} defence set for {name!r}")
            self._bump(conn)

    @staticmethod
    def _bump(conn) -> None:
        conn.execute(settings_version.update().values(version=settings_version.c.version + 1))

    def effective(self, username: str, model: str) -> Pipeline:
        """The pipeline for this pair: user beats model beats global; none is ``[]``."""
        self._refresh()
        pipelines = self._pipelines
        for key in (("user", username), ("model", model), ("global", GLOBAL)):
            if key in pipelines:
                return pipelines[key]
        return NO_DEFENSE

    def _refresh(self) -> None:
        now = time.monotonic()
        if now - self._checked_at < self.refresh_seconds:
            return
        with self._lock:
            if now - self._checked_at < self.refresh_seconds:
                return
            with self.engine.connect() as conn:
                version = conn.execute(select(settings_version.c.version)).scalar_one()
                if version != self._version:
                    rows = conn.execute(select(defense_settings)).all()
                    self._pipelines = {(r.scope, r.name): parse_spec(json.loads(r.spec)) for r in rows}
                    self._version = version
            self._checked_at = now
