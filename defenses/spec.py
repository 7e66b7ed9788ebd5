"""Parsing and validating the declarative defence spec.

A spec is a JSON list of steps applied in order (``[]`` is no defence), each step
an object naming exactly one defence by its kind, e.g.:

    {"round": r}                                   r in [1e-12, 1]
    {"noise": "gaussian" | "laplace", "scale": s}  s in [0, 1]; optional
                                                   "deterministic": true/false
    {"top_k": k}                                   integer k >= 1
    {"label_only": true}
    {"cutoff": c}                                  c in (0, 1]
    {"reverse_sigmoid": {"beta": b, "gamma": g}}   b > 0, g > 0

The kinds and their parameters come from the step registry (``defenses.steps``);
``describe_steps`` lists them for clients that build specs. Specs come from users
configuring a service, so every problem is reported as a ``DefenseSpecError`` that
names the step and says what was expected.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from defenses.errors import DefenseSpecError, show, suggest
from defenses.pipeline import Pipeline
from defenses.steps import BY_KIND, KINDS, STEPS, Step
from defenses.steps.base import unknown_key_message


def parse_spec(spec: str | bytes | list[Any] | tuple[Any, ...]) -> Pipeline:
    """A validated ``Pipeline`` from a spec list or its JSON text."""
    steps = _load(spec)
    return Pipeline(tuple(_parse_step(index, step) for index, step in enumerate(steps)))


def describe_steps() -> list[dict[str, Any]]:
    """Every registered step with its parameters (name, type, range, default,
    companion keys, description), JSON-ready, in registry order."""
    return [step.describe() for step in STEPS]


def _load(spec: Any) -> list[Any] | tuple[Any, ...]:
    if isinstance(spec, (str, bytes, bytearray)):
        try:
            spec = json.loads(spec, object_pairs_hook=_no_duplicates)
        except json.JSONDecodeError as error:
            raise DefenseSpecError(f"spec is not valid JSON: {error}") from None
    if not isinstance(spec, (list, tuple)):
        raise DefenseSpecError(f"spec must be a list of steps ([] for no defence), got {show(spec)}")
    return spec


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    for key in keys:
        if keys.count(key) > 1:
            raise DefenseSpecError(f"spec repeats the key {show(key)} within one object")
    return dict(pairs)


def _parse_step(index: int, step: Any) -> Step:
    if not isinstance(step, Mapping):
        raise DefenseSpecError(f'must be an object such as {{"round": 0.01}}, got {show(step)}', index)
    kinds = [key for key in KINDS if key in step]
    if not kinds:
        raise DefenseSpecError(_no_kind_message(step), index)
    if len(kinds) > 1:
        named = ", ".join(kinds)
        raise DefenseSpecError(f"names more than one defence ({named}); use one step per defence", index)
    step_class = BY_KIND[kinds[0]]
    allowed = (step_class.kind, *step_class.companions())
    for key in step:
        if key not in allowed:
            raise DefenseSpecError(unknown_key_message(step_class.kind, key, allowed), index)
    return step_class.from_spec(index, step)


def _no_kind_message(step: Mapping[Any, Any]) -> str:
    expected = ", ".join(KINDS)
    if not step:
        return f"is empty; expected one of {expected}"
    key = next(iter(step))
    for step_class in STEPS:
        if key in step_class.companions():
            return f"{show(key)} belongs to a {step_class.kind} step, which needs {show(step_class.kind)}"
    return f"unknown defence {show(key)}{suggest(key, KINDS)}; expected one of {expected}"
