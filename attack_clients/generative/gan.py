"""A small DCGAN trained with DiffAugment on the auxiliary photos of one fold (about 200 faces).

The generator draws a square canvas (64 x 64 for faces, 8 x 8 for the digits
fallback): upsample-and-convolve blocks (no transposed convolutions, whose
checkerboards a target network's gradient would amplify), batch norm, tanh. The
canvas is resized bilinearly to the target's resolution (112 x 92 for AT&T), a
differentiable step, so a search sees images exactly as it will send them. The
discriminator reads the same canvas (real photos are resized to it with
anti-aliasing) through strided convolutions. Training: the non-saturating
logistic loss with DiffAugment on every discriminator input, horizontal flips of
the real photos (a face's mirror image is the same person's face), Adam at the
DCGAN paper's 2e-4 and betas (0.5, 0.999).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from itertools import pairwise
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import trange

from attack_clients.generative.diffaugment import diff_augment
from attack_clients.generative.prior import FacePrior


@dataclass(frozen=True)
class GanSettings:
    latent_dim: int
    width: int
    """Channels of the generator's last block; they double at each coarser level."""
    steps: int
    batch: int
    side: int = 64
    """The largest canvas side; smaller images get the largest power of two from 8 that fits them."""
    lr: float = 2e-4


SETTINGS = {
    "full": GanSettings(latent_dim=64, width=32, steps=3000, batch=32),
    "reduced": GanSettings(latent_dim=16, width=8, steps=60, batch=16, side=16),
}


def canvas_side(image_shape: tuple[int, int], largest: int = 64) -> int:
    """The largest power of two from 8 to ``largest`` that fits the image (64 for faces, 8 for digits)."""
    side = 8
    while side * 2 <= min(largest, *image_shape):
        side *= 2
    return side


def to_canvas(images: torch.Tensor, image_shape: tuple[int, int], side: int) -> torch.Tensor:
    """Rows ``(n, h*w)`` in [0, 1] -> canvases ``(n, 1, side, side)`` in [-1, 1]."""
    grid = images.reshape(-1, 1, *image_shape)
    if tuple(image_shape) != (side, side):
        grid = F.interpolate(grid, size=(side, side), mode="bilinear", antialias=True, align_corners=False)
    return grid * 2 - 1


class Generator(nn.Module):
    """Latents -> canvas in [-1, 1]; ``forward`` continues to rows at the target's resolution in [0, 1]."""

    def __init__(self, latent_dim: int, width: int, side: int, image_shape: tuple[int, int]) -> None:
        super().__init__()
        levels = int(np.log2(side // 4))
        channels = [width * 2 ** (levels - i) for i in range(levels + 1)]
        self.image_shape = tuple(image_shape)
        features = channels[0] * 16
        self.project = nn.Sequential(nn.Linear(latent_dim, features), nn.BatchNorm1d(features), nn.ReLU())
        blocks: list[nn.Module] = []
        for a, b in pairwise(channels):
            blocks += [nn.Upsample(scale_factor=2), nn.Conv2d(a, b, 3, padding=1), nn.BatchNorm2d(b), nn.ReLU()]
        self.blocks = nn.Sequential(*blocks, nn.Conv2d(channels[-1], 1, 3, padding=1), nn.Tanh())
        self.first = channels[0]

    def canvas(self, z: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.project(z).reshape(len(z), self.first, 4, 4))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        images = (self.canvas(z) + 1) / 2
        if images.shape[-2:] != self.image_shape:
            images = F.interpolate(images, size=self.image_shape, mode="bilinear", align_corners=False)
        return images.reshape(len(z), -1)


class Discriminator(nn.Module):
    """Canvas in [-1, 1] -> realness logit; ``forward`` takes rows at the target's resolution in [0, 1]."""

    def __init__(self, width: int, side: int, image_shape: tuple[int, int]) -> None:
        super().__init__()
        levels = int(np.log2(side // 4))
        channels = [1, *(width * 2**i for i in range(levels))]
        layers: list[nn.Module] = []
        for a, b in pairwise(channels):
            layers += [nn.Conv2d(a, b, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
        self.features = nn.Sequential(*layers, nn.Flatten(), nn.Linear(channels[-1] * 16, 1))
        self.side = side
        self.image_shape = tuple(image_shape)

    def logits(self, canvas: torch.Tensor) -> torch.Tensor:
        return self.features(canvas)[:, 0]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.logits(to_canvas(images, self.image_shape, self.side))


class GanPrior(FacePrior):
    """A trained generator and discriminator, frozen, as a ``FacePrior``."""

    def __init__(
        self, generator: Generator, discriminator: Discriminator, settings: GanSettings, description: dict[str, Any]
    ) -> None:
        self.generator = generator.eval().requires_grad_(False)
        self.discriminator = discriminator.eval().requires_grad_(False)
        self.settings = settings
        self.latent_dim = settings.latent_dim
        self.image_shape = generator.image_shape
        self.description = description

    def generator_module(self) -> nn.Module:
        return self.generator

    def discriminator_module(self) -> nn.Module:
        return self.discriminator

    def state(self) -> dict[str, Any]:
        return {
            "settings": asdict(self.settings),
            "image_shape": list(self.image_shape),
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "description": self.description,
        }


def _networks(settings: GanSettings, image_shape: tuple[int, int]) -> tuple[Generator, Discriminator]:
    side = canvas_side(image_shape, settings.side)
    return (
        Generator(settings.latent_dim, settings.width, side, image_shape),
        Discriminator(settings.width, side, image_shape),
    )


def from_state(state: dict[str, Any], image_shape: tuple[int, int]) -> GanPrior:
    settings = GanSettings(**state["settings"])
    generator, discriminator = _networks(settings, tuple(image_shape))
    generator.load_state_dict(state["generator"])
    discriminator.load_state_dict(state["discriminator"])
    return GanPrior(generator, discriminator, settings, state["description"])


def train_prior(
    images: np.ndarray, image_shape: tuple[int, int], size: str, seed: int = 0, progress: bool = False
) -> GanPrior:
    """Train the GAN of ``size`` (``SETTINGS``) on rows ``images`` (n, h*w) in [0, 1]."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small convolutions: a second thread gains little and thrashes on a shared machine
    try:
        return _train(images, image_shape, SETTINGS[size], seed, progress)
    finally:
        torch.set_num_threads(threads)


def _train(
    images: np.ndarray, image_shape: tuple[int, int], settings: GanSettings, seed: int, progress: bool
) -> GanPrior:
    torch.manual_seed(seed)
    generator, discriminator = _networks(settings, image_shape)
    real = to_canvas(torch.as_tensor(images, dtype=torch.float32), image_shape, discriminator.side)
    real = torch.cat([real, real.flip(-1)])
    draw = torch.Generator().manual_seed(seed)
    betas = (0.5, 0.999)
    g_optimiser = torch.optim.Adam(generator.parameters(), lr=settings.lr, betas=betas)
    d_optimiser = torch.optim.Adam(discriminator.parameters(), lr=settings.lr, betas=betas)
    for _ in trange(settings.steps, desc="GAN steps", disable=not progress, leave=False):
        batch = real[torch.randint(len(real), (settings.batch,), generator=draw)]
        fake = generator.canvas(torch.randn(settings.batch, settings.latent_dim, generator=draw))
        d_optimiser.zero_grad()
        d_loss = (
            F.softplus(-discriminator.logits(diff_augment(batch, draw))).mean()
            + F.softplus(discriminator.logits(diff_augment(fake.detach(), draw))).mean()
        )
        d_loss.backward()
        d_optimiser.step()
        g_optimiser.zero_grad()
        g_loss = F.softplus(-discriminator.logits(diff_augment(fake, draw))).mean()
        g_loss.backward()
        g_optimiser.step()
    description = {"model": "DCGAN + DiffAugment", "settings": asdict(settings), "canvas": discriminator.side}
    return GanPrior(generator, discriminator, settings, description)
