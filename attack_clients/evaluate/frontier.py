"""The privacy-utility frontier over training and output defences together.

Every finished (model, output defence) cell of an attack is a point: the
model's held-out accuracy under that output defence (x) against the attack's
success (y). A training-defended model (a privacy-aware or differentially
private tree, a DP-SGD or regularised face model) is served beside its
undefended *base* model, whose name it extends (``steak-tree-dp-eps1`` of
``steak-tree``, ``faces-mlp-dp-nm0.5`` of ``faces-mlp``), and carries its
training defence and, where defined, ε in the service's model metadata.

The best trade-off of an attack: among the points where it no longer beats
chance, on a base model where it does beat chance undefended, the one that
keeps the most held-out accuracy relative to that undefended model (ties: the
smaller change of the held-out Brier score, the defence that changes the answers
least: rounding barely moves it, label-only answers raise it; then the lower
success, then the simpler defence). Computed from the rows, never
written by hand.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from attack_clients.evaluate.answers import utility_cost

Rows = Sequence[Mapping[str, Any]]
ModelInfo = Mapping[str, Mapping[str, Any]]
NONE = "none"


@dataclass(frozen=True)
class Point:
    """One cell on the frontier's axes."""

    attack: str
    model: str
    base: str
    training: str
    epsilon: float | None
    output: str
    accuracy: float
    success: float
    works: bool
    said: bool
    """False when a tree attack never announced "yes" (drawn at 0)."""
    brier_cost: float

    @property
    def defended(self) -> bool:
        return self.training != NONE or self.output != NONE

    def defence(self) -> str:
        """The defences in words: training, output, both, or none."""
        budget = f" (ε = {self.epsilon:g})" if self.epsilon is not None else ""
        if self.training == NONE:
            return NONE if self.output == NONE else f"output defence {self.output}"
        trained = f"training defence {self.training}{budget}"
        return trained if self.output == NONE else f"{trained} with output defence {self.output}"


def base_model(model: str, models: Sequence[str]) -> str:
    """The longest other model whose name followed by '-' starts ``model`` (itself if none)."""
    bases = [m for m in models if m != model and model.startswith(f"{m}-")]
    return max(bases, key=len) if bases else model


def points(rows: Rows, model_info: ModelInfo, attack: str) -> list[Point]:
    """The attack's finished cells that have a held-out accuracy, as frontier points."""
    models = sorted({r["model"] for r in rows} | set(model_info))
    out = []
    for r in rows:
        if r["attack"] != attack or r.get("status") != "ok" or r.get("utility.accuracy") is None:
            continue
        said = r.get("success") is not None
        if not said and r.get("family") != "tree":
            continue
        base = base_model(r["model"], models)
        info = model_info.get(r["model"]) or {}
        out.append(
            Point(
                attack=attack,
                model=r["model"],
                base=base,
                training=NONE if base == r["model"] else r["model"].removeprefix(f"{base}-"),
                epsilon=None if info.get("epsilon") is None else float(info["epsilon"]),
                output=r["defence"],
                accuracy=float(r["utility.accuracy"]),
                success=float(r["success"]) if said else 0.0,
                works=bool(r.get("works")),
                said=said,
                brier_cost=utility_cost(r)["brier"] or 0.0,
            )
        )
    return out


def pareto(found: Sequence[Point]) -> list[Point]:
    """The points no other point beats on both axes (as accurate or more, as little success or less),
    by falling accuracy."""
    front = [
        p
        for p in found
        if not any(
            q.accuracy >= p.accuracy and q.success <= p.success and (q.accuracy, -q.success) != (p.accuracy, -p.success)
            for q in found
        )
    ]
    unique = {(p.accuracy, p.success): p for p in sorted(front, key=_simplicity, reverse=True)}
    return sorted(unique.values(), key=lambda p: (-p.accuracy, p.success))


def _simplicity(p: Point) -> tuple[int, int, str, str]:
    return (p.training != NONE, p.output != NONE, p.model, p.output)


@dataclass(frozen=True)
class TradeOff:
    """An attack's best trade-off, and the undefended cell it is measured against."""

    attack: str
    best: Point | None
    undefended: Point | None
    worked_on: tuple[str, ...]
    lowest: Point | None

    def sentence(self, title: str) -> str:
        if not self.worked_on:
            return f"{title} beats chance undefended on no model here, so no defence has anything to trade."
        where = ", ".join(self.worked_on)
        if self.best is None or self.undefended is None:
            low = self.lowest
            tail = f"; the lowest success is {low.success:.2f} ({low.defence()} on {low.model})" if low else ""
            return f"{title} (works undefended on {where}): no defence tested stops it{tail}."
        best, clean = self.best, self.undefended
        change = best.accuracy - clean.accuracy
        outcome = f"success {best.success:.2f}, not above chance" if best.said else "it never announces 'yes'"
        return (
            f"{title} (works undefended on {where}): the best trade-off is {best.defence()} on {best.model}: "
            f"{outcome} (undefended {clean.success:.2f}) at held-out accuracy {best.accuracy:.3f} ({change:+.3f} "
            f"against the undefended {clean.model})."
        )


def best_tradeoff(found: Sequence[Point], attack: str) -> TradeOff:
    """See the module docstring."""
    undefended = {p.base: p for p in found if not p.defended}
    worked = {base: p for base, p in undefended.items() if p.works}
    stopped = [p for p in found if p.base in worked and not p.works]
    candidates = sorted(
        stopped, key=lambda p: (worked[p.base].accuracy - p.accuracy, abs(p.brier_cost), p.success, _simplicity(p))
    )
    lowest = min((p for p in found if p.base in worked), key=lambda p: (p.success, -p.accuracy), default=None)
    best = candidates[0] if candidates else None
    return TradeOff(attack, best, worked[best.base] if best else None, tuple(sorted(worked)), lowest)


def privacy_budgets(model_info: ModelInfo) -> list[tuple[str, str, str, str, str]]:
    """Model, training defence, ε, δ and held-out accuracy of every model that names a training defence."""
    table = []
    for model, info in model_info.items():
        if not info.get("training_defense"):
            continue
        accuracy = info.get("heldout_accuracy")
        table.append(
            (
                model,
                str(info["training_defense"]),
                "-" if info.get("epsilon") is None else f"{float(info['epsilon']):g}",
                "-" if info.get("delta") is None else f"{float(info['delta']):g}",
                "-" if accuracy is None else f"{float(accuracy):.3f}",
            )
        )
    return table
