"""``generative`` over HTTP against the live service matches the same search run locally.

The CLI queries the v2 dialect and downloads the model through BigML; locally the
same search runs on the downloaded network with the same fold priors (the same
cache) and seed. Checked: the attack made no prediction query (white-box), the
reconstructions agree to 8 bits (the PNGs), and the served model gives each
reconstruction the confidence the attack believed it reached.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from attack_clients.attacks.judging import face_data
from attack_clients.cli import main
from attack_clients.clients import BigMLClient, RetryPolicy, V2Client
from attack_clients.faces.network import WhiteBoxModel
from attack_clients.generative.folds import fold_of, prior_folds
from attack_clients.generative.prior import prior_for
from attack_clients.generative.white_box import GmiSettings, gmi_search

MODEL = "faces-softmax"
FAST = RetryPolicy(attempts=2, backoff=0.01)


def test_white_box_cli_over_http_matches_local(live_server, tmp_path: Path) -> None:
    key = live_server.create_user("generative-live")
    v2 = V2Client(live_server.url, key, MODEL, retry=FAST)
    classes, shape = v2.classes, tuple(v2.metadata()["image_shape"])
    labels = [0, len(classes) // 2, len(classes) - 1]
    argv = [
        "generative",
        *("--url", live_server.url, f"--key={key}", "--model", MODEL, "--out", str(tmp_path)),
        *("--labels", ",".join(map(str, labels)), "--prior-size", "reduced", "--steps", "20", "--starts", "2"),
        *("--seed", "3", "--no-eval", "--quiet"),
    ]
    assert main(argv) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["access"] == "white-box" and results["rows"] == 0 and results["queries"] == 0

    export = BigMLClient(live_server.url, key, MODEL, retry=FAST).download_model()
    logits = WhiteBoxModel(export, attack_code_space=False).full[:-1]
    data, mapping, _ = face_data(shape, classes)
    folds = prior_folds(len(data.classes))
    settings = GmiSettings(steps=20, starts=2)
    expected = {}
    for fold in folds:
        mine = [label for label in labels if fold_of(int(mapping[label]), folds) is fold]
        if mine:
            prior = prior_for(fold.victims, shape, size="reduced", seed=3)
            outcome = gmi_search(prior, logits, mine, settings, seed=3)
            expected.update(zip(mine, zip(outcome.images, outcome.confidence, strict=True), strict=True))

    images = np.stack([expected[label][0] for label in labels])
    for label, image in zip(labels, images, strict=True):
        png = np.asarray(Image.open(tmp_path / f"recon-{label}.png").convert("L"), dtype=np.float64) / 255
        assert png.shape == shape and np.abs(png.ravel() - image).max() <= 2 / 255
    believed = [row["confidence"] for row in results["per_label"]]
    np.testing.assert_allclose(believed, [expected[label][1] for label in labels], rtol=1e-5)
    _, served = v2.predict_proba(images.astype(np.float32))
    np.testing.assert_allclose(served[np.arange(len(labels)), labels], believed, rtol=1e-3, atol=1e-6)
