"""The trees' training defences as the service serves them, and the MAP attack's confusion source,
against the real gunicorn (steak with the data, the affairs survey without)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from attack_clients.cli import main
from attack_clients.clients import ApiError, BigMLClient, V2Client, connect
from attack_clients.trees.model import BigMLTree, LocalTreeOracle
from attack_clients.trees.records import builtin_targets
from tests.conftest import LiveServer

VARIANTS = ("private-top", "private-bottom", "dp-eps1", "dp-eps10")


def _data_dir() -> Path | None:
    raw = os.environ.get("MLAAS_DATA_DIR")
    return Path(raw) if raw else None


@pytest.fixture(scope="module")
def key(live_server: LiveServer) -> str:
    return live_server.create_user("private-trees")


@pytest.fixture(scope="module")
def tree(live_server: LiveServer, key: str) -> str:
    for name in ("steak-tree", "fair-tree"):
        try:
            V2Client(live_server.url, key, name).metadata()
        except ApiError:
            continue
        return name
    pytest.fail("the service serves no survey tree")


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_dialect_answers_alike_and_like_the_download(live_server: LiveServer, key: str, tree: str, variant):
    model = f"{tree}-{variant}"
    v2 = connect(live_server.url, key, model)
    metadata = v2.metadata()
    assert metadata["training_defense"] and metadata["heldout_accuracy"] is not None
    assert ("epsilon" in metadata) == variant.startswith("dp")
    records = builtin_targets(metadata, _data_dir())[0]["training"].records[:6]
    labels, probabilities = v2.predict_records(records)
    bigml = BigMLClient(live_server.url, key, model, username="private-trees")
    for client in (bigml, *(connect(live_server.url, key, model, dialect) for dialect in ("azure", "azure-classic"))):
        other_labels, other = client.predict_records(records)
        assert other_labels.tolist() == labels.tolist(), client.dialect
        np.testing.assert_allclose(other, probabilities, atol=1e-6, err_msg=client.dialect)
    local_labels, local = LocalTreeOracle(BigMLTree(bigml.download_model())).predict_records(records)
    assert local_labels.tolist() == labels.tolist()
    np.testing.assert_allclose(local, probabilities, atol=1e-6)


def _run(live_server: LiveServer, key: str, model: str, out: Path, *extra: str) -> dict[str, Any]:
    argv = ["tree-map", "--url", live_server.url, "--key", key, "--model", model, "--out", str(out), *extra]
    assert main(argv) == 0
    return json.loads((out / "results.json").read_text())["parameters"]


def test_confusion_sample_training_measures_the_confusion_on_the_training_rows(live_server, key, tree, tmp_path):
    heldout = _run(live_server, key, tree, tmp_path / "heldout")
    training = _run(live_server, key, tree, tmp_path / "training", "--confusion-sample", "training")
    assert "heldout targets" in heldout["confusion_source"] and "training targets" in training["confusion_source"]
    counts = {name: np.array(p["confusion"]["counts"]) for name, p in (("h", heldout), ("t", training))}
    assert counts["h"].shape == counts["t"].shape and not np.array_equal(counts["h"], counts["t"])
    share = {name: np.trace(c) / c.sum() for name, c in counts.items()}
    assert share["t"] > share["h"], "a tree is more often right on the rows it was trained on"


def test_white_box_reads_no_training_marginal_from_a_differentially_private_tree(live_server, key, tree, tmp_path):
    out = tmp_path / "wbwc"
    argv = ["tree-wbwc", "--url", live_server.url, "--key", key, "--model", f"{tree}-dp-eps1", "--out", str(out)]
    assert main([*argv, "--dialect", "bigml"]) == 0
    parameters = json.loads((out / "results.json").read_text())["parameters"]
    assert "no counts" in parameters["prior_source"]
