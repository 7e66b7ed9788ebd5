"""DP-SGD (Abadi et al., CCS 2016) with Opacus: per-sample clipping, Gaussian noise.

Each step draws a Poisson sample of the training rows (rate ``sample_rate``; the
expected batch is ``batch_size``), clips each row's gradient to ``max_grad_norm``,
adds N(0, (noise_multiplier * max_grad_norm)^2) to their sum, and takes a plain SGD
step. Opacus's RDP accountant gives the (epsilon, delta) spent over every step.

Per-sample gradients are never materialised: Opacus's ghost clipping computes each
row's gradient norm from the layer's inputs and output gradients, then a second
backward pass sums the clipped gradients. ``faces-mlp``'s 3000 hidden units on
10,304 pixels (31M weights) would still cost about 17 s per epoch on two cores that
way, so the DP MLP has ``DP_MLP_HIDDEN`` hidden units (3.1M weights, ~1 s per epoch).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.zoo.defended.base import Outcome, Variant

NOISE_MULTIPLIERS = (0.3, 0.5, 0.7, 1.0)
"""The seed's three, and one larger."""
DELTA = 1e-5
DP_MLP_HIDDEN = 300
COMMON: dict[str, Any] = {
    "optimizer": "sgd",
    "sample_rate": 0.1,
    "epochs": 15,
    "max_grad_norm": 1.0,
    "delta": DELTA,
    "accountant": "rdp",
    "clipping": "per-sample (Opacus ghost clipping)",
    "poisson_sampling": True,
}
ARCHITECTURE_PARAMS: dict[str, dict[str, Any]] = {
    "softmax": {"lr": 0.5},
    "mlp": {"lr": 0.5, "hidden": DP_MLP_HIDDEN},
}


def expected_batch(rows: int, sample_rate: float) -> int:
    """The batch size whose Poisson sampling has ``sample_rate`` (Opacus: 1 / batches per epoch)."""
    return max(1, round(sample_rate * rows))


def steps(rows: int, params: Mapping[str, Any]) -> int:
    """Optimiser steps of a run: one per batch of an epoch (``ceil(rows / batch)``), every epoch."""
    return params["epochs"] * -(-rows // expected_batch(rows, params["sample_rate"]))


@dataclass(frozen=True)
class PrivateRun:
    """What a DP-SGD run spent: its steps, its epsilon, and the batching the accountant saw."""

    steps: int
    epsilon: float
    batch_size: int
    sample_rate: float

    def facts(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The run's privacy facts, as every DP model's metadata carries them."""
        return {
            "epsilon": self.epsilon,
            "delta": params["delta"],
            "noise_multiplier": params["noise_multiplier"],
            "max_grad_norm": params["max_grad_norm"],
            "epochs": params["epochs"],
            "batch_size": self.batch_size,
            "sample_rate": self.sample_rate,
            "steps": self.steps,
            "accountant": params["accountant"],
        }


def fit_privately(
    net: Any, inputs: Any, targets: Any, optimizer: Any, params: Mapping[str, Any], seed: int, ghost: bool
) -> PrivateRun:
    """Train ``net`` (torch) with Opacus's DP-SGD on Poisson batches; ``ghost`` clipping for dense stacks.

    Ghost clipping never materialises per-sample gradients but needs Opacus's loss
    wrapper; the default hooks clip through any layer (convolutions included).
    """
    import warnings

    import torch
    from opacus import PrivacyEngine
    from torch import nn

    batch = expected_batch(len(inputs), params["sample_rate"])
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(inputs, targets),
        batch_size=batch,
        generator=torch.Generator().manual_seed(seed),
    )
    # Opacus warns that secure_mode is off (a seeded generator is the point here), that its
    # backward hooks fire on outputs, and that RDP's best order is the smallest at large epsilon.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        engine = PrivacyEngine(accountant=params["accountant"])
        made = engine.make_private(
            module=net,
            optimizer=optimizer,
            data_loader=loader,
            criterion=nn.CrossEntropyLoss(),
            noise_multiplier=params["noise_multiplier"],
            max_grad_norm=params["max_grad_norm"],
            grad_sample_mode="ghost" if ghost else "hooks",
            poisson_sampling=params["poisson_sampling"],
            noise_generator=torch.Generator().manual_seed(seed + 1),
        )
        if ghost:
            private, optimiser, criterion, loader = made
        else:
            (private, optimiser, loader), criterion = made, nn.functional.cross_entropy
        taken = 0
        for _ in range(params["epochs"]):
            for xb, yb in loader:
                optimiser.zero_grad()
                criterion(private(xb), yb).backward()
                optimiser.step()
                taken += 1
        epsilon = float(engine.get_epsilon(params["delta"]))
    return PrivateRun(taken, epsilon, batch, 1 / len(loader))


def train(X: np.ndarray, y: np.ndarray, n_classes: int, seed: int, params: Mapping[str, Any]) -> Outcome:
    """Softmax regression (no ``hidden``) or one sigmoid hidden layer, trained with DP-SGD."""
    import torch
    from torch import nn

    from app.zoo.defended import fitting

    torch.manual_seed(seed)
    inputs, targets = fitting.tensors(X, y)
    if "hidden" in params:
        linears = [nn.Linear(inputs.shape[1], params["hidden"]), nn.Linear(params["hidden"], n_classes)]
        net = nn.Sequential(linears[0], nn.Sigmoid(), linears[1])
        activations = ["sigmoid", "softmax"]
    else:
        linears = [nn.Linear(inputs.shape[1], n_classes)]
        net = nn.Sequential(linears[0])
        activations = ["softmax"]
    optimizer = torch.optim.SGD(net.parameters(), lr=params["lr"])
    run = fit_privately(net, inputs, targets, optimizer, params, seed, ghost=True)
    return Outcome(
        [fitting.layer(linear, activation) for linear, activation in zip(linears, activations, strict=True)],
        {"epochs": params["epochs"], "steps": run.steps},
        facts=run.facts(params),
    )


def _variant(architecture: str, noise_multiplier: float) -> Variant:
    params = {**COMMON, **ARCHITECTURE_PARAMS[architecture], "noise_multiplier": noise_multiplier}
    shape = f", {DP_MLP_HIDDEN} hidden units" if architecture == "mlp" else ""
    summary = (
        f"DP-SGD (Opacus): noise multiplier {noise_multiplier:g}, per-sample clipping at "
        f"{params['max_grad_norm']:g}, sample rate {params['sample_rate']:g}, {params['epochs']} epochs{shape}"
    )
    return Variant(architecture, f"dp-nm{noise_multiplier:g}", "dp-sgd", summary, params, train)


VARIANTS = tuple(_variant(arch, nm) for arch in ("softmax", "mlp") for nm in NOISE_MULTIPLIERS)
