"""Reusing a labels-only attack's undefended cell: only where no answer's label can differ."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from attack_clients.attacks import ATTACKS
from attack_clients.evaluate import cells
from attack_clients.evaluate.cells import CellTask, run_cell
from attack_clients.evaluate.sweep import DEFENSES, PROFILES, Cell

DEFENSE = {d.name: d for d in DEFENSES}
REFERENCE = {"key": "gmi-label.faces-softmax.none", "status": "ok", "raw": {"metrics": {"top1": 0.025}}}


class AttackRan(Exception):
    """The cell ran the attack instead of reusing the undefended result."""


def _never_run(target: Any, params: Any) -> Any:
    raise AttackRan(target.model)


def _task(defense: str, reference: dict[str, Any] | None = REFERENCE) -> CellTask:
    attack = ATTACKS["gmi-label"]
    attack = dataclasses.replace(attack, command=dataclasses.replace(attack.command, run=_never_run))
    cell = Cell(attack, "faces-softmax", DEFENSE[defense])
    return CellTask(cell, PROFILES["full"], "http://x", "admin", f"{cell.key}.u", "k", None, reference)


@pytest.fixture
def label_change_rate(monkeypatch: pytest.MonkeyPatch) -> dict[str, float]:
    """The service's utility check, answering with the rate this dict holds.

    ``run_cell`` sets the worker's data directory and thread limits for the process: both are
    put back after the test, so the suite's later tests keep theirs.
    """
    rate = {"value": 0.0}
    monkeypatch.delenv("MLAAS_DATA_DIR", raising=False)
    monkeypatch.setattr(cells, "_limit_threads", lambda family: None)

    def utility(self: Any, model: str, spec: list[dict[str, Any]]) -> dict[str, Any]:
        return {"defense": spec, "label_change_rate": rate["value"], "heldout_rows": 120}

    monkeypatch.setattr(cells.Service, "utility", utility)
    return rate


@pytest.mark.parametrize("defense", ["round-0.001", "round-0.05", "top-1", "label-only"])
def test_a_defence_that_keeps_labels_reuses_the_undefended_result(label_change_rate, defense: str) -> None:
    outcome = run_cell(_task(defense))
    result = outcome.result
    assert result["reused_from"] == REFERENCE["key"] and result["defence"] == defense
    assert result["raw"] == REFERENCE["raw"] and result["utility"]["defense"] == DEFENSE[defense].spec
    assert result["verification"]["matches"] and result["verification"]["label_change_rate"] == 0.0


@pytest.mark.parametrize("defense", ["gaussian-0.001", "laplace-0.1"])
def test_noise_can_move_labels_so_the_attack_runs(label_change_rate, defense: str) -> None:
    with pytest.raises(AttackRan):
        run_cell(_task(defense))


def test_a_moved_heldout_label_or_no_reference_runs_the_attack(label_change_rate) -> None:
    with pytest.raises(AttackRan):
        run_cell(_task("round-0.05", reference=None))
    label_change_rate["value"] = 0.01
    with pytest.raises(AttackRan):
        run_cell(_task("round-0.05"))
