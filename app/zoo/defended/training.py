"""One defended model trained on the zoo's data and split, with the zoo's metadata and its defence's."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from app.zoo import data
from app.zoo.base import Field
from app.zoo.catalog import DESCRIPTIONS, FACE_TRAIN_FRACTION, SEED
from app.zoo.defended.base import Variant
from app.zoo.images import ImageModel, pixel_fields
from app.zoo.splits import per_class_split


def load_images(dataset: str, data_dir: Path | None) -> data.ImageSet:
    """The zoo's images of ``dataset`` (``att``, ``olivetti`` or the ``digits`` fallback)."""
    return {
        "att": lambda: data.load_att_faces(data_dir),
        "olivetti": lambda: data.load_olivetti_faces(data_dir),
        "digits": data.load_digits_images,
    }[dataset]()


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
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the zoo: spinning OpenMP waiters cost 5x when busy
    import torch

    params = dict(variant.params if params is None else params)
    images = load_images(dataset, data_dir)
    train, held = per_class_split(images.labels, FACE_TRAIN_FRACTION, SEED)
    X, y = images.pixels, images.labels
    threads = torch.get_num_threads()
    torch.set_num_threads(len(os.sched_getaffinity(0)))
    started, cpu_started = time.perf_counter(), time.process_time()
    try:
        outcome = variant.train(X[train], y[train], len(images.classes), SEED, params)
    finally:
        torch.set_num_threads(threads)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    model = ImageModel(
        name=variant.name,
        kind="image",
        classes=list(images.classes),
        fields=pixel_fields(X.shape[1]),
        objective=Field(
            "identity" if dataset != "digits" else "digit", "categorical", categories=tuple(images.classes)
        ),
        description=f"{describe(variant, params)} ({images.name})",
        layers=outcome.layers,
        image_shape=images.image_shape,
        heldout_X=X[held],
        heldout_y=y[held],
    )
    heldout_accuracy = _accuracy(model, X[held], y[held])
    model.metadata = {
        "dataset": images.name,
        "file": images.file,
        "image_shape": list(images.image_shape),
        "training_rows": train.tolist(),
        "heldout_rows": held.tolist(),
        "training_accuracy": _accuracy(model, X[train], y[train]),
        "heldout_accuracy": heldout_accuracy,
        "params": {**params, "seed": SEED, "train_fraction_per_class": FACE_TRAIN_FRACTION},
        "iterations": outcome.iterations,
        "training_seconds": round(seconds, 3),
        "training_cpu_seconds": round(cpu_seconds, 3),
        "base_model": variant.base_model,
        "training_defense": variant.summary,
        "training_defense_params": {"kind": variant.defense, **params, **outcome.facts,
                                    "heldout_accuracy": heldout_accuracy},
        **{key: outcome.facts[key] for key in ("epsilon", "delta") if key in outcome.facts},
    }
    return model


def _accuracy(model: ImageModel, X: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(model.predict_proba(X).argmax(axis=1) == y))
