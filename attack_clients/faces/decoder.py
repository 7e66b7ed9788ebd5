"""Training-based inversion (Yang, Chang & Liang, CCS 2019): a decoder network.

The adversary queries the API with auxiliary faces the target never saw,
keeps the confidence vectors it returns, and trains a decoder (vector to
image, L2 loss). A victim's image is then rebuilt from the vector the API
returned for it. The training vectors are truncated the way the API's answers
show it truncates (rounding grid, top-k; see ``defense_profile``), so the
decoder learns from exactly the kind of vector it will be given. Inputs are
log-confidences floored at what a reported 0 can hide, which keeps the small
entries (where similarity to other people shows) on a usable scale. Under
output noise a reported 0 hides anything up to the noise level, so the floor is
also at least half the 10th percentile of the positive values seen: without it
the log of exact zeros (clipped noise) would dominate the features and a
decoder would learn less from noisy vectors than from labels alone. The
decoder's last layer is fixed: the mean and principal components of the
auxiliary images, so it only learns how a vector mixes the faces it was shown
(a pixel-output layer trained on the same images spans the same space, at
twenty times the cost on two CPU cores). The components are orthonormal, so
the pixel L2 loss equals the L2 loss on the coefficients, which is what is
trained.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import pairwise

import numpy as np
import torch
from scipy.ndimage import shift as nd_shift
from sklearn.decomposition import PCA
from torch import nn
from tqdm.auto import trange

from attack_clients.faces.defense_profile import DefenseProfile, detect
from attack_clients.oracle import Oracle, query_all


def augment(images: np.ndarray, image_shape: tuple[int, int], copies: int, seed: int = 0) -> np.ndarray:
    """The images plus ``copies`` jittered versions each (flip, shift, contrast).

    More auxiliary queries from the same few faces: each variant is a new
    query whose answer the decoder learns from.
    """
    rng = np.random.default_rng(seed)
    out = [images]
    for _ in range(copies):
        batch = images.reshape(-1, *image_shape).copy()
        flip = rng.random(len(batch)) < 0.5
        batch[flip] = batch[flip, :, ::-1]
        for i in range(len(batch)):
            batch[i] = nd_shift(batch[i], rng.uniform(-2, 2, size=2), mode="nearest", order=1)
        gain = rng.uniform(0.8, 1.2, size=(len(batch), 1, 1))
        offset = rng.uniform(-0.1, 0.1, size=(len(batch), 1, 1))
        out.append(np.clip(batch * gain + offset, 0, 1).reshape(len(batch), -1))
    return np.vstack(out)


@dataclass
class DecoderInversion:
    """Confidence vector to image by an MLP decoder (fit/predict)."""

    hidden: tuple[int, ...] = (256, 256)
    components: int = 200
    epochs: int = 300
    lr: float = 1e-3
    weight_decay: float = 1e-4
    seed: int = 0
    progress: bool = False

    def _logs(self, probabilities: np.ndarray) -> np.ndarray:
        return np.log(np.maximum(self.profile_.apply(probabilities), self.floor_))

    def _features(self, probabilities: np.ndarray) -> torch.Tensor:
        return torch.as_tensor((self._logs(probabilities) - self.mean_) / self.scale_, dtype=torch.float32)

    def fit(
        self, probabilities: np.ndarray, images: np.ndarray, profile: DefenseProfile | None = None
    ) -> DecoderInversion:
        """Train on returned vectors ``(n, k)`` and the images queried ``(n, d)``."""
        torch.manual_seed(self.seed)
        self.profile_ = detect(probabilities) if profile is None else profile
        aligned = self.profile_.apply(probabilities)
        positive = aligned[aligned > 0]
        self.floor_ = max(self.profile_.floor, 0.5 * float(np.percentile(positive, 10)) if positive.size else 0.0)
        logs = self._logs(probabilities)
        self.mean_ = logs.mean(axis=0)
        self.scale_ = logs.std() + 1e-8
        sizes = [probabilities.shape[1], *self.hidden]
        layers: list[nn.Module] = []
        for a, b in pairwise(sizes):
            layers += [nn.Linear(a, b), nn.ReLU()]
        self.pca_ = PCA(min(self.components, *images.shape), random_state=self.seed).fit(images)
        self.network_ = nn.Sequential(*layers, nn.Linear(sizes[-1], self.pca_.n_components_))
        optimiser = torch.optim.Adam(self.network_.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        X = self._features(probabilities)
        Y = torch.as_tensor(self.pca_.transform(images), dtype=torch.float32)
        generator = torch.Generator().manual_seed(self.seed)
        for _ in trange(self.epochs, desc="decoder epochs", disable=not self.progress, leave=False):
            for batch in torch.randperm(len(X), generator=generator).split(64):
                optimiser.zero_grad()
                loss = nn.functional.mse_loss(self.network_(X[batch]), Y[batch])
                loss.backward()
                optimiser.step()
        self.network_.requires_grad_(False)
        return self

    def predict(self, probabilities: np.ndarray) -> np.ndarray:
        """Reconstructed images ``(n, d)`` in [0, 1]."""
        coefficients = self.network_(self._features(probabilities)).numpy()
        return np.clip(self.pca_.inverse_transform(coefficients), 0, 1)


def identity_folds(n_classes: int, folds: int = 2, seed: int = 0) -> list[np.ndarray]:
    """Identities split into disjoint folds, so no decoder meets its victims' faces."""
    order = np.random.default_rng(seed).permutation(n_classes)
    return [np.sort(part) for part in np.array_split(order, folds)]


@dataclass
class DecoderOutcome:
    """Reconstructions of the victim rows, and what the attack spent."""

    victims: np.ndarray
    reconstructions: np.ndarray
    baseline: np.ndarray
    profile: DefenseProfile
    auxiliary_rows: int
    victim_rows: int


def run_decoder_attack(
    oracle: Oracle,
    images: np.ndarray,
    identities: np.ndarray,
    training: np.ndarray,
    image_shape: tuple[int, int],
    split: str = "disjoint",
    folds: int = 2,
    copies: int = 9,
    decoder: DecoderInversion | None = None,
    seed: int = 0,
) -> DecoderOutcome:
    """Reconstruct the target's training images from the vectors it returns.

    ``training`` marks the rows the target was trained on (the victims); the
    other rows are faces it never saw (the auxiliary set). ``split="disjoint"``
    trains one decoder per fold of identities on the auxiliary faces of the
    *other* folds, so no decoder has seen its victims' faces; ``"heldout"``
    trains one decoder on every identity's auxiliary faces (other photos of
    the victims, never of the victim images themselves). ``baseline`` is the
    mean auxiliary face each decoder had, the image to beat.
    """
    template = decoder or DecoderInversion(seed=seed)
    n_classes = int(identities.max()) + 1
    groups = identity_folds(n_classes, folds, seed) if split == "disjoint" else [np.arange(n_classes)]
    victims = np.flatnonzero(training)
    reconstructions = np.zeros((len(victims), images.shape[1]))
    baseline = np.zeros_like(reconstructions)
    auxiliary_rows = victim_rows = 0
    profile = DefenseProfile()
    for group in groups:
        seen = np.setdiff1d(np.arange(n_classes), group) if split == "disjoint" else group
        auxiliary = images[~training & np.isin(identities, seen)]
        queries = augment(auxiliary, image_shape, copies, seed)
        answers = query_all(oracle, queries)
        auxiliary_rows += len(queries)
        model = replace(template)
        model.fit(answers, queries)
        profile = model.profile_
        mine = np.isin(identities[victims], group)
        victim_answers = query_all(oracle, images[victims[mine]])
        victim_rows += int(mine.sum())
        reconstructions[mine] = model.predict(victim_answers)
        baseline[mine] = auxiliary.mean(axis=0)
    return DecoderOutcome(victims, reconstructions, baseline, profile, auxiliary_rows, victim_rows)
