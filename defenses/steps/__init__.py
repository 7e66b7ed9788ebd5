"""The registry of defence steps: one module per step, each exporting its class as ``STEP``.

Adding a step is one new module here (a ``Step`` subclass, see ``base``) and its
name in ``STEP_MODULES``; the spec parser, the canonical spec, the operator page's
step editor and the property tests all read the registry.
"""

from __future__ import annotations

from importlib import import_module

from defenses.steps.base import Step, StepContext

STEP_MODULES = ("round", "noise", "top_k", "label_only", "cutoff", "reverse_sigmoid")
"""The registered steps, in the order error messages and the step listing name them."""

STEPS: tuple[type[Step], ...] = tuple(import_module(f"{__name__}.{name}").STEP for name in STEP_MODULES)
BY_KIND: dict[str, type[Step]] = {step.kind: step for step in STEPS}
KINDS: tuple[str, ...] = tuple(BY_KIND)

__all__ = ["BY_KIND", "KINDS", "STEPS", "STEP_MODULES", "Step", "StepContext"]
