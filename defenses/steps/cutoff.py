"""Capping confidences at c (see ``defenses.truncation``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from defenses.params import Param, Real
from defenses.steps.base import Step, StepContext
from defenses.truncation import cutoff


@dataclass(frozen=True)
class Cutoff(Step):
    """Cap confidences at c (never changes the label)."""

    c: float
    kind: ClassVar[str] = "cutoff"
    description: ClassVar[str] = "Report confidences above c as c (no renormalisation)."
    params: ClassVar[tuple[Param, ...]] = (
        Real(("cutoff",), "the cap c", attr="c", default=0.9, minimum=0.0, maximum=1.0, exclusive_minimum=True),
    )

    def apply(self, rows: np.ndarray, labels: np.ndarray, context: StepContext) -> np.ndarray:
        return cutoff(rows, self.c)


STEP = Cutoff
