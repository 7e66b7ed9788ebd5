"""Results as JSON files: numpy values made plain, written atomically."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np


def plain(value: Any) -> Any:
    """``json.dumps``' ``default``: numpy arrays and scalars and paths as plain values."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def write_json(path: Path, content: Any) -> None:
    """``content`` as indented JSON, replacing ``path`` atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(content, indent=2, default=plain) + "\n")
    os.replace(partial, path)
