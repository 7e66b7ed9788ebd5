"""What every defence step is: a small immutable class that describes itself.

A step class names its ``kind`` (the key that selects it in a spec), declares its
``params`` (which parse the spec, write the canonical spec and describe the step),
says whether it may change the label and whether it needs the model inputs, and
applies itself to a batch given the current labels and the randomness of the call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np

from defenses.errors import DefenseSpecError, show, suggest
from defenses.params import Param


@dataclass(frozen=True)
class StepContext:
    """What one step of one ``apply`` call may draw on besides the rows."""

    index: int
    seed: int | None
    seed_sequence: np.random.SeedSequence
    row_digests: list[bytes] | None


@dataclass(frozen=True)
class Step:
    """Base of every defence step; a subclass is a frozen dataclass whose fields are
    filled by its ``params`` (matched by ``Param.attr``)."""

    kind: ClassVar[str]
    description: ClassVar[str]
    params: ClassVar[tuple[Param, ...]]
    changes_label: ClassVar[bool] = False
    """True if the step may move the reported label (to the argmax of its output)."""

    @property
    def needs_inputs(self) -> bool:
        """True if ``apply`` reads the model inputs' digests (``StepContext.row_digests``)."""
        return False

    def apply(self, rows: np.ndarray, labels: np.ndarray, context: StepContext) -> np.ndarray:
        raise NotImplementedError

    @classmethod
    def companions(cls) -> tuple[str, ...]:
        """The keys besides ``kind`` that a step object of this kind may hold."""
        return tuple(param.path[0] for param in cls.params if param.path != (cls.kind,) and len(param.path) == 1)

    @classmethod
    def from_spec(cls, index: int, step: Mapping[str, Any]) -> Self:
        """The step from its spec object (already known to name this kind and no other key
        than ``kind`` and its companions); a ``DefenseSpecError`` says what is wrong."""
        fields = cls._fields_object(index, step)
        values: dict[str, Any] = {}
        for param in cls.params:
            container = step if len(param.path) == 1 else fields
            key = param.path[-1]
            if key in container:
                value = param.parse(index, container[key])
            elif param.required:
                raise DefenseSpecError(f'{cls.kind} needs "{key}" ({param.expected})', index)
            else:
                value = param.default
            if param.attr is not None:
                values[param.attr] = value
        return cls(**values)

    def to_spec(self) -> dict[str, Any]:
        """The canonical spec object: optional parameters holding their default are left out."""
        spec: dict[str, Any] = {}
        for param in self.params:
            value = param.default if param.attr is None else getattr(self, param.attr)
            if not param.required and value == param.default:
                continue
            target = spec if len(param.path) == 1 else spec.setdefault(param.path[0], {})
            target[param.path[-1]] = value
        return spec

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """A JSON-ready description of the step for clients that build specs."""
        return {
            "kind": cls.kind,
            "description": cls.description,
            "changes_label": cls.changes_label,
            "companions": list(cls.companions()),
            "params": [param.describe() for param in cls.params],
        }

    @classmethod
    def _fields_object(cls, index: int, step: Mapping[str, Any]) -> Mapping[str, Any]:
        """The object under ``kind`` when the step's parameters are fields of it, else {}."""
        names = tuple(param.path[1] for param in cls.params if len(param.path) == 2)
        if not names:
            return {}
        fields = step[cls.kind]
        if not isinstance(fields, Mapping):
            shape = ", ".join(f'"{name}": {name[0]}' for name in names)
            raise DefenseSpecError(f"{cls.kind} must be an object {{{shape}}}, got {show(fields)}", index)
        for key in fields:
            if key not in names:
                raise DefenseSpecError(unknown_key_message(cls.kind, key, names), index)
        return fields


def unknown_key_message(kind: str, key: Any, allowed: tuple[str, ...]) -> str:
    """The message for a key a step does not take, with the nearest one it does."""
    listed = ", ".join(show(name) for name in allowed)
    return f"{kind} has unknown key {show(key)}{suggest(key, allowed)}; it takes {listed}"
