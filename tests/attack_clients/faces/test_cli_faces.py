"""The three commands end to end against a fake client on digits (no server)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from attack_clients.attacks import Target
from attack_clients.cli import main
from attack_clients.clients import DownloadForbidden
from attack_clients.oracle import LocalOracle


class FakeClient(LocalOracle):
    """What ``connect`` returns, over a local model: metadata, download, stats."""

    def __init__(self, target, downloadable: bool = True) -> None:
        super().__init__(target.model.predict_proba, target.data.classes)
        self.export = target.export
        self.downloadable = downloadable

    def metadata(self) -> dict:
        return {"kind": "image", "classes": self.classes, "image_shape": [8, 8]}

    def download_model(self) -> dict:
        if not self.downloadable:
            raise DownloadForbidden(403, "switched off")
        return self.export


class NoDownloadClient(LocalOracle):
    """What ``connect`` returns for the v2 dialect: predictions, metadata, no download."""

    metadata = FakeClient.metadata

    def __init__(self, target) -> None:
        super().__init__(target.model.predict_proba, target.data.classes)


def run(argv: list[str], client: FakeClient | NoDownloadClient, monkeypatch) -> int:
    monkeypatch.setattr(Target, "connect", lambda self, dialect=None: client)
    return main(argv)


def common(out: Path) -> list[str]:
    return ["--url", "http://x", "--key", "k", "--model", "faces-softmax", "--out", str(out), "--quiet"]


@pytest.fixture(autouse=True)
def no_data(monkeypatch) -> None:
    monkeypatch.delenv("MLAAS_DATA_DIR", raising=False)


def test_mi_face_black_box_writes_results_and_pngs(tmp_path: Path, digits_target, monkeypatch) -> None:
    client = FakeClient(digits_target)
    argv = ["mi-face", *common(tmp_path), "--labels", "0,3", "--iterations", "50", "--lam", "1"]
    assert run(argv, client, monkeypatch) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["mode"] == "black-box"
    assert results["rows"] == client.stats.rows > 0
    assert results["labels"] == [0, 3]
    assert {"face_recognizer_top1", "evaluation_network_top1", "pixel_evaluator_top1", "ssim_mean"} <= set(
        results["metrics"]
    )
    assert set(results["judges"]) == {"face_recognizer", "evaluation_network", "pixel_evaluator", "ssim"}
    assert results["judges"]["face_recognizer"]["applies"] is False  # digits: no face to recognise
    assert results["success"]["top1"] is None and "digits" in results["success"]["reason"]
    assert (tmp_path / "recon-0.png").is_file() and (tmp_path / "recon-3.png").is_file()
    assert (tmp_path / "grid.png").is_file()


def test_mi_face_white_box_all_labels_and_refused_download(tmp_path: Path, digits_target, monkeypatch) -> None:
    argv = ["mi-face", *common(tmp_path), "--white-box", "--iterations", "200", "--no-eval"]
    assert run(argv, FakeClient(digits_target), monkeypatch) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["rows"] == 0
    assert len(results["per_label"]) == 10
    assert len(list(tmp_path.glob("recon-*.png"))) == 10
    assert run(argv, FakeClient(digits_target, downloadable=False), monkeypatch) == 2


def test_labels_outside_the_model_are_refused(tmp_path: Path, digits_target, monkeypatch, capsys) -> None:
    argv = ["mi-face", *common(tmp_path), "--labels", "0,10", "--no-eval"]
    assert run(argv, FakeClient(digits_target), monkeypatch) == 2
    assert "labels must be in 0..9" in capsys.readouterr().err
    assert not (tmp_path / "results.json").exists()


def test_white_box_without_a_download_points_at_bigml(tmp_path: Path, digits_target, monkeypatch, capsys) -> None:
    argv = ["mi-face", *common(tmp_path), "--white-box", "--dialect", "v2", "--no-eval"]
    assert run(argv, NoDownloadClient(digits_target), monkeypatch) == 2
    assert "--dialect bigml" in capsys.readouterr().err
    assert not (tmp_path / "results.json").exists()


def test_extract_invert_picks_equations_for_softmax(tmp_path: Path, digits_target, monkeypatch) -> None:
    argv = ["extract-invert", *common(tmp_path), "--iterations", "200", "--labels", "1,2", "--no-eval"]
    assert run(argv, FakeClient(digits_target), monkeypatch) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["method"] == "equations"
    assert results["rows"] == 12 + 65
    assert results["extraction_stats"]["rows"] == 12 + 65


def test_decoder_command(tmp_path: Path, digits_target, monkeypatch) -> None:
    argv = ["decoder", *common(tmp_path), "--epochs", "5", "--augment", "0", "--labels", "0,1,2"]
    assert run(argv, FakeClient(digits_target), monkeypatch) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["split"] == "disjoint"
    assert results["rows"] == results["auxiliary_rows"] + results["victim_rows"]
    assert "ssim_to_victim" in results["metrics"]
    assert len(list(tmp_path.glob("recon-*.png"))) == 3
    assert np.isfinite(results["metrics"]["baseline_mean_face_ssim_to_victim"])


def test_gradient_auto_switches_to_log_when_x0_confidence_vanishes(tmp_path: Path, digits_target, monkeypatch) -> None:
    argv = ["mi-face", *common(tmp_path), "--white-box", "--iterations", "5", "--no-eval", "--labels", "1"]
    assert run(argv, FakeClient(digits_target), monkeypatch) == 0
    assert json.loads((tmp_path / "results.json").read_text())["log_gradient"] is False
    biased = type(digits_target)(**vars(digits_target))
    layer = dict(digits_target.export["layers"][0])
    layer["bias"] = np.r_[30.0, np.zeros(9)]
    biased.export = {**digits_target.export, "layers": [layer]}
    assert run(argv, FakeClient(biased), monkeypatch) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["log_gradient"] is True
    assert results["gradient_choice"].startswith("auto")


def test_mi_face_from_the_mean_face_of_everyone_else(tmp_path: Path, digits_target, monkeypatch) -> None:
    from attack_clients.faces.starts import mean_face_starts

    client = FakeClient(digits_target)
    asked: list[np.ndarray] = []
    answer = client.predict_proba
    monkeypatch.setattr(client, "predict_proba", lambda X: (asked.append(np.array(X)), answer(X))[1])
    argv = ["mi-face", *common(tmp_path), "--labels", "2,5", "--iterations", "3", "--start", "mean-face", "--no-eval"]
    assert run(argv, client, monkeypatch) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["start"] == "mean-face"
    expected = mean_face_starts(digits_target.data, [2, 5])
    np.testing.assert_allclose(asked[1], expected, rtol=1e-6)  # after the blank image: each victim's start
    np.testing.assert_allclose(asked[2][0], expected[0], rtol=1e-6)  # the descent's first centre


def test_mi_face_white_box_from_the_mean_face(tmp_path: Path, digits_target, monkeypatch) -> None:
    argv = ["mi-face", *common(tmp_path), "--white-box", "--iterations", "30", "--start", "mean-face"]
    assert run(argv, FakeClient(digits_target), monkeypatch) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["start"] == "mean-face" and len(results["per_label"]) == 10
    start, end = results["start_metrics"]["metrics"], results["metrics"]
    assert start["pixel_evaluator_top1"] <= 0.3 < end["pixel_evaluator_top1"]  # the start alone is no one
    assert min(row["confidence"] for row in results["per_label"]) > 0.5
