"""The model-inversion literature's "evaluation model": a CNN unlike every target.

A small convolutional network (every target is softmax regression, a sigmoid
MLP or a stacked denoising autoencoder on raw pixels) trained on the private
photos with augmentation (shifts, flips, noise, contrast and brightness) so it
keys on faces rather than on exact pixel values. Eight of each person's photos
train it, the rest measure it. Besides top-1/top-5 it reports the distance, in
its own feature space, from each reconstruction to the nearest photo of the
person (the literature's KNN distance).
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from attack_clients.datasets import FaceData
from attack_clients.judges.base import rank_figures
from attack_clients.judges.cache import cached_arrays, key_of, source_of

INPUT = (48, 48)
TRAIN_PER_PERSON = 0.8
WIDTHS = (16, 32, 64, 128)


class _Network(nn.Module):
    def __init__(self, n_classes: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 1
        for i, width in enumerate(WIDTHS):
            layers += [nn.Conv2d(channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU()]
            if i < len(WIDTHS) - 1:
                layers.append(nn.MaxPool2d(2))
            channels = width
        self.body = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(channels, n_classes))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - x.mean(dim=(2, 3), keepdim=True)) / (x.std(dim=(2, 3), keepdim=True) + 1e-3)
        return self.body(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def _as_input(images: np.ndarray, image_shape: tuple[int, int]) -> torch.Tensor:
    x = torch.as_tensor(np.clip(images, 0, 1), dtype=torch.float32).reshape(-1, 1, *image_shape)
    return functional.interpolate(x, size=INPUT, mode="bilinear", align_corners=False)


def _augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    n = len(x)
    shifts = torch.randint(-5, 6, (n, 2), generator=generator)
    x = torch.stack([torch.roll(img, (int(dy), int(dx)), dims=(1, 2)) for img, (dy, dx) in zip(x, shifts, strict=True)])
    flip = torch.rand(n, generator=generator) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    contrast = 0.6 + 0.8 * torch.rand(n, 1, 1, 1, generator=generator)
    brightness = 0.2 * (torch.rand(n, 1, 1, 1, generator=generator) - 0.5)
    noise = 0.1 * torch.rand(n, 1, 1, 1, generator=generator) * torch.randn(x.shape, generator=generator)
    mean = x.mean(dim=(2, 3), keepdim=True)
    return ((x - mean) * contrast + mean + brightness + noise).clamp(0, 1)


def training_split(labels: np.ndarray, seed: int) -> np.ndarray:
    """Boolean mask of the photos that train the network: the first 80% of each person's, shuffled by ``seed``."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(len(labels), dtype=bool)
    for k in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == k))
        mask[rows[: max(1, round(TRAIN_PER_PERSON * len(rows)))]] = True
    return mask


class EvaluationNetwork:
    """CNN identity classifier trained on the private photos (see the module docstring)."""

    name = "evaluation_network"
    description = "4-layer CNN trained with augmentation on 80% of the private photos"

    def __init__(self, steps: int = 400, batch: int = 32, seed: int = 0) -> None:
        self.steps = steps
        self.batch = batch
        self.seed = seed

    def fit(self, data: FaceData) -> EvaluationNetwork:
        self.data = data
        self.train_mask = training_split(data.labels, self.seed)
        self.network = _Network(len(data.classes))
        key = key_of(data.images, data.labels, self.steps, self.batch, self.seed, source_of(sys.modules[__name__]))
        state = cached_arrays("evaluation-network", key, self._train)
        self.network.load_state_dict({k: torch.as_tensor(v) for k, v in state.items()})
        self.network.eval()
        train = self.train_mask
        self.reference_features = self._features(data.images[train])
        self.reference_labels = data.labels[train]
        return self

    def _train(self) -> dict[str, np.ndarray]:
        torch.manual_seed(self.seed)
        generator = torch.Generator().manual_seed(self.seed)
        x = _as_input(self.data.images[self.train_mask], self.data.image_shape)
        y = torch.as_tensor(self.data.labels[self.train_mask], dtype=torch.long)
        optimiser = torch.optim.AdamW(self.network.parameters(), lr=3e-3, weight_decay=1e-4)
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=3e-3, total_steps=self.steps)
        self.network.train()
        for _ in range(self.steps):
            rows = torch.randint(0, len(x), (self.batch,), generator=generator)
            loss = functional.cross_entropy(self.network(_augment(x[rows], generator)), y[rows])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
        return {k: v.detach().numpy().copy() for k, v in self.network.state_dict().items()}

    @torch.no_grad()
    def _features(self, images: np.ndarray) -> np.ndarray:
        features = self.network.features(_as_input(images, self.data.image_shape))
        return functional.normalize(features, dim=1).numpy()

    @torch.no_grad()
    def _logits(self, images: np.ndarray) -> np.ndarray:
        return self.network(_as_input(images, self.data.image_shape)).numpy()

    def _knn_distance(self, features: np.ndarray, identities: np.ndarray) -> np.ndarray:
        distances = np.linalg.norm(features[:, None, :] - self.reference_features[None, :, :], axis=2)
        own = self.reference_labels[None, :] == identities[:, None]
        return np.where(own, distances, np.inf).min(axis=1)

    def score(self, images: np.ndarray, identities: np.ndarray) -> dict[str, Any]:
        images = np.atleast_2d(images)
        identities = np.asarray(identities)
        logits = self._logits(images)
        knn = self._knn_distance(self._features(images), identities)
        return {
            **rank_figures(logits, identities),
            "knn_distance": float(knn.mean()) if len(knn) else float("nan"),
            "per_label": [
                {"identity": int(k), "prediction": int(logits[i].argmax()), "knn_distance": float(knn[i])}
                for i, k in enumerate(identities)
            ],
        }

    def real_heldout(self) -> dict[str, Any]:
        heldout = ~self.train_mask
        figures = self.score(self.data.images[heldout], self.data.labels[heldout])
        figures.pop("per_label")
        return {**figures, "protocol": f"{int(heldout.sum())} photos held out of training"}
