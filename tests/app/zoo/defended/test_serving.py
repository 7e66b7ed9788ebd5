"""A defended model served while it trains and after: listings, states, the not-ready errors,
then its metadata in every dialect and its answers, picked up without a restart."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from app import create_app
from app.__main__ import main
from app.core import registry as registry_module
from app.dialects.bigml_resources import builtin_id
from app.zoo.defended import store
from tests.app.zoo.defended.conftest import DP_MODEL
from tests.conftest import ADMIN_KEY

HEADERS = {"Authorization": f"Bearer {ADMIN_KEY}"}
BIGML_AUTH = f"username=admin&api_key={ADMIN_KEY}"


@pytest.fixture(scope="module")
def served(defended_cache: Path, tmp_path_factory: pytest.TempPathFactory):
    db = tmp_path_factory.mktemp("defended-db") / "app.sqlite3"
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{db}",
            "ADMIN_KEY": ADMIN_KEY,
            "DATA_DIR": None,
            "CACHE_DIR": defended_cache,
            "TRAINING_DEFENSES": DP_MODEL,
            "TESTING": True,
        }
    )
    return app, app.test_client()


def entry(cache: Path) -> store.Entry:
    (found,) = store.entries(None, cache, "att", DP_MODEL)
    return found


def listing_entry(client) -> dict:
    objects = client.get(f"/andromeda/model?{BIGML_AUTH}&limit=100").get_json()["objects"]
    return next(o for o in objects if o["name"] == DP_MODEL)


def pixels(n: int = 3) -> np.ndarray:
    return np.random.default_rng(0).random((n, 64), dtype=np.float32)


def infer_v2(client, X: np.ndarray):
    body = {"inputs": [{"name": "pixels", "shape": list(X.shape), "datatype": "FP32", "data": X.ravel().tolist()}]}
    return client.post(f"/v2/models/{DP_MODEL}/infer", json=body, headers=HEADERS)


def wait_until_picked_up(client) -> None:
    deadline = time.monotonic() + 10 * registry_module.POLL_SECONDS
    while client.get(f"/v2/models/{DP_MODEL}/ready", headers=HEADERS).status_code != 200:
        assert time.monotonic() < deadline, "the worker did not pick the trained model up"
        time.sleep(0.2)


def test_not_ready_then_trained_then_served(served, defended_cache: Path) -> None:
    app, client = served
    target = entry(defended_cache)

    # queued: listed with its state, refused with a clear 503 in each dialect's format, nothing charged
    ready = client.get(f"/v2/models/{DP_MODEL}/ready", headers=HEADERS)
    assert ready.status_code == 400 and ready.get_json()["state"] == "queued"
    meta = client.get(f"/v2/models/{DP_MODEL}", headers=HEADERS).get_json()
    assert meta["parameters"]["state"] == "queued"
    assert meta["parameters"]["training_defense_params"]["noise_multiplier"] == 0.5
    assert listing_entry(client)["status"]["code"] == 1
    refused = infer_v2(client, pixels())
    assert refused.status_code == 503 and "not ready" in refused.get_json()["error"]
    assert int(refused.headers["Retry-After"]) > 0
    bigml = client.post(
        f"/andromeda/prediction?{BIGML_AUTH}",
        json={"model": f"deepnet/{builtin_id(DP_MODEL)}", "input_data": {f"pixel_{i}": 0.5 for i in range(64)}},
    )
    assert bigml.status_code == 503 and bigml.get_json()["status"]["message"].startswith(f"model '{DP_MODEL}'")
    azure = client.post(
        "/score",
        headers={**HEADERS, "azureml-model-deployment": DP_MODEL},
        json={"input_data": {"columns": [f"pixel_{i}" for i in range(64)], "index": [0], "data": [[0.5] * 64]}},
    )
    assert azure.status_code == 503 and azure.get_json()["error"]["code"] == "ServiceUnavailable"
    download = client.get(f"/andromeda/deepnet/{builtin_id(DP_MODEL)}?{BIGML_AUTH}").get_json()
    assert download["status"]["code"] == 1 and "network" not in download.get("deepnet", {})

    # training: a live trainer's note
    target.training_note.write_text(str(os.getpid()))
    try:
        time.sleep(registry_module.POLL_SECONDS)
        assert listing_entry(client)["status"]["code"] == 3
        assert client.get(f"/v2/models/{DP_MODEL}/ready", headers=HEADERS).get_json()["state"] == "training"
    finally:
        target.training_note.unlink()

    store.train_missing([target], None)
    wait_until_picked_up(client)

    model = app.extensions["mlaas"].registry.builtins[DP_MODEL]
    params = client.get(f"/v2/models/{DP_MODEL}", headers=HEADERS).get_json()["parameters"]
    assert params["state"] == "ready"
    defense = params["training_defense_params"]
    assert params["epsilon"] == defense["epsilon"] == model.metadata["epsilon"] > 0
    assert params["delta"] == 1e-5
    assert {"noise_multiplier", "max_grad_norm", "epochs", "batch_size", "heldout_accuracy"} <= set(defense)
    assert params["heldout_accuracy"] == defense["heldout_accuracy"] > 0.5  # 10 digits: chance is 0.1
    listed = listing_entry(client)
    assert listed["status"]["code"] == 5
    assert listed["epsilon"] == params["epsilon"]
    assert listed["training_defense_params"]["batch_size"] == defense["batch_size"]

    X = pixels()
    answer = infer_v2(client, X)
    assert answer.status_code == 200
    probabilities = np.array(answer.get_json()["outputs"][0]["data"]).reshape(len(X), -1)
    np.testing.assert_allclose(probabilities, model.predict_proba(X), rtol=1e-5, atol=1e-7)
    deepnet = client.get(f"/andromeda/deepnet/{builtin_id(DP_MODEL)}?{BIGML_AUTH}").get_json()
    assert deepnet["status"]["code"] == 5 and deepnet["deepnet"]["network"]


def test_accuracy_lists_the_defended_model_with_its_epsilon(
    served, defended_cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.delenv("MLAAS_DATA_DIR", raising=False)
    monkeypatch.setenv("MLAAS_CACHE_DIR", str(defended_cache))
    monkeypatch.setenv("MLAAS_TRAINING_DEFENSES", DP_MODEL)
    assert main(["accuracy", "--json"]) == 0
    row = next(r for r in json.loads(capsys.readouterr().out) if r["model"] == DP_MODEL)
    assert row["epsilon"] == entry(defended_cache).load().metadata["epsilon"] > 0
    assert row["heldout_accuracy"] > 0.5
