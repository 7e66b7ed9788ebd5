"""A model's utility under a defence, on its own held-out rows."""

from __future__ import annotations

from typing import Any

from app.zoo.base import ServedModel
from defenses import Pipeline
from defenses.utility import utility_report


def utility_under(model: ServedModel, pipeline: Pipeline, seed: int = 0) -> dict[str, Any]:
    """Accuracy, log loss, Brier score and confidence change, clean and defended."""
    X, y = model.heldout()
    report = utility_report(model.predict_proba(X), y, pipeline, inputs=X, seed=seed)
    return {"model": model.name, "heldout_rows": len(y), "defense": pipeline.to_spec(), **report}
