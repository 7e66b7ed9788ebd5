"""Disk cache for what the judges compute from the reference photos (descriptors, trained networks).

Fitting a judge costs up to a minute (400 face descriptors, a CNN's training);
every attack run and every evaluation cell needs the same judges, so the result
is kept under ``instance/judges/``, keyed by the photos' bytes and the judge's
settings. ``MLAAS_JUDGE_CACHE`` moves it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "instance" / "judges"


def cache_dir() -> Path:
    return Path(os.environ.get("MLAAS_JUDGE_CACHE") or DEFAULT_DIR)


def source_of(*modules: object) -> str:
    """The text of the modules that compute a cached result, so editing them invalidates it."""
    return "".join(Path(module.__file__).read_text() for module in modules)


def key_of(*parts: object) -> str:
    """A short hash of arrays (by dtype, shape and bytes) and plain values."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            digest.update(f"{part.dtype.str}{part.shape}".encode())
            digest.update(np.ascontiguousarray(part).tobytes())
        else:
            digest.update(repr(part).encode())
    return digest.hexdigest()[:24]


def cached_arrays(name: str, key: str, compute: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """``compute()`` once per key; later calls (any process) read the saved arrays."""
    path = cache_dir() / f"{name}-{key}.npz"
    if path.is_file():
        with np.load(path) as saved:
            return {k: saved[k] for k in saved.files}
    arrays = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, suffix=".tmp") as handle:
        handle.write(buffer.getvalue())
    os.replace(handle.name, path)
    return arrays


def cached_json(name: str, key: str, compute: Callable[[], Any]) -> Any:
    """Like ``cached_arrays`` for a JSON document."""
    path = cache_dir() / f"{name}-{key}.json"
    if path.is_file():
        return json.loads(path.read_text())
    document = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as handle:
        json.dump(document, handle)
    os.replace(handle.name, path)
    return document
