"""Gradients of MI-Face's cost c(x) = 1 - f_label(x), white-box or from queries.

Each estimator is called with the current iterates ``x`` (m, d) and their
labels (m,) and returns ``(log f (m,), gradient (m, d))`` at ``x``: the log
confidence (float64) for Algorithm 1's decisions (see ``mi_face``), and the
gradient of the objective descended.

``log_gradient``: descend -log f_label instead of 1 - f_label. The direction is
the same (the gradient of c divided by f), but the step does not vanish where
f is tiny: at the blank image x0 = 0, a softmax whose bias favours one class
gives the others f ~ 1e-10, and the paper's gradient never moves them.
Algorithm 1's stopping rule and best-iterate choice do not depend on it. The
black-box estimators put every label's queries into one oracle batch per step
(split only past ``max_batch_bytes``), because the service is fast for big
batches and slow per request.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.fft import idct

from attack_clients.faces.defense_profile import FLOAT32_SMALLEST
from attack_clients.oracle import MAX_BATCH_BYTES, Oracle, query_all

TINY = 1e-300


class DctBasis:
    """Orthonormal low-frequency 2-D DCT basis of ``image_shape`` images, ``size`` coefficients.

    Faces live mostly in low frequencies; searching there cuts the dimension a
    zeroth-order estimator must explore from thousands of pixels to a few hundred.
    The basis is separable (image = R^T Z C for coefficients Z), so synthesising
    n images costs n*h*a*(b + w) operations instead of the dense n*h*w*a*b.
    """

    def __init__(self, image_shape: tuple[int, int], size: tuple[int, int] = (16, 16)) -> None:
        """``size`` is capped at the image's own shape (a 16x16 basis of 8x8 digits is 8x8)."""
        h, w = image_shape
        size = (min(size[0], h), min(size[1], w))
        self.image_shape = (h, w)
        self.size = size
        self.rows = torch.as_tensor(idct(np.eye(h)[: size[0]], axis=1, norm="ortho"), dtype=torch.float32)
        self.cols = torch.as_tensor(idct(np.eye(w)[: size[1]], axis=1, norm="ortho"), dtype=torch.float32)

    @property
    def dimension(self) -> int:
        return self.size[0] * self.size[1]

    def synthesise(self, coefficients: torch.Tensor) -> torch.Tensor:
        """Flattened images ``(..., h*w)`` from coefficients ``(..., a*b)``."""
        lead = coefficients.shape[:-1]
        z = coefficients.reshape(-1, *self.size)
        images = self.rows.T @ z @ self.cols
        return images.reshape(*lead, self.image_shape[0] * self.image_shape[1])

    def analyse(self, images: torch.Tensor) -> torch.Tensor:
        """Coefficients ``(n, a*b)`` of flattened images ``(n, h*w)``: ``images @ dense()``, separably."""
        x = images.reshape(-1, *self.image_shape)
        return (self.rows @ x @ self.cols.T).reshape(len(x), self.dimension)

    def dense(self) -> torch.Tensor:
        """The basis as a ``(h*w, a*b)`` matrix with orthonormal columns."""
        return self.synthesise(torch.eye(self.dimension)).T.contiguous()


def dct_basis(image_shape: tuple[int, int], size: tuple[int, int] = (16, 16)) -> torch.Tensor:
    """The dense ``(h*w, a*b)`` matrix of :class:`DctBasis`."""
    return DctBasis(image_shape, size).dense()


def query_confidence(
    oracle: Oracle, X: torch.Tensor | np.ndarray, labels: torch.Tensor, max_batch_bytes: int = MAX_BATCH_BYTES
) -> torch.Tensor:
    """Returned confidence of ``labels[i]`` for row ``X[i]``, in as few batches as fit.

    In float64: the stopping rule compares log f, which must survive f ~ 1e-26.
    """
    rows = X.detach().numpy() if isinstance(X, torch.Tensor) else X
    probabilities = query_all(oracle, rows, max_batch_bytes)
    picked = probabilities[np.arange(len(probabilities)), labels.numpy()]
    return torch.as_tensor(picked, dtype=torch.float64)


def descent_value(confidence: torch.Tensor, log_gradient: bool, floor: float) -> torch.Tensor:
    """What the black-box estimators difference: 1 - f, or -log f floored at ``floor``.

    A rounding defence reports f < r/2 as 0, so the floor should be r/2 there.
    """
    if log_gradient:
        return -torch.log(confidence.clamp_min(floor))
    return 1.0 - confidence


class WhiteBoxGradient:
    """Exact gradient through the downloaded network, all labels at once.

    ``classifier`` ends with its softmax; the log-probabilities come from the
    logits before it, so -log f stays finite where f underflows. A stack of dense
    layers with sigmoid activations (every downloaded model) is differentiated by
    hand, one matrix product per layer each way and no autograd graph per step;
    any other network (an extraction surrogate) goes through autograd.
    """

    rows_per_point = 0

    def __init__(self, classifier: torch.nn.Sequential, log_gradient: bool = False) -> None:
        self.logits = classifier[:-1]
        self.log_gradient = log_gradient
        self.dense = _dense_sigmoid_layers(self.logits)

    def __call__(self, x: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.dense is not None:
            return self._by_hand(x, labels, self.dense)
        x = x.detach().requires_grad_(True)
        log_f = torch.log_softmax(self.logits(x), dim=1).gather(1, labels[:, None])[:, 0]
        confidence = log_f.exp()
        (grad,) = torch.autograd.grad((log_f if self.log_gradient else confidence).sum(), x)
        return log_f.detach().double(), -grad

    def _by_hand(
        self, x: torch.Tensor, labels: torch.Tensor, layers: list[tuple[torch.Tensor, torch.Tensor]]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Backpropagation written out: d log f / d logits = onehot - p, d f = f (onehot - p)."""
        hidden = [x]
        for weight, bias in layers[:-1]:
            hidden.append(torch.sigmoid(torch.addmm(bias, hidden[-1], weight.T)))
        weight, bias = layers[-1]
        log_p = torch.log_softmax(torch.addmm(bias, hidden[-1], weight.T), dim=1)
        log_f = log_p.gather(1, labels[:, None])[:, 0]
        delta = log_p.exp_().neg_()
        delta.scatter_add_(1, labels[:, None], torch.ones(len(labels), 1))
        if not self.log_gradient:
            delta.mul_(log_f.exp()[:, None])
        for (weight, _), activation in zip(reversed(layers[1:]), reversed(hidden[1:]), strict=True):
            delta = (delta @ weight).mul_(activation).mul_(1 - activation)
        return log_f.double(), (delta @ layers[0][0]).neg_()


def _dense_sigmoid_layers(logits: torch.nn.Sequential) -> list[tuple[torch.Tensor, torch.Tensor]] | None:
    """``(weight, bias)`` of each layer when ``logits`` is Linear (Sigmoid Linear)*, else None."""
    modules = list(logits)
    linear, sigmoid = modules[0::2], modules[1::2]
    if not (
        len(modules) % 2 == 1
        and all(type(m) is torch.nn.Linear and m.bias is not None for m in linear)
        and all(type(m) is torch.nn.Sigmoid for m in sigmoid)
    ):
        return None
    return [(m.weight.detach(), m.bias.detach()) for m in linear]


class ZerothOrderGradient:
    """Antithetic random-direction estimate of the gradient inside a basis.

    ``u = B z`` with ``z ~ N(0, I_K)``, so ``E[u u^T] = B B^T`` and the estimate
    ``mean_j (c(x + δu_j) - c(x - δu_j)) / (2δ) u_j`` is unbiased for the
    gradient projected onto span(B) (up to curvature and clipping). Each point
    costs ``1 + 2 * directions`` rows. The confidence reported for the stopping
    rule is the centre's f(x), or with ``smooth_cost`` the mean over the centre
    and all probes: the Gaussian-smoothed value the estimator follows, which a
    rounding defence blurs less (the probes dither the grid) and whose plateaus
    do not end the search by Algorithm 1's β-window. A large ``delta`` keeps
    differences above a rounding defence's grid.

    The probes are written straight into the float32 array that goes on the
    wire, and the estimate is summed in coefficient space, then synthesised
    once: at 112x92 pixels the client would otherwise spend longer building and
    copying probes than the service spends answering them.
    """

    def __init__(
        self,
        oracle: Oracle,
        basis: DctBasis,
        directions: int = 8,
        delta: float = 0.5,
        seed: int | None = None,
        smooth_cost: bool = False,
        log_gradient: bool = False,
        floor: float = FLOAT32_SMALLEST,
        max_batch_bytes: int = MAX_BATCH_BYTES,
    ) -> None:
        self.oracle = oracle
        self.basis = basis
        self.smooth_cost = smooth_cost
        self.log_gradient = log_gradient
        self.floor = floor
        self.directions = directions
        self.delta = delta
        self.max_batch_bytes = max_batch_bytes
        self.rows_per_point = 1 + 2 * directions
        self.generator = torch.Generator().manual_seed(0 if seed is None else seed)

    def __call__(self, x: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        m, d = x.shape
        q = self.directions
        z = torch.randn(m, q, self.basis.dimension, generator=self.generator)
        u = self.basis.synthesise(z)
        rows = np.empty((m * (1 + 2 * q), d), dtype=np.float32)
        batch = torch.from_numpy(rows)
        batch[:m] = x
        for sign, probes in ((1.0, batch[m : m + m * q]), (-1.0, batch[m + m * q :])):
            torch.add(x[:, None], u, alpha=sign * self.delta, out=probes.view(m, q, d)).clamp_(0, 1)
        rep = labels.repeat_interleave(q)
        confidence = query_confidence(self.oracle, rows, torch.cat([labels, rep, rep]), self.max_batch_bytes)
        value = descent_value(confidence, self.log_gradient, self.floor)
        slope = ((value[m : m + m * q] - value[m + m * q :]).reshape(m, q) / (2 * self.delta)).float()
        centre = confidence[:m]
        if self.smooth_cost:
            centre = (centre + confidence[m:].reshape(2, m, q).sum(dim=(0, 2))) / (1 + 2 * q)
        gradient = self.basis.synthesise(torch.einsum("mq,mqk->mk", slope, z) / q)
        return torch.log(centre.clamp_min(TINY)), gradient


class FiniteDifferenceGradient:
    """One-sided finite differences, pixel by pixel.

    Each point costs ``1 + n`` rows, ``n`` the number of coordinates probed:
    all pixels by default (4097 rows per label per step at 64x64), or a random
    subset of ``coordinates`` per step (block coordinate descent: only those
    pixels move). The difference goes forward, or backward where ``x + step``
    would leave [0, 1]. A ``step`` below a rounding defence's grid sees zeros.
    """

    def __init__(
        self,
        oracle: Oracle,
        step: float = 0.01,
        coordinates: int | None = None,
        seed: int | None = None,
        log_gradient: bool = False,
        floor: float = FLOAT32_SMALLEST,
        max_batch_bytes: int = MAX_BATCH_BYTES,
    ) -> None:
        self.oracle = oracle
        self.step = step
        self.coordinates = coordinates
        self.log_gradient = log_gradient
        self.floor = floor
        self.max_batch_bytes = max_batch_bytes
        self.generator = torch.Generator().manual_seed(0 if seed is None else seed)
        self.rows_per_point = 0 if coordinates is None else 1 + coordinates

    def __call__(self, x: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        m, d = x.shape
        n = d if self.coordinates is None else min(self.coordinates, d)
        self.rows_per_point = 1 + n
        if n == d:
            coords = torch.arange(d).expand(m, d)
        else:
            coords = torch.rand(m, d, generator=self.generator).argsort(dim=1)[:, :n]
        start = x.gather(1, coords)
        sign = torch.where(start + self.step <= 1, 1.0, -1.0)
        owner = torch.arange(m).repeat_interleave(n)
        coord = coords.reshape(-1)
        value = (start + sign * self.step).reshape(-1)
        total = m + m * n
        per_batch = max(1, self.max_batch_bytes // (4 * d))
        confidence = []
        for first in range(0, total, per_batch):
            rows = torch.arange(first, min(total, first + per_batch))
            probe = rows[rows >= m] - m
            batch = torch.cat([x[rows[rows < m]], x[owner[probe]]])
            batch[len(batch) - len(probe) :].scatter_(1, coord[probe, None], value[probe, None])
            batch_labels = torch.cat([labels[rows[rows < m]], labels[owner[probe]]])
            confidence.append(query_confidence(self.oracle, batch, batch_labels, self.max_batch_bytes))
        confidence = torch.cat(confidence)
        value = descent_value(confidence, self.log_gradient, self.floor)
        slope = ((value[m:].reshape(m, n) - value[:m, None]) / (sign * self.step)).float()
        grad = torch.zeros(m, d).scatter_(1, coords, slope)
        return torch.log(confidence[:m].clamp_min(TINY)), grad
