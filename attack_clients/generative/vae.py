"""A variational autoencoder of the auxiliary photos of one fold: the prior that trains reliably in minutes.

With about 200 photos and a few CPU minutes, the DCGAN (``gan.py``) does not
converge to face-like samples (see the README's figures); a VAE does: its
objective is a reconstruction error plus a KL term, with no adversarial game to
balance. It works at half the target's resolution (56 x 46 for AT&T; the
digits' 8 x 8 as they are), with photos antialiased down to it, and its
decoder's output is resized bilinearly to the target's resolution, a
differentiable step. Each photo is seen with jittered copies (flip, shift,
contrast; ``faces.decoder.augment``). Its latent is standardised to a Gaussian
fitted to the photos' codes, so ``N(0, I)`` samples land among faces; it has no
discriminator, so a search's prior term is the latent's Gaussian log-density.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import trange

from attack_clients.faces.decoder import augment
from attack_clients.generative.prior import FacePrior


@dataclass(frozen=True)
class VaeSettings:
    latent_dim: int
    hidden: int
    epochs: int
    copies: int
    """Jittered copies of each photo (``faces.decoder.augment``)."""
    temperature: float = 0.7
    """Scale of the fitted Gaussian that ``N(0, I)`` maps onto (truncation): its tails decode to blends of faces."""
    batch: int = 64
    lr: float = 1e-3


SETTINGS = {
    "full": VaeSettings(latent_dim=32, hidden=512, epochs=200, copies=4),
    "reduced": VaeSettings(latent_dim=8, hidden=64, epochs=15, copies=0),
}


def working_shape(image_shape: tuple[int, int]) -> tuple[int, int]:
    """Half the target's resolution for images of 32 pixels a side or more, else the target's own."""
    h, w = image_shape
    return (h // 2, w // 2) if min(h, w) >= 32 else (h, w)


def _resize(images: torch.Tensor, source: tuple[int, int], target: tuple[int, int]) -> torch.Tensor:
    if source == target:
        return images
    grid = images.reshape(-1, 1, *source)
    smaller = target[0] < source[0]
    resized = F.interpolate(grid, size=target, mode="bilinear", antialias=smaller, align_corners=False)
    return resized.reshape(len(images), -1)


class Decoder(nn.Module):
    """Latents -> rows at the target's resolution in [0, 1].

    ``forward`` reads its latent ``u`` in the photos' own latent distribution,
    standardised: ``z = latent_mean + latent_scale @ u``, so ``u ~ N(0, I)``
    lands where the photos' codes lie (see ``fit_latent_distribution``).
    """

    def __init__(self, settings: VaeSettings, image_shape: tuple[int, int]) -> None:
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.working = working_shape(self.image_shape)
        pixels = int(np.prod(self.working))
        self.net = nn.Sequential(
            nn.Linear(settings.latent_dim, settings.hidden), nn.ReLU(), nn.Linear(settings.hidden, pixels)
        )
        self.register_buffer("latent_mean", torch.zeros(settings.latent_dim))
        self.register_buffer("latent_scale", torch.eye(settings.latent_dim))

    def small(self, z: torch.Tensor) -> torch.Tensor:
        """Images at the working resolution, in [0, 1], from raw VAE latents ``z``."""
        return torch.sigmoid(self.net(z))

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        z = self.latent_mean + u @ self.latent_scale.T
        return _resize(self.small(z), self.working, self.image_shape)


class Encoder(nn.Module):
    def __init__(self, settings: VaeSettings, pixels: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(pixels, settings.hidden), nn.ReLU())
        self.mean = nn.Linear(settings.hidden, settings.latent_dim)
        self.log_var = nn.Linear(settings.hidden, settings.latent_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.net(x)
        return self.mean(hidden), self.log_var(hidden)


class VaePrior(FacePrior):
    """A trained VAE decoder, frozen, as a ``FacePrior`` (no discriminator)."""

    def __init__(self, decoder: Decoder, settings: VaeSettings, description: dict[str, Any]) -> None:
        self.decoder = decoder.eval().requires_grad_(False)
        self.settings = settings
        self.latent_dim = settings.latent_dim
        self.image_shape = decoder.image_shape
        self.description = description

    def generator_module(self) -> nn.Module:
        return self.decoder

    def state(self) -> dict[str, Any]:
        return {
            "settings": asdict(self.settings),
            "image_shape": list(self.image_shape),
            "decoder": self.decoder.state_dict(),
            "description": self.description,
        }


def from_state(state: dict[str, Any], image_shape: tuple[int, int]) -> VaePrior:
    settings = VaeSettings(**state["settings"])
    decoder = Decoder(settings, tuple(image_shape))
    decoder.load_state_dict(state["decoder"])
    return VaePrior(decoder, settings, state["description"])


def fit_latent_distribution(decoder: Decoder, encoder: Encoder, photos: torch.Tensor, temperature: float) -> None:
    """Make the decoder's ``N(0, I)`` input land where the photos' codes lie (a Gaussian fitted to them,
    its spread scaled by ``temperature``).

    With 200 photos the codes fill only part of the VAE's nominal ``N(0, I)``;
    decoded, the empty regions give blends that are not faces (the detector found
    a face in 52% of such samples against this fit's figure in the README). The
    fitted Gaussian's own tails still decode to ghosted overlays of two faces, so
    its spread is narrowed (the truncation trick): ``u ~ N(0, I)`` stays the
    searches' prior, so their Gaussian prior term is still its exact log-density.
    """
    with torch.no_grad():
        codes = encoder(photos)[0].double()
    covariance = torch.cov(codes.T) + 1e-4 * torch.eye(codes.shape[1], dtype=torch.float64)
    decoder.latent_mean.copy_(codes.mean(dim=0).float())
    decoder.latent_scale.copy_((temperature * torch.linalg.cholesky(covariance)).float())


def train_prior(
    images: np.ndarray, image_shape: tuple[int, int], size: str, seed: int = 0, progress: bool = False
) -> VaePrior:
    """Train the VAE of ``size`` (``SETTINGS``) on rows ``images`` (n, h*w) in [0, 1]."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small matrices: a second thread gains little and thrashes on a shared machine
    try:
        return _train(images, tuple(image_shape), SETTINGS[size], seed, progress)
    finally:
        torch.set_num_threads(threads)


def _train(
    images: np.ndarray, image_shape: tuple[int, int], settings: VaeSettings, seed: int, progress: bool
) -> VaePrior:
    torch.manual_seed(seed)
    decoder = Decoder(settings, image_shape)
    encoder = Encoder(settings, int(np.prod(decoder.working)))
    photos = augment(images, image_shape, settings.copies, seed)
    X = _resize(torch.as_tensor(photos, dtype=torch.float32), image_shape, decoder.working).clamp(0, 1)
    optimiser = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], lr=settings.lr)
    draw = torch.Generator().manual_seed(seed)
    for _ in trange(settings.epochs, desc="VAE epochs", disable=not progress, leave=False):
        for batch in torch.randperm(len(X), generator=draw).split(settings.batch):
            mean, log_var = encoder(X[batch])
            z = mean + torch.randn(mean.shape, generator=draw) * (0.5 * log_var).exp()
            reconstruction = F.binary_cross_entropy(decoder.small(z), X[batch], reduction="sum")
            kl = -0.5 * (1 + log_var - mean**2 - log_var.exp()).sum()
            optimiser.zero_grad()
            ((reconstruction + kl) / len(batch)).backward()
            optimiser.step()
    fit_latent_distribution(decoder, encoder, X, settings.temperature)
    description = {
        "model": "VAE (MLP), latents drawn from a Gaussian fitted to the photos' codes, spread scaled by temperature",
        "settings": asdict(settings),
        "working_shape": list(decoder.working),
    }
    return VaePrior(decoder, settings, description)
