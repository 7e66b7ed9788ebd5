"""MID, mutual-information regularisation (Wang et al., "Improving Robustness to Model
Inversion Attacks via Mutual Information Regularization", AAAI 2021).

A variational information bottleneck between ``faces-mlp``'s hidden layer and its
output: the hidden units give the mean and spread of a ``bottleneck``-dimensional
Gaussian code, the classifier reads a sample of it, and ``beta`` times the code's KL
divergence from N(0, I) (an upper bound on the information it carries about the
input) is added to the loss. Served deterministically from the code's mean, so the
code's linear map and the classifier fold into one layer: the served model is a
3000-sigmoid, softmax network like ``faces-mlp``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from app.zoo.defended.base import Outcome, Variant, mlp_params


def train(X: np.ndarray, y: np.ndarray, n_classes: int, seed: int, params: Mapping[str, Any]) -> Outcome:
    """Full-batch Adam on cross-entropy + beta * KL; stops on the cross-entropy of the sampled code."""
    import torch
    from torch import nn

    from app.zoo.defended import fitting

    torch.manual_seed(seed)
    inputs, targets = fitting.tensors(X, y)
    k = params["bottleneck"]
    hidden = nn.Linear(inputs.shape[1], params["hidden"])
    statistics = nn.Linear(params["hidden"], 2 * k)
    output = nn.Linear(k, n_classes)
    net = nn.ModuleList([hidden, statistics, output])
    generator = torch.Generator().manual_seed(seed)

    def losses() -> tuple[torch.Tensor, torch.Tensor]:
        stats = statistics(torch.sigmoid(hidden(inputs)))
        mean, spread = stats[:, :k], nn.functional.softplus(stats[:, k:] - 5)  # MID's parametrisation
        code = mean + spread * torch.randn(mean.shape, generator=generator)
        cross_entropy = nn.functional.cross_entropy(output(code), targets)
        kl = 0.5 * (mean.pow(2) + spread.pow(2) - 2 * torch.log(spread + 1e-8) - 1).sum(dim=1).mean()
        return cross_entropy + params["beta"] * kl, cross_entropy

    epochs = fitting.fit_full_batch(net, losses, params)
    with torch.no_grad():
        mean_weights, mean_bias = statistics.weight[:k], statistics.bias[:k]
        folded = output.weight @ mean_weights
        folded_bias = output.weight @ mean_bias + output.bias
    return Outcome(
        [fitting.layer(hidden, "sigmoid"), fitting.dense(folded, folded_bias, "softmax")], {"epochs": epochs}
    )


PARAMS = mlp_params(bottleneck=128, beta=0.01)
VARIANTS = (
    Variant(
        "mlp",
        "mid",
        "mid",
        f"MID information bottleneck: {PARAMS['bottleneck']}-dimensional code, beta {PARAMS['beta']:g}",
        PARAMS,
        train,
    ),
)
