"""The few figures a table shows from a panel's verdict, and the one that counts as success.

Success is the face recogniser's top-1: a reconstruction succeeds when a
recogniser that never saw these people finds the person in it. Where the face
recogniser does not apply (the digits fallback) there is no success figure,
only the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attack_clients.judges.panel import HEADLINE

COLUMNS: dict[str, tuple[str, ...]] = {
    "face_recognizer": ("top1", "top5", "verified", "faces_detected", "lineup", "distance_to_person"),
    "evaluation_network": ("top1", "top5", "knn_distance"),
    "pixel_evaluator": ("top1", "top5", "lineup"),
    "ssim": ("mean", "max"),
}
"""Per judge, the figures that go into tables (``results.csv`` columns ``<judge>_<figure>``)."""


def headline(judges: Mapping[str, Any]) -> dict[str, Any]:
    """``{"judge", "top1", "hits", "n", "chance"}`` from the face recogniser, or why there is none."""
    verdict = judges.get(HEADLINE) or {}
    if not verdict.get("applies"):
        return {"judge": HEADLINE, "top1": None, "reason": verdict.get("reason", "not judged")}
    return {
        "judge": HEADLINE,
        "top1": verdict["top1"],
        "hits": verdict["hits"],
        "n": verdict["n"],
        "chance": verdict["chance_top1"],
    }


def flat(judges: Mapping[str, Any]) -> dict[str, Any]:
    """One ``<judge>_<figure>`` value per table column (None where a judge does not apply)."""
    row: dict[str, Any] = {}
    for judge, figures in COLUMNS.items():
        verdict = judges.get(judge) or {}
        for figure in figures:
            row[f"{judge}_{figure}"] = verdict.get(figure) if verdict.get("applies") else None
        if verdict.get("applies") and "credits_adversarial" in verdict:
            row[f"{judge}_credits_adversarial"] = verdict["credits_adversarial"]
    return row
