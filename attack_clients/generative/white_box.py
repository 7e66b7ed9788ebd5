"""White-box generative model inversion (GMI; Zhang et al., CVPR 2020): a latent search through the downloaded network.

For each victim label the adversary searches the prior's latent space for a
face the target assigns to that label: it minimises

    identity_weight * CE(target(G(z)), label) + prior_weight * softplus(-D(G(z)))

by Adam on ``z`` (GMI's identity loss plus its prior loss; with the
non-saturating GAN the prior loss is -log sigmoid D, the discriminator's
"this is a real face"), from ``starts`` random latents per label, each latent
kept inside the box [-clip, clip] where the prior's training latents lie. The
reconstruction is the start whose final image the target gives the highest
confidence for the label (GMI keeps the most confident of its random starts).
All labels and starts descend together in one batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import trange

from attack_clients.generative.prior import FacePrior


@dataclass(frozen=True)
class GmiSettings:
    steps: int = 600
    starts: int = 4
    learning_rate: float = 0.05
    identity_weight: float = 100.0
    prior_weight: float = 1.0
    clip: float = 2.5

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class GmiOutcome:
    """Per label: the chosen image, its latent, the target's confidence in the label and D's realness logit."""

    images: np.ndarray
    latents: np.ndarray
    confidence: np.ndarray
    realness: np.ndarray

    def per_label(self, labels: Sequence[int]) -> list[dict[str, Any]]:
        return [
            {"label": int(label), "confidence": float(f), "realness_logit": float(r)}
            for label, f, r in zip(labels, self.confidence, self.realness, strict=True)
        ]


def _realness(discriminator: torch.nn.Module | None, images: torch.Tensor) -> torch.Tensor:
    return torch.zeros(len(images)) if discriminator is None else discriminator(images)


def _prior_loss(discriminator: torch.nn.Module | None, images: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """-log sigmoid D(G(z)) with a discriminator, else the latent's Gaussian negative log-density."""
    if discriminator is None:
        return 0.5 * (z**2).sum()
    return F.softplus(-discriminator(images)).sum()


def gmi_search(
    prior: FacePrior,
    logits: torch.nn.Module,
    labels: Sequence[int],
    settings: GmiSettings = GmiSettings(),
    seed: int = 0,
    progress: bool = False,
) -> GmiOutcome:
    """The GMI search for ``labels`` of the target whose pixel-to-logit network is ``logits``."""
    generator, discriminator = prior.generator_module(), prior.discriminator_module()
    n, starts = len(labels), settings.starts
    rng = np.random.default_rng(seed)
    z = torch.as_tensor(prior.sample_latents(n * starts, rng), dtype=torch.float32)
    z.clamp_(-settings.clip, settings.clip)
    z.requires_grad_(True)
    targets = torch.as_tensor(np.repeat(np.asarray(labels, dtype=int), starts))
    optimiser = torch.optim.Adam([z], lr=settings.learning_rate)
    for _ in trange(settings.steps, desc="GMI steps", disable=not progress, leave=False):
        optimiser.zero_grad()
        images = generator(z)
        identity = F.cross_entropy(logits(images), targets, reduction="sum")
        realism = _prior_loss(discriminator, images, z)
        (settings.identity_weight * identity + settings.prior_weight * realism).backward()
        optimiser.step()
        with torch.no_grad():
            z.clamp_(-settings.clip, settings.clip)
    with torch.no_grad():
        images = generator(z).clamp(0, 1)
        confidence = torch.softmax(logits(images), dim=1).gather(1, targets[:, None])[:, 0]
        realness = _realness(discriminator, images)
    best = confidence.reshape(n, starts).argmax(dim=1) + torch.arange(n) * starts
    return GmiOutcome(
        images[best].double().numpy(),
        z.detach()[best].double().numpy(),
        confidence[best].double().numpy(),
        realness[best].double().numpy(),
    )
