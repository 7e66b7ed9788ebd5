"""Parsing and validating the declarative defence spec.

A spec is a JSON list of steps applied in order (``[]`` is no defence), each step
an object naming exactly one defence:

    {"round": r}                                   r in [1e-12, 1]
    {"noise": "gaussian" | "laplace", "scale": s}  s in [0, 1]; optional
                                                   "deterministic": true/false
    {"top_k": k}                                   integer k >= 1
    {"label_only": true}
    {"cutoff": c}                                  c in (0, 1]
    {"reverse_sigmoid": {"beta": b, "gamma": g}}   b > 0, g > 0

Specs come from users configuring a service, so every problem is reported as a
``DefenseSpecError`` that names the step and says what was expected.
"""

from __future__ import annotations

import difflib
import json
import math
import numbers
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

import numpy as np

from defenses.noise import NOISE_KINDS
from defenses.pipeline import Pipeline
from defenses.steps import Cutoff, LabelOnly, Noise, ReverseSigmoid, Round, Step, TopK

MIN_ROUND = 1e-12
"""Finer grids are meaningless for float confidences and would overflow p / r."""

KINDS = ("round", "noise", "top_k", "label_only", "cutoff", "reverse_sigmoid")
_COMPANIONS = {"noise": ("scale", "deterministic")}


class DefenseSpecError(ValueError):
    """A defence spec that cannot be used; the message says which step and why."""

    def __init__(self, message: str, step: int | None = None) -> None:
        self.step = step
        super().__init__(message if step is None else f"step {step}: {message}")


def parse_spec(spec: str | bytes | list[Any] | tuple[Any, ...]) -> Pipeline:
    """A validated ``Pipeline`` from a spec list or its JSON text."""
    steps = _load(spec)
    return Pipeline(tuple(_parse_step(index, step) for index, step in enumerate(steps)))


def _load(spec: Any) -> list[Any] | tuple[Any, ...]:
    if isinstance(spec, (str, bytes, bytearray)):
        try:
            spec = json.loads(spec, object_pairs_hook=_no_duplicates)
        except json.JSONDecodeError as error:
            raise DefenseSpecError(f"spec is not valid JSON: {error}") from None
    if not isinstance(spec, (list, tuple)):
        raise DefenseSpecError(f"spec must be a list of steps ([] for no defence), got {_show(spec)}")
    return spec


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    for key in keys:
        if keys.count(key) > 1:
            raise DefenseSpecError(f"spec repeats the key {_show(key)} within one object")
    return dict(pairs)


def _parse_step(index: int, step: Any) -> Step:
    if not isinstance(step, Mapping):
        raise DefenseSpecError(f'must be an object such as {{"round": 0.01}}, got {_show(step)}', index)
    kinds = [key for key in KINDS if key in step]
    if not kinds:
        raise DefenseSpecError(_no_kind_message(step), index)
    if len(kinds) > 1:
        named = ", ".join(kinds)
        raise DefenseSpecError(f"names more than one defence ({named}); use one step per defence", index)
    kind = kinds[0]
    allowed = (kind, *_COMPANIONS.get(kind, ()))
    for key in step:
        if key not in allowed:
            raise DefenseSpecError(_unknown_key_message(kind, key, allowed), index)
    return _PARSERS[kind](index, step)


def _parse_round(index: int, step: Mapping[str, Any]) -> Round:
    r = _real(step["round"])
    if r is None or not MIN_ROUND <= r <= 1:
        _fail(index, "round must be a number in [1e-12, 1]", step["round"])
    return Round(r)


def _parse_noise(index: int, step: Mapping[str, Any]) -> Noise:
    kind = step["noise"]
    if not isinstance(kind, str) or kind not in NOISE_KINDS:
        _fail(index, 'noise must be "gaussian" or "laplace"', kind)
    if "scale" not in step:
        raise DefenseSpecError('noise needs a "scale" (a number in [0, 1])', index)
    scale = _real(step["scale"])
    if scale is None or not 0 <= scale <= 1:
        _fail(index, "scale must be a number in [0, 1]", step["scale"])
    deterministic = step.get("deterministic", False)
    if not isinstance(deterministic, (bool, np.bool_)):
        _fail(index, "deterministic must be true or false", deterministic)
    return Noise(kind, scale, bool(deterministic))


def _parse_top_k(index: int, step: Mapping[str, Any]) -> TopK:
    k = step["top_k"]
    if _is_bool(k) or not isinstance(k, numbers.Integral) or k < 1:
        _fail(index, "top_k must be an integer >= 1", k)
    return TopK(int(k))


def _parse_label_only(index: int, step: Mapping[str, Any]) -> LabelOnly:
    if step["label_only"] is not True:
        _fail(index, "label_only must be true (leave the step out to disable it)", step["label_only"])
    return LabelOnly()


def _parse_cutoff(index: int, step: Mapping[str, Any]) -> Cutoff:
    c = _real(step["cutoff"])
    if c is None or not 0 < c <= 1:
        _fail(index, "cutoff must be a number in (0, 1]", step["cutoff"])
    return Cutoff(c)


def _parse_reverse_sigmoid(index: int, step: Mapping[str, Any]) -> ReverseSigmoid:
    params = step["reverse_sigmoid"]
    if not isinstance(params, Mapping):
        _fail(index, 'reverse_sigmoid must be an object {"beta": b, "gamma": g}', params)
    for key in params:
        if key not in ("beta", "gamma"):
            raise DefenseSpecError(_unknown_key_message("reverse_sigmoid", key, ("beta", "gamma")), index)
    values = []
    for name in ("beta", "gamma"):
        if name not in params:
            raise DefenseSpecError(f'reverse_sigmoid needs "{name}" (a number > 0)', index)
        value = _real(params[name])
        if value is None or value <= 0:
            _fail(index, f"reverse_sigmoid {name} must be a number > 0", params[name])
        values.append(value)
    return ReverseSigmoid(*values)


_PARSERS: dict[str, Callable[[int, Mapping[str, Any]], Step]] = {
    "round": _parse_round,
    "noise": _parse_noise,
    "top_k": _parse_top_k,
    "label_only": _parse_label_only,
    "cutoff": _parse_cutoff,
    "reverse_sigmoid": _parse_reverse_sigmoid,
}


def _real(value: Any) -> float | None:
    """The value as a finite float, or None for bools, non-numbers, NaN and inf."""
    if _is_bool(value) or not isinstance(value, numbers.Real):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _is_bool(value: Any) -> bool:
    return isinstance(value, (bool, np.bool_))


def _fail(index: int, expectation: str, value: Any) -> NoReturn:
    raise DefenseSpecError(f"{expectation}, got {_show(value)}", index)


def _no_kind_message(step: Mapping[Any, Any]) -> str:
    expected = ", ".join(KINDS)
    if not step:
        return f"is empty; expected one of {expected}"
    key = next(iter(step))
    for kind, companions in _COMPANIONS.items():
        if key in companions:
            return f"{_show(key)} belongs to a {kind} step, which needs {_show(kind)}"
    return f"unknown defence {_show(key)}{_suggest(key, KINDS)}; expected one of {expected}"


def _unknown_key_message(kind: str, key: Any, allowed: tuple[str, ...]) -> str:
    listed = ", ".join(_show(name) for name in allowed)
    return f"{kind} has unknown key {_show(key)}{_suggest(key, allowed)}; it takes {listed}"


def _suggest(key: Any, names: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(str(key), names, n=1)
    return f" (did you mean {_show(close[0])}?)" if close else ""


def _show(value: Any) -> str:
    """A value as the user wrote it (JSON where possible), shortened."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
