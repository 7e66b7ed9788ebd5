"""Weight decay: ``faces-mlp`` trained with an L2 penalty on every weight."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from app.zoo.defended.base import Outcome, Variant, mlp_params


def train(X: np.ndarray, y: np.ndarray, n_classes: int, seed: int, params: Mapping[str, Any]) -> Outcome:
    """Full-batch Adam on cross-entropy with ``l2`` added to each weight's gradient (Adam's weight_decay)."""
    import torch
    from torch import nn

    from app.zoo.defended import fitting

    torch.manual_seed(seed)
    inputs, targets = fitting.tensors(X, y)
    hidden, output = nn.Linear(inputs.shape[1], params["hidden"]), nn.Linear(params["hidden"], n_classes)
    net = nn.Sequential(hidden, nn.Sigmoid(), output)

    def losses() -> tuple[torch.Tensor, torch.Tensor]:
        loss = nn.functional.cross_entropy(net(inputs), targets)
        return loss, loss

    epochs = fitting.fit_full_batch(net, losses, params)
    return Outcome([fitting.layer(hidden, "sigmoid"), fitting.layer(output, "softmax")], {"epochs": epochs})


PARAMS = mlp_params(l2=1e-2)
VARIANTS = (
    Variant("mlp", "wd", "weight-decay", f"L2 weight decay {PARAMS['l2']:g} on every weight", PARAMS, train),
)
