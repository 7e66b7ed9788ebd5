"""The split-network decoder: a unit check of the deconvolutional decoder, and the whole pipeline live.

Live: simulated users run the downloaded device stage locally and send their features to the
service stage over HTTP; the attacker (the operator's key) reads the logged features back and
writes the decoder's reconstructions. Works on the 8x8 digits fallback and on AT&T faces.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import requests
import torch

from attack_clients.attacks import ATTACKS, AttackNotApplicable, Target
from attack_clients.attacks.output import write_result
from attack_clients.attacks.split_decoder import SplitDecoderParams, run
from attack_clients.faces.split import Deconvolution, SplitDecoder, upsamplings
from tests.conftest import LiveServer

MODEL = "faces-split"


@pytest.mark.parametrize("shape", [(8, 8), (64, 64), (112, 92)])
def test_the_decoder_outputs_whole_images(shape: tuple[int, int]) -> None:
    network = Deconvolution(32, shape, tuple(max(4, 32 // 2**i) for i in range(upsamplings(shape))))
    out = network(torch.zeros(3, 32))
    assert tuple(out.shape) == (3, shape[0] * shape[1]) and float(out.min()) >= 0 and float(out.max()) <= 1


def test_the_decoder_learns_images_back_from_their_features() -> None:
    """Features that are a fixed function of the image: the decoder beats the mean image on new images."""
    rng = np.random.default_rng(0)
    basis = rng.random((4, 64))
    codes = rng.random((300, 4))
    images = np.clip(codes @ basis / 2, 0, 1)
    features = np.maximum(images @ rng.normal(size=(64, 16)), 0)
    decoder = SplitDecoder(epochs=60, width=16, seed=0).fit(features[:250], images[:250], (8, 8))
    error = np.mean((decoder.predict(features[250:]) - images[250:]) ** 2)
    baseline = np.mean((images[:250].mean(axis=0) - images[250:]) ** 2)
    assert error < 0.5 * baseline


def test_registry_entries_sweep_the_device_noise() -> None:
    noises = [a.params.device_noise for name, a in ATTACKS.items() if name.startswith("split-decoder")]
    assert noises[0] == 0 and noises == sorted(noises) and len(noises) >= 4
    assert all(a.operator and a.white_box for name, a in ATTACKS.items() if name.startswith("split-decoder"))


def test_split_pipeline_live(live_server: LiveServer, tmp_path) -> None:
    target = Target(live_server.url, live_server.admin_key, MODEL)
    params = SplitDecoderParams(labels=(0, 1), epochs=2, augment=0, width=8, quiet=True, no_eval=True)
    result = run(target, params)
    path = write_result(result, tmp_path)
    document = json.loads(path.read_text())
    assert sorted(p.name for p in tmp_path.glob("recon-*.png")) == ["recon-0.png", "recon-1.png"]
    assert (tmp_path / "grid.png").exists()
    meta = requests.get(f"{live_server.url}/v2/models/{MODEL}", timeout=30,
                        headers={"Authorization": f"Bearer {live_server.admin_key}"}).json()["parameters"]
    # Every held-out photo was sent once, by its person, and the service logged exactly those rows.
    assert document["user_queries"] == document["logged_rows"] == len(meta["heldout_rows"])
    # Without device noise the users get the served model's own held-out accuracy (the client's torch
    # device stage and the server's numpy one agree to float32 rounding: one borderline answer may flip).
    one_answer = 1 / len(meta["heldout_rows"])
    assert document["accuracy_under_noise"] == pytest.approx(meta["heldout_accuracy"], abs=1.5 * one_answer)
    assert result.images.shape == (2, int(np.prod(meta["image_shape"])))
    assert np.all((result.images >= 0) & (result.images <= 1))

    noisy = run(target, SplitDecoderParams(labels=(0,), device_noise=1e4, epochs=1, augment=0, width=8,
                                           quiet=True, no_eval=True))
    assert noisy.document["accuracy_under_noise"] < 0.5 * meta["heldout_accuracy"]


def test_only_the_operator_reads_the_features(live_server: LiveServer) -> None:
    key = live_server.create_user(f"split-user-{np.random.default_rng().integers(1 << 30)}")
    with pytest.raises(AttackNotApplicable, match="operator"):
        run(Target(live_server.url, key, MODEL), SplitDecoderParams(labels=(0,), epochs=1, quiet=True, no_eval=True))
