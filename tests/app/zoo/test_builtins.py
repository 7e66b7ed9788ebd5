"""The real built-in models, from the cache the rest of the test suite shares.

In a full run the service fixtures have filled that cache already; on a cold
cache the first test here trains the built-ins (a few minutes on two cores).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from app.zoo import ImageModel, TreeModel, accuracy_table, format_accuracy_table, load_builtin_models
from app.zoo.private_trees import VARIANTS
from tests.conftest import MODEL_CACHE, ROOT, data_dir

FACE_SOURCE = os.environ.get("MLAAS_FACE_SOURCE", "att")  # as the service fixtures read it
SPLIT = ("faces-split-device", "faces-split")
MINIMUM_ACCURACY = {
    "att_faces": {"faces-softmax": 0.9, "faces-mlp": 0.85, "faces-dae": 0.8, **dict.fromkeys(SPLIT, 0.85)},
    "olivetti_faces": {"faces-softmax": 0.9, "faces-mlp": 0.85, "faces-dae": 0.8, **dict.fromkeys(SPLIT, 0.8)},
    "sklearn_digits": {"faces-softmax": 0.9, "faces-mlp": 0.9, "faces-dae": 0.9, **dict.fromkeys(SPLIT, 0.9)},
    "steak_survey": {"steak-tree": 0.2, **{f"steak-tree-{v}": 0.2 for v in VARIANTS}},
    "gss": {"gss-tree": 0.6, **{f"gss-tree-{v}": 0.6 for v in VARIANTS}},
    "fair": {"fair-tree": 0.35, **{f"fair-tree-{v}": 0.35 for v in VARIANTS}},
}


@pytest.fixture(scope="module")
def builtins():
    return load_builtin_models(data_dir(), MODEL_CACHE, FACE_SOURCE)


def test_names_follow_the_contract(builtins) -> None:
    surveys = ["steak-tree", "gss-tree"] if data_dir() else ["fair-tree"]
    trees = [*surveys, *(f"{tree}-{variant}" for tree in surveys for variant in VARIANTS)]
    assert list(builtins) == ["faces-softmax", "faces-mlp", "faces-dae", "faces-split-device", *trees, "faces-split"]


def test_metadata_and_accuracy(builtins) -> None:
    for name, model in builtins.items():
        meta = model.metadata
        train, held = meta["training_rows"], meta["heldout_rows"]
        assert not set(train) & set(held) and all(isinstance(i, int) for i in train + held)
        X, y = model.heldout()
        assert len(X) == len(y) == len(held)
        assert meta["heldout_accuracy"] == pytest.approx(np.mean(model.predict_proba(X).argmax(axis=1) == y))
        assert meta["heldout_accuracy"] >= MINIMUM_ACCURACY[meta["dataset"]][name], name
        assert meta["training_seconds"] > 0 and meta["params"]
        json.dumps(meta)


def test_image_models_have_the_paper_architectures(builtins) -> None:
    shapes = {
        name: [layer.weights.shape for layer in m.layers] for name, m in builtins.items() if isinstance(m, ImageModel)
    }
    pixels = shapes["faces-softmax"][0][0]
    classes = shapes["faces-softmax"][0][1]
    assert shapes["faces-mlp"] == [(pixels, 3000), (3000, classes)]
    assert shapes["faces-dae"] == [(pixels, 1000), (1000, 300), (300, classes)]
    dae = builtins["faces-dae"]
    assert [layer.weights.shape for layer in dae.decoder] == [(300, 1000), (1000, pixels)]
    assert dae.metadata["image_shape"] == list(dae.image_shape) and np.prod(dae.image_shape) == pixels
    assert all(
        layer.weights.dtype == np.float32 for m in builtins.values() if isinstance(m, ImageModel) for layer in m.layers
    )


def test_trees_have_a_sensitive_field_and_mixed_leaves(builtins) -> None:
    for model in builtins.values():
        if isinstance(model, TreeModel):
            assert model.sensitive in [f.name for f in model.fields]
            if "epsilon" in model.metadata:
                continue  # a differentially private leaf publishes its released class only
            leaves = model.node_counts[model.node_field == -1]
            assert (np.count_nonzero(leaves, axis=1) > 1).any(), "every leaf is pure"


def test_accuracy_table(builtins) -> None:
    rows = accuracy_table(builtins)
    assert [row["model"] for row in rows] == list(builtins)
    text = format_accuracy_table(rows)
    assert text.splitlines()[0].split()[:3] == ["model", "dataset", "classes"] and "faces-dae" in text


def test_a_cache_hit_loads_fast_without_torch(builtins) -> None:
    """A fresh process (as a gunicorn worker) loads the cached zoo with numpy only."""
    code = (
        "import sys, time, json; from app.zoo.cache import load_builtin_models; t = time.perf_counter();"
        f"models = load_builtin_models({str(data_dir()) if data_dir() else None!r}, {str(MODEL_CACHE)!r},"
        f" {FACE_SOURCE!r});"
        "print(json.dumps([time.perf_counter() - t, 'torch' in sys.modules, 'sklearn' in sys.modules]))"
    )
    output = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True)
    seconds, torch_loaded, sklearn_loaded = json.loads(output.stdout.splitlines()[-1])
    assert not torch_loaded and not sklearn_loaded
    assert seconds < 5
