"""Additive noise, fresh per call or keyed on the input row (see ``defenses.noise``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from defenses.noise import NOISE_KINDS, add_noise, fresh_noise, keyed_noise, step_key
from defenses.params import Choice, Flag, Param, Real
from defenses.steps.base import Step, StepContext


@dataclass(frozen=True)
class Noise(Step):
    """Additive noise, clipped and renormalised (may change the label)."""

    distribution: str
    scale: float
    deterministic: bool = False
    kind: ClassVar[str] = "noise"
    changes_label: ClassVar[bool] = True
    description: ClassVar[str] = "Add Gaussian or Laplace noise to the confidences, then clip and renormalise."
    params: ClassVar[tuple[Param, ...]] = (
        Choice(("noise",), "distribution of the noise", attr="distribution", default="laplace", choices=NOISE_KINDS),
        Real(
            ("scale",),
            "standard deviation (gaussian) or scale (laplace)",
            attr="scale",
            default=0.01,
            minimum=0.0,
            maximum=1.0,
        ),
        Flag(
            ("deterministic",),
            "noise keyed on the input row (repeating a query gives the same answer); needs the model inputs",
            attr="deterministic",
            default=False,
            required=False,
        ),
    )

    @property
    def needs_inputs(self) -> bool:
        return self.deterministic

    def apply(self, rows: np.ndarray, labels: np.ndarray, context: StepContext) -> np.ndarray:
        if self.deterministic:
            if context.row_digests is None:
                raise ValueError(
                    f"step {context.index}: deterministic noise needs the model inputs; "
                    "call apply(probabilities, inputs=...)"
                )
            key = step_key(context.seed, context.index)
            noise = keyed_noise(self.distribution, self.scale, key, context.row_digests, rows.shape[1])
        else:
            noise = fresh_noise(self.distribution, self.scale, rows.shape, context.seed_sequence)
        return add_noise(rows, noise)


STEP = Noise
