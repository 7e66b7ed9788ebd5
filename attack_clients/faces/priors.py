"""Image priors for MI-Face: what pulls the descent towards smooth, face-like images.

Algorithm 1 descends the classifier's cost alone, and the steepest way to a
label is often a high-frequency texture that the model scores highly and no
person resembles. Each prior pushes back in its own way:

- ``tv``: total variation, a gradient term added to the cost's gradient with a
  weight (penalises pixel-to-pixel jumps, keeps edges);
- ``lowpass``: each iterate projected onto its lowest k x k DCT coefficients
  (faces live in low frequencies);
- ``blur``: a Gaussian blur every N steps (a softer low-pass that lets detail
  regrow in between);
- ``contrast``: each image's pixels clipped to its own percentile range (cuts
  the isolated extreme pixels a texture is made of).

The priors act on pixels and cost no query: the black-box attack applies them
locally. The classifier's confidence alone drives Algorithm 1's stopping rule
and choice of the best iterate. With no prior named the descent is Algorithm 1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from scipy.ndimage import gaussian_filter

from attack_clients.faces.gradients import DctBasis

PRIORS = ("tv", "lowpass", "blur", "contrast")
TV_EPSILON = 1e-3
"""Smooths |∇x| at 0 so that TV has a gradient on flat regions (the blank start is one)."""

Estimator = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


@dataclass(frozen=True)
class PriorSettings:
    """Which priors are on (``names``, any of ``PRIORS``) and each one's parameter.

    The defaults are mild on purpose: on a faces-softmax stand-in a TV weight of
    0.05 held black-box MI-Face's confidence near 0.17 (the β-window stopped it),
    and 0.01 or a 16 x 16 low-pass halved white-box identification.
    """

    names: tuple[str, ...] = ()
    tv_weight: float = 0.001
    lowpass: int = 32
    blur_every: int = 50
    blur_sigma: float = 1.0
    contrast: tuple[float, ...] = (1.0, 99.0)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.names) - set(PRIORS))
        if unknown:
            raise ValueError(f"unknown image prior(s) {unknown}: choose from {list(PRIORS)}")
        if self.tv_weight < 0 or self.lowpass < 1 or self.blur_every < 1 or self.blur_sigma <= 0:
            raise ValueError("tv_weight >= 0, lowpass >= 1, blur_every >= 1 and blur_sigma > 0")
        if len(self.contrast) != 2 or not 0 <= self.contrast[0] < self.contrast[1] <= 100:
            raise ValueError(f"contrast percentiles must satisfy 0 <= low < high <= 100, not {self.contrast}")

    def describe(self) -> dict[str, object]:
        """The priors on and their parameters, for ``results.json``."""
        parameters = {
            "tv": {"tv_weight": self.tv_weight},
            "lowpass": {"lowpass": self.lowpass},
            "blur": {"blur_every": self.blur_every, "blur_sigma": self.blur_sigma},
            "contrast": {"contrast": list(self.contrast)},
        }
        return {name: parameters[name] for name in PRIORS if name in self.names}


def total_variation(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Smoothed isotropic TV of images ``(m, h, w)`` and its gradient.

    TV(x) = sum over pixels of sqrt(dx^2 + dy^2 + ε^2), forward differences,
    zero past the last row and column.
    """
    dx = torch.zeros_like(images)
    dy = torch.zeros_like(images)
    dx[:, :, :-1] = images[:, :, 1:] - images[:, :, :-1]
    dy[:, :-1, :] = images[:, 1:, :] - images[:, :-1, :]
    norm = torch.sqrt(dx * dx + dy * dy + TV_EPSILON**2)
    gx, gy = dx / norm, dy / norm
    grad = -gx - gy
    grad[:, :, 1:] += gx[:, :, :-1]
    grad[:, 1:, :] += gy[:, :-1, :]
    return norm.sum(dim=(1, 2)), grad


def lowpass(images: torch.Tensor, basis: DctBasis) -> torch.Tensor:
    """Flattened images ``(m, h*w)`` projected onto ``basis`` (orthonormal, so the projection is exact)."""
    return basis.synthesise(basis.analyse(images))


def gaussian_blur(images: torch.Tensor, image_shape: tuple[int, int], sigma: float) -> torch.Tensor:
    """Each flattened image blurred; reflected borders keep every image's mean."""
    stack = images.reshape(-1, *image_shape).numpy()
    blurred = gaussian_filter(stack, sigma=(0, sigma, sigma), mode="reflect")
    return torch.as_tensor(blurred.reshape(len(images), -1), dtype=images.dtype)


def clip_contrast(images: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """Each flattened image clipped to its own [low, high] percentiles."""
    bounds = torch.quantile(images, torch.tensor([low / 100, high / 100], dtype=images.dtype), dim=1)
    return torch.minimum(torch.maximum(images, bounds[0][:, None]), bounds[1][:, None])


class ImagePrior:
    """The priors ``settings`` switches on, for ``image_shape`` images: a gradient term and a projection."""

    def __init__(self, settings: PriorSettings, image_shape: tuple[int, int]) -> None:
        self.settings = settings
        self.image_shape = (int(image_shape[0]), int(image_shape[1]))
        self.basis = DctBasis(self.image_shape, (settings.lowpass, settings.lowpass))

    def on(self, name: str) -> bool:
        return name in self.settings.names

    def regularised(self, estimator: Estimator) -> Estimator:
        """``estimator`` with the weighted TV gradient added (itself when TV is off)."""
        if not self.on("tv") or self.settings.tv_weight == 0:
            return estimator
        weight = self.settings.tv_weight

        def with_tv(x: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            log_f, grad = estimator(x, labels)
            _, tv_grad = total_variation(x.reshape(-1, *self.image_shape))
            return log_f, grad + weight * tv_grad.reshape(grad.shape)

        return with_tv

    def project(self, x: torch.Tensor, step: int) -> torch.Tensor:
        """Iterate ``x`` after descent step ``step``: low-passed, blurred every N steps, contrast-clipped."""
        if self.on("lowpass"):
            x = lowpass(x, self.basis)
        if self.on("blur") and step % self.settings.blur_every == 0:
            x = gaussian_blur(x, self.image_shape, self.settings.blur_sigma)
        if self.on("contrast"):
            x = clip_contrast(x, *self.settings.contrast)
        return x


def image_prior(settings: PriorSettings, image_shape: tuple[int, int]) -> ImagePrior | None:
    """The prior, or None when no prior is on (Algorithm 1 unchanged)."""
    return ImagePrior(settings, image_shape) if settings.names else None


def parse_priors(value: str) -> tuple[str, ...]:
    """``--prior tv,lowpass``: the names, checked; empty means none."""
    names = tuple(v.strip() for v in value.split(",") if v.strip())
    PriorSettings(names)
    return names


def parse_percentiles(value: str) -> tuple[float, float]:
    """``--contrast 1,99``: the low and high percentiles."""
    parts = [float(v) for v in value.split(",")]
    if len(parts) != 2:
        raise ValueError(f"two percentiles, low,high: not {value!r}")
    return (parts[0], parts[1])
