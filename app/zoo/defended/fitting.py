"""Torch helpers shared by the defended trainers (imported only when training)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from app.zoo.images import Layer


def tensors(X: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32)), torch.from_numpy(y).long()


def dense(weights: torch.Tensor, bias: torch.Tensor, activation: str) -> Layer:
    """Torch (out, in) weights as a served numpy Layer (in, out)."""
    return Layer(
        weights.detach().T.contiguous().numpy().astype(np.float32), bias.detach().numpy().astype(np.float32),
        activation,
    )


def layer(linear: nn.Linear, activation: str) -> Layer:
    return dense(linear.weight, linear.bias, activation)


def fit_full_batch(
    module: nn.Module, losses: Callable[[], tuple[torch.Tensor, torch.Tensor]], params: Mapping[str, Any]
) -> int:
    """Full-batch Adam, as the zoo trains ``faces-mlp``: ``losses()`` gives (the loss to
    descend, the plain cross-entropy); stops once the cross-entropy is below
    ``stop_loss`` or after ``max_epochs``. Returns the epochs run."""
    optimiser = torch.optim.Adam(module.parameters(), lr=params["lr"], weight_decay=params.get("l2", 0.0))
    module.train()
    for epoch in range(1, params["max_epochs"] + 1):
        optimiser.zero_grad()
        loss, cross_entropy = losses()
        if cross_entropy.item() < params["stop_loss"]:
            return epoch - 1
        loss.backward()
        optimiser.step()
    return params["max_epochs"]
