"""Small local targets in the white-box format, for tests and benchmarks.

The real targets live behind the service; these stand-ins let the attacks be
measured on the same data without a server (wrap ``WhiteBoxModel.predict_proba``
in a ``LocalOracle``). Training is full-batch Adam from zero-mean small weights,
a few seconds on faces.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np
import torch
from torch import nn


def fit_dense_target(
    X: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    image_shape: Sequence[int],
    hidden: Sequence[int] = (),
    epochs: int = 300,
    lr: float = 0.01,
    weight_decay: float = 1e-4,
    seed: int = 0,
) -> dict:
    """A softmax regression (``hidden=()``) or sigmoid MLP, exported as layers."""
    torch.manual_seed(seed)
    sizes = [X.shape[1], *hidden, n_classes]
    linears = [nn.Linear(a, b) for a, b in pairwise(sizes)]
    modules: list[nn.Module] = []
    for linear in linears[:-1]:
        modules += [linear, nn.Sigmoid()]
    net = nn.Sequential(*modules, linears[-1])
    optimiser = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
    inputs = torch.as_tensor(X, dtype=torch.float32)
    targets = torch.as_tensor(y, dtype=torch.long)
    for _ in range(epochs):
        optimiser.zero_grad()
        loss = nn.functional.cross_entropy(net(inputs), targets)
        loss.backward()
        optimiser.step()
    activations = ["sigmoid"] * len(hidden) + ["softmax"]
    return {
        "layers": [
            {
                "weights": linear.weight.detach().numpy().T.copy(),
                "bias": linear.bias.detach().numpy().copy(),
                "activation": activation,
            }
            for linear, activation in zip(linears, activations, strict=True)
        ],
        "image_shape": list(image_shape),
    }
