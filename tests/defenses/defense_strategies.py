"""Hypothesis strategies and settings shared by the defence tests."""

from __future__ import annotations

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

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


round_steps = st.builds(lambda r: {"round": r}, st.floats(1e-3, 1.0) | st.sampled_from([0.005, 0.05, 0.03, 0.001]))
noise_steps = st.builds(
    lambda kind, scale, deterministic: {"noise": kind, "scale": scale, "deterministic": deterministic},
    st.sampled_from(["gaussian", "laplace"]),
    st.floats(0.0, 1.0),
    st.booleans(),
)
top_k_steps = st.builds(lambda k: {"top_k": k}, st.integers(1, 10))
label_only_steps = st.just({"label_only": True})
cutoff_steps = st.builds(lambda c: {"cutoff": c}, st.floats(0.01, 1.0))
reverse_sigmoid_steps = st.builds(
    lambda beta, gamma: {"reverse_sigmoid": {"beta": beta, "gamma": gamma}},
    st.floats(0.01, 2.0),
    st.floats(0.01, 5.0),
)
any_step = st.one_of(round_steps, noise_steps, top_k_steps, label_only_steps, cutoff_steps, reverse_sigmoid_steps)
specs = st.lists(any_step, max_size=4)


def inputs_for(rows: np.ndarray, width: int = 3) -> np.ndarray:
    """Distinct, reproducible model inputs, one per probability row."""
    return np.arange(rows.shape[0] * width, dtype=np.float64).reshape(rows.shape[0], width) / 7.0
