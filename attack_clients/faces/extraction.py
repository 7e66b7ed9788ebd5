"""Model extraction (Tramèr et al., USENIX Security 2016), to invert the copy.

Softmax regression by equation solving: log p_i(x) = θ_i·[x, 1] - log Z(x), so
after centring each query's log-probabilities over the classes the system is
linear in the class-centred parameters Θ (the softmax is blind to a shift
shared by all classes, so only the centred Θ is identifiable). The canonical
design, x = 0 and the d unit vectors, solves it exactly with d + 1 queries.
Rounding reports small confidences as 0 (censored: the true value is below
half the grid); those entries are imputed from the current fit, capped at that
bound, and the fit repeated. Coarse grids hide the effect of one pixel, so
random inputs are added (``extra_queries``).

Other architectures: a surrogate (sigmoid MLP on the image's low-frequency DCT
coefficients) trained on the oracle's confidence vectors for random smooth
images, then on images along MI-Face trajectories against the surrogate itself
(the region the inversion will visit).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy.linalg import cho_factor, cho_solve
from scipy.special import logsumexp
from torch import nn
from tqdm.auto import trange

from attack_clients.faces.defense_profile import DefenseProfile, detect
from attack_clients.faces.gradients import DctBasis, WhiteBoxGradient
from attack_clients.faces.mi_face import MIFaceParams, mi_face
from attack_clients.faces.network import WhiteBoxModel
from attack_clients.oracle import Oracle, query_all


@dataclass
class ExtractedSoftmax:
    """Class-centred weights ``(d, k)`` and bias ``(k,)`` (sum over classes is 0)."""

    weights: np.ndarray
    bias: np.ndarray

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        logits = np.asarray(X, dtype=np.float64) @ self.weights + self.bias
        return np.exp(logits - logsumexp(logits, axis=1, keepdims=True))

    def export(self, image_shape: Sequence[int]) -> dict:
        """The white-box format, so MI-Face can invert the copy."""
        layer = {"weights": self.weights, "bias": self.bias, "activation": "softmax"}
        return {"layers": [layer], "image_shape": list(image_shape)}


def centred(weights: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Remove the shift shared by all classes (what extraction can recover)."""
    return weights - weights.mean(axis=1, keepdims=True), bias - bias.mean()


def equation_queries(n_features: int, extra: int = 0, seed: int = 0) -> np.ndarray:
    """x = 0, the unit vectors, then ``extra`` uniform random images."""
    rng = np.random.default_rng(seed)
    canonical = np.vstack([np.zeros(n_features), np.eye(n_features)])
    return np.vstack([canonical, rng.random((extra, n_features))]).astype(np.float32)


def solve_softmax(
    X: np.ndarray, P: np.ndarray, profile: DefenseProfile | None = None, rounds: int = 30
) -> ExtractedSoftmax:
    """Least-squares softmax parameters from queries ``X`` and returned ``P``."""
    profile = detect(P) if profile is None else profile
    X = np.asarray(X, dtype=np.float64)
    design = np.hstack([X, np.ones((len(X), 1))])
    observed = P > 0
    cap = np.log(profile.floor)
    log_p = np.where(observed, np.log(np.where(observed, P, 1.0)), cap - 1.0)
    gram = design.T @ design
    gram[np.diag_indices_from(gram)] += 1e-9 * np.trace(gram) / len(gram)
    factor = cho_factor(gram)
    for _ in range(rounds if not observed.all() else 1):
        target = log_p - log_p.mean(axis=1, keepdims=True)
        theta = cho_solve(factor, design.T @ target)
        logits = design @ theta
        predicted = logits - logsumexp(logits, axis=1, keepdims=True)
        log_p = np.where(observed, log_p, np.minimum(predicted, cap))
    return ExtractedSoftmax(*centred(theta[:-1], theta[-1]))


def extract_softmax(
    oracle: Oracle, n_features: int, extra_queries: int = 0, seed: int = 0
) -> tuple[ExtractedSoftmax, DefenseProfile]:
    """Query the canonical design (plus random images) and solve; d + 1 + extra rows."""
    X = equation_queries(n_features, extra_queries, seed)
    P = query_all(oracle, X)
    profile = detect(P)
    return solve_softmax(X, P, profile), profile


def smooth_images(n: int, basis: DctBasis, generator: torch.Generator) -> torch.Tensor:
    """Random images with random low-frequency content and contrast, in [0, 1]."""
    coefficients = torch.randn(n, basis.dimension, generator=generator)
    coefficients *= torch.rand(n, 1, generator=generator) * 4
    images = basis.synthesise(coefficients)
    return torch.sigmoid(images * 4 + torch.randn(n, 1, generator=generator))


class DctProjection(nn.Module):
    """The surrogate's fixed first layer: the image's low-frequency DCT coefficients, separably."""

    def __init__(self, basis: DctBasis) -> None:
        super().__init__()
        self.basis = basis

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.basis.analyse(x)


class Surrogate(nn.Sequential):
    """Sigmoid MLP on the image's DCT coefficients (a fixed first projection); outputs logits.

    The projection runs separably (``DctBasis.analyse``): training and the MI-Face
    runs against the surrogate cost a fourteenth of a dense 10304 x 256 product.
    """

    def __init__(self, basis: DctBasis, n_classes: int, hidden: int = 256) -> None:
        super().__init__(
            DctProjection(basis), nn.Linear(basis.dimension, hidden), nn.Sigmoid(), nn.Linear(hidden, n_classes)
        )
        self.basis = basis

    @property
    def projection(self) -> DctProjection:
        return self[0]

    @property
    def head(self) -> nn.Sequential:
        """Everything after the projection: what training updates."""
        return nn.Sequential(*list(self)[1:])

    def white_box(self, image_shape: Sequence[int]) -> WhiteBoxModel:
        """The copy as MI-Face inverts it, projection kept separable."""
        return WhiteBoxModel.from_network(nn.Sequential(*self, nn.Softmax(dim=1)), image_shape)

    def export(self, image_shape: Sequence[int]) -> dict:
        """The white-box download format: the projection folds into the first layer."""
        hidden, out = self[1], self[3]
        first = (self.basis.dense() @ hidden.weight.T).detach().numpy()
        return {
            "layers": [
                {"weights": first, "bias": hidden.bias.detach().numpy(), "activation": "sigmoid"},
                {"weights": out.weight.detach().numpy().T, "bias": out.bias.detach().numpy(), "activation": "softmax"},
            ],
            "image_shape": list(image_shape),
        }


def _train(model: Surrogate, X: torch.Tensor, P: torch.Tensor, epochs: int, seed: int) -> float:
    """Soft-label cross-entropy against the returned vectors, minibatch Adam.

    The projection has no parameters, so the coefficients are computed once, not every epoch.
    """
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    target = P / P.sum(dim=1, keepdim=True).clamp_min(1e-12)
    with torch.no_grad():
        features = model.projection(X)
    head = model.head
    loss = torch.tensor(0.0)
    for _ in range(epochs):
        for batch in torch.randperm(len(X), generator=generator).split(256):
            optimiser.zero_grad()
            log_q = torch.log_softmax(head(features[batch]), dim=1)
            loss = -(target[batch] * log_q).sum(dim=1).mean()
            loss.backward()
            optimiser.step()
    return float(loss.detach())


def _trajectory_samples(
    model: Surrogate,
    n_classes: int,
    n: int,
    basis: DctBasis,
    generator: torch.Generator,
) -> torch.Tensor:
    """``n`` images along MI-Face runs against the surrogate, from random smooth starts."""
    classifier = nn.Sequential(model, nn.Softmax(dim=1))
    lengths = (10, 40, 160)
    samples = []
    for i, alpha in enumerate(lengths):
        count = n // len(lengths) + (i < n % len(lengths))
        labels = torch.arange(count) % n_classes
        start = smooth_images(count, basis, generator)
        result = mi_face(WhiteBoxGradient(classifier), labels, start, MIFaceParams(alpha=alpha, gamma=0.999))
        samples.append(torch.as_tensor(result.x))
    X = torch.cat(samples)
    return (X + 0.05 * torch.randn(X.shape, generator=generator)).clamp(0, 1)


def fit_surrogate(
    oracle: Oracle,
    image_shape: tuple[int, int],
    queries: int = 20000,
    rounds: int = 3,
    basis_size: tuple[int, int] = (16, 16),
    hidden: int = 256,
    epochs: int = 20,
    seed: int = 0,
    progress: bool = False,
) -> tuple[Surrogate, dict]:
    """Train a surrogate on ``queries`` rows spent over ``rounds`` rounds.

    Round 1 queries random smooth images; later rounds query noisy best
    iterates of short MI-Face runs against the current surrogate, every class
    in turn, from random smooth starts.
    """
    generator = torch.Generator().manual_seed(seed)
    basis = DctBasis(image_shape, basis_size)
    n_classes = len(oracle.classes)
    with torch.random.fork_rng(devices=[]):  # the initial weights from ``seed``, not the global RNG
        torch.manual_seed(seed)
        model = Surrogate(basis, n_classes, hidden)
    per_round = queries // rounds
    inputs, answers, losses = [], [], []
    for round_index in trange(rounds, desc="surrogate rounds", disable=not progress, leave=False):
        if round_index == 0:
            X = smooth_images(per_round, basis, generator)
        else:
            X = _trajectory_samples(model, n_classes, per_round, basis, generator)
        P = query_all(oracle, X.numpy())
        inputs.append(X.float())
        answers.append(torch.as_tensor(P, dtype=torch.float32))
        losses.append(_train(model, torch.cat(inputs), torch.cat(answers), epochs, seed + round_index))
    model.requires_grad_(False)
    info = {"rows": int(sum(len(x) for x in inputs)), "rounds": rounds, "final_losses": losses}
    return model, info
