"""MI-Face against a downloaded model (white-box) or through queries (black-box)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from attack_clients.faces.defense_profile import FLOAT32_SMALLEST
from attack_clients.faces.gradients import (
    DctBasis,
    FiniteDifferenceGradient,
    WhiteBoxGradient,
    ZerothOrderGradient,
)
from attack_clients.faces.mi_face import MIFaceParams, MIFaceResult, mi_face
from attack_clients.faces.network import WhiteBoxModel
from attack_clients.faces.priors import PriorSettings, image_prior
from attack_clients.faces.process import Process, dae_process, denoise_sharpen
from attack_clients.oracle import Oracle


@dataclass(frozen=True)
class BlackBoxSettings:
    """How the black-box attack estimates gradients (see ``gradients``).

    ``zo``: ``directions`` antithetic pairs per step in the ``basis`` lowest
    DCT frequencies, probe radius ``delta``, optionally reporting the smoothed
    cost (see ``ZerothOrderGradient``). ``log_gradient`` descends -log f with
    confidences floored at ``floor`` (r/2 under rounding; see ``gradients``). ``fd``: forward differences of
    ``fd_step`` on ``fd_coordinates`` random pixels per step (all if None).
    """

    estimator: Literal["zo", "fd"] = "zo"
    directions: int = 8
    delta: float = 0.5
    basis: tuple[int, int] = (16, 16)
    smooth_cost: bool = False
    log_gradient: bool = False
    floor: float = FLOAT32_SMALLEST
    fd_step: float = 0.01
    fd_coordinates: int | None = None
    seed: int = 0


DEFAULT_PARAMS = MIFaceParams()
DEFAULT_SETTINGS = BlackBoxSettings()
NO_PRIOR = PriorSettings()


def invert_white_box(
    export: Mapping[str, Any] | WhiteBoxModel,
    labels: Sequence[int],
    params: MIFaceParams = DEFAULT_PARAMS,
    process: Process | Literal["auto"] | None = "auto",
    progress: bool = False,
    log_gradient: bool = False,
    x0: np.ndarray | None = None,
    prior: PriorSettings = NO_PRIOR,
) -> tuple[np.ndarray, MIFaceResult]:
    """Reconstructions ``(m, h*w)`` from the downloaded layers, from pixels ``x0`` (default 0).

    ``process="auto"`` uses PROCESS-DAE (search in the DAE's code space) when
    the model has a decoder and the identity otherwise. ``log_gradient``: see
    ``gradients``. ``prior``: image priors (see ``priors``), pixel space only.
    """
    model = export if isinstance(export, WhiteBoxModel) else WhiteBoxModel(export)
    if prior.names and model.code_space:
        raise ValueError("image priors act on pixels, and this model's search runs in its DAE's code space")
    if process == "auto":
        process = dae_process(model) if model.code_space else None
    result = mi_face(
        WhiteBoxGradient(model.classifier, log_gradient),
        labels,
        model.start(len(labels)) if x0 is None else model.encode(torch.as_tensor(x0).float()),
        params,
        process=process,
        progress=progress,
        description="MI-Face white-box",
        prior=image_prior(prior, model.image_shape),
    )
    images = model.decode(torch.as_tensor(result.x)).numpy()
    return images, result


def black_box_estimator(
    oracle: Oracle, image_shape: tuple[int, int], settings: BlackBoxSettings
) -> ZerothOrderGradient | FiniteDifferenceGradient:
    """The gradient estimator ``settings`` names, bound to ``oracle``."""
    if settings.estimator == "fd":
        return FiniteDifferenceGradient(
            oracle,
            settings.fd_step,
            settings.fd_coordinates,
            seed=settings.seed,
            log_gradient=settings.log_gradient,
            floor=settings.floor,
        )
    if settings.estimator == "zo":
        size = (min(settings.basis[0], image_shape[0]), min(settings.basis[1], image_shape[1]))
        return ZerothOrderGradient(
            oracle,
            DctBasis(image_shape, size),
            settings.directions,
            settings.delta,
            settings.seed,
            settings.smooth_cost,
            settings.log_gradient,
            settings.floor,
        )
    raise ValueError(f"unknown estimator {settings.estimator!r}")


def invert_black_box(
    oracle: Oracle,
    labels: Sequence[int],
    image_shape: tuple[int, int],
    params: MIFaceParams = DEFAULT_PARAMS,
    settings: BlackBoxSettings = DEFAULT_SETTINGS,
    denoise: bool = False,
    progress: bool = False,
    x0: np.ndarray | None = None,
    prior: PriorSettings = NO_PRIOR,
) -> tuple[np.ndarray, MIFaceResult]:
    """Reconstructions ``(m, h*w)`` from prediction queries alone, from ``x0`` (default 0, Algorithm 1's).

    ``denoise`` applies the pixel-space PROCESS (non-local means and sharpening);
    ``prior``: image priors (see ``priors``), applied locally at no query.
    """
    estimator = black_box_estimator(oracle, image_shape, settings)
    process = denoise_sharpen(image_shape) if denoise else None
    start = torch.zeros(len(labels), int(np.prod(image_shape))) if x0 is None else torch.as_tensor(x0).float()
    result = mi_face(
        estimator,
        labels,
        start,
        params,
        process=process,
        progress=progress,
        description=f"MI-Face black-box ({settings.estimator})",
        prior=image_prior(prior, image_shape),
    )
    return result.x, result
