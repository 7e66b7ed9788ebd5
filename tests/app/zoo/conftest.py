"""Small hand-made models and the data directory for the zoo's tests."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from app.zoo.base import Field
from app.zoo.images import ImageModel, Layer, pixel_fields
from app.zoo.trees import LEAF, TreeModel


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The real data sets (CI sets MLAAS_DATA_DIR); tests that need them skip otherwise."""
    raw = os.environ.get("MLAAS_DATA_DIR")
    if not raw or not Path(raw).is_dir():
        pytest.skip("MLAAS_DATA_DIR is not set")
    return Path(raw).resolve()


def hand_tree() -> TreeModel:
    """age <= 30 -> leaf [8, 2]; else color != red -> leaf [1, 5], color = red -> leaf [0, 4]."""
    fields = [Field("age", "numeric", minimum=18.0, maximum=90.0), Field("color", "categorical", ("blue", "red"))]
    return TreeModel(
        name="hand-tree",
        kind="tree",
        classes=["no", "yes"],
        fields=fields,
        objective=Field("label", "categorical", ("no", "yes")),
        sensitive="color",
        metadata={"dataset": "hand", "training_rows": list(range(20)), "heldout_rows": [20, 21]},
        node_field=np.array([0, LEAF, 1, LEAF, LEAF]),
        node_value=np.array([30.0, 0.0, 1.0, 0.0, 0.0]),
        node_left=np.array([1, LEAF, 3, LEAF, LEAF]),
        node_right=np.array([2, LEAF, 4, LEAF, LEAF]),
        node_counts=np.array([[9, 11], [8, 2], [1, 9], [1, 5], [0, 4]]),
        heldout_X=np.array([[25.0, 0.0], [40.0, 1.0]]),
        heldout_y=np.array([0, 1]),
    )


def hand_image_model(seed: int = 0) -> ImageModel:
    """A 2x3-pixel network: sigmoid 4, softmax 3, with a one-layer decoder from the code."""
    rng = np.random.default_rng(seed)

    def layer(n_in: int, n_out: int, activation: str) -> Layer:
        return Layer(
            rng.normal(size=(n_in, n_out)).astype(np.float32), rng.normal(size=n_out).astype(np.float32), activation
        )

    return ImageModel(
        name="hand-image",
        kind="image",
        classes=["a", "b", "c"],
        fields=pixel_fields(6),
        objective=Field("identity", "categorical", ("a", "b", "c")),
        metadata={"dataset": "hand", "image_shape": [2, 3]},
        layers=[layer(6, 4, "sigmoid"), layer(4, 3, "softmax")],
        decoder=[layer(4, 6, "sigmoid")],
        image_shape=(2, 3),
        heldout_X=rng.random((5, 6), dtype=np.float32),
        heldout_y=np.array([0, 1, 2, 0, 1]),
    )


def survey_csv(rows: int = 240, seed: int = 0) -> str:
    """A synthetic survey: numeric age (some blank), categorical colour/town (some blank), label."""
    rng = np.random.default_rng(seed)
    lines = ["age,color,town,label"]
    for _ in range(rows):
        age = rng.integers(18, 80)
        color = rng.choice(["red", "blue", "green", ""])
        town = rng.choice(["north", "south", "NA"])
        label = "yes" if (age > 45) ^ (color == "red") ^ (rng.random() < 0.1) else "no"
        lines.append(f"{'' if rng.random() < 0.05 else age},{color},{town},{label}")
    return "\n".join(lines) + "\n"
