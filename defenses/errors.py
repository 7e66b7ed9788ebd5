"""The one error a bad defence spec raises, and how it quotes what the user wrote."""

from __future__ import annotations

import difflib
import json
from typing import Any


class DefenseSpecError(ValueError):
    """A defence spec that cannot be used; the message says which step and why."""

    def __init__(self, message: str, step: int | None = None) -> None:
        self.step = step
        super().__init__(message if step is None else f"step {step}: {message}")


def show(value: Any) -> str:
    """A value as the user wrote it (JSON where possible), shortened."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def suggest(key: Any, names: tuple[str, ...]) -> str:
    """A hint naming the closest of ``names`` (' (did you mean "x"?)'), or "" when none is close."""
    close = difflib.get_close_matches(str(key), names, n=1)
    return f" (did you mean {show(close[0])}?)" if close else ""
