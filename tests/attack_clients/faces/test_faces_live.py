"""The face attacks over HTTP against the live service match the same attacks run locally.

Each attack runs twice with the same seed: once through the v2 client against the
gunicorn server, once on a local oracle over the model downloaded through the BigML
dialect. Checked in this order: every row the live run queried gets the same
answer from the downloaded model (so the download reproduces the served model and
the wire keeps rows in order); the seeded parts of the two runs are identical (the
first batch of probes, bit for bit); the outcomes agree (stopping decisions,
iterations, reconstructions to a small pixel tolerance).

Float rounding: the server computes in float32 numpy, the local model in float32
torch, so answers differ in the sixth digit and trajectories drift by ~1e-6 per
pixel, far below the tolerances here, which a different seed or rows answered out
of order exceed by orders of magnitude (both tried). Works on the 8x8 digits
fallback and on AT&T faces (``MLAAS_DATA_DIR``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from attack_clients import cli_faces
from attack_clients.cli import main
from attack_clients.clients import BigMLClient, RetryPolicy, V2Client
from attack_clients.datasets import load_faces
from attack_clients.faces.decoder import DecoderInversion, run_decoder_attack
from attack_clients.faces.defense_profile import detect
from attack_clients.faces.extraction import extract_softmax, fit_surrogate
from attack_clients.faces.inversion import BlackBoxSettings, invert_black_box, invert_white_box
from attack_clients.faces.mi_face import MIFaceParams
from attack_clients.faces.network import WhiteBoxModel
from attack_clients.judges.identities import identity_map
from attack_clients.oracle import LocalOracle
from tests.conftest import LiveServer

MODEL = "faces-softmax"
SEED = 3
FAST = RetryPolicy(attempts=2, backoff=0.01)
# Served (float32 numpy) against the downloaded copy (float32 torch): the logits are sums
# of up to 10304 float32 terms in another order; measured up to 5e-6 absolute and 3e-5
# relative on AT&T faces, 1e-6 and 7e-6 on digits.
PROBABILITY_RTOL = 1e-4
PROBABILITY_ATOL = 1e-6
PIXEL_ATOL = 1e-3  # queries and reconstructions drift ~1e-6; another seed moves them by 0.05-1


class Recorder:
    """An oracle that keeps every query and answer of the oracle it wraps."""

    def __init__(self, oracle) -> None:
        self.oracle = oracle
        self.classes = oracle.classes
        self.calls: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def predict_proba(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        labels, probabilities = self.oracle.predict_proba(X)
        self.calls.append((np.array(X, dtype=np.float32), labels, probabilities))
        return labels, probabilities

    @property
    def rows(self) -> int:
        return sum(len(X) for X, _, _ in self.calls)


@dataclass
class Target:
    """The served model as the adversary reaches it, and its downloaded copy."""

    url: str
    key: str
    metadata: dict
    classes: list[str]
    image_shape: tuple[int, int]
    model: WhiteBoxModel

    @property
    def n_pixels(self) -> int:
        return int(np.prod(self.image_shape))

    def live(self) -> Recorder:
        return Recorder(V2Client(self.url, self.key, MODEL, retry=FAST))

    def local(self) -> Recorder:
        return Recorder(LocalOracle(self.model.predict_proba, self.classes))

    def labels(self) -> list[int]:
        k = len(self.classes)
        return [0, k // 2, k - 1]


@pytest.fixture(scope="module")
def key(live_server: LiveServer) -> str:
    return live_server.create_user("faces-live")


@pytest.fixture(scope="module")
def target(live_server: LiveServer, key: str) -> Target:
    v2 = V2Client(live_server.url, key, MODEL, retry=FAST)
    export = BigMLClient(live_server.url, key, MODEL, retry=FAST).download_model()
    metadata = v2.metadata()
    image_shape = tuple(int(v) for v in metadata["image_shape"])
    assert tuple(export["image_shape"]) == image_shape
    return Target(live_server.url, key, metadata, v2.classes, image_shape, WhiteBoxModel(export))


def assert_served_like_download(live: Recorder, target: Target) -> None:
    """Every row the live run sent gets the downloaded model's answer, in the same order."""
    assert live.calls, "the live run made no queries"
    X = np.vstack([X for X, _, _ in live.calls])
    served = np.vstack([P for _, _, P in live.calls])
    labels = np.concatenate([labels for _, labels, _ in live.calls])
    local = target.model.predict_proba(X)
    np.testing.assert_allclose(served, local, rtol=PROBABILITY_RTOL, atol=PROBABILITY_ATOL)
    top2 = np.sort(local, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 1e-5  # the label may differ only on a near tie
    assert (labels[clear] == local[clear].argmax(axis=1)).all()


def assert_same_queries(live: Recorder, local: Recorder, exact: int, atol: float) -> None:
    """Same calls and shapes; the first ``exact`` calls (seeded, no answer used yet) identical,
    later ones (which depend on earlier answers) within ``atol`` per pixel."""
    assert [X.shape for X, _, _ in live.calls] == [X.shape for X, _, _ in local.calls]
    for i, ((X_live, _, _), (X_local, _, _)) in enumerate(zip(live.calls, local.calls, strict=True)):
        if i < exact:
            np.testing.assert_array_equal(X_live, X_local, err_msg=f"call {i}")
        else:
            np.testing.assert_allclose(X_live, X_local, rtol=0, atol=atol, err_msg=f"call {i}")


# --- MI-Face -------------------------------------------------------------------------


def black_box(oracle: Recorder, target: Target, seed: int):
    """What ``mi-face`` does without ``--white-box``: a blank query, then the ZO descent."""
    labels = target.labels()
    blank = oracle.predict_proba(np.zeros((1, target.n_pixels), dtype=np.float32))[1][0]
    log_gradient, _ = cli_faces._log_gradient("auto", blank[labels])
    settings = BlackBoxSettings(
        estimator="zo",
        directions=4,
        basis=(8, 8),
        smooth_cost=detect(blank[None, :]).rounding is not None,
        log_gradient=log_gradient,
        seed=seed,
    )
    params = MIFaceParams(alpha=15, beta=5, lam=0.1)
    return invert_black_box(oracle, labels, target.image_shape, params, settings)


def test_mi_face_black_box_live_matches_local(target: Target) -> None:
    live, local = target.live(), target.local()
    live_images, live_result = black_box(live, target, SEED)
    local_images, local_result = black_box(local, target, SEED)
    assert_served_like_download(live, target)
    assert_same_queries(live, local, exact=2, atol=PIXEL_ATOL)  # the blank, then x0 ± δu
    assert live.rows == local.rows == live.oracle.stats.rows
    assert live_result.stop_reasons == local_result.stop_reasons
    assert live_result.iterations.tolist() == local_result.iterations.tolist()
    np.testing.assert_allclose(live_images, local_images, rtol=0, atol=PIXEL_ATOL)
    np.testing.assert_allclose(live_result.log_confidence, local_result.log_confidence, rtol=1e-4, atol=1e-5)
    assert np.abs(live_images).max() > 10 * PIXEL_ATOL  # the descent moved: the comparison means something


def test_mi_face_white_box_cli_over_bigml_matches_local(target: Target, tmp_path: Path) -> None:
    """``mi-face --white-box --dialect bigml`` downloads and inverts; the same inversion here agrees,
    and the server confirms the confidences the attack believes it reached."""
    labels = target.labels()
    argv = [  # --key=: a generated key may start with "-", which argparse would read as an option
        "mi-face",
        *("--url", target.url, f"--key={target.key}", "--model", MODEL, "--out", str(tmp_path)),
        *("--dialect", "bigml", "--white-box", "--labels", ",".join(map(str, labels))),
        *("--iterations", "60", "--beta", "20", "--seed", str(SEED), "--no-eval", "--quiet"),
    ]
    assert main(argv) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["mode"] == "white-box" and results["rows"] == 0

    blank = target.model.predict_proba(np.zeros((1, target.n_pixels)))[0]
    log_gradient, _ = cli_faces._log_gradient("auto", blank[labels])
    assert results["log_gradient"] is log_gradient
    params = MIFaceParams(alpha=60, beta=20)
    images, result = invert_white_box(target.model, labels, params, log_gradient=log_gradient)
    cli = results["per_label"]
    assert [row["label"] for row in cli] == labels
    assert [row["stop"] for row in cli] == result.stop_reasons
    assert [row["iterations"] for row in cli] == result.iterations.tolist()
    np.testing.assert_allclose([row["log_confidence"] for row in cli], result.log_confidence, rtol=1e-6)
    assert results["files"] == [f"recon-{label}.png" for label in labels]
    for label, image in zip(labels, images, strict=True):  # the PNGs hold the same images, to 8 bits
        png = np.asarray(Image.open(tmp_path / f"recon-{label}.png").convert("L"), dtype=np.float64) / 255
        assert png.shape == target.image_shape
        assert np.abs(png.ravel() - image).max() <= 2 / 255

    _, served = target.live().predict_proba(images.astype(np.float32))
    served_log = np.log(served[np.arange(len(labels)), labels])
    np.testing.assert_allclose(served_log, result.log_confidence, rtol=0, atol=1e-4)


def test_mi_face_white_box_over_v2_fails_clearly(target: Target, tmp_path: Path, capsys) -> None:
    """v2 has no model download: the CLI says so and points at BigML, without a traceback."""
    argv = [
        "mi-face",
        *("--url", target.url, f"--key={target.key}", "--model", MODEL, "--out", str(tmp_path)),
        *("--dialect", "v2", "--white-box", "--no-eval", "--quiet"),
    ]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert "--dialect bigml" in captured.err
    assert not (tmp_path / "results.json").exists()


# --- extract-invert ------------------------------------------------------------------


def extract_invert(oracle: Recorder, target: Target, method: str, seed: int):
    """What ``extract-invert`` does: extract a copy, then white-box MI-Face on it."""
    if method == "equations":
        extracted, _ = extract_softmax(oracle, target.n_pixels, extra_queries=8, seed=seed)
        copy = WhiteBoxModel(extracted.export(target.image_shape))
    else:
        surrogate, _ = fit_surrogate(oracle, target.image_shape, queries=30, rounds=2, hidden=64, epochs=3, seed=seed)
        copy = surrogate.white_box(target.image_shape)
    labels = target.labels()
    blank = copy.predict_proba(np.zeros((1, target.n_pixels)))[0]
    log_gradient, _ = cli_faces._log_gradient("auto", blank[labels])
    images, result = invert_white_box(copy, labels, MIFaceParams(alpha=40, beta=20), log_gradient=log_gradient)
    return copy, images, result


def test_extract_invert_equations_live_matches_local(target: Target) -> None:
    if target.n_pixels > 4096:
        pytest.skip(f"{target.n_pixels + 1} rows and a {target.n_pixels + 1}² solve: too slow here (see surrogate)")
    live, local = target.live(), target.local()
    assert cli_faces._is_softmax(live, target.n_pixels, SEED) and cli_faces._is_softmax(local, target.n_pixels, SEED)
    live_copy, live_images, live_result = extract_invert(live, target, "equations", SEED)
    local_copy, local_images, local_result = extract_invert(local, target, "equations", SEED)
    assert_served_like_download(live, target)
    assert_same_queries(live, local, exact=len(live.calls), atol=0)  # the canonical design and seeded rows
    probe = np.random.default_rng(SEED).random((16, target.n_pixels))
    np.testing.assert_allclose(live_copy.predict_proba(probe), local_copy.predict_proba(probe), rtol=1e-3, atol=1e-6)
    assert live_result.stop_reasons == local_result.stop_reasons
    assert live_result.iterations.tolist() == local_result.iterations.tolist()
    np.testing.assert_allclose(live_images, local_images, rtol=0, atol=PIXEL_ATOL)
    assert np.abs(live_images).max() > 10 * PIXEL_ATOL


def test_extract_invert_surrogate_live_matches_local(target: Target) -> None:
    """Round 2 queries points along MI-Face runs against the round-1 copy, so it depends on
    every answer and on the copy's seeded initial weights."""
    live, local = target.live(), target.local()
    assert cli_faces._is_softmax(live, target.n_pixels, SEED) is cli_faces._is_softmax(local, target.n_pixels, SEED)
    live_copy, live_images, live_result = extract_invert(live, target, "surrogate", SEED)
    local_copy, local_images, local_result = extract_invert(local, target, "surrogate", SEED)
    assert_served_like_download(live, target)
    assert len(live.calls) == 3  # the softmax test, round 1 (random smooth images), round 2 (trajectories)
    assert_same_queries(live, local, exact=2, atol=PIXEL_ATOL)
    probe = np.vstack([X for X, _, _ in live.calls[1:]])  # where the copies learnt (they extrapolate elsewhere)
    np.testing.assert_allclose(live_copy.predict_proba(probe), local_copy.predict_proba(probe), rtol=0, atol=1e-4)
    assert live_result.stop_reasons == local_result.stop_reasons
    assert live_result.iterations.tolist() == local_result.iterations.tolist()
    moved = np.abs(live_images).max()  # a copy from 30 rows barely moves MI-Face off the blank image
    assert moved > 0
    np.testing.assert_allclose(live_images, local_images, rtol=0, atol=1e-3 * moved)


# --- decoder -------------------------------------------------------------------------


def test_decoder_live_matches_local(target: Target) -> None:
    data = load_faces(target.image_shape)
    mapping = identity_map(target.classes, data)
    assert mapping is not None, "the served classes do not match the data set"
    inverse = np.full(len(data.classes), -1)
    inverse[mapping] = np.arange(len(mapping))
    model_labels = inverse[data.labels]
    training, _ = cli_faces._training_rows(target.metadata, model_labels)

    def attack(oracle: Recorder):
        decoder = DecoderInversion(hidden=(64,), components=30, epochs=3, seed=SEED)
        return run_decoder_attack(
            oracle, data.images, model_labels, training, target.image_shape, copies=1, decoder=decoder, seed=SEED
        )

    live, local = target.live(), target.local()
    live_outcome, local_outcome = attack(live), attack(local)
    assert_served_like_download(live, target)
    assert_same_queries(live, local, exact=len(live.calls), atol=0)  # data-set images and their jitter
    assert live_outcome.profile == local_outcome.profile
    assert live_outcome.victims.tolist() == local_outcome.victims.tolist()
    np.testing.assert_allclose(live_outcome.reconstructions, local_outcome.reconstructions, rtol=0, atol=PIXEL_ATOL)
    assert np.abs(live_outcome.reconstructions - live_outcome.baseline).max() > 10 * PIXEL_ATOL
