"""Points for the page's comparison charts: finished jobs and the last evaluation's ``results.json``.

A point is one run of one attack against one defence: its rounding level (None
when the defence is not rounding alone), the attack's success (the face
recogniser's top-1, or a tree attack's training precision; None when not
judged) and its utility cost (clean minus defended held-out accuracy).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from app.core.jobs import DONE


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def rounding_level(spec: Any) -> float | None:
    """r of a spec that is exactly ``[{"round": r}]``; 0 for no defence; None for anything else."""
    if spec == []:
        return 0.0
    if isinstance(spec, list) and len(spec) == 1 and isinstance(spec[0], dict) and set(spec[0]) == {"round"}:
        return _finite(spec[0]["round"])
    return None


def _cost(utility: Mapping[str, Any] | None) -> float | None:
    if not utility:
        return None
    clean, defended = _finite(utility.get("clean_accuracy")), _finite(utility.get("accuracy"))
    return None if clean is None or defended is None else clean - defended


def run_points(jobs: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One point per finished job, newest first."""
    points = []
    for job in jobs:
        if job["status"] != DONE:
            continue
        outputs = job.get("outputs") or {}
        success = outputs.get("success") or {}
        points.append(
            {
                "source": "run",
                "id": job["id"],
                "model": job["model"],
                "attack": job["attack"],
                "spec": job["spec"],
                "rounding": rounding_level(job["spec"]),
                "success": _finite(success.get("top1")),
                "success_note": success.get("reason"),
                "utility_cost": _cost(job.get("utility")),
                "rows": outputs.get("rows"),
                "seconds": outputs.get("seconds"),
            }
        )
    return points


def latest_results(folder: Path) -> Path | None:
    """The newest ``results.json`` of an evaluation under ``folder`` (``folder/<run>/results.json``)."""
    if not folder.is_dir():
        return None
    found = [path for path in folder.glob("*/results.json") if path.is_file()]
    return max(found, key=lambda path: path.stat().st_mtime) if found else None


def evaluation_points(folder: Path) -> tuple[Path | None, list[dict[str, Any]]]:
    """The last evaluation's cells as points (none when there is no readable evaluation)."""
    path = latest_results(folder)
    if path is None:
        return None, []
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError):
        return path, []
    cells = document.get("cells") if isinstance(document, dict) else None
    points = []
    for cell in cells if isinstance(cells, list) else []:
        if not isinstance(cell, dict) or cell.get("status") != "ok":
            continue
        kind, level = cell.get("defence_kind"), _finite(cell.get("defence_level"))
        clean, defended = _finite(cell.get("utility.clean_accuracy")), _finite(cell.get("utility.accuracy"))
        points.append(
            {
                "source": "evaluation",
                "model": cell.get("model"),
                "attack": cell.get("attack"),
                "defence": cell.get("defence"),
                "rounding": 0.0 if kind == "none" else level if kind == "round" else None,
                "success": _finite(cell.get("success")),
                "utility_cost": None if clean is None or defended is None else clean - defended,
                "rows": cell.get("rows"),
                "seconds": _finite(cell.get("seconds")),
            }
        )
    return path, points
