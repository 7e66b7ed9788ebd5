"""A defence changed through one gunicorn worker reaches every worker within a second."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import requests

from tests.conftest import LiveServer, start_server, stop_server

MODEL = "faces-softmax"


def _infer(server: LiveServer, key: str, rows: np.ndarray) -> tuple[np.ndarray, str]:
    body = {
        "inputs": [{"name": "pixels", "shape": list(rows.shape), "datatype": "FP32", "data": rows.ravel().tolist()}]
    }
    response = requests.post(
        f"{server.url}/v2/models/{MODEL}/infer", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=60
    )
    response.raise_for_status()
    output = next(o for o in response.json()["outputs"] if o["name"] == "probabilities")
    return np.asarray(output["data"]).reshape(output["shape"]), response.headers.get("X-Worker", "")


def _on_grid(probabilities: np.ndarray, r: float) -> bool:
    return bool(np.allclose(probabilities / r, np.round(probabilities / r), atol=1e-6))


def _pixels(server: LiveServer, seed: int) -> np.ndarray:
    meta = requests.get(
        f"{server.url}/v2/models/{MODEL}", headers={"Authorization": f"Bearer {server.admin_key}"}, timeout=30
    ).json()
    return np.random.default_rng(seed).random((2, meta["inputs"][0]["shape"][1])).astype(np.float32)


def _all_answers(server: LiveServer, key: str, rows: np.ndarray, count: int = 24) -> list[np.ndarray]:
    with ThreadPoolExecutor(max_workers=6) as pool:
        return [p for p, _ in pool.map(lambda _: _infer(server, key, rows), range(count))]


def test_a_change_reaches_every_worker_within_a_second(live_server: LiveServer) -> None:
    key = live_server.create_user("defense-watcher")
    rows = _pixels(live_server, seed=1)
    assert not any(_on_grid(p, 0.05) for p in _all_answers(live_server, key, rows))
    try:
        for r in (0.05, 0.1):
            put = live_server.admin("PUT", f"/admin/models/{MODEL}/defense", json=[{"round": r}])
            assert put.status_code == 200, put.text
            time.sleep(1.0)
            assert all(_on_grid(p, r) for p in _all_answers(live_server, key, rows))
        bad = live_server.admin("PUT", f"/admin/models/{MODEL}/defense", json=[{"round": -1}])
        assert bad.status_code == 400 and "round" in bad.json()["error"]["message"]
        assert live_server.admin("GET", f"/admin/models/{MODEL}/defense").json()["spec"] == [{"round": 0.1}]
    finally:
        assert live_server.admin("DELETE", f"/admin/models/{MODEL}/defense").status_code == 204
    time.sleep(1.0)
    assert not any(_on_grid(p, 0.05) for p in _all_answers(live_server, key, rows))


def test_user_setting_beats_model_setting_beats_global(live_server: LiveServer) -> None:
    plain, special = live_server.create_user("scope-plain"), live_server.create_user("scope-special")
    rows = _pixels(live_server, seed=2)
    try:
        live_server.admin("PUT", "/admin/defense", json=[{"round": 0.5}]).raise_for_status()
        live_server.admin("PUT", f"/admin/models/{MODEL}/defense", json=[{"round": 0.25}]).raise_for_status()
        live_server.admin("PUT", "/admin/users/scope-special/defense", json=[{"label_only": True}]).raise_for_status()
        time.sleep(1.0)
        plain_answer, _ = _infer(live_server, plain, rows)
        special_answer, _ = _infer(live_server, special, rows)
        assert _on_grid(plain_answer, 0.25) and not _on_grid(plain_answer, 0.5)
        assert set(np.unique(special_answer)) <= {0.0, 1.0}
    finally:
        live_server.admin("DELETE", "/admin/users/scope-special/defense")
        live_server.admin("DELETE", f"/admin/models/{MODEL}/defense")
        live_server.admin("PUT", "/admin/defense", json=[])


@pytest.mark.parametrize("spec", [[{"round": 0.05}]])
def test_settings_survive_a_restart(tmp_path, spec: list) -> None:
    first = start_server(tmp_path, workers=2)
    try:
        assert first.admin("PUT", f"/admin/models/{MODEL}/defense", json=spec).status_code == 200
    finally:
        stop_server(first)
    second = start_server(tmp_path, workers=2)
    try:
        assert second.admin("GET", f"/admin/models/{MODEL}/defense").json()["spec"] == spec
        key = second.create_user("after-restart")
        answer, _ = _infer(second, key, _pixels(second, seed=3))
        assert _on_grid(answer, 0.05)
    finally:
        stop_server(second)
