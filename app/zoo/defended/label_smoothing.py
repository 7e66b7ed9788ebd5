"""Negative label smoothing (Struppek et al., "Be Careful What You Smooth For", ICLR 2024).

Targets ``(1 - alpha) * one_hot + alpha / classes`` with ``alpha < 0``: the model is
pushed to be *over*-confident on the training labels, which flattens the confidence
landscape away from them and leaves gradient-based inversion little slope to climb.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from app.zoo.defended.base import Outcome, Variant, mlp_params


def train(X: np.ndarray, y: np.ndarray, n_classes: int, seed: int, params: Mapping[str, Any]) -> Outcome:
    """Full-batch Adam on the smoothed cross-entropy; stops on the plain cross-entropy like the zoo."""
    import torch
    from torch import nn

    from app.zoo.defended import fitting

    torch.manual_seed(seed)
    inputs, targets = fitting.tensors(X, y)
    hidden, output = nn.Linear(inputs.shape[1], params["hidden"]), nn.Linear(params["hidden"], n_classes)
    net = nn.Sequential(hidden, nn.Sigmoid(), output)
    alpha = params["smoothing"]
    smoothed = (1 - alpha) * nn.functional.one_hot(targets, n_classes).float() + alpha / n_classes

    def losses() -> tuple[torch.Tensor, torch.Tensor]:
        log_p = nn.functional.log_softmax(net(inputs), dim=1)
        return -(smoothed * log_p).sum(dim=1).mean(), nn.functional.nll_loss(log_p, targets)

    epochs = fitting.fit_full_batch(net, losses, params)
    return Outcome([fitting.layer(hidden, "sigmoid"), fitting.layer(output, "softmax")], {"epochs": epochs})


PARAMS = mlp_params(smoothing=-0.05)
VARIANTS = (
    Variant("mlp", "nls", "negative-label-smoothing", f"label smoothing {PARAMS['smoothing']:g}", PARAMS, train),
)
