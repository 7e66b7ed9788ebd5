"""Differentiable augmentation (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training").

With about 200 photos a discriminator memorises the training set within a few
hundred steps and its gradient stops teaching the generator anything. DiffAugment
applies the same random, differentiable transformations to real and generated
images before every discriminator pass (both when training D and when training
G), so D cannot memorise exact pixels and the generator still receives gradients
through the transformation. The policy is the paper's "color,translation,cutout"
for greyscale: brightness and contrast (saturation has no meaning here), a shift
of up to 1/8 of the image with zero padding, and one square cut out of half the side.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def brightness_contrast(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Add a brightness offset in [-0.5, 0.5) and scale contrast about the mean by [0.5, 1.5) (images in [-1, 1])."""
    n = len(x)
    x = x + (torch.rand(n, 1, 1, 1, generator=generator) - 0.5)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (torch.rand(n, 1, 1, 1, generator=generator) + 0.5) + mean


def translation(x: torch.Tensor, ratio: float = 0.125, generator: torch.Generator | None = None) -> torch.Tensor:
    """Shift each image by up to ``ratio`` of its size, filling with zeros (differentiable gather)."""
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sh, sh + 1, (n, 1, 1), generator=generator)
    dx = torch.randint(-sw, sw + 1, (n, 1, 1), generator=generator)
    rows = torch.clamp(torch.arange(h)[None, :, None] + dy + 1, 0, h + 1)
    cols = torch.clamp(torch.arange(w)[None, None, :] + dx + 1, 0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1])
    batch = torch.arange(n)[:, None, None]
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)


def cutout(x: torch.Tensor, ratio: float = 0.5, generator: torch.Generator | None = None) -> torch.Tensor:
    """Zero one square of ``ratio`` times the image's sides at a random place in each image."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    top = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), generator=generator) - ch // 2
    left = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), generator=generator) - cw // 2
    rows = torch.arange(h)[None, :, None]
    cols = torch.arange(w)[None, None, :]
    inside = (rows >= top) & (rows < top + ch) & (cols >= left) & (cols < left + cw)
    return x * (~inside)[:, None].to(x.dtype)


def diff_augment(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """The greyscale "color,translation,cutout" policy on images ``(n, 1, h, w)`` in [-1, 1]."""
    return cutout(translation(brightness_contrast(x, generator), generator=generator), generator=generator)
