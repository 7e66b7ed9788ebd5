"""Training of the three image architectures of the 2015 study, in torch.

Only training imports this module: the result is handed back as float32 numpy
layers, so the processes that serve the models never load torch.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from app.zoo.images import Layer


@dataclass
class Trained:
    """Served layers, the decoder (DAE only) and how long each phase ran."""

    layers: list[Layer]
    decoder: list[Layer] = field(default_factory=list)
    iterations: dict[str, int] = field(default_factory=dict)


def _tensors(X: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32)), torch.from_numpy(y).long()


def _layer(linear: nn.Linear, activation: str) -> Layer:
    """A torch Linear (out, in) as a numpy Layer (in, out)."""
    weights = linear.weight.detach().T.contiguous().numpy().astype(np.float32)
    return Layer(weights, linear.bias.detach().numpy().astype(np.float32), activation)


def train_softmax(X: np.ndarray, y: np.ndarray, n_classes: int, seed: int, params: Mapping[str, Any]) -> Trained:
    """Multinomial logistic regression with L2, full-batch L-BFGS (a convex fit)."""
    torch.manual_seed(seed)
    inputs, targets = _tensors(X, y)
    linear = nn.Linear(inputs.shape[1], n_classes)
    nn.init.zeros_(linear.weight)
    nn.init.zeros_(linear.bias)
    optimiser = torch.optim.LBFGS(
        linear.parameters(),
        max_iter=params["max_iter"],
        line_search_fn="strong_wolfe",
        tolerance_grad=1e-9,
        tolerance_change=1e-12,
        history_size=20,
    )

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        loss = nn.functional.cross_entropy(linear(inputs), targets)
        loss = loss + params["l2"] / 2 * linear.weight.pow(2).sum()
        loss.backward()
        return loss

    optimiser.step(closure)
    iterations = optimiser.state_dict()["state"][0]["n_iter"]
    return Trained([_layer(linear, "softmax")], iterations={"lbfgs": iterations})


def _fit(
    module: nn.Module, loss_fn: Callable[[], torch.Tensor], epochs: int, lr: float, l2: float, stop_below: float = 0.0
) -> int:
    """Full-batch Adam (a few hundred images are one batch) until the loss is below
    ``stop_below`` or ``epochs`` have run; returns the number of epochs run."""
    optimiser = torch.optim.Adam(module.parameters(), lr=lr, weight_decay=l2, fused=True)
    for epoch in range(1, epochs + 1):
        optimiser.zero_grad()
        loss = loss_fn()
        if loss.item() < stop_below:
            return epoch - 1
        loss.backward()
        optimiser.step()
    return epochs


def train_mlp(X: np.ndarray, y: np.ndarray, n_classes: int, seed: int, params: Mapping[str, Any]) -> Trained:
    """One hidden layer of sigmoid units, softmax output, cross-entropy."""
    torch.manual_seed(seed)
    inputs, targets = _tensors(X, y)
    hidden = nn.Linear(inputs.shape[1], params["hidden"])
    output = nn.Linear(params["hidden"], n_classes)
    net = nn.Sequential(hidden, nn.Sigmoid(), output)
    epochs = _fit(
        net,
        lambda: nn.functional.cross_entropy(net(inputs), targets),
        params["max_epochs"],
        params["lr"],
        params["l2"],
        params["stop_loss"],
    )
    return Trained([_layer(hidden, "sigmoid"), _layer(output, "softmax")], iterations={"epochs": epochs})


def _mask(inputs: torch.Tensor, fraction: float) -> torch.Tensor:
    """Masking corruption: a random ``fraction`` of each input's values set to 0."""
    return inputs * (torch.rand_like(inputs) >= fraction)


def train_dae(X: np.ndarray, y: np.ndarray, n_classes: int, seed: int, params: Mapping[str, Any]) -> Trained:
    """Stacked denoising autoencoder: layer-wise denoising pretraining, fine-tuning.

    Fine-tuning moves the encoder, so the decoder is then refitted (encoder
    frozen) to reconstruct the clean images from the fine-tuned codes: the
    PROCESS-DAE step of MI-Face needs a decoder that inverts the served encoder.
    The decoder layers come in the order they apply, from the code to the image.
    """
    torch.manual_seed(seed)
    inputs, targets = _tensors(X, y)
    sizes = [inputs.shape[1], *params["hidden"]]
    encoders = [nn.Linear(a, b) for a, b in itertools.pairwise(sizes)]
    decoders = [nn.Linear(b, a) for a, b in itertools.pairwise(sizes)]

    level = inputs
    for encoder, decoder in zip(encoders, decoders, strict=True):
        clean = level

        def denoise(encoder=encoder, decoder=decoder, clean=clean) -> torch.Tensor:
            code = torch.sigmoid(encoder(_mask(clean, params["mask_fraction"])))
            return nn.functional.binary_cross_entropy_with_logits(decoder(code), clean)

        pair = nn.ModuleList([encoder, decoder])
        _fit(pair, denoise, params["pretrain_epochs"], params["pretrain_lr"], params["l2"])
        with torch.no_grad():
            level = torch.sigmoid(encoder(clean))

    output = nn.Linear(sizes[-1], n_classes)
    classifier = nn.Sequential(*(m for e in encoders for m in (e, nn.Sigmoid())), output)
    finetune_epochs = _fit(
        classifier,
        lambda: nn.functional.cross_entropy(classifier(inputs), targets),
        params["finetune_max_epochs"],
        params["finetune_lr"],
        params["l2"],
        params["stop_loss"],
    )

    with torch.no_grad():
        code = classifier[:-1](inputs)
    *upper, bottom = decoders[::-1]
    generator = nn.Sequential(*(m for d in upper for m in (d, nn.Sigmoid())), bottom)
    _fit(
        generator,
        lambda: nn.functional.binary_cross_entropy_with_logits(generator(code), inputs),
        params["decoder_epochs"],
        params["decoder_lr"],
        params["l2"],
    )
    return Trained(
        layers=[*(_layer(encoder, "sigmoid") for encoder in encoders), _layer(output, "softmax")],
        decoder=[_layer(decoder, "sigmoid") for decoder in decoders[::-1]],
        iterations={
            "pretrain_epochs_per_layer": params["pretrain_epochs"],
            "finetune_epochs": finetune_epochs,
            "decoder_epochs": params["decoder_epochs"],
        },
    )
