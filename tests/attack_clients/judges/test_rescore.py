"""``python -m attack_clients judge DIR``: re-scoring the reconstructions a finished run left behind."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from attack_clients.cli import main
from attack_clients.datasets import load_digits
from attack_clients.faces.report import save_reconstructions
from attack_clients.judges.rescore import read_reconstructions


def test_png_round_trip_keeps_labels_shape_and_pixels(tmp_path: Path) -> None:
    images = np.random.default_rng(0).random((3, 8 * 6))
    save_reconstructions(images, [4, 0, 11], (8, 6), tmp_path)
    read, labels, shape = read_reconstructions(tmp_path)
    assert labels == [0, 4, 11] and shape == (8, 6)
    np.testing.assert_allclose(read, images[[1, 0, 2]], atol=2 / 255)  # 8-bit PNG through a 256-entry grey colormap


def test_judge_writes_judged_json_for_the_digits_fallback(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("MLAAS_DATA_DIR", raising=False)
    data = load_digits()
    rows = [int(np.flatnonzero(data.labels == k)[0]) for k in range(10)]
    save_reconstructions(data.images[rows], list(range(10)), data.image_shape, tmp_path)
    assert main(["judge", str(tmp_path)]) == 0
    judged = json.loads((tmp_path / "judged.json").read_text())
    assert judged["data"] == "digits" and judged["classes_from"] == "zoo order"
    assert judged["judges"]["face_recognizer"]["applies"] is False
    assert judged["success"]["top1"] is None
    assert judged["judges"]["pixel_evaluator"]["top1"] == 1.0


def test_judge_follows_the_classes_results_json_recorded(tmp_path: Path, att) -> None:
    """Label 0 of a model whose classes are listed backwards is person s40."""
    classes = list(reversed(att.classes))
    people = [39, 38, 0]
    photos = att.images[[10 * p + 1 for p in people]]
    save_reconstructions(photos, [0, 1, 39], att.image_shape, tmp_path)
    (tmp_path / "results.json").write_text(json.dumps({"model": "faces-softmax", "classes": classes}))
    assert main(["judge", str(tmp_path), "--model", "faces-softmax"]) == 0
    judged = json.loads((tmp_path / "judged.json").read_text())
    assert judged["classes_from"] == "results.json"
    recogniser = judged["judges"]["face_recognizer"]
    assert recogniser["top1"] == 1.0 and recogniser["verified"] == 1.0
    assert [row["identity"] for row in recogniser["per_label"]] == people
    assert judged["success"] == {"judge": "face_recognizer", "top1": 1.0, "hits": 3, "n": 3, "chance": 1 / 40}


def test_judge_exits_2_on_a_folder_without_reconstructions(tmp_path: Path, capsys) -> None:
    assert main(["judge", str(tmp_path)]) == 2
    assert "no recon-<label>.png" in capsys.readouterr().err
