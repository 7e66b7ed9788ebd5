"""The privacy-utility frontier over training and output defences, on synthetic cells (no server)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from attack_clients.evaluate.figures import accuracy_frontier
from attack_clients.evaluate.frontier import base_model, best_tradeoff, pareto, points, privacy_budgets
from attack_clients.evaluate.report import frontier_section, tree_defense_section, write_reports
from attack_clients.evaluate.results import row
from tests.attack_clients.evaluate.test_report import face_cell, summary_of, tree_cell

INFO = {
    "faces-mlp": {"heldout_accuracy": 0.97},
    "faces-mlp-dp-nm0.5": {"heldout_accuracy": 0.80, "epsilon": 3.5, "delta": 1e-5, "training_defense": "DP-SGD"},
    "steak-tree": {"heldout_accuracy": 0.28},
    "steak-tree-dp-eps1": {"heldout_accuracy": 0.33, "epsilon": 1.0, "delta": 0.0, "training_defense": "DP tree"},
    "steak-tree-private-top": {"heldout_accuracy": 0.23, "training_defense": "privacy-aware CART, top"},
}


def _with_accuracy(cell: dict[str, Any], model: str, accuracy: float, brier: float = 0.1) -> dict[str, Any]:
    cell = {**cell, "model": model, "key": f"{cell['attack']}.{model}.{cell['defence']}"}
    clean = INFO[model]["heldout_accuracy"]
    cell["utility"] = {**cell["utility"], "accuracy": accuracy, "clean_accuracy": clean, "brier": brier}
    return cell


def _rows() -> list[dict[str, Any]]:
    """White-box MI-Face: no output defence reaches it, DP-SGD stops it at 0.17 accuracy. Black-box
    MI-Face: rounding stops it at no accuracy and little Brier cost, label-only at more. Tree
    white-box: the DP tree stops it, the privacy-aware tree does not."""
    cells = [
        _with_accuracy(face_cell("mi-face-wb", "none", 0.3), "faces-mlp", 0.97),
        _with_accuracy(face_cell("mi-face-wb", "round-0.01", 0.3), "faces-mlp", 0.97),
        _with_accuracy(face_cell("mi-face-wb", "none", 0.025), "faces-mlp-dp-nm0.5", 0.80),
        _with_accuracy(face_cell("mi-face-bb", "none", 0.3), "faces-mlp", 0.97),
        _with_accuracy(face_cell("mi-face-bb", "round-0.01", 0.025), "faces-mlp", 0.97),
        _with_accuracy(face_cell("mi-face-bb", "label-only", 0.0), "faces-mlp", 0.97, brier=0.15),
        _with_accuracy(face_cell("mi-face-bb", "none", 0.025), "faces-mlp-dp-nm0.5", 0.80),
        _with_accuracy(tree_cell("tree-wbwc", "steak-tree", "none", guessed=20, right=19), "steak-tree", 0.28),
        _with_accuracy(tree_cell("tree-wbwc", "x", "none", guessed=10, right=9), "steak-tree-private-top", 0.23),
        _with_accuracy(tree_cell("tree-wbwc", "x", "none", guessed=0, right=0), "steak-tree-dp-eps1", 0.33),
        _with_accuracy(tree_cell("tree-map", "x", "none", guessed=0, right=0), "steak-tree", 0.28),
    ]
    return [row(c) for c in cells]


def test_a_defended_model_belongs_to_the_model_its_name_extends() -> None:
    models = list(INFO)
    assert base_model("faces-mlp-dp-nm0.5", models) == "faces-mlp"
    assert base_model("steak-tree-private-top", models) == "steak-tree"
    assert base_model("steak-tree", models) == "steak-tree"


def test_the_pareto_front_keeps_only_undominated_cells() -> None:
    found = points(_rows(), INFO, "mi-face-bb")
    front = pareto(found)
    assert [(p.model, p.output) for p in front] == [("faces-mlp", "label-only")]
    found = points(_rows(), INFO, "mi-face-wb")
    assert [(p.model, p.output) for p in pareto(found)] == [("faces-mlp", "none"), ("faces-mlp-dp-nm0.5", "none")]


def test_the_best_trade_off_is_computed_from_the_cells() -> None:
    rows = _rows()
    black = best_tradeoff(points(rows, INFO, "mi-face-bb"), "mi-face-bb")
    assert (black.best.model, black.best.output) == ("faces-mlp", "round-0.01")
    assert "output defence round-0.01" in black.sentence("BB") and "+0.000" in black.sentence("BB")
    white = best_tradeoff(points(rows, INFO, "mi-face-wb"), "mi-face-wb")
    assert white.best.model == "faces-mlp-dp-nm0.5"
    assert "ε = 3.5" in white.sentence("WB") and "-0.170" in white.sentence("WB")
    tree = best_tradeoff(points(rows, INFO, "tree-wbwc"), "tree-wbwc")
    assert tree.best.model == "steak-tree-dp-eps1" and tree.best.epsilon == 1.0 and not tree.best.said
    silent = best_tradeoff(points(rows, INFO, "tree-map"), "tree-map")
    assert "no model" in silent.sentence("MAP")


def test_privacy_budget_table_lists_only_training_defences() -> None:
    table = privacy_budgets(INFO)
    assert [r[0] for r in table] == ["faces-mlp-dp-nm0.5", "steak-tree-dp-eps1", "steak-tree-private-top"]
    assert table[1][2:] == ("1", "0", "0.330") and table[2][2] == "-"


def test_frontier_figure_and_report_sections(tmp_path: Path) -> None:
    rows = _rows()
    path = accuracy_frontier(rows, INFO, tmp_path / "frontier-accuracy.png")
    assert path.stat().st_size > 10_000
    summary = {**summary_of(rows), "model_info": INFO}
    summary["models"] = {"face": ["faces-mlp", "faces-mlp-dp-nm0.5"], "tree": [m for m in INFO if "tree" in m]}
    text = "\n".join(str(block) for block in frontier_section(summary, rows))
    assert "ε" in text and "the best trade-off is training defence dp-eps1 (ε = 1)" in text
    defended = "\n".join(str(block) for block in tree_defense_section(summary, rows))
    assert "steak-tree-private-top" in defended and "95.0 / 20.0" in defended
    md, _ = write_reports(summary, [path], tmp_path)
    assert "Privacy-utility frontier: training and output defences together" in md.read_text()
