"""Training the real built-ins from scratch: budget and reproducibility (slow, minutes)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from app.zoo import load_builtin_models
from tests.app.zoo.test_builtins import FACE_SOURCE, MINIMUM_ACCURACY
from tests.conftest import MODEL_CACHE, data_dir

pytestmark = pytest.mark.slow


def test_training_from_scratch_is_within_budget_and_reproducible(tmp_path) -> None:
    started = time.perf_counter()
    fresh = load_builtin_models(data_dir(), tmp_path, FACE_SOURCE)
    assert time.perf_counter() - started < 300
    shared = load_builtin_models(data_dir(), MODEL_CACHE, FACE_SOURCE)
    for name, model in fresh.items():
        X, y = model.heldout()
        np.testing.assert_array_equal(y, shared[name].heldout()[1])
        agree = np.mean(model.predict_proba(X).argmax(axis=1) == shared[name].predict_proba(X).argmax(axis=1))
        assert agree >= 0.97, name
        assert model.metadata["training_rows"] == shared[name].metadata["training_rows"]


def test_the_other_face_source(tmp_path) -> None:
    if data_dir() is None:
        pytest.skip("MLAAS_DATA_DIR is not set")
    models = load_builtin_models(data_dir(), tmp_path, "olivetti" if FACE_SOURCE == "att" else "att")
    for name in ("faces-softmax", "faces-mlp", "faces-dae"):
        assert models[name].metadata["dataset"] in ("olivetti_faces", "att_faces")
        assert models[name].metadata["heldout_accuracy"] >= MINIMUM_ACCURACY[models[name].metadata["dataset"]][name]
