"""One flat row per cell, with the verdict "does the attack work here?".

Success measures: faces, the face recogniser's top-1 identification over the
judged reconstructions (chance 1/classes; the other judges' figures are columns
beside it, see ``attack_clients.judges``); trees, the precision of the
sensitive "yes" on the training targets (the study's headline; chance is the
share of "yes" among them). An attack *works* in a cell when that success is
above chance by a one-sided exact binomial test at ``ALPHA``: k hits out of n
judged (faces) or k right out of n announced "yes" (trees). A tree attack that
never announces "yes" does not work, whatever its accuracy (the majority
baseline never does either).
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import binomtest

ALPHA = 0.05
START_CONTROL = ("face_recognizer_top1", "pixel_evaluator_top1", "ssim_mean")
TREE_SETS = ("training", "heldout")
TREE_WHO = ("attack", "baseline", "random", "ideal")
TREE_MEASURES = ("accuracy", "precision", "recall")
UTILITY = (
    "accuracy",
    "clean_accuracy",
    "log_loss",
    "clean_log_loss",
    "brier",
    "clean_brier",
    "mean_abs_change",
    "label_change_rate",
)
IDENTITY = ("key", "attack", "family", "model", "defence", "defence_kind", "defence_level", "status", "reused_from")


@dataclass(frozen=True)
class Success:
    """A cell's success measure, its chance level, and the binomial counts behind them."""

    success: float | None
    chance: float | None
    hits: int
    trials: int


@dataclass(frozen=True)
class Verdict:
    """Success, its chance level, the binomial evidence and whether the attack works."""

    success: float | None
    chance: float | None
    hits: int
    trials: int
    p_value: float | None
    works: bool


def cost(result: Mapping[str, Any]) -> dict[str, Any]:
    """Requests, rows, bytes and HTTP seconds from the client's QueryStats; the cell's wall time."""
    raw = result.get("raw") or {}
    stats = raw.get("attack_stats") or raw
    return {
        "queries": stats.get("queries"),
        "rows": stats.get("rows"),
        "bytes_sent": stats.get("bytes_sent"),
        "bytes_received": stats.get("bytes_received"),
        "seconds": stats.get("seconds"),
        "wall_seconds": result.get("wall_seconds"),
    }


def descent(raw: Mapping[str, Any]) -> dict[str, Any]:
    """How MI-Face's descents ended (stop reasons, median confidence reached): it tells "no signal"
    (every label stopped by the beta window at confidence 0) from "ran out of iterations"."""
    per_label = raw.get("per_label") or []
    confidences = [p.get("confidence", p.get("copy_confidence")) for p in per_label]
    confidences = [c for c in confidences if c is not None]
    stops = Counter(str(p.get("stop")) for p in per_label)
    return {
        "stops": " ".join(f"{reason}:{count}" for reason, count in sorted(stops.items())) or None,
        "median_confidence": float(np.median(confidences)) if confidences else None,
    }


def metrics(result: Mapping[str, Any]) -> dict[str, Any]:
    """The family's success measures, flat."""
    raw = result.get("raw") or {}
    measured = raw.get("metrics") or {}
    if result.get("family") == "face":
        start = (raw.get("start_metrics") or {}).get("metrics") or {}
        controls = {f"start.{name}": start.get(name) for name in START_CONTROL}
        judged = {"judges_skipped": measured["skipped"]} if "skipped" in measured else measured
        return {**judged, **controls, **descent(raw)}
    flat: dict[str, Any] = {}
    for split in TREE_SETS:
        for who in TREE_WHO:
            values = (measured.get(split) or {}).get(who) or {}
            for measure in TREE_MEASURES:
                flat[f"{split}.{who}.{measure}"] = values.get(measure)
    attack = (measured.get("training") or {}).get("attack") or {}
    flat.update({f"training.attack.{k}": attack.get(k) for k in ("n", "guessed_positive", "true_positive")})
    return flat


def success_of(result: Mapping[str, Any]) -> Success:
    """The one reading of a cell's success (see the module docstring); everything else is derived from it."""
    measured = metrics(result)
    if result.get("family") == "face":
        headline = (result.get("raw") or {}).get("success") or {}
        success, chance = headline.get("top1"), headline.get("chance")
        return Success(success, chance, int(headline.get("hits") or 0), int(headline.get("n") or 0))
    success = measured["training.attack.precision"]
    chance = measured["training.random.precision"]
    trials = measured["training.attack.guessed_positive"] or 0
    hits = measured["training.attack.true_positive"] or 0
    return Success(success, chance, int(hits), int(trials))


def verdict(result: Mapping[str, Any]) -> Verdict:
    """Does the attack beat chance in this cell (see the module docstring)?"""
    s = success_of(result)
    if result.get("status") != "ok" or s.success is None or s.chance is None or s.trials == 0:
        return Verdict(s.success, s.chance, s.hits, s.trials, None, False)
    p_value = float(binomtest(s.hits, s.trials, float(s.chance), alternative="greater").pvalue)
    return Verdict(s.success, s.chance, s.hits, s.trials, p_value, p_value < ALPHA)


def row(result: Mapping[str, Any]) -> dict[str, Any]:
    """The CSV row of one cell."""
    judged = verdict(result)
    utility = result.get("utility") or {}
    return {
        **{name: result.get(name) for name in IDENTITY},
        "success": judged.success,
        "chance": judged.chance,
        "hits": judged.hits,
        "trials": judged.trials,
        "p_value": judged.p_value,
        "works": judged.works,
        "success_note": ((result.get("raw") or {}).get("success") or {}).get("reason"),
        **cost(result),
        **{f"utility.{name}": utility.get(name) for name in UTILITY},
        **metrics(result),
    }


def write_csv(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    """One row per cell; the columns are the union over families, in first-seen order."""
    columns: dict[str, None] = {}
    for r in rows:
        columns.update(dict.fromkeys(r))
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(rows)


def index(rows: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str, str], Mapping[str, Any]]:
    """Rows by (attack, model, defence)."""
    return {(r["attack"], r["model"], r["defence"]): r for r in rows}
