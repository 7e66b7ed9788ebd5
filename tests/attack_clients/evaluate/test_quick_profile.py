"""The quick profile, whole, against the live gunicorn: what CI proves about the evaluation.

Every cell of the grid must finish, and the figures must say what the attacks
and defences are known to do: white-box inversion ignores output defences and
fools a pixel classifier, success is the face recogniser's verdict (and, on the
digits fallback, says that no face recogniser applies), label-only answers
leave black-box MI-Face at chance by that verdict, rounding keeps the model's
labels, and the report answers the study's question.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from attack_clients.cli import main
from tests.conftest import data_dir


@pytest.fixture(scope="module")
def quick(live_server, tmp_path_factory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("quick")
    argv = ["evaluate", "--profile", "quick", "--out", str(out), "--url", live_server.url,
            "--key", live_server.admin_key, "--quiet"]  # fmt: skip
    assert main(argv) == 0
    summary = json.loads((out / "results.json").read_text())
    summary["out"] = out
    return summary


def cell(summary: dict[str, Any], key: str) -> dict[str, Any]:
    return next(c for c in summary["cells"] if c["key"] == key)


def test_every_cell_of_the_grid_finishes(quick) -> None:
    assert quick["failed"] == {}
    assert quick["finished_cells"] == quick["grid_cells"] == len(quick["cells"]) >= 13 * 5
    assert all(c["status"] == "ok" for c in quick["cells"])


JUDGED = ("face_recognizer_top1", "evaluation_network_top1", "pixel_evaluator_top1", "ssim_mean")


def test_white_box_mi_face_fools_the_pixel_judge_and_no_output_defense_reaches_it(quick) -> None:
    clean = cell(quick, "mi-face-wb.faces-softmax.none")
    assert clean["pixel_evaluator_top1"] >= 0.8
    for row in quick["cells"]:
        if row["attack"] == "mi-face-wb":
            assert [row[k] for k in JUDGED] == [clean[k] for k in JUDGED], row["key"]


def test_face_success_is_the_face_recognisers_verdict(quick) -> None:
    faces = [row for row in quick["cells"] if row["family"] == "face"]
    for row in faces:
        assert row["success"] == row["face_recognizer_top1"], row["key"]
        if data_dir() is None:
            assert row["success"] is None and "digits" in row["success_note"], row["key"]
        else:
            assert row["success"] is not None and row["success_note"] is None, row["key"]
            assert row["pixel_evaluator_credits_adversarial"] and not row["face_recognizer_credits_adversarial"]


def test_label_only_answers_leave_black_box_mi_face_at_chance(quick) -> None:
    label_only = cell(quick, "mi-face-bb.faces-softmax.label-only")
    assert not label_only["works"]
    if data_dir() is not None:
        assert label_only["success"] <= 0.2


def test_rounding_and_truncation_never_change_the_label(quick) -> None:
    for row in quick["cells"]:
        if row["defence_kind"] in ("round", "top_k", "label_only") and row["utility.accuracy"] is not None:
            assert row["utility.accuracy"] == row["utility.clean_accuracy"], row["key"]
            assert row["utility.label_change_rate"] == 0, row["key"]


def test_the_report_answers_where_rounding_stops_each_attack(quick) -> None:
    answers = {(a["attack"], a["model"]): a for a in quick["rounding_answers"]}
    white_box = answers[("mi-face-wb", "faces-softmax")]["outcome"]
    assert white_box == "not-judged" if data_dir() is None else white_box in ("survives", "never-worked")
    assert {a["outcome"] for a in answers.values()} <= {"stops", "survives", "never-worked", "not-judged"}
    report = (quick["out"] / "report.md").read_text()
    assert "at which rounding level" in report
    for attack, _ in answers:
        assert attack in report
    assert "data:image/png;base64," in (quick["out"] / "report.html").read_text()


def test_the_attriguard_cell_keeps_its_budget_and_reports_each_attacker(quick) -> None:
    rows = [row for row in quick["cells"] if row["attack"] == "attriguard"]
    assert rows and {row["defence"] for row in rows} == {"none"}
    for row in rows:
        measured = json.loads((quick["out"] / "cells" / f"{row['key']}.json").read_text())["raw"]["metrics"]
        assert 0 <= measured["training"]["changed"]["expected"] <= 1.0 + 1e-9, row["key"]
        assert row["success"] == measured["training"]["attackers"]["wbwc"]["precision"], row["key"]
        assert set(measured["training"]["attackers"]) == {"map", "wbwc", "own"}
    assert "AttriGuard: the tree attacks on perturbed released answers" in (quick["out"] / "report.md").read_text()
    assert (quick["out"] / "figures" / "attriguard.png").is_file()
