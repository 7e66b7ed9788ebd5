"""The study's question, answered from the rows: at which rounding level does each attack stop
working, and what does that level cost the honest user?

"Stops working at r" means: it works undefended, and at r and at every coarser
tested level it is no longer above chance (see ``results`` for the test). An
attack that never beat chance undefended "never worked"; one that still works at
the coarsest level "survives".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from attack_clients.evaluate.sweep import DEFENSES, ROUNDING

COST_MEASURES = ("accuracy", "log_loss", "brier")


def utility_cost(row: Mapping[str, Any]) -> dict[str, float | None]:
    """Defended minus clean held-out accuracy, log loss and Brier; and mean |change| of confidences."""
    out: dict[str, float | None] = {}
    for name in COST_MEASURES:
        defended, clean = row.get(f"utility.{name}"), row.get(f"utility.clean_{name}")
        out[name] = None if defended is None or clean is None else float(defended) - float(clean)
    out["mean_abs_change"] = row.get("utility.mean_abs_change")
    return out


@dataclass(frozen=True)
class RoundingAnswer:
    """One attack on one model across the rounding levels."""

    attack: str
    model: str
    outcome: str
    stops_at: float | None
    non_monotone: bool
    levels: tuple[tuple[float | None, float | None, bool], ...]
    cost: Mapping[str, float | None] | None
    evidence: str = ""

    def sentence(self) -> str:
        if self.outcome == "incomplete":
            return "not every rounding cell has finished: no answer yet."
        if self.outcome == "not-applicable":
            return "could not run undefended here (download refused or no data: see the cell's log)."
        if self.outcome == "not-judged":
            return f"has no success figure here: {self.evidence}."
        if self.outcome == "never-worked":
            return f"does not beat chance even without a defence ({self.evidence}), so rounding has nothing to stop."
        if self.outcome == "survives":
            return f"still works at r = {ROUNDING[-1]:g}, the coarsest level tested: rounding does not stop it."
        cost = self.cost or {}
        parts = [f"stops working at r = {self.stops_at:g}"]
        if self.non_monotone:
            parts.append("(it fails at a finer level too, then recovers: read the curve)")
        parts.append(
            f"at a held-out cost of {_signed(cost.get('accuracy'))} accuracy, {_signed(cost.get('log_loss'))} "
            f"nats log loss, {_signed(cost.get('brier'))} Brier; mean |change| of a confidence "
            f"{_plain(cost.get('mean_abs_change'))}"
        )
        return " ".join(parts) + "."


def _signed(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.4f}"


def _evidence(row: Mapping[str, Any]) -> str:
    hits, trials, p_value = row.get("hits"), row.get("trials"), row.get("p_value")
    if row.get("family") == "tree":
        if not trials:
            return "it never announced 'yes'"
        return f"{hits} right of {trials} 'yes' announced, p = {p_value:.3g}"
    return f"{hits} of {trials} identified, p = {'n/a' if p_value is None else f'{p_value:.3g}'}"


def _plain(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def rounding_answer(attack: str, model: str, rows: Mapping[tuple[str, str, str], Mapping[str, Any]]) -> RoundingAnswer:
    names = ["none", *(f"round-{r:g}" for r in ROUNDING)]
    cells = [rows.get((attack, model, name)) for name in names]
    levels = tuple(
        (level, None if c is None else c.get("success"), bool(c and c.get("works")))
        for level, c in zip((None, *ROUNDING), cells, strict=True)
    )
    if any(c is None for c in cells):
        return RoundingAnswer(attack, model, "incomplete", None, False, levels, None)
    if cells[0].get("status") != "ok":
        return RoundingAnswer(attack, model, "not-applicable", None, False, levels, None)
    if cells[0].get("success") is None and cells[0].get("success_note"):
        return RoundingAnswer(attack, model, "not-judged", None, False, levels, None, cells[0]["success_note"])
    works = [bool(c["works"]) for c in cells]
    if not works[0]:
        return RoundingAnswer(attack, model, "never-worked", None, False, levels, None, _evidence(cells[0]))
    if works[-1]:
        return RoundingAnswer(attack, model, "survives", None, False, levels, None)
    first = 1 + max(i for i, w in enumerate(works) if w)
    non_monotone = not all(works[1:first])
    return RoundingAnswer(attack, model, "stops", ROUNDING[first - 1], non_monotone, levels, utility_cost(cells[first]))


def rounding_answers(rows: Iterable[Mapping[str, Any]], pairs: Sequence[tuple[str, str]]) -> list[RoundingAnswer]:
    """One answer per (attack, model) pair, in the order given."""
    by_cell = {(r["attack"], r["model"], r["defence"]): r for r in rows}
    return [rounding_answer(attack, model, by_cell) for attack, model in pairs]


def cheapest_stop(rows: Iterable[Mapping[str, Any]], attack: str, model: str) -> Mapping[str, Any] | None:
    """Among all defences where a working attack no longer works, the one with the smallest Brier increase."""
    order = {d.name: i for i, d in enumerate(DEFENSES)}
    rows = list(rows)
    if not any(r["attack"] == attack and r["model"] == model and r["defence"] == "none" and r["works"] for r in rows):
        return None
    candidates = [
        r
        for r in rows
        if r["attack"] == attack
        and r["model"] == model
        and r["defence"] != "none"
        and r["status"] == "ok"
        and not r["works"]
        and utility_cost(r)["brier"] is not None
    ]
    if not candidates:
        return None
    return min(candidates, key=lambda r: (utility_cost(r)["brier"], order.get(r["defence"], 0)))
