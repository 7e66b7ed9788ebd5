"""Rounding to a grid of step r (see ``defenses.rounding``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from defenses.params import Param, Real
from defenses.rounding import round_to_grid
from defenses.steps.base import Step, StepContext

MIN_ROUND = 1e-12
"""Finer grids are meaningless for float confidences and would overflow p / r."""


@dataclass(frozen=True)
class Round(Step):
    """Round to the grid of r (never changes the label)."""

    r: float
    kind: ClassVar[str] = "round"
    description: ClassVar[str] = "Round every confidence to the nearest multiple of r in [0, 1]."
    params: ClassVar[tuple[Param, ...]] = (
        Real(
            ("round",),
            "grid step r",
            attr="r",
            default=0.01,
            minimum=MIN_ROUND,
            maximum=1.0,
            log_scale=True,
            marks=(0.001, 0.005, 0.01, 0.05),
        ),
    )

    def apply(self, rows: np.ndarray, labels: np.ndarray, context: StepContext) -> np.ndarray:
        return round_to_grid(rows, self.r)


STEP = Round
