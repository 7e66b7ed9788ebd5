"""Hypothesis strategies and settings shared by the defence tests; step specs come from the registry."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from defenses.params import Choice, Flag, Integer, OnlyTrue, Param, Real
from defenses.steps import STEPS, Step

FAST = settings(max_examples=25, deadline=None)


@st.composite
def probability_batches(draw: st.DrawFn, min_rows: int = 1, max_rows: int = 6, max_classes: int = 8) -> np.ndarray:
    """(n, k) rows summing to one, with exact zeros and ties now and then."""
    n = draw(st.integers(min_rows, max_rows))
    k = draw(st.integers(1, max_classes))
    elements = st.sampled_from([0.0, 0.5, 1.0]) | st.floats(0.0, 1.0)
    rows = draw(arrays(np.float64, (n, k), elements=elements))
    rows[rows.sum(axis=1) == 0, 0] = 1.0
    return rows / rows.sum(axis=1, keepdims=True)


UNBOUNDED_SPAN = 10
"""A number with no upper bound is drawn up to this many times its default."""
LEFT_OUT = object()


def param_values(param: Param) -> st.SearchStrategy[Any]:
    """Valid values of one step parameter, drawn from the range it declares."""
    if isinstance(param, Real):
        high = param.maximum if param.maximum is not None else UNBOUNDED_SPAN * param.default
        values = st.floats(
            param.minimum,
            high,
            exclude_min=param.exclusive_minimum,
            exclude_max=param.exclusive_maximum and param.maximum is not None,
        )
        return values | st.sampled_from(param.marks) if param.marks else values
    if isinstance(param, Integer):
        return st.integers(param.minimum, param.minimum + 9)
    if isinstance(param, Choice):
        return st.sampled_from(param.choices)
    if isinstance(param, Flag):
        return st.booleans()
    if isinstance(param, OnlyTrue):
        return st.just(True)
    raise TypeError(f"no strategy for {type(param).__name__}: add one here")


def _entry(param: Param) -> st.SearchStrategy[Any]:
    values = param_values(param)
    return values if param.required else st.just(LEFT_OUT) | values


def _assemble(params: tuple[Param, ...], values: tuple[Any, ...]) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    for param, value in zip(params, values, strict=True):
        if value is not LEFT_OUT:
            target = spec if len(param.path) == 1 else spec.setdefault(param.path[0], {})
            target[param.path[-1]] = value
    return spec


def step_specs(step: type[Step]) -> st.SearchStrategy[dict[str, Any]]:
    """Valid spec objects of one registered step, optional keys sometimes left out."""
    return st.tuples(*(_entry(param) for param in step.params)).map(lambda values: _assemble(step.params, values))


any_step = st.one_of(*(step_specs(step) for step in STEPS))
specs = st.lists(any_step, max_size=4)


def inputs_for(rows: np.ndarray, width: int = 3) -> np.ndarray:
    """Distinct, reproducible model inputs, one per probability row."""
    return np.arange(rows.shape[0] * width, dtype=np.float64).reshape(rows.shape[0], width) / 7.0
