"""Training of the split network (Titcombe et al. 2021's setting), in torch.

The device stage is a few small strided convolutions whose last one covers the whole
remaining map, so the device sends ``filters[-1]`` numbers at 1x1 (the seed used 32
channels); the service stage is one hidden dense layer and a softmax. Like the other
image architectures the result comes back as numpy layers, so serving never loads torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from app.zoo.face_train import Trained, _fit, _layer, _tensors
from app.zoo.images import Conv2d

LARGE_IMAGE = 32
"""From this side length on, the first two convolutions take 4x4 steps (AT&T, Olivetti); below it, the
8x8 digits get a 3x3 then a 2x2 stride-2 convolution."""


def conv_plan(image_shape: tuple[int, int], depth: int) -> list[tuple[int, int, int]]:
    """(kernel_h, kernel_w, stride) of each of ``depth`` convolutions; the last one ends at 1x1."""
    h, w = image_shape
    steps = [(4, 4, 4)] * (depth - 1) if min(h, w) >= LARGE_IMAGE else [(3, 3, 1), (2, 2, 2)][: depth - 1]
    plan = []
    for kh, kw, stride in steps:
        plan.append((kh, kw, stride))
        h, w = (h - kh) // stride + 1, (w - kw) // stride + 1
    return [*plan, (h, w, 1)]


def _conv(module: nn.Conv2d, in_shape: tuple[int, int, int], stride: int) -> Conv2d:
    weights = module.weight.detach().contiguous().numpy().astype(np.float32)
    return Conv2d(weights, module.bias.detach().numpy().astype(np.float32), "relu", in_shape, stride)


def train_split(
    X: np.ndarray, y: np.ndarray, n_classes: int, seed: int, params: Mapping[str, Any], image_shape: tuple[int, int]
) -> Trained:
    """Device convolutions (ReLU) and a dense service stage, trained together end to end."""
    torch.manual_seed(seed)
    inputs, targets = _tensors(X, y)
    images = inputs.reshape(len(inputs), 1, *image_shape)
    filters = list(params["filters"])
    plan = conv_plan(image_shape, len(filters))
    convs = [
        nn.Conv2d(c_in, c_out, (kh, kw), stride=stride)
        for c_in, c_out, (kh, kw, stride) in zip([1, *filters[:-1]], filters, plan, strict=True)
    ]
    hidden = nn.Linear(filters[-1], params["hidden"])
    output = nn.Linear(params["hidden"], n_classes)
    device = nn.Sequential(*(m for conv in convs for m in (conv, nn.ReLU())), nn.Flatten())
    net = nn.Sequential(device, hidden, nn.ReLU(), output)
    epochs = _fit(
        net,
        lambda: nn.functional.cross_entropy(net(images), targets),
        params["max_epochs"],
        params["lr"],
        params["l2"],
        params["stop_loss"],
    )
    shapes = [(1, *image_shape)]
    for conv, (kh, kw, stride) in zip(convs, plan, strict=True):
        _, h, w = shapes[-1]
        shapes.append((conv.out_channels, (h - kh) // stride + 1, (w - kw) // stride + 1))
    layers = [_conv(conv, shape, stride) for conv, shape, (_, _, stride) in zip(convs, shapes[:-1], plan, strict=True)]
    return Trained([*layers, _layer(hidden, "relu"), _layer(output, "softmax")], iterations={"epochs": epochs})
