"""The parameters a defence step takes: each one validates its value and describes itself.

A parameter sits at a ``path`` in the step object: ``("round",)`` is the value of
the step's own key, ``("scale",)`` a companion key next to it, and
``("reverse_sigmoid", "beta")`` a field of the object the step's key holds. The
same declaration parses the spec, writes the canonical spec and describes the
step to the operator's page, so the three cannot drift apart.
"""

from __future__ import annotations

import json
import math
import numbers
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from defenses.errors import DefenseSpecError, show


@dataclass(frozen=True)
class Param:
    """One parameter: where it sits, the attribute it fills, and what it accepts."""

    path: tuple[str, ...]
    description: str
    attr: str | None = None
    """The step's dataclass field it fills (None: a constant, such as ``label_only: true``)."""
    default: Any = None
    required: bool = True
    """Required parameters must be written; optional ones take ``default`` and are left
    out of the canonical spec when they hold it."""
    type_name: ClassVar[str] = ""

    @property
    def name(self) -> str:
        return " ".join(self.path)

    @property
    def expected(self) -> str:
        """What the value must be: the end of the sentence "<name> must be ..."."""
        raise NotImplementedError

    def convert(self, value: Any) -> Any:
        """The value in canonical form, or None when it is not acceptable."""
        raise NotImplementedError

    def parse(self, index: int, value: Any) -> Any:
        converted = self.convert(value)
        if converted is None:
            raise DefenseSpecError(f"{self.name} must be {self.expected}, got {show(value)}", index)
        return converted

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description for clients that build specs (the operator's page)."""
        return {
            "name": self.path[-1],
            "path": list(self.path),
            "type": self.type_name,
            "required": self.required,
            "default": self.default,
            "expected": self.expected,
            "description": self.description,
        }


@dataclass(frozen=True)
class Real(Param):
    """A finite number between optional bounds, each inclusive or exclusive."""

    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    log_scale: bool = False
    """Its useful values span decades (a page shows a log-scale slider)."""
    marks: tuple[float, ...] = ()
    """Values worth offering one click away (e.g. the levels a study used)."""
    type_name: ClassVar[str] = "number"

    @property
    def expected(self) -> str:
        low, high = self.minimum, self.maximum
        if low is not None and high is not None:
            opening = "(" if self.exclusive_minimum else "["
            closing = ")" if self.exclusive_maximum else "]"
            return f"a number in {opening}{_number(low)}, {_number(high)}{closing}"
        if low is not None:
            return f"a number {'>' if self.exclusive_minimum else '>='} {_number(low)}"
        if high is not None:
            return f"a number {'<' if self.exclusive_maximum else '<='} {_number(high)}"
        return "a number"

    def convert(self, value: Any) -> float | None:
        number = real(value)
        if number is None or not self._within(number):
            return None
        return number

    def _within(self, number: float) -> bool:
        if self.minimum is not None and (number <= self.minimum if self.exclusive_minimum else number < self.minimum):
            return False
        return self.maximum is None or (number < self.maximum if self.exclusive_maximum else number <= self.maximum)

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "minimum": self.minimum,
            "maximum": self.maximum,
            "exclusive_minimum": self.exclusive_minimum,
            "exclusive_maximum": self.exclusive_maximum,
            "log_scale": self.log_scale,
            "marks": list(self.marks),
        }


@dataclass(frozen=True)
class Integer(Param):
    """An integer no smaller than ``minimum`` (bools and floats such as 2.0 are refused)."""

    minimum: int = 0
    type_name: ClassVar[str] = "integer"

    @property
    def expected(self) -> str:
        return f"an integer >= {self.minimum}"

    def convert(self, value: Any) -> int | None:
        if _is_bool(value) or not isinstance(value, numbers.Integral) or value < self.minimum:
            return None
        return int(value)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "minimum": self.minimum}


@dataclass(frozen=True)
class Flag(Param):
    """``true`` or ``false``."""

    type_name: ClassVar[str] = "boolean"

    @property
    def expected(self) -> str:
        return "true or false"

    def convert(self, value: Any) -> bool | None:
        return bool(value) if _is_bool(value) else None


@dataclass(frozen=True)
class Choice(Param):
    """One of a fixed set of strings."""

    choices: tuple[str, ...] = ()
    type_name: ClassVar[str] = "choice"

    @property
    def expected(self) -> str:
        quoted = [json.dumps(choice) for choice in self.choices]
        return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"

    def convert(self, value: Any) -> str | None:
        return value if isinstance(value, str) and value in self.choices else None

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "choices": list(self.choices)}


@dataclass(frozen=True)
class OnlyTrue(Param):
    """A switch that can only be on: the step is disabled by leaving it out."""

    default: Any = True
    type_name: ClassVar[str] = "true"

    @property
    def expected(self) -> str:
        return "true (leave the step out to disable it)"

    def convert(self, value: Any) -> bool | None:
        return True if value is True else None


def real(value: Any) -> float | None:
    """The value as a finite float, or None for bools, non-numbers, NaN and inf."""
    if _is_bool(value) or not isinstance(value, numbers.Real):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _is_bool(value: Any) -> bool:
    return isinstance(value, (bool, np.bool_))


def _number(value: float) -> str:
    return f"{value:g}"
