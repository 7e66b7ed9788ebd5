"""Training of the split network (Titcombe et al. 2021's setting), in torch.

The device stage is a few small strided convolutions whose last one covers the whole
remaining map, so the device sends ``filters[-1]`` numbers at 1x1 (the seed used 32
channels); the service stage is one hidden dense layer and a softmax. Like the other
image architectures the result comes back as numpy layers, so serving never loads torch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from app.zoo.face_train import Trained, _fit, _layer, _tensors
from app.zoo.images import Conv2d, Layer

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


@dataclass(frozen=True)
class SplitNetwork:
    """The split network in torch, as both the zoo's and the DP-trained device models are built:
    ReLU convolutions down to ``filters[-1]`` features at 1x1, then one ReLU dense layer and the
    output (softmax when served). ``net`` maps ``(n, 1, h, w)`` images to logits."""

    image_shape: tuple[int, int]
    plan: list[tuple[int, int, int]]
    convs: list[nn.Conv2d]
    hidden: nn.Linear
    output: nn.Linear
    net: nn.Sequential

    @classmethod
    def build(
        cls, image_shape: tuple[int, int], filters: Sequence[int], hidden_units: int, n_classes: int
    ) -> SplitNetwork:
        """Fresh weights, drawn from torch's generator in layer order (seed it first)."""
        filters = list(filters)
        plan = conv_plan(image_shape, len(filters))
        convs = [
            nn.Conv2d(c_in, c_out, (kh, kw), stride=stride)
            for c_in, c_out, (kh, kw, stride) in zip([1, *filters[:-1]], filters, plan, strict=True)
        ]
        hidden = nn.Linear(filters[-1], hidden_units)
        output = nn.Linear(hidden_units, n_classes)
        device = nn.Sequential(*(m for conv in convs for m in (conv, nn.ReLU())), nn.Flatten())
        return cls(tuple(image_shape), plan, convs, hidden, output, nn.Sequential(device, hidden, nn.ReLU(), output))

    def images(self, rows: torch.Tensor) -> torch.Tensor:
        """Flat pixel rows as the ``(n, 1, h, w)`` batch ``net`` takes."""
        return rows.reshape(len(rows), 1, *self.image_shape)

    def layers(self) -> list[Layer]:
        """The trained network as served numpy layers: the convolutions, then the dense stage."""
        shapes = [(1, *self.image_shape)]
        for conv, (kh, kw, stride) in zip(self.convs, self.plan, strict=True):
            _, h, w = shapes[-1]
            shapes.append((conv.out_channels, (h - kh) // stride + 1, (w - kw) // stride + 1))
        convs = [
            _conv(conv, shape, stride)
            for conv, shape, (_, _, stride) in zip(self.convs, shapes[:-1], self.plan, strict=True)
        ]
        return [*convs, _layer(self.hidden, "relu"), _layer(self.output, "softmax")]


def train_split(
    X: np.ndarray, y: np.ndarray, n_classes: int, seed: int, params: Mapping[str, Any], image_shape: tuple[int, int]
) -> Trained:
    """Device convolutions (ReLU) and a dense service stage, trained together end to end."""
    torch.manual_seed(seed)
    inputs, targets = _tensors(X, y)
    network = SplitNetwork.build(image_shape, params["filters"], params["hidden"], n_classes)
    images = network.images(inputs)
    epochs = _fit(
        network.net,
        lambda: nn.functional.cross_entropy(network.net(images), targets),
        params["max_epochs"],
        params["lr"],
        params["l2"],
        params["stop_loss"],
    )
    return Trained(network.layers(), iterations={"epochs": epochs})
