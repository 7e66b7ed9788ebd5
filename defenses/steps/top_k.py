"""Keeping the k largest confidences of each row (see ``defenses.truncation``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from defenses.params import Integer, Param
from defenses.steps.base import Step, StepContext
from defenses.truncation import top_k


@dataclass(frozen=True)
class TopK(Step):
    """Keep the k largest confidences of each row (never changes the label)."""

    k: int
    kind: ClassVar[str] = "top_k"
    description: ClassVar[str] = "Keep the k largest confidences of each row (the label's among them); zero the rest."
    params: ClassVar[tuple[Param, ...]] = (
        Integer(("top_k",), "how many confidences to keep", attr="k", default=1, minimum=1),
    )

    def apply(self, rows: np.ndarray, labels: np.ndarray, context: StepContext) -> np.ndarray:
        return top_k(rows, labels, self.k)


STEP = TopK
