"""Start-up work done once: the database, the admin key, the trained models."""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from app.core.accounts import Accounts
from app.core.defense_config import DefenseConfig
from app.storage.engine import make_engine
from app.zoo import load_builtin_models
from app.zoo.base import ServedModel
from app.zoo.defended import store


def prepare_database(settings: Mapping[str, Any]) -> Engine:
    """Create the tables, the admin user (its key shown once) and the start-up defences."""
    engine = make_engine(settings["DATABASE_URL"])
    generated = Accounts(engine, None, None).ensure_admin(settings["ADMIN_KEY"])
    if generated:
        print(
            f"\n  Created the admin user. Its API key, shown only this once:\n\n    {generated}\n",
            file=sys.stderr,
            flush=True,
        )
    DefenseConfig(engine, 0).seed(settings["DEFENSE"], settings["DEFENSE_FILE"])
    return engine


def noise_secret(settings: Mapping[str, Any]) -> int:
    """The key of deterministic noise: set by the operator, or made once and kept.

    Every worker must use the same key and it must outlive restarts, or the same
    query would get different "deterministic" noise; it must not be public, or a
    client could recompute the noise and subtract it.
    """
    if settings["NOISE_SECRET"]:
        return int(settings["NOISE_SECRET"])
    path = Path(settings["CACHE_DIR"]).parent / "noise-secret"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        draft = path.with_name(f"{path.name}.{os.getpid()}")
        draft.write_text(str(secrets.randbits(63)))
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return int(path.read_text().strip())


def load_models(settings: Mapping[str, Any]) -> dict[str, ServedModel]:
    """The built-in zoo, trained on a cache miss (the gunicorn master does that first)."""
    if not settings["BUILTIN_MODELS"]:
        return {}
    return load_builtin_models(settings["DATA_DIR"], settings["CACHE_DIR"], face_source=settings["FACE_SOURCE"])


def defended_entries(settings: Mapping[str, Any]) -> list[store.Entry]:
    """The training-time defended models ``MLAAS_TRAINING_DEFENSES`` selects (none without the zoo)."""
    if not settings["BUILTIN_MODELS"]:
        return []
    return store.entries(
        settings["DATA_DIR"], settings["CACHE_DIR"], settings["FACE_SOURCE"], settings["TRAINING_DEFENSES"]
    )


def train_defenses(settings: Mapping[str, Any]) -> dict[str, ServedModel]:
    """Train the selected defended models missing from the cache (one trainer at a time); those trained, loaded."""
    entries = defended_entries(settings)
    store.train_missing(entries, settings["DATA_DIR"])
    return {entry.name: entry.load() for entry in entries if entry.state()[0] == store.READY}
