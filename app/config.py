"""Configuration from environment variables with sane defaults.

Every setting has an ``MLAAS_`` environment variable; ``create_app(config)`` lets
tests override any of them with a mapping.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

MIB = 1024 * 1024
INSTANCE_PATH = Path(__file__).resolve().parent.parent / "instance"


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return default if raw in (None, "") else int(raw)


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def from_environment(instance_path: Path, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The service's settings: defaults, then the environment, then ``overrides``."""
    data_dir = os.environ.get("MLAAS_DATA_DIR") or None
    settings: dict[str, Any] = {
        "DATA_DIR": Path(data_dir).resolve() if data_dir else None,
        "DATABASE_URL": os.environ.get("MLAAS_DATABASE_URL")
        or f"sqlite:///{instance_path / 'mlaas.sqlite3'}",
        "ADMIN_KEY": os.environ.get("MLAAS_ADMIN_KEY") or None,
        "CACHE_DIR": Path(os.environ.get("MLAAS_CACHE_DIR") or instance_path / "models"),
        "FACE_SOURCE": os.environ.get("MLAAS_FACE_SOURCE", "att"),
        "MAX_CONTENT_LENGTH": _env_int("MLAAS_MAX_BODY_BYTES", 64 * MIB),
        "DEFAULT_ROW_BUDGET": _env_int("MLAAS_DEFAULT_ROW_BUDGET", 0),
        "DEFAULT_RATE_LIMIT": _env_int("MLAAS_DEFAULT_RATE_LIMIT", 0),
        "RATE_WINDOW_SECONDS": _env_int("MLAAS_RATE_WINDOW_SECONDS", 1),
        "DEFENSE": os.environ.get("MLAAS_DEFENSE") or None,
        "DEFENSE_FILE": os.environ.get("MLAAS_DEFENSE_FILE") or None,
        "NOISE_SECRET": os.environ.get("MLAAS_NOISE_SECRET") or None,
        "DISCLOSE_DEFENSE": _env_bool("MLAAS_DISCLOSE_DEFENSE", False),
        "DEFENSE_REFRESH_SECONDS": float(os.environ.get("MLAAS_DEFENSE_REFRESH_SECONDS", "0.25")),
        "QUERY_LOG_FLUSH_SECONDS": float(os.environ.get("MLAAS_QUERY_LOG_FLUSH_SECONDS", "0.2")),
        "MAX_ROWS_PER_REQUEST": _env_int("MLAAS_MAX_ROWS_PER_REQUEST", 100_000),
        "BUILTIN_MODELS": _env_bool("MLAAS_BUILTIN_MODELS", True),
        "TRAINING_DEFENSES": os.environ.get("MLAAS_TRAINING_DEFENSES", "all"),
    }
    if overrides:
        settings.update(overrides)
    return settings
