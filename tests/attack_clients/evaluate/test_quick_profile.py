"""The quick profile, whole, against the live gunicorn: what CI proves about the evaluation.

Every cell of the grid must finish, and the figures must say what the attacks
and defences are known to do: white-box inversion ignores output defences,
label-only answers leave black-box MI-Face at chance, rounding keeps the
model's labels, and the report answers the study's question.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from attack_clients.cli import main


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


def test_white_box_mi_face_identifies_and_no_output_defence_reaches_it(quick) -> None:
    clean = cell(quick, "mi-face-wb.faces-softmax.none")
    assert clean["top1"] >= 0.8
    for row in quick["cells"]:
        if row["attack"] == "mi-face-wb":
            assert row["top1"] == clean["top1"], row["key"]


def test_black_box_mi_face_works_undefended_and_label_only_stops_it(quick) -> None:
    assert cell(quick, "mi-face-bb.faces-softmax.none")["top1"] >= 0.6
    label_only = cell(quick, "mi-face-bb.faces-softmax.label-only")
    assert label_only["top1"] <= 0.4 and not label_only["works"]


def test_rounding_and_truncation_never_change_the_label(quick) -> None:
    for row in quick["cells"]:
        if row["defence_kind"] in ("round", "top_k", "label_only") and row["utility.accuracy"] is not None:
            assert row["utility.accuracy"] == row["utility.clean_accuracy"], row["key"]
            assert row["utility.label_change_rate"] == 0, row["key"]


def test_the_report_answers_where_rounding_stops_each_attack(quick) -> None:
    answers = {(a["attack"], a["model"]): a for a in quick["rounding_answers"]}
    assert answers[("mi-face-wb", "faces-softmax")]["outcome"] == "survives"
    assert {a["outcome"] for a in answers.values()} <= {"stops", "survives", "never-worked"}
    report = (quick["out"] / "report.md").read_text()
    assert "at which rounding level" in report
    for attack, _ in answers:
        assert attack in report
    assert "data:image/png;base64," in (quick["out"] / "report.html").read_text()
