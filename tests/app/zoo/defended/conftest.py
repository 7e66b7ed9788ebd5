"""A model cache of their own for the defended-model tests, on the digits fallback.

The base zoo's digits models are linked in from the shared cache (trained there once),
so each session starts with every defended model untrained, whatever the shared cache holds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.zoo import load_builtin_models
from app.zoo.data import load_digits_images
from app.zoo.defended import variants
from tests.conftest import MODEL_CACHE

DP_MODEL = "faces-softmax-dp-nm0.5"


def base_zoo_files() -> list[Path]:
    """The shared cache's digits models, without any defended model a server trained there."""
    defended = set(variants())
    return [path for path in MODEL_CACHE.glob("*.digits.*.npz") if path.name.split(".digits.")[0] not in defended]


@pytest.fixture(scope="session")
def defended_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    load_builtin_models(None, MODEL_CACHE)
    cache = tmp_path_factory.mktemp("defended-cache")
    for path in base_zoo_files():
        (cache / path.name).symlink_to(path)
    return cache


@pytest.fixture(scope="session")
def small_digits() -> tuple[np.ndarray, np.ndarray]:
    """300 digits (30 of each), for trainings that only have to run, not to be good."""
    images = load_digits_images()
    rows = np.concatenate([np.flatnonzero(images.labels == digit)[:30] for digit in range(10)])
    return images.pixels[rows], images.labels[rows]
