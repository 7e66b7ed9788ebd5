"""The clients against the real service under gunicorn: every dialect answers alike,
downloads match the answers, refusals surface as the right exceptions."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from attack_clients.cli import main
from attack_clients.clients import ApiError, BigMLClient, DownloadForbidden, RetryPolicy, V2Client, connect
from attack_clients.trees.model import BigMLTree, LocalTreeOracle
from attack_clients.trees.records import builtin_targets
from tests.conftest import LiveServer

FAST = RetryPolicy(attempts=2, backoff=0.01)
TREES = ("steak-tree", "fair-tree")


def data_dir() -> Path | None:
    raw = os.environ.get("MLAAS_DATA_DIR")
    return Path(raw) if raw else None


@pytest.fixture(scope="module")
def key(live_server: LiveServer) -> str:
    return live_server.create_user("attack-clients")


@pytest.fixture(scope="module")
def tree(live_server: LiveServer, key: str) -> str:
    """The built-in tree this server has (steak with the data, fair without)."""
    for name in TREES:
        try:
            V2Client(live_server.url, key, name, retry=FAST).metadata()
        except ApiError:
            continue
        return name
    pytest.fail(f"the service serves none of {TREES}")


def test_tree_dialects_agree_with_each_other_and_with_the_download(live_server: LiveServer, key: str, tree: str):
    v2 = connect(live_server.url, key, tree)
    sets, _ = builtin_targets(v2.metadata(), data_dir())
    records = sets["training"].records[:8]
    labels, probabilities = v2.predict_records(records)
    bigml = BigMLClient(live_server.url, key, tree, username="attack-clients")
    for client in (
        bigml,
        connect(live_server.url, key, tree, "azure"),
        connect(live_server.url, key, tree, "azure-classic"),
    ):
        other_labels, other = client.predict_records(records)
        assert other_labels.tolist() == labels.tolist(), client.dialect
        np.testing.assert_allclose(other, probabilities, atol=1e-6, err_msg=client.dialect)
    local = LocalTreeOracle(BigMLTree(bigml.download_model()))
    assert local.classes == v2.classes
    local_labels, local_probabilities = local.predict_records(records)
    assert local_labels.tolist() == labels.tolist()
    np.testing.assert_allclose(local_probabilities, probabilities, atol=1e-6)
    assert v2.stats.queries == 1 and v2.stats.rows == 8 and bigml.stats.queries == 8


def test_image_dialects_agree_with_the_downloaded_network(live_server: LiveServer, key: str) -> None:
    v2 = connect(live_server.url, key, "faces-softmax", batch_size=2)
    n_pixels = int(np.prod(v2.metadata()["image_shape"]))
    X = np.random.default_rng(0).random((3, n_pixels)).astype(np.float32)
    labels, probabilities = v2.predict_proba(X)
    assert v2.stats.queries == 2 and probabilities.shape == (3, len(v2.classes))
    _, azure = connect(live_server.url, key, "faces-softmax", "azure").predict_proba(X)
    # float32 logits over ~10^4 pixels, summed in another order for another batch size
    np.testing.assert_allclose(azure, probabilities, rtol=1e-4, atol=1e-5)
    bigml = BigMLClient(live_server.url, key, "faces-softmax")
    _, remote = bigml.predict_proba(X[:1])
    np.testing.assert_allclose(remote, probabilities[:1], rtol=1e-4, atol=1e-5)
    export = bigml.download_model()
    assert bigml.kind == "deepnet" and export["image_shape"] == v2.metadata()["image_shape"]
    (layer,) = export["layers"]
    logits = X.astype(np.float64) @ layer["weights"] + layer["bias"]
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(probabilities, expected / expected.sum(axis=1, keepdims=True), rtol=1e-4, atol=1e-5)
    assert labels.tolist() == probabilities.argmax(axis=1).tolist()


def test_switched_off_download_is_download_forbidden(live_server: LiveServer, key: str, tree: str) -> None:
    assert live_server.admin("PUT", f"/admin/models/{tree}/download", json={"downloadable": False}).ok
    try:
        with pytest.raises(DownloadForbidden):
            BigMLClient(live_server.url, key, tree).download_model()
    finally:
        assert live_server.admin("PUT", f"/admin/models/{tree}/download", json={"downloadable": True}).ok


def test_budgets_client_side_and_server_side(live_server: LiveServer) -> None:
    key = live_server.create_user("attack-clients-tight", row_budget=3)
    client = V2Client(live_server.url, key, "faces-softmax", retry=FAST)
    X = np.zeros((2, int(np.prod(client.metadata()["image_shape"]))), dtype=np.float32)
    client.predict_proba(X)
    with pytest.raises(ApiError) as info:
        client.predict_proba(X)
    assert info.value.status == 429 and "budget" in info.value.message
    assert client.stats.rows == 2


@pytest.mark.parametrize("attack", ["tree-wbwc", "tree-map"])
def test_tree_attack_cli_on_the_builtin_tree(live_server: LiveServer, key: str, tree: str, tmp_path: Path, attack):
    out = tmp_path / attack
    dialect = "bigml" if attack == "tree-wbwc" else "v2"  # WBWC downloads, so it may as well speak BigML
    argv = [attack, "--url", live_server.url, "--key", key, "--model", tree, "--out", str(out), "--dialect", dialect]
    assert main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    assert set(results["metrics"]) == {"training", "heldout"}
    for row in results["metrics"].values():
        assert row["attack"]["n"] > 100 and row["attack"]["accuracy"] is not None
