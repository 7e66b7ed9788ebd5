"""One defended model trained on the zoo's data and split, with the zoo's metadata and its defence's."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from app.zoo.catalog import DESCRIPTIONS, FACE_TRAIN_FRACTION, SEED, fit_image_model, load_images
from app.zoo.defended.base import Variant
from app.zoo.images import ImageModel


def describe(variant: Variant, params: Mapping[str, Any]) -> str:
    """The architecture as served, then the defence."""
    if "hidden" in params:
        shape = f"multilayer perceptron, one hidden layer of {params['hidden']} sigmoid units, softmax output"
    else:
        shape = DESCRIPTIONS[variant.architecture]
    return f"{shape}; training defence: {variant.summary}"


def train_variant(
    variant: Variant, dataset: str, data_dir: Path | None, params: Mapping[str, Any] | None = None
) -> ImageModel:
    """Train ``variant`` on the zoo's training rows of ``dataset`` (``params`` replaces its
    hyper-parameters, e.g. fewer epochs in tests) and measure it on the held-out rows."""
    params = dict(variant.params if params is None else params)
    images = load_images(dataset, data_dir)
    model, outcome = fit_image_model(
        variant.name,
        dataset,
        images,
        lambda X, y, n_classes, seed: variant.train(X, y, n_classes, seed, params),
        f"{describe(variant, params)} ({images.name})",
        {**params, "seed": SEED, "train_fraction_per_class": FACE_TRAIN_FRACTION},
    )
    heldout_accuracy = model.metadata["heldout_accuracy"]
    model.metadata |= {
        "base_model": variant.base_model,
        "training_defense": variant.summary,
        "training_defense_params": {"kind": variant.defense, **params, **outcome.facts,
                                    "heldout_accuracy": heldout_accuracy},
        **{key: outcome.facts[key] for key in ("epsilon", "delta") if key in outcome.facts},
    }
    return model
