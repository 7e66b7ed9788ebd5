"""Verdicts, the rounding answer and the reports, on synthetic cells (no server)."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pytest

from attack_clients.evaluate.answers import rounding_answer, rounding_answers
from attack_clients.evaluate.figures import draw_all
from attack_clients.evaluate.report import write_reports
from attack_clients.evaluate.results import row, verdict
from attack_clients.evaluate.store import ResultStore
from attack_clients.evaluate.study import STUDY_TREE_TABLE, face_comparisons, tree_comparisons
from attack_clients.evaluate.sweep import DEFENSES

UTILITY = {"accuracy": 0.9, "clean_accuracy": 0.9, "log_loss": 0.31, "clean_log_loss": 0.3, "brier": 0.12,
           "clean_brier": 0.1, "mean_abs_change": 0.002, "label_change_rate": 0.0}  # fmt: skip


def face_cell(attack: str, defense: str, top1: float, n: int = 40) -> dict[str, Any]:
    metrics = {"face_recognizer_top1": top1, "face_recognizer_top5": min(1.0, top1 + 0.1),
               "face_recognizer_verified": top1 / 2, "face_recognizer_faces_detected": 0.5,
               "face_recognizer_lineup": 0.5, "evaluation_network_top1": top1, "pixel_evaluator_top1": 1.0,
               "pixel_evaluator_credits_adversarial": True, "ssim_mean": 0.3}  # fmt: skip
    success = {"judge": "face_recognizer", "top1": top1, "hits": round(top1 * n), "n": n, "chance": 1 / 40}
    return {"key": f"{attack}.faces-softmax.{defense}", "attack": attack, "family": "face",
            "model": "faces-softmax", "defence": defense, "status": "ok", "utility": UTILITY,
            "wall_seconds": 1.0, "raw": {"metrics": metrics, "success": success,
                                        "attack_stats": {"queries": 3, "rows": 300}}}  # fmt: skip


def tree_cell(attack: str, model: str, defense: str, guessed: int, right: int) -> dict[str, Any]:
    def scores(accuracy, precision, recall):
        return {"accuracy": accuracy, "precision": precision, "recall": recall}

    attack_scores = {**scores(0.86, right / guessed if guessed else None, 0.2), "n": 200,
                     "guessed_positive": guessed, "true_positive": right}  # fmt: skip
    sets = {
        split: {
            "attack": attack_scores,
            "baseline": scores(0.85, None, 0.0),
            "random": scores(0.5, 0.15, 0.5),
            "ideal": scores(0.99, 0.98, 0.97),
        }
        for split in ("training", "heldout")
    }
    return {"key": f"{attack}.{model}.{defense}", "attack": attack, "family": "tree", "model": model,
            "defence": defense, "status": "ok", "utility": UTILITY, "raw": {"metrics": sets}}  # fmt: skip


def test_verdicts_use_an_exact_binomial_test_against_chance() -> None:
    assert verdict(face_cell("mi-face-bb", "none", top1=4 / 40)).works
    assert not verdict(face_cell("mi-face-bb", "none", top1=2 / 40)).works
    assert not verdict(face_cell("mi-face-bb", "none", top1=1 / 5, n=5)).works
    assert verdict(tree_cell("tree-wbwc", "steak-tree", "none", guessed=10, right=9)).works
    silent = verdict(tree_cell("tree-map", "steak-tree", "none", guessed=0, right=0))
    assert silent.success is None and not silent.works


@pytest.mark.parametrize(
    ("successes", "outcome", "stops_at", "non_monotone"),
    [
        ((0.9, 0.9, 0.5, 0.0, 0.0), "stops", 0.01, False),
        ((0.9, 0.0, 0.5, 0.0, 0.0), "stops", 0.01, True),
        ((0.9, 0.9, 0.9, 0.9, 0.9), "survives", None, False),
        ((0.0, 0.0, 0.0, 0.0, 0.0), "never-worked", None, False),
    ],
)
def test_where_rounding_stops_an_attack(successes, outcome, stops_at, non_monotone) -> None:
    names = ["none", "round-0.001", "round-0.005", "round-0.01", "round-0.05"]
    rows = [row(face_cell("mi-face-bb", name, s)) for name, s in zip(names, successes, strict=True)]
    answer = rounding_answer("mi-face-bb", "faces-softmax", {(r["attack"], r["model"], r["defence"]): r for r in rows})
    assert (answer.outcome, answer.stops_at, answer.non_monotone) == (outcome, stops_at, non_monotone)
    if outcome == "stops":
        assert answer.cost["accuracy"] == 0.0 and answer.cost["brier"] == pytest.approx(0.02)
        assert f"stops working at r = {stops_at:g}" in answer.sentence()


def summary_of(rows: list[dict[str, Any]]) -> dict[str, Any]:
    pairs = list(dict.fromkeys((r["attack"], r["model"]) for r in rows))
    answers = rounding_answers(rows, pairs)
    by_cell = {(r["attack"], r["model"], r["defence"]): r for r in rows}
    comparisons = tree_comparisons(by_cell, ["steak-tree", "gss-tree"]) + face_comparisons(
        by_cell, answers, ["faces-softmax"]
    )
    return {
        "profile": "tiny",
        "settings": {"face_models": ["faces-softmax"], "identities": 2, "options": {}, "tree_sample": 25},
        "service": {"url": "http://127.0.0.1:1", "started_here": True},
        "data_dir": None,
        "models": {"face": ["faces-softmax"], "tree": ["steak-tree", "gss-tree"]},
        "grid_cells": len(rows),
        "finished_cells": len(rows),
        "failed": {},
        "run": {"seconds": 1.0, "computed": [r["key"] for r in rows], "already_done": 0, "executor": "test"},
        "compute_seconds": 1.0,
        "rounding_answers": [{**a.__dict__, "sentence": a.sentence()} for a in answers],
        "comparisons": [c.__dict__ for c in comparisons],
        "cells": rows,
    }


def test_reports_hold_the_tree_table_the_rounding_answer_and_embedded_figures(tmp_path: Path) -> None:
    cells = [face_cell("mi-face-bb", d.name, 0.9 if d.name in ("none", "round-0.001") else 0.0) for d in DEFENSES]
    for model in ("steak-tree", "gss-tree"):
        cells += [tree_cell("tree-wbwc", model, d.name, guessed=10, right=10) for d in DEFENSES]
        cells += [tree_cell("tree-map", model, d.name, guessed=0, right=0) for d in DEFENSES]
    rows = [row(c) for c in cells]
    summary = summary_of(rows)
    figures = draw_all(rows, ResultStore(tmp_path), tmp_path / "figures")
    md_path, html_path = write_reports(summary, figures, tmp_path)
    md, page = md_path.read_text(), html_path.read_text()
    for text in (md, html.unescape(page)):
        assert "Decision trees: the study's table and ours" in text
        for who in ("white-box", "black-box", "random", "baseline", "ideal"):
            assert who in text
        study_white_box = STUDY_TREE_TABLE["steak-tree"]["white-box"]
        assert f"{study_white_box[0]:.1f}" in text and "unverified" in text
        assert "stops working at r = 0.005" in text
        assert "at which rounding level does each attack stop working?" in text
        assert "We agree:" in text
    assert "does not beat chance even without a defence" in md  # the black-box tree attack never says yes
    assert not re.search(r"""(src|href)=["'](?!data:)""", page), "the HTML must not reference outside files"
    assert page.count('src="data:image/png;base64,') == len(figures) == 3  # no face grid without reconstructions
    assert "figures/success-vs-rounding.png" in md
