"""Reporting the label alone (see ``defenses.truncation``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from defenses.params import OnlyTrue, Param
from defenses.steps.base import Step, StepContext
from defenses.truncation import label_only


@dataclass(frozen=True)
class LabelOnly(Step):
    """Report the label alone, as a one-hot row."""

    kind: ClassVar[str] = "label_only"
    description: ClassVar[str] = "Report the label alone: a one-hot row, no confidences."
    params: ClassVar[tuple[Param, ...]] = (OnlyTrue(("label_only",), "always true"),)

    def apply(self, rows: np.ndarray, labels: np.ndarray, context: StepContext) -> np.ndarray:
        return label_only(rows, labels)


STEP = LabelOnly
