"""What a training-time defence is: a variant of a zoo architecture trained another way.

A variant module (one file under ``app/zoo/defended/``) exports ``VARIANTS``, each a
``Variant`` with its hyper-parameters and a ``train`` function. Those modules import
torch only inside ``train``: the serving processes read the registry to list the
models and never load torch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.zoo.images import Layer


@dataclass
class Outcome:
    """The served layers of a defended network, how long it trained and what its defence reports."""

    layers: list[Layer]
    iterations: dict[str, int]
    facts: dict[str, Any] = field(default_factory=dict)
    """Figures only training knows, e.g. the privacy budget spent (``epsilon``, ``delta``)."""


TrainFunction = Callable[[np.ndarray, np.ndarray, int, int, Mapping[str, Any]], Outcome]
"""``train(X, y, n_classes, seed, params) -> Outcome`` on the training rows."""


@dataclass(frozen=True)
class Variant:
    """One defence of one architecture, served as ``faces-<architecture>-<suffix>``."""

    architecture: str
    suffix: str
    defense: str
    """The kind of defence (``dp-sgd``, ``weight-decay``, ...), as listings and metadata name it."""
    summary: str
    """One sentence for operators: what was changed in training, with the key hyper-parameters."""
    params: Mapping[str, Any]
    train: TrainFunction

    @property
    def name(self) -> str:
        return f"faces-{self.architecture}-{self.suffix}"

    @property
    def base_model(self) -> str:
        """The undefended zoo model with the same inputs and classes."""
        return f"faces-{self.architecture}"


def mlp_params(**changes: Any) -> dict[str, Any]:
    """``faces-mlp``'s training (3000 sigmoid units, full-batch Adam) with ``changes``.

    Regularisers keep the loss above the zoo's stopping point, so every variant stops
    after at most 100 epochs (the zoo's AT&T MLP stops after about 50).
    """
    from app.zoo.catalog import IMAGE_PARAMS

    return {**IMAGE_PARAMS["mlp"], "max_epochs": 100, **changes}
