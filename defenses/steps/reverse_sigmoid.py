"""Lee et al.'s reverse sigmoid perturbation (see ``defenses.reverse_sigmoid``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from defenses.params import Param, Real
from defenses.reverse_sigmoid import reverse_sigmoid
from defenses.steps.base import Step, StepContext


@dataclass(frozen=True)
class ReverseSigmoid(Step):
    """Lee et al.'s deceptive perturbation (may change the label)."""

    beta: float
    gamma: float
    kind: ClassVar[str] = "reverse_sigmoid"
    changes_label: ClassVar[bool] = True
    description: ClassVar[str] = (
        "Subtract beta * (sigmoid(gamma * logit p) - 1/2) from each confidence, then clip and renormalise."
    )
    params: ClassVar[tuple[Param, ...]] = (
        Real(
            ("reverse_sigmoid", "beta"),
            "strength beta",
            attr="beta",
            default=0.5,
            minimum=0.0,
            exclusive_minimum=True,
        ),
        Real(
            ("reverse_sigmoid", "gamma"),
            "steepness gamma",
            attr="gamma",
            default=1.0,
            minimum=0.0,
            exclusive_minimum=True,
        ),
    )

    def apply(self, rows: np.ndarray, labels: np.ndarray, context: StepContext) -> np.ndarray:
        return reverse_sigmoid(rows, self.beta, self.gamma)


STEP = ReverseSigmoid
