"""Which built-in models exist, what each learns from, and how it is trained."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from app.zoo import data, private_trees, split_network
from app.zoo.base import Field, ServedModel
from app.zoo.images import ImageModel, pixel_fields
from app.zoo.splits import per_class_split
from app.zoo.tree_train import fit_tree

SEED = 0
FACE_TRAIN_FRACTION = 0.7
FACE_SOURCES = ("att", "olivetti")
IMAGE_ARCHITECTURES = ("softmax", "mlp", "dae")
SPLIT_DEVICE_MODEL = "faces-split-device"
"""The split network; its service stage is served as ``faces-split`` (``split_network.service_stages``)."""
IMAGE_PARAMS: dict[str, dict[str, Any]] = {
    "softmax": {"optimizer": "lbfgs", "l2": 1e-4, "max_iter": 300},
    "mlp": {"optimizer": "adam", "hidden": 3000, "lr": 1e-3, "l2": 0.0, "max_epochs": 300, "stop_loss": 0.05},
    "dae": {
        "optimizer": "adam",
        "hidden": [1000, 300],
        "corruption": "masking",
        "mask_fraction": 0.25,
        "pretrain_epochs": 50,
        "pretrain_lr": 3e-3,
        "finetune_max_epochs": 400,
        "finetune_lr": 3e-3,
        "stop_loss": 0.05,
        "decoder_epochs": 100,
        "decoder_lr": 3e-3,
        "l2": 1e-5,
    },
    "split": {"optimizer": "adam", "filters": [8, 16, 32], "hidden": 128, "lr": 3e-3, "l2": 1e-4,
              "max_epochs": 300, "stop_loss": 0.05},
}
"""Adam phases stop once the training cross-entropy is below ``stop_loss``: the
64x64 Olivetti faces need about twice the epochs of the 92x112 AT&T ones."""
DESCRIPTIONS = {
    "softmax": "softmax (multinomial logistic) regression on pixels",
    "mlp": "multilayer perceptron, one hidden layer of 3000 sigmoid units, softmax output",
    "dae": "stacked denoising autoencoder (sigmoid 1000, 300) fine-tuned with a softmax output",
    "split": "split network: a device stage of three ReLU convolutions to 32 features, a dense service stage",
    "steak": "decision tree: steak preparation from the other FiveThirtyEight survey answers",
    "gss": "decision tree: marital happiness (hapmar) from the other GSS answers",
    "fair": "decision tree: marriage rating (1 very poor .. 5 very good) from the affairs survey",
}


@dataclass(frozen=True)
class BuiltinSpec:
    """One built-in model: its served name, its data set and its architecture."""

    name: str
    dataset: str
    architecture: str


def builtin_specs(data_dir: Path | None, face_source: str = "att") -> list[BuiltinSpec]:
    """The built-ins: real data when ``data_dir`` is given, packaged data otherwise."""
    if face_source not in FACE_SOURCES:
        raise ValueError(f"unknown face source {face_source!r}; expected one of {FACE_SOURCES}")
    faces, trees = (face_source, ["steak", "gss"]) if data_dir is not None else ("digits", ["fair"])
    return [
        *(BuiltinSpec(f"faces-{arch}", faces, arch) for arch in IMAGE_ARCHITECTURES),
        BuiltinSpec(SPLIT_DEVICE_MODEL, faces, "split"),
        *(BuiltinSpec(f"{tree}-tree", tree, "tree") for tree in trees),
        *(BuiltinSpec(f"{tree}-tree-{v}", tree, f"tree-{v}") for tree in trees for v in private_trees.VARIANTS),
    ]


def data_files(spec: BuiltinSpec, data_dir: Path | None) -> list[Path]:
    """The files whose content the model depends on (they key its cache entry)."""
    if spec.dataset == "att":
        return data.att_files(data_dir)
    if spec.dataset == "olivetti":
        return [Path(data_dir) / data.OLIVETTI_FILE]
    if spec.dataset == "steak":
        return [Path(data_dir) / data.STEAK_FILE]
    if spec.dataset == "gss":
        return [Path(data_dir) / data.GSS_FILE]
    if spec.dataset == "digits":
        return [data.package_file("sklearn", "datasets/data/digits.csv.gz")]
    return [data.package_file("statsmodels", "datasets/fair/fair.csv")]


def training_params(spec: BuiltinSpec) -> dict[str, Any]:
    """Everything besides data and code that decides the trained model."""
    if spec.architecture == "tree":
        from app.zoo.tree_train import TREE_PARAMS

        return {**TREE_PARAMS, "seed": SEED}
    if spec.architecture.startswith("tree-"):
        return {**private_trees.variant_params(spec.architecture.removeprefix("tree-")), "seed": SEED}
    return {**IMAGE_PARAMS[spec.architecture], "seed": SEED, "train_fraction_per_class": FACE_TRAIN_FRACTION}


def train_builtin(spec: BuiltinSpec, data_dir: Path | None) -> ServedModel:
    """Train one built-in from scratch (torch for images, scikit-learn for trees)."""
    if spec.architecture.startswith("tree"):
        survey = {
            "steak": lambda: data.load_steak(data_dir),
            "gss": lambda: data.load_gss(data_dir),
            "fair": data.load_fair,
        }[spec.dataset]()
        if spec.architecture != "tree":
            return private_trees.fit_variant(
                spec.architecture.removeprefix("tree-"),
                survey.table,
                survey.objective,
                sensitive=survey.sensitive,
                name=spec.name,
                dataset=survey.name,
                file=survey.file,
                seed=SEED,
                description=f"{DESCRIPTIONS[spec.dataset]}; {spec.architecture.removeprefix('tree-')} training defence",
            )
        return fit_tree(
            survey.table,
            survey.objective,
            name=spec.name,
            dataset=survey.name,
            file=survey.file,
            seed=SEED,
            sensitive=survey.sensitive,
            description=DESCRIPTIONS[spec.dataset],
        )
    return _train_image_model(spec, load_images(spec.dataset, data_dir))


def load_images(dataset: str, data_dir: Path | None) -> data.ImageSet:
    """The zoo's images of ``dataset`` (``att``, ``olivetti`` or the ``digits`` fallback)."""
    return {
        "att": lambda: data.load_att_faces(data_dir),
        "olivetti": lambda: data.load_olivetti_faces(data_dir),
        "digits": data.load_digits_images,
    }[dataset]()


def fit_image_model(
    name: str,
    dataset: str,
    images: data.ImageSet,
    train: Callable[[np.ndarray, np.ndarray, int, int], Any],
    description: str,
    params: Mapping[str, Any],
    **model_fields: Any,
) -> tuple[ImageModel, Any]:
    """Train on the zoo's per-class split with every core, measure on the held-out rows.

    ``train(X, y, n_classes, seed)`` returns the served ``layers`` and its ``iterations``;
    the model's metadata carries the data, the split, both accuracies, ``params`` and the
    training time. Returns the model and what ``train`` returned.
    """
    # OpenMP threads that spin while waiting made L-BFGS 5x slower on a busy
    # two-core machine; sleeping waiters cost nothing measurable when it is idle.
    # (Read when torch loads, so it only applies if torch is not imported yet.)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch

    train_rows, held = per_class_split(images.labels, FACE_TRAIN_FRACTION, SEED)
    X, y = images.pixels, images.labels
    threads = torch.get_num_threads()
    torch.set_num_threads(len(os.sched_getaffinity(0)))
    started, cpu_started = time.perf_counter(), time.process_time()
    try:
        trained = train(X[train_rows], y[train_rows], len(images.classes), SEED)
    finally:
        torch.set_num_threads(threads)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    model = ImageModel(
        name=name,
        kind="image",
        classes=list(images.classes),
        fields=pixel_fields(X.shape[1]),
        objective=Field(
            "identity" if dataset != "digits" else "digit", "categorical", categories=tuple(images.classes)
        ),
        description=description,
        layers=trained.layers,
        image_shape=images.image_shape,
        heldout_X=X[held],
        heldout_y=y[held],
        **model_fields,
    )
    model.metadata = {
        "dataset": images.name,
        "file": images.file,
        "image_shape": list(images.image_shape),
        "training_rows": train_rows.tolist(),
        "heldout_rows": held.tolist(),
        "training_accuracy": _accuracy(model, X[train_rows], y[train_rows]),
        "heldout_accuracy": _accuracy(model, X[held], y[held]),
        "params": dict(params),
        "iterations": trained.iterations,
        "training_seconds": round(seconds, 3),
        "training_cpu_seconds": round(cpu_seconds, 3),
    }
    return model, trained


def _train_image_model(spec: BuiltinSpec, images: data.ImageSet) -> ImageModel:
    params = training_params(spec)

    def train(X: np.ndarray, y: np.ndarray, n_classes: int, seed: int) -> Any:
        from app.zoo import face_train, split_train  # torch, after fit_image_model's OpenMP setting

        train_function = {
            "softmax": face_train.train_softmax,
            "mlp": face_train.train_mlp,
            "dae": face_train.train_dae,
            "split": partial(split_train.train_split, image_shape=images.image_shape),
        }[spec.architecture]
        return train_function(X, y, n_classes, seed, params)

    model, trained = fit_image_model(
        spec.name,
        spec.dataset,
        images,
        train,
        f"{DESCRIPTIONS[spec.architecture]} ({images.name})",
        params,
        split_at=len(IMAGE_PARAMS["split"]["filters"]) if spec.architecture == "split" else None,
    )
    model.decoder = trained.decoder
    if model.split_at is not None:
        model.metadata["split"] = {"service_model": split_network.service_name(spec.name),
                                   "features": model.feature_width, "split_at": model.split_at}
    return model


def _accuracy(model: ServedModel, X: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(model.predict_proba(X).argmax(axis=1) == y))
