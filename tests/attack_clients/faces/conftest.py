"""Small targets for the face-attack tests: digits always, real faces when present."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_limits

from attack_clients.datasets import FaceData, load_digits, load_olivetti
from attack_clients.faces.network import WhiteBoxModel
from attack_clients.faces.targets import fit_dense_target


@pytest.fixture(scope="session", autouse=True)
def one_thread() -> Iterator[None]:
    """Small matrices run faster on one thread, and a busy machine does not thrash."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(threads)


@dataclass
class Target:
    """A trained softmax target, its data and which rows it trained on."""

    data: FaceData
    training: np.ndarray
    export: dict
    model: WhiteBoxModel


def train_target(data: FaceData, training: np.ndarray, epochs: int) -> Target:
    export = fit_dense_target(
        data.images[training], data.labels[training], len(data.classes), data.image_shape, epochs=epochs
    )
    return Target(data, training, export, WhiteBoxModel(export))


@pytest.fixture(scope="session")
def digits_target() -> Target:
    """Softmax regression on half of scikit-learn's digits (the other half unseen)."""
    data = load_digits()
    return train_target(data, np.arange(len(data.labels)) % 2 == 0, epochs=200)


@pytest.fixture(scope="session")
def faces() -> FaceData:
    raw = os.environ.get("MLAAS_DATA_DIR")
    if not raw or not (Path(raw) / "olivetti" / "olivettifaces.mat").is_file():
        pytest.skip("real faces need MLAAS_DATA_DIR")
    return load_olivetti(Path(raw))


@pytest.fixture(scope="session")
def faces_target(faces: FaceData) -> Target:
    """Softmax regression on 7 of each person's 10 Olivetti faces, as the zoo does."""
    return train_target(faces, np.arange(len(faces.labels)) % 10 < 7, epochs=150)
