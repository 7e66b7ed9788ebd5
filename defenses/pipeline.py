"""A validated sequence of defence steps and the result of applying it.

Labels start as the argmax of the clean row (lowest index on ties). Steps that
may change the label (``Step.changes_label``: noise, reverse sigmoid) move it to
the argmax of their output, keeping the previous label when it ties for the top;
the others (rounding, top-k, label only, the cut-off) never touch it, even when
rounding creates ties.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from defenses.noise import row_digests
from defenses.rows import as_probabilities, relabel
from defenses.steps import Step, StepContext


@dataclass(frozen=True)
class Defended:
    """What the API reports after the defences: labels (n,) and confidences (n, k)."""

    labels: np.ndarray
    probabilities: np.ndarray


@dataclass(frozen=True)
class Pipeline:
    """Defence steps applied in order; build it with ``parse_spec``."""

    steps: tuple[Step, ...] = ()

    def __len__(self) -> int:
        return len(self.steps)

    @property
    def changes_label(self) -> bool:
        """True if any step may change the reported label (noise, reverse sigmoid)."""
        return any(step.changes_label for step in self.steps)

    @property
    def needs_inputs(self) -> bool:
        """True if a step (deterministic noise) needs the model inputs in ``apply``."""
        return any(step.needs_inputs for step in self.steps)

    def to_spec(self) -> list[dict[str, Any]]:
        """The canonical JSON-ready spec; ``parse_spec`` of it gives an equal pipeline."""
        return [step.to_spec() for step in self.steps]

    def apply(
        self, probabilities: np.ndarray, inputs: Any = None, seed: int | None = None, secret: int | None = None
    ) -> Defended:
        """Defend a batch, each row on its own.

        ``seed=None`` draws fresh noise; an integer seed makes the call
        reproducible. ``secret`` keys deterministic noise steps (the seed when
        None, seed 0 when both are None): a server passes its own fixed secret
        and ``seed=None``, so fresh noise stays fresh while deterministic noise
        cannot be recomputed by a client. ``inputs`` (one row per probability
        row) is only read by steps that need them (deterministic noise).

        No step is the service's hot path (every undefended prediction), so it
        returns the checked rows and their argmax without drawing an OS-seeded
        SeedSequence.
        """
        rows = as_probabilities(probabilities)
        seed = _check_seed(seed)
        key_seed = seed if secret is None else _check_seed(secret)
        if not self.steps:
            return Defended(labels=rows.argmax(axis=1).astype(np.int64), probabilities=rows)
        digests = None
        if self.needs_inputs:
            if inputs is None:
                raise ValueError(
                    "this pipeline has deterministic noise, which needs the model inputs: "
                    "call apply(probabilities, inputs=...)"
                )
            digests = row_digests(inputs, rows.shape[0])
        labels = rows.argmax(axis=1).astype(np.int64)
        streams = np.random.SeedSequence(seed).spawn(len(self.steps))
        for index, (step, stream) in enumerate(zip(self.steps, streams, strict=True)):
            rows = step.apply(rows, labels, StepContext(index, key_seed, stream, digests))
            if step.changes_label:
                labels = relabel(rows, labels)
        return Defended(labels=labels, probabilities=rows)


def _check_seed(seed: Any) -> int | None:
    if seed is None:
        return None
    if type(seed) is int and seed >= 0:  # the common case, without the slow ABC check below
        return seed
    if isinstance(seed, numbers.Integral) and not isinstance(seed, (bool, np.bool_)) and seed >= 0:
        return int(seed)
    raise ValueError(f"seed must be None or a non-negative integer, got {seed!r}")
