"""Defended models on disk: cache entries keyed like the zoo's, their state, the one trainer.

An entry's state is read from the cache directory, so every process (workers,
the trainer, ``python -m app``) sees the same: ``ready`` once its file exists,
``failed`` when the trainer left a ``.failed`` note (the next trainer retries it),
``training`` while a live trainer holds its ``.training`` note, ``queued`` otherwise
(also after a trainer was killed mid-way). One trainer runs at a time (a file lock).
"""

from __future__ import annotations

import ast
import hashlib
import json
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from app.zoo import catalog
from app.zoo.base import ServedModel
from app.zoo.cache import digest, locked, write_atomically
from app.zoo.defended import select
from app.zoo.defended.base import Variant
from app.zoo.serialise import FORMAT_VERSION, read_model

log = logging.getLogger(__name__)

QUEUED, TRAINING, READY, FAILED = "queued", "training", "ready", "failed"
TRAINER_LOCK = ".defenses.lock"
SHARED_CODE = ("base.py", "fitting.py", "training.py")
ZOO = Path(__file__).parent.parent


@dataclass(frozen=True)
class Entry:
    """One defended model on one data set, and where its trained file goes."""

    variant: Variant
    dataset: str
    path: Path

    @property
    def name(self) -> str:
        return self.variant.name

    @property
    def training_note(self) -> Path:
        return self.path.with_name(f"{self.path.name}.training")

    @property
    def failure_note(self) -> Path:
        return self.path.with_name(f"{self.path.name}.failed")

    def state(self) -> tuple[str, str | None]:
        """(state, why it failed or None)."""
        if self.path.exists():
            return READY, None
        if self.failure_note.exists():
            return FAILED, self.failure_note.read_text()
        try:
            pid = int(self.training_note.read_text())
        except (FileNotFoundError, ValueError):
            return QUEUED, None
        return (TRAINING, None) if _alive(pid) else (QUEUED, None)

    def load(self) -> ServedModel:
        return read_model(self.path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def dataset_of(data_dir: Path | None, face_source: str) -> str:
    return face_source if data_dir is not None else "digits"


def _zoo_module(module: str) -> Path | None:
    """The file of ``app.zoo...`` module ``module`` (None for a package or another module)."""
    parts = module.split(".")
    if parts[:2] != ["app", "zoo"]:
        return None
    path = ZOO.joinpath(*parts[2:])
    return path.with_suffix(".py") if path.with_suffix(".py").is_file() else None


def _zoo_imports(path: Path) -> set[Path]:
    """The zoo's files that ``path`` imports, at module level or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            candidates = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            found.update(p for p in map(_zoo_module, candidates) if p is not None)
    return found


def training_code(variant: Variant) -> list[Path]:
    """Every zoo file the variant's training runs: its module, the shared trainers and what they import."""
    here = Path(__file__).parent
    module = Path(sys.modules[variant.train.__module__].__file__ or "")
    pending, seen = [module, *(here / name for name in SHARED_CODE)], set()
    while pending:
        path = pending.pop()
        if path not in seen:
            seen.add(path)
            pending.extend(_zoo_imports(path) - seen)
    return sorted(seen)


def cache_key(variant: Variant, dataset: str, data_dir: Path | None) -> str:
    """A hash of the data, the hyper-parameters, the split and the code that trains it.

    Only the code that trains a defended model keys it (``training_code``), so edits
    elsewhere in the service do not retrain the defended models.
    """
    base = catalog.BuiltinSpec(variant.base_model, dataset, variant.architecture)
    identity = {
        "model": [variant.name, dataset],
        "params": dict(variant.params),
        "split": [catalog.SEED, catalog.FACE_TRAIN_FRACTION],
        "data": [digest(path) for path in catalog.data_files(base, data_dir)],
        "code": [digest(path) for path in training_code(variant)],
        "format": FORMAT_VERSION,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:20]


def entries(data_dir: Path | str | None, cache_dir: Path | str, face_source: str, selection: str) -> list[Entry]:
    """The selected defended models (``MLAAS_TRAINING_DEFENSES``) and their cache files."""
    data_dir = Path(data_dir) if data_dir else None
    dataset = dataset_of(data_dir, face_source)
    return [
        Entry(v, dataset, Path(cache_dir) / f"{v.name}.{dataset}.{cache_key(v, dataset, data_dir)}.npz")
        for v in select(selection)
    ]


def train_missing(entries: list[Entry], data_dir: Path | str | None) -> None:
    """Train every entry without a cache file, one at a time, under the trainer lock.

    A failure is noted beside the entry and the others still train.
    """
    if all(entry.path.exists() for entry in entries):
        return  # nothing to train: no need to wait for another trainer's lock
    from app.zoo.defended.training import train_variant

    data_dir = Path(data_dir) if data_dir else None
    cache_dir = entries[0].path.parent
    cache_dir.mkdir(parents=True, exist_ok=True)
    with locked(cache_dir / TRAINER_LOCK):
        for entry in entries:
            if entry.path.exists():
                continue
            log.info("training %s on %s (training-time defence)", entry.name, entry.dataset)
            entry.failure_note.unlink(missing_ok=True)
            entry.training_note.write_text(str(os.getpid()))
            try:
                write_atomically(train_variant(entry.variant, entry.dataset, data_dir), entry.path)
            except Exception as exc:  # one defence failing must not stop the others
                log.exception("training %s failed", entry.name)
                entry.failure_note.write_text(f"{type(exc).__name__}: {exc}")
            finally:
                entry.training_note.unlink(missing_ok=True)
            stem = f"{entry.name}.{entry.dataset}."
            for stale in set(cache_dir.glob(f"{stem}*.npz")) - {entry.path}:
                stale.unlink(missing_ok=True)
