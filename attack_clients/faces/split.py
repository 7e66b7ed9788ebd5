"""Inverting a split network's features (Titcombe et al. 2021): a deconvolutional decoder.

A split network's device stage is public (it ships in the app), and the features it
sends reach the service, which keeps them. The adversary (that curious service, or
anyone reading the traffic) runs the device stage on auxiliary faces of other people,
trains a decoder from their features back to the faces, and applies it to the features
of the victims' queries. The decoder is a small deconvolutional network: one dense layer
to a coarse map, transposed convolutions that double it, a sigmoid to pixels, cropped to
the image. When the device adds Laplace noise of scale b (``defenses.device_noise``), an
adversary who knows b (it is in the app) trains on features noised the same way, fresh
noise every epoch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm.auto import trange

from defenses.device_noise import laplace_features

MAX_UPSAMPLINGS = 4


def upsamplings(image_shape: tuple[int, int]) -> int:
    """How many 2x transposed convolutions grow the coarse map to the image (at least a 1x1 start)."""
    return max(1, min(MAX_UPSAMPLINGS, int(math.log2(min(image_shape)))))


class Deconvolution(nn.Module):
    """Features to an image: dense to (channels[0], h0, w0), then 2x transposed convolutions."""

    def __init__(self, n_features: int, image_shape: tuple[int, int], channels: tuple[int, ...]) -> None:
        super().__init__()
        self.image_shape = image_shape
        steps = len(channels)
        self.start = (math.ceil(image_shape[0] / 2**steps), math.ceil(image_shape[1] / 2**steps))
        self.dense = nn.Linear(n_features, channels[0] * self.start[0] * self.start[1])
        layers: list[nn.Module] = []
        for c_in, c_out in zip(channels, [*channels[1:], 1], strict=True):
            layers += [nn.ReLU(), nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1)]
        self.deconvolutions = nn.Sequential(*layers)
        self.channels = channels

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        coarse = self.dense(features).reshape(len(features), self.channels[0], *self.start)
        h, w = self.image_shape
        return torch.sigmoid(self.deconvolutions(coarse)[:, 0, :h, :w]).reshape(len(features), -1)


@dataclass
class SplitDecoder:
    """Features to faces (fit on the device stage's features of auxiliary faces, then predict)."""

    epochs: int = 150
    lr: float = 2e-3
    batch: int = 32
    width: int = 32
    noise: float = 0.0
    """Laplace scale b the device adds; the decoder trains on features noised the same way."""
    seed: int = 0
    progress: bool = False

    def _channels(self, image_shape: tuple[int, int]) -> tuple[int, ...]:
        steps = upsamplings(image_shape)
        return tuple(max(4, self.width // 2**i) for i in range(steps))

    def fit(self, features: np.ndarray, images: np.ndarray, image_shape: tuple[int, int]) -> SplitDecoder:
        """Train on clean device features ``(n, d)`` of the auxiliary ``images`` ``(n, h*w)``."""
        torch.manual_seed(self.seed)
        self.mean_ = features.mean(axis=0)
        self.scale_ = float(features.std()) + 1e-8
        self.network_ = Deconvolution(features.shape[1], image_shape, self._channels(image_shape))
        optimiser = torch.optim.Adam(self.network_.parameters(), lr=self.lr)
        Y = torch.as_tensor(images, dtype=torch.float32)
        generator = torch.Generator().manual_seed(self.seed)
        for epoch in trange(self.epochs, desc="split decoder epochs", disable=not self.progress, leave=False):
            noisy = laplace_features(features, self.noise, seed=self.seed * 100_003 + epoch)
            X = self._inputs(noisy)
            for batch in torch.randperm(len(X), generator=generator).split(self.batch):
                optimiser.zero_grad()
                loss = nn.functional.mse_loss(self.network_(X[batch]), Y[batch])
                loss.backward()
                optimiser.step()
        self.network_.requires_grad_(False)
        return self

    def _inputs(self, features: np.ndarray) -> torch.Tensor:
        return torch.as_tensor((features - self.mean_) / self.scale_, dtype=torch.float32)

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Reconstructed images ``(n, h*w)`` in [0, 1] from (possibly noisy) features."""
        with torch.no_grad():
            return self.network_(self._inputs(features)).double().numpy()
