"""The accuracy table of the built-in models, recomputed by the served code."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from app.zoo.base import ServedModel

COLUMNS = (
    "model",
    "dataset",
    "classes",
    "training_rows",
    "heldout_rows",
    "heldout_accuracy",
    "epsilon",
    "training_seconds",
)
"""``epsilon``: the privacy budget of a differentially private model (none for the others)."""


def accuracy_table(models: Mapping[str, ServedModel]) -> list[dict[str, Any]]:
    """One row per model; accuracy from ``predict_proba`` on ``heldout()``, not from training logs."""
    rows = []
    for name, model in models.items():
        X, y = model.heldout()
        accuracy = float(np.mean(model.predict_proba(X).argmax(axis=1) == y)) if len(y) else None
        rows.append(
            {
                "model": name,
                "dataset": model.metadata.get("dataset"),
                "classes": len(model.classes),
                "training_rows": len(model.metadata.get("training_rows", [])),
                "heldout_rows": len(y),
                "heldout_accuracy": accuracy,
                "epsilon": model.metadata.get("epsilon"),
                "training_seconds": model.metadata.get("training_seconds"),
            }
        )
    return rows


def format_accuracy_table(rows: list[dict[str, Any]]) -> str:
    """The rows as aligned plain text, for a terminal or a log."""

    def cell(value: Any) -> str:
        return f"{value:.4f}" if isinstance(value, float) else "-" if value is None else str(value)

    cells = [list(COLUMNS), *([cell(row[c]) for c in COLUMNS] for row in rows)]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip() for line in cells
    )
