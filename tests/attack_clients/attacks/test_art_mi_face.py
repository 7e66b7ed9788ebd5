"""``art-mi-face``: ART's MIFace as a registry attack, on a local model and over HTTP."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from attack_clients.attacks import ATTACKS, Target
from attack_clients.attacks.art_mi_face import ArtMiFaceParams, run
from attack_clients.cli import main
from attack_clients.clients import V2Client
from attack_clients.datasets import load_digits
from attack_clients.faces.network import WhiteBoxModel
from attack_clients.oracle import LocalOracle
from tests.conftest import LiveServer

ROWS_PER_GRADIENT = 1 + 2 * 8


class DigitsClient(LocalOracle):
    """What ``connect`` returns, over a softmax of scaled distances to each digit's mean (no training)."""

    def __init__(self) -> None:
        data = load_digits()
        means = np.stack([data.images[data.labels == k].mean(axis=0) for k in range(10)])
        layer = {"weights": 10.0 * means.T, "bias": -5.0 * (means**2).sum(axis=1), "activation": "softmax"}
        self.model = WhiteBoxModel({"layers": [layer], "image_shape": [8, 8]})
        super().__init__(self.model.predict_proba, [str(k) for k in range(10)])

    def metadata(self) -> dict:
        return {"kind": "image", "classes": self.classes, "image_shape": [8, 8]}


@pytest.fixture(autouse=True)
def no_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLAAS_DATA_DIR", raising=False)


def cli(argv: list[str], client: DigitsClient, out: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(Target, "connect", lambda self, dialect=None: client)
    return main([*argv, "--url", "http://x", "--key", "k", "--model", "digits", "--out", str(out), "--quiet"])


def test_art_mi_face_descends_every_label_and_writes_the_face_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--threshold 1``: ART keeps every face moving for ``max_iter`` steps, one gradient and one predict each."""
    client = DigitsClient()
    argv = ["art-mi-face", "--labels", "0,3,7", "--max-iter", "40", "--threshold", "1", "--learning-rate", "0.5"]
    assert cli(argv, client, tmp_path, monkeypatch) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["attack"] == "art-mi-face" and results["labels"] == [0, 3, 7]
    assert results["art"]["threshold"] == 1.0 and results["art"]["batch_size"] == 3
    assert results["attack_stats"]["queries"] == 2 * 40
    assert results["attack_stats"]["rows"] == 40 * 3 * (ROWS_PER_GRADIENT + 1)
    assert results["total_stats"]["queries"] == client.stats.queries == 2 * 40 + 1  # and the confidences' query
    blank = client.model.predict_proba(np.zeros((1, 64), np.float32))[0, [0, 3, 7]]
    reached = np.array([entry["confidence"] for entry in results["per_label"]])
    assert np.median(reached) > 0.5 > np.median(blank)
    assert set(results["judges"]) == {"face_recognizer", "evaluation_network", "pixel_evaluator", "ssim"}
    assert all((tmp_path / f"recon-{label}.png").is_file() for label in (0, 3, 7))
    assert (tmp_path / "grid.png").is_file()


def test_arts_own_threshold_stops_a_face_below_one_percent_after_one_step(monkeypatch: pytest.MonkeyPatch) -> None:
    client = DigitsClient()
    monkeypatch.setattr(Target, "connect", lambda self, dialect=None: client)
    blank = client.model.predict_proba(np.zeros((1, 64), np.float32))[0]
    faint = int(np.argmin(blank))
    assert blank[faint] < 0.01
    result = run(Target("http://x", "k", "digits"), ArtMiFaceParams(labels=(faint,), no_eval=True, quiet=True))
    assert result.document["attack_stats"]["queries"] == 2
    assert result.document["art"]["max_iter"] == 10000
    assert result.images.shape == (1, 64) and result.labels == [faint]


def test_without_art_the_verb_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    for name in ["art", *(m for m in sys.modules if m.startswith("art."))]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delitem(sys.modules, "attack_clients.art_adapters", raising=False)
    assert cli(["art-mi-face", "--labels", "0"], DigitsClient(), tmp_path, monkeypatch) == 2
    assert "pip install adversarial-robustness-toolbox" in capsys.readouterr().err


def test_the_registry_entry_is_arts_black_box_face_attack() -> None:
    attack = ATTACKS["art-mi-face"]
    assert attack.family == "face" and not attack.white_box and attack.dialect == "v2"
    assert attack.params == ArtMiFaceParams(start="grey", threshold=1.0)
    assert ArtMiFaceParams().threshold == 0.99 and ArtMiFaceParams().start == "blank"  # ART's, on the command line


def test_art_mi_face_over_http(live_server: LiveServer) -> None:
    """Against the service's faces-softmax over v2: ART's steps are the requests the service counts."""
    key = live_server.create_user("art-mi-face")
    v2 = V2Client(live_server.url, key, "faces-softmax")
    blank = v2.predict_proba(np.zeros((1, int(np.prod(v2.metadata()["image_shape"]))), np.float32))[1][0]
    labels = tuple(int(k) for k in np.argsort(blank)[-2:])  # f(blank) well above 0: a slope to follow
    params = ArtMiFaceParams(labels=labels, max_iter=3, threshold=1.0, no_eval=True, quiet=True)
    result = run(Target(live_server.url, key, "faces-softmax"), params)
    document = result.document
    assert document["attack_stats"]["queries"] == 2 * 3
    assert document["attack_stats"]["rows"] == 3 * 2 * (ROWS_PER_GRADIENT + 1)
    assert document["total_stats"]["queries"] == 2 * 3 + 1  # and the confidences' query
    assert result.images.shape == (2, int(np.prod(document["image_shape"])))
    assert (np.abs(result.images).max(axis=1) > 1e-3).all()  # the estimated gradients moved both faces
