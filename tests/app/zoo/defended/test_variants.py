"""The registry of defended models, and the regularised trainers' reproducibility at reduced size."""

from __future__ import annotations

import numpy as np
import pytest

from app.zoo.defended import select, variants
from app.zoo.split_network import service_name
from attack_clients.evaluate.sweep import (
    DEFENDED_FACE_OUTPUTS,
    DEFENDED_FACES,
    FACE_MODELS,
    PROFILES,
    SPLIT_MODELS,
    TREE_MODELS,
    defended_base,
    grid,
)


def test_the_sweep_attacks_every_defended_model_by_its_served_name() -> None:
    assert list(variants()) == [*DEFENDED_FACES, "faces-split-device-dp-nm1"]  # the split one: by its service stage
    assert service_name("faces-split-device-dp-nm1") in SPLIT_MODELS


def test_full_evaluation_attacks_each_defended_model_as_its_base_without_and_with_rounding() -> None:
    cells = grid(PROFILES["full"], [*FACE_MODELS, *TREE_MODELS, *DEFENDED_FACES])
    for model in DEFENDED_FACES:
        base = defended_base(model)
        on_base = {c.attack.name for c in cells if c.model == base}
        mine = [c for c in cells if c.model == model]
        assert {(c.attack.name, c.defense.name) for c in mine} == {
            (attack, defense) for attack in on_base for defense in DEFENDED_FACE_OUTPUTS
        }
    assert {defended_base(m) for m in DEFENDED_FACES} == {"faces-softmax", "faces-mlp"}
    assert not any(c.model in DEFENDED_FACES for c in grid(PROFILES["quick"], [*FACE_MODELS, *DEFENDED_FACES]))


def test_selection() -> None:
    assert [v.name for v in select("all")] == list(variants())
    assert select("none") == select("") == []
    assert [v.name for v in select("faces-mlp-wd, faces-softmax-dp-nm0.3")] == [
        "faces-softmax-dp-nm0.3",
        "faces-mlp-wd",
    ]
    with pytest.raises(ValueError, match="faces-mlp-typo"):
        select("faces-mlp-wd,faces-mlp-typo")


@pytest.mark.parametrize("name", ["faces-mlp-wd", "faces-mlp-dropout", "faces-mlp-nls", "faces-mlp-mid"])
def test_regularised_training_is_reproducible(name: str, small_digits) -> None:
    X, y = small_digits
    variant = variants()[name]
    params = {**variant.params, "hidden": 32, "max_epochs": 3}
    first, again = (variant.train(X, y, 10, 0, params) for _ in range(2))
    assert [(layer.weights.shape, layer.activation) for layer in first.layers] == [
        ((64, 32), "sigmoid"),
        ((32, 10), "softmax"),
    ]
    for a, b in zip(first.layers, again.layers, strict=True):
        np.testing.assert_array_equal(a.weights, b.weights)
        np.testing.assert_array_equal(a.bias, b.bias)
    assert first.iterations == {"epochs": 3}
