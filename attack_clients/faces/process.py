"""PROCESS hooks for MI-Face: what is done to each iterate after its step.

Algorithm 1 uses the identity, except on the stacked denoising autoencoder,
where PROCESS-DAE decodes the code to an image, denoises it with non-local
means, sharpens it and re-encodes it (paper, Algorithm 2). ``denoise_sharpen``
is the same clean-up in pixel space, usable against any model (and black-box).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from skimage.filters import unsharp_mask
from skimage.restoration import denoise_nl_means

from attack_clients.faces.network import WhiteBoxModel

Process = Callable[[torch.Tensor], torch.Tensor]


def denoise_sharpen_images(
    images: np.ndarray, image_shape: tuple[int, int], h: float = 0.05, amount: float = 1.0
) -> np.ndarray:
    """Non-local-means denoising then an unsharp mask, image by image, in [0, 1]."""
    out = np.empty_like(images)
    for i, row in enumerate(images):
        image = row.reshape(image_shape).astype(np.float64)
        image = denoise_nl_means(image, h=h, patch_size=3, patch_distance=5, fast_mode=True)
        image = unsharp_mask(image, radius=1.0, amount=amount)
        out[i] = np.clip(image, 0, 1).reshape(-1)
    return out


def denoise_sharpen(image_shape: tuple[int, int], h: float = 0.05, amount: float = 1.0) -> Process:
    """PROCESS for pixel-space iterates."""

    def process(x: torch.Tensor) -> torch.Tensor:
        cleaned = denoise_sharpen_images(x.numpy(), image_shape, h, amount)
        return torch.as_tensor(cleaned, dtype=x.dtype)

    return process


def dae_process(model: WhiteBoxModel, h: float = 0.05, amount: float = 1.0) -> Process:
    """PROCESS-DAE for code-space iterates: decode, denoise, sharpen, re-encode."""
    clean = denoise_sharpen(model.image_shape, h, amount)

    def process(code: torch.Tensor) -> torch.Tensor:
        return model.encode(clean(model.decode(code)))

    return process
