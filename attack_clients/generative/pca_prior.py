"""A linear generative face prior: eigenfaces of the auxiliary people (probabilistic PCA).

The baseline generative model of the adversary, and the one the search tests
use: it is fitted in a second on the faces of people other than the victims,
and it has the same interface as the GAN (``FacePrior``): a latent
``z ~ N(0, I_k)`` maps to ``mean + components^T (scale * z)``, clipped to
[0, 1]. The discriminator is the probabilistic PCA log-likelihood of an image,
up to a constant: how far it lies from the auxiliary faces' subspace, and how
far inside it from their mean.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from attack_clients.generative.prior import FacePrior

VARIANCE_FLOOR = 1e-8
LATENT_DIMS = {"full": 256, "reduced": 16}
"""Components kept per size, capped at the rank of the auxiliary photos (199 on an AT&T fold). The
more kept, the closer the prior reaches a victim's photo: the face recogniser names the person in the
projections of the victims' own photos onto 64 components 0.075 of the time, onto all 199 0.175."""


class _Generator(nn.Module):
    def __init__(self, mean: torch.Tensor, basis: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("basis", basis)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.clamp(self.mean + z @ self.basis, 0.0, 1.0)


class _Discriminator(nn.Module):
    """PPCA log-likelihood (up to a constant) of flattened images ``(n, h*w)``."""

    def __init__(self, mean: torch.Tensor, components: torch.Tensor, scales: torch.Tensor, residual: float) -> None:
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("components", components)
        self.register_buffer("scales", scales)
        self.residual = residual

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        centred = images - self.mean
        coefficients = centred @ self.components.T
        outside = (centred**2).sum(dim=1) - (coefficients**2).sum(dim=1)
        inside = ((coefficients / self.scales) ** 2).sum(dim=1)
        return -0.5 * (inside + outside.clamp_min(0) / self.residual)


class PcaPrior(FacePrior):
    """Eigenface prior: ``latent_dim`` principal components of the auxiliary faces, whitened latents."""

    def __init__(
        self,
        mean: np.ndarray,
        components: np.ndarray,
        scales: np.ndarray,
        residual: float,
        image_shape: tuple[int, int],
    ) -> None:
        self.mean = np.asarray(mean, dtype=np.float32)
        self.components = np.asarray(components, dtype=np.float32)
        self.scales = np.asarray(scales, dtype=np.float32)
        self.residual = float(residual)
        self.image_shape = (int(image_shape[0]), int(image_shape[1]))
        self._basis = self.scales[:, None] * self.components
        self.description: dict[str, Any] = {"model": "eigenfaces (probabilistic PCA)", "latent_dim": self.latent_dim}

    @classmethod
    def fit(cls, images: np.ndarray, image_shape: tuple[int, int], latent_dim: int = 64) -> PcaPrior:
        """The prior of ``images`` ``(n, h*w)`` (the auxiliary people's photos only).

        ``latent_dim`` is capped at ``n - 1``, the rank of the centred images.
        """
        X = np.asarray(images, dtype=np.float64)
        if len(X) < 2:
            raise ValueError("a PCA prior needs at least two images")
        mean = X.mean(axis=0)
        _, singular, vt = np.linalg.svd(X - mean, full_matrices=False)
        k = min(latent_dim, len(X) - 1)
        variances = singular**2 / (len(X) - 1)
        rest = variances[k:]
        residual = max(float(rest.sum() / max(1, X.shape[1] - k)), VARIANCE_FLOOR)
        return cls(mean, vt[:k], np.sqrt(np.maximum(variances[:k], VARIANCE_FLOOR)), residual, image_shape)

    @property
    def latent_dim(self) -> int:
        return len(self.scales)

    def generate(self, z: np.ndarray) -> np.ndarray:
        """Images ``(n, h*w)`` in [0, 1] (float64) of latents ``(n, latent_dim)``, without building a module."""
        z = np.atleast_2d(np.asarray(z, dtype=np.float32))
        return np.clip(self.mean + z @ self._basis, 0.0, 1.0).astype(np.float64)

    def encode(self, images: np.ndarray) -> np.ndarray:
        """The latents whose images are the projections of ``images`` onto the prior's subspace."""
        centred = np.atleast_2d(np.asarray(images, dtype=np.float32)) - self.mean
        return centred @ self.components.T / self.scales

    def generator_module(self) -> nn.Module:
        return _Generator(torch.from_numpy(self.mean), torch.from_numpy(self._basis))

    def discriminator_module(self) -> nn.Module:
        return _Discriminator(
            torch.from_numpy(self.mean), torch.from_numpy(self.components), torch.from_numpy(self.scales), self.residual
        )


def train_prior(
    images: np.ndarray, image_shape: tuple[int, int], size: str = "full", seed: int = 0, progress: bool = False
) -> PcaPrior:
    """``prior_for``'s entry point: the PCA prior of the auxiliary ``images`` (deterministic: ``seed`` unused)."""
    return PcaPrior.fit(images, image_shape, LATENT_DIMS[size])
