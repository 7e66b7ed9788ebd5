"""The step objects a pipeline is made of: one small immutable class per defence.

Each step knows its canonical spec, whether it may change the label, and how to
apply itself to a batch given the current labels and the randomness of the call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from defenses.noise import add_noise, fresh_noise, keyed_noise, step_key
from defenses.reverse_sigmoid import reverse_sigmoid
from defenses.rounding import round_to_grid
from defenses.truncation import cutoff, label_only, top_k


@dataclass(frozen=True)
class StepContext:
    """What one step of one ``apply`` call may draw on besides the rows."""

    index: int
    seed: int | None
    seed_sequence: np.random.SeedSequence
    row_digests: list[bytes] | None


@dataclass(frozen=True)
class Round:
    """Round to the grid of r (never changes the label)."""

    r: float
    changes_label: ClassVar[bool] = False

    def to_spec(self) -> dict[str, Any]:
        return {"round": self.r}

    def apply(self, rows: np.ndarray, labels: np.ndarray, context: StepContext) -> np.ndarray:
        return round_to_grid(rows, self.r)


@dataclass(frozen=True)
class Noise:
    """Additive noise, fresh per call or keyed on the input row (may change the label)."""

    kind: str
    scale: float
    deterministic: bool = False
    changes_label: ClassVar[bool] = True

    def to_spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"noise": self.kind, "scale": self.scale}
        if self.deterministic:
            spec["deterministic"] = True
        return spec

    def apply(self, rows: np.ndarray, labels: np.ndarray, context: StepContext) -> np.ndarray:
        if self.deterministic:
            if context.row_digests is None:
                raise ValueError(
                    f"step {context.index}: deterministic noise needs the model inputs; "
                    "call apply(probabilities, inputs=...)"
                )
            key = step_key(context.seed, context.index)
            noise = keyed_noise(self.kind, self.scale, key, context.row_digests, rows.shape[1])
        else:
            noise = fresh_noise(self.kind, self.scale, rows.shape, context.seed_sequence)
        return add_noise(rows, noise)


@dataclass(frozen=True)
class TopK:
    """Keep the k largest confidences of each row (never changes the label)."""

    k: int
    changes_label: ClassVar[bool] = False

    def to_spec(self) -> dict[str, Any]:
        return {"top_k": self.k}

    def apply(self, rows: np.ndarray, labels: np.ndarray, context: StepContext) -> np.ndarray:
        return top_k(rows, labels, self.k)


@dataclass(frozen=True)
class LabelOnly:
    """Report the label alone, as a one-hot row."""

    changes_label: ClassVar[bool] = False

    def to_spec(self) -> dict[str, Any]:
        return {"label_only": True}

    def apply(self, rows: np.ndarray, labels: np.ndarray, context: StepContext) -> np.ndarray:
        return label_only(rows, labels)


@dataclass(frozen=True)
class Cutoff:
    """Cap confidences at c (never changes the label)."""

    c: float
    changes_label: ClassVar[bool] = False

    def to_spec(self) -> dict[str, Any]:
        return {"cutoff": self.c}

    def apply(self, rows: np.ndarray, labels: np.ndarray, context: StepContext) -> np.ndarray:
        return cutoff(rows, self.c)


@dataclass(frozen=True)
class ReverseSigmoid:
    """Lee et al.'s deceptive perturbation (may change the label)."""

    beta: float
    gamma: float
    changes_label: ClassVar[bool] = True

    def to_spec(self) -> dict[str, Any]:
        return {"reverse_sigmoid": {"beta": self.beta, "gamma": self.gamma}}

    def apply(self, rows: np.ndarray, labels: np.ndarray, context: StepContext) -> np.ndarray:
        return reverse_sigmoid(rows, self.beta, self.gamma)


Step = Round | Noise | TopK | LabelOnly | Cutoff | ReverseSigmoid
"""Any one parsed defence step."""
