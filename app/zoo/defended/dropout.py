"""Dropout: ``faces-mlp`` trained with dropout on its pixels and its hidden units."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from app.zoo.defended.base import Outcome, Variant, mlp_params


def train(X: np.ndarray, y: np.ndarray, n_classes: int, seed: int, params: Mapping[str, Any]) -> Outcome:
    """Inverted dropout while training, so the served (dropout-free) layers need no rescaling."""
    import torch
    from torch import nn

    from app.zoo.defended import fitting

    torch.manual_seed(seed)
    inputs, targets = fitting.tensors(X, y)
    hidden, output = nn.Linear(inputs.shape[1], params["hidden"]), nn.Linear(params["hidden"], n_classes)
    net = nn.Sequential(
        nn.Dropout(params["input_dropout"]), hidden, nn.Sigmoid(), nn.Dropout(params["hidden_dropout"]), output
    )

    def losses() -> tuple[torch.Tensor, torch.Tensor]:
        loss = nn.functional.cross_entropy(net(inputs), targets)
        return loss, loss

    epochs = fitting.fit_full_batch(net, losses, params)
    return Outcome([fitting.layer(hidden, "sigmoid"), fitting.layer(output, "softmax")], {"epochs": epochs})


PARAMS = mlp_params(input_dropout=0.2, hidden_dropout=0.5)
VARIANTS = (
    Variant(
        "mlp",
        "dropout",
        "dropout",
        f"dropout {PARAMS['input_dropout']:g} on the pixels and {PARAMS['hidden_dropout']:g} on the hidden units",
        PARAMS,
        train,
    ),
)
