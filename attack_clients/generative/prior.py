"""The adversary's face prior: what every generative search asks of it, and where it comes from.

A prior maps latent vectors to images at the *target's* resolution (row-major,
pixels in [0, 1], float64), so a search can send its images to the service as
they are. It is trained only on the photos of people who are not the victims
(``folds``): ``prior_for(excluded, ...)`` loads the data set at the target's
resolution (``MLAAS_DATA_DIR``, or the digits fallback: the prior then learns
the other digits), drops every photo of the ``excluded`` identities, trains
once and caches the result under ``instance/priors/`` (``MLAAS_PRIOR_CACHE``
moves it), keyed by the auxiliary photos, the settings and the source of the
code that trains it, so an edit to the training retrains. A trained prior's
``description`` records whom it learnt from, how long it took and the share of
its samples in which the face detector finds a face (``face_share``), with the
load average at the end of training (the cores are shared).

Kinds: ``"vae"`` (``vae.py``, the default: a VAE whose samples look like
faces after minutes of CPU), ``"gan"`` (``gan.py``: a DCGAN with DiffAugment,
which did not converge in that budget) and ``"pca"`` (``pca_prior.py``: a
linear eigenface baseline). A kind's module
offers ``train_prior(images, image_shape, size, seed, progress) -> FacePrior``;
a GAN also ``state()`` / ``from_state(...)`` for the cache.
"""

from __future__ import annotations

import importlib
import os
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from attack_clients.datasets import FaceData, load_faces

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "instance" / "priors"
SIZES = ("full", "reduced")
"""``full``: the evaluation's prior (at most 10 minutes per fold on 2 idle cores); ``reduced``: seconds, for tests."""
KINDS = {
    "vae": "attack_clients.generative.vae",
    "gan": "attack_clients.generative.gan",
    "pca": "attack_clients.generative.pca_prior",
}


class FacePrior(ABC):
    """A generator of faces at the target's resolution, searched in its latent space.

    ``generate`` is what a black-box search needs (numpy in, numpy out);
    ``generator_module``/``discriminator_module`` are what a white-box search
    differentiates. ``description`` says what it was trained on (results.json).
    """

    latent_dim: int
    image_shape: tuple[int, int]
    description: dict[str, Any]

    @abstractmethod
    def generator_module(self) -> torch.nn.Module:
        """Frozen torch module: latents ``(n, latent_dim)`` float32 -> images ``(n, h*w)`` in [0, 1]."""

    def discriminator_module(self) -> torch.nn.Module | None:
        """Frozen torch module: images ``(n, h*w)`` in [0, 1] -> realness logits ``(n,)``; None if it has none."""
        return None

    def generate(self, z: np.ndarray) -> np.ndarray:
        """Images ``(n, h*w)`` float64 in [0, 1], row-major at the target's resolution, from ``(n, latent_dim)``."""
        generator = self.generator_module()
        with torch.no_grad():
            images = torch.cat(
                [generator(chunk) for chunk in torch.as_tensor(np.asarray(z), dtype=torch.float32).split(256)]
            )
        return images.double().clamp_(0, 1).numpy()

    def sample_latents(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` latents from the prior's own distribution (standard normal unless a kind says otherwise)."""
        return rng.standard_normal((n, self.latent_dim))


def default_cache_dir() -> Path:
    """``MLAAS_PRIOR_CACHE``, else ``instance/priors/``."""
    return Path(os.environ.get("MLAAS_PRIOR_CACHE") or DEFAULT_DIR)


def auxiliary_photos(data: FaceData, excluded: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Every photo of the people not in ``excluded`` (data-set identity indices), and whose they are."""
    keep = ~np.isin(data.labels, np.asarray(excluded, dtype=int))
    return data.images[keep], data.labels[keep]


def prior_for(
    excluded: Sequence[int],
    image_shape: tuple[int, int],
    cache_dir: Path | None = None,
    size: str = "full",
    kind: str = "vae",
    seed: int = 0,
    progress: bool = False,
) -> FacePrior:
    """The prior of ``kind`` trained on the data set at ``image_shape`` without the ``excluded`` people.

    ``excluded`` are data-set identity indices (``datasets.load_faces`` order;
    an attack maps model classes to them with ``judging.face_data``). Raises
    ``FileNotFoundError`` when ``MLAAS_DATA_DIR`` holds no faces at that
    resolution. A GAN is trained once per (photos, settings, code) and read from
    ``cache_dir`` (default ``instance/priors/``) afterwards.
    """
    if size not in SIZES:
        raise ValueError(f"size must be one of {SIZES}, got {size!r}")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}, got {kind!r}")
    data = load_faces(tuple(image_shape))
    images, identities = auxiliary_photos(data, excluded)
    module = importlib.import_module(KINDS[kind])
    trained_on = {
        "data": data.source,
        "auxiliary_identities": np.unique(identities).tolist(),
        "excluded_identities": sorted(int(v) for v in excluded),
        "auxiliary_photos": len(images),
        "kind": kind,
        "size": size,
        "seed": seed,
    }
    if not hasattr(module, "from_state"):
        prior = module.train_prior(images, tuple(image_shape), size, seed, progress)
        prior.description = {**trained_on, **prior.description}
        return prior
    from attack_clients.generative.face_share import face_share
    from attack_clients.judges.cache import key_of, source_of

    key = key_of(images, tuple(image_shape), size, seed, source_of(module, importlib.import_module(__name__)))
    path = (cache_dir or default_cache_dir()) / f"{kind}-{data.source}-{size}-{key}.pt"
    if path.is_file():
        saved = torch.load(path, weights_only=False)
        return module.from_state(saved, tuple(image_shape))
    started = time.perf_counter()
    prior = module.train_prior(images, tuple(image_shape), size, seed, progress)
    prior.description = {
        **trained_on,
        **prior.description,
        "training_seconds": time.perf_counter() - started,
        "training_load_average": list(os.getloadavg()),
    }
    prior.description["face_share"] = face_share(prior, data.source)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, suffix=".tmp") as handle:
        torch.save(prior.state(), handle)
    os.replace(handle.name, path)
    return prior
