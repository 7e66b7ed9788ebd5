"""ART's own attacks run unmodified against the API through the adapters.

Locally (``LocalOracle``, ``LocalTreeOracle``, a tree JSON) here, and over HTTP
against the live service at the end. ART's ``MIFace`` descends the adapter's
zeroth-order class gradients, so it runs black-box; its attribute-inference
attacks read a tree model through its answers or through the downloaded JSON.
"""

from __future__ import annotations

import importlib
import sys

import numpy as np
import pytest
import torch
from art.attacks.inference.attribute_inference import (
    AttributeInferenceBlackBox,
    AttributeInferenceWhiteBoxDecisionTree,
)
from art.attacks.inference.model_inversion import MIFace

from attack_clients.art_adapters import ART_MISSING, ArtBigMLTree, ArtFaceClassifier, ArtTreeClassifier, RecordCodec
from attack_clients.clients import ApiError, BigMLClient, RetryPolicy, V2Client
from attack_clients.datasets import load_digits
from attack_clients.faces.gradients import WhiteBoxGradient
from attack_clients.faces.network import WhiteBoxModel
from attack_clients.oracle import LocalOracle
from attack_clients.trees.model import BigMLTree, LocalTreeOracle
from tests.attack_clients.trees.tree_fixtures import FIELDS, Scenario, build
from tests.conftest import LiveServer

FAST = RetryPolicy(attempts=2, backoff=0.01)
SENSITIVE = "cheated"


@pytest.fixture(scope="module")
def digits_model() -> WhiteBoxModel:
    """A softmax over scaled distances to each digit's mean (no training: the test is about ART, not the model)."""
    data = load_digits()
    means = np.stack([data.images[data.labels == k].mean(axis=0) for k in range(10)])
    scale = 10.0
    layer = {"weights": scale * means.T, "bias": -0.5 * scale * (means**2).sum(axis=1), "activation": "softmax"}
    return WhiteBoxModel({"layers": [layer], "image_shape": [8, 8]})


def digits_oracle(model: WhiteBoxModel) -> LocalOracle:
    return LocalOracle(model.predict_proba, [str(k) for k in range(10)])


# --- faces: ART's MIFace over the zeroth-order class gradient ---------------------------


def test_class_gradient_estimates_the_true_gradient_of_the_confidence(digits_model: WhiteBoxModel) -> None:
    oracle = digits_oracle(digits_model)
    classifier = ArtFaceClassifier(oracle, (8, 8), directions=256, delta=0.05)
    x = np.random.default_rng(0).random((4, 64)).astype(np.float32) * 0.5
    labels = np.array([0, 3, 5, 7])
    estimate = classifier.class_gradient(x, labels)
    assert estimate.shape == (4, 1, 64)
    _, cost_gradient = WhiteBoxGradient(digits_model.full)(torch.as_tensor(x), torch.as_tensor(labels))
    truth = -cost_gradient.numpy()
    cosine = (estimate[:, 0] * truth).sum(1) / np.linalg.norm(estimate[:, 0], axis=1) / np.linalg.norm(truth, axis=1)
    assert cosine.min() > 0.7
    assert oracle.stats.rows == 4 * (1 + 2 * 256)
    assert classifier.class_gradient(x[:2], 1).shape == (2, 1, 64)
    assert classifier.class_gradient(x[:2]).shape == (2, 10, 64)


def test_art_mi_face_runs_black_box_through_the_adapter(digits_model: WhiteBoxModel) -> None:
    oracle = digits_oracle(digits_model)
    classifier = ArtFaceClassifier(oracle, (8, 8))
    labels = np.arange(10)
    attack = MIFace(classifier, max_iter=40, window_length=100, threshold=0.99, learning_rate=0.5, batch_size=10)
    images = attack.infer(None, y=labels)
    assert images.shape == (10, 64) and images.min() >= 0 and images.max() <= 1
    before = digits_model.predict_proba(np.zeros((10, 64), np.float32))[labels, labels]
    after = digits_model.predict_proba(images.astype(np.float32))[labels, labels]
    assert np.median(after) > 0.5 > np.median(before)
    # Each iteration: one gradient query (1 + 2 * 8 rows per image ART still moves) and one predict of all ten.
    gradient_rows = oracle.stats.rows - 40 * 10
    assert oracle.stats.queries == 2 * 40 and gradient_rows % (1 + 2 * 8) == 0 and gradient_rows > 0
    assert np.allclose(classifier.predict(images), digits_model.predict_proba(images.astype(np.float32)), atol=1e-6)


# --- trees: ART's attribute inference, black-box and white-box ----------------------------


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return build(FIELDS, FIELDS)


@pytest.fixture(scope="module")
def blind() -> Scenario:
    return build(FIELDS, [f for f in FIELDS if f["name"] != SENSITIVE])


def without(X: np.ndarray, column: int) -> np.ndarray:
    return np.delete(X, column, axis=1)


def white_box_accuracy(case: Scenario) -> tuple[float, float]:
    """ART's white-box decision-tree attack on the training people, and the majority guess's accuracy."""
    estimator = ArtBigMLTree.from_json(case.model_json)
    codec, tree = estimator.codec, estimator.tree
    records, labels = case.train
    column = codec.column(SENSITIVE)
    X = codec.encode(records)
    y = np.array([tree.classes.index(label) for label in labels])
    prior = tree.prior(SENSITIVE)
    values = codec.values(SENSITIVE)
    attack = AttributeInferenceWhiteBoxDecisionTree(estimator, attack_feature=column)
    guesses = attack.infer(without(X, column), y, values=values, priors=[prior[c] for c in tree.categories(SENSITIVE)])
    truth = X[:, column]
    majority = max(np.mean(truth == v) for v in values)
    return float(np.mean(guesses == truth)), float(majority)


def test_art_white_box_tree_attack_reads_the_downloaded_json(scenario: Scenario, blind: Scenario) -> None:
    leaky, majority = white_box_accuracy(scenario)
    assert leaky > majority + 0.05
    nothing, majority = white_box_accuracy(blind)
    assert nothing <= majority + 0.01


def test_the_json_tree_predicts_as_the_service_and_walks_its_paths(scenario: Scenario) -> None:
    estimator = ArtBigMLTree.from_json(scenario.model_json)
    records = scenario.heldout[0][:50]
    X = estimator.codec.encode(records)
    _, served = LocalTreeOracle(BigMLTree(scenario.model_json)).predict_records(records)
    np.testing.assert_allclose(estimator.predict(X), served)
    path = estimator.get_decision_path(X[0])
    assert path[0] == 0 and estimator.nodes[path[-1]] is estimator.tree.predict(records[0])
    assert estimator.get_samples_at_node(0) == len(scenario.train[0])
    assert estimator.codec.decode(X) == [{f["name"]: r[f["name"]] for f in FIELDS} for r in records]


def test_art_black_box_attribute_inference_through_the_record_oracle(scenario: Scenario) -> None:
    oracle = LocalTreeOracle(BigMLTree(scenario.model_json))
    codec = RecordCodec(FIELDS)
    classifier = ArtTreeClassifier(oracle, codec)
    column = codec.column(SENSITIVE)
    X_train, X_test = codec.encode(scenario.train[0]), codec.encode(scenario.heldout[0])
    attack = AttributeInferenceBlackBox(classifier, attack_feature=column, attack_model_type="rf")
    attack.fit(X_train)
    predicted = classifier.predict(X_test).argmax(axis=1)[:, None]
    guesses = attack.infer(without(X_test, column), pred=predicted, values=codec.values(SENSITIVE))
    truth = X_test[:, column]
    majority = max(np.mean(truth == v) for v in codec.values(SENSITIVE))
    assert np.mean(guesses == truth) > majority + 0.05
    assert oracle.stats.queries == 2 and oracle.stats.rows == len(X_train) + len(X_test)


def test_without_art_the_import_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "art" or m.startswith("art.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delitem(sys.modules, "attack_clients.art_adapters")
    with pytest.raises(ImportError, match="adversarial-robustness-toolbox"):
        importlib.import_module("attack_clients.art_adapters")
    assert "requirements-dev.txt" in ART_MISSING


# --- over HTTP against the live service ---------------------------------------------------


@pytest.fixture(scope="module")
def key(live_server: LiveServer) -> str:
    return live_server.create_user("art-adapters")


def test_art_mi_face_over_http(live_server: LiveServer, key: str) -> None:
    """ART's MIFace against faces-softmax over the v2 binary path: each ART call is one request.

    ``threshold=1.0``: ART keeps an image moving only while its cost 1 - f is at most the
    threshold (or still rising), so its 0.99 would stop every face after one step (f < 0.01 at x0 = 0).
    """
    client = V2Client(live_server.url, key, "faces-softmax", retry=FAST)
    image_shape = client.metadata()["image_shape"]
    classifier = ArtFaceClassifier(client, image_shape, directions=4)
    model = WhiteBoxModel(BigMLClient(live_server.url, key, "faces-softmax", retry=FAST).download_model())
    grey = np.full((1, model.n_pixels), 0.5, np.float32)
    labels = np.argsort(model.predict_proba(grey)[0])[-2:]  # f(grey) well above 0: a gradient of f to follow
    start = np.repeat(grey, 2, axis=0)
    attack = MIFace(classifier, max_iter=5, window_length=100, threshold=1.0, learning_rate=0.1, batch_size=2)
    images = attack.infer(start.copy(), y=labels)
    assert client.stats.queries == 2 * 5 and client.stats.rows == 5 * 2 * (1 + 2 * 4 + 1)
    np.testing.assert_allclose(
        classifier.predict(images), model.predict_proba(images.astype(np.float32)), rtol=1e-4, atol=1e-5
    )
    assert (np.abs(images - start).max(axis=1) > 1e-3).all()  # the estimated gradients moved every image


def test_art_tree_estimators_over_http_match_the_download(live_server: LiveServer, key: str) -> None:
    """Black-box over v2 and white-box over the BigML download see one tree."""
    for name in ("steak-tree", "fair-tree"):
        try:
            v2 = V2Client(live_server.url, key, name, retry=FAST)
            fields = v2.metadata()["fields"]
            break
        except ApiError:
            continue
    else:
        pytest.fail("the service serves no built-in tree")
    black_box = ArtTreeClassifier(v2, RecordCodec(fields))
    white_box = ArtBigMLTree(
        BigMLTree(BigMLClient(live_server.url, key, name, retry=FAST).download_model()), RecordCodec(fields)
    )
    assert white_box.tree.classes == v2.classes
    codec = black_box.codec
    X = codec.encode([{f["name"]: (f.get("categories") or [None])[0] for f in fields}])
    rng = np.random.default_rng(0)
    rows = np.repeat(X, 40, axis=0)
    for col, field in enumerate(fields):
        if field.get("optype") == "categorical":
            rows[:, col] = rng.integers(0, len(field["categories"]), len(rows))
        else:
            rows[:, col] = rng.integers(0, 60, len(rows))
    np.testing.assert_allclose(black_box.predict(rows), white_box.predict(rows), atol=1e-6)
    assert v2.stats.queries == 1 and v2.stats.rows == len(rows)
