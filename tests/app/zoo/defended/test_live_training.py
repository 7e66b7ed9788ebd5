"""The service as users start it: gunicorn serves the base zoo at once, its master's trainer
trains the defended model in the background, and the workers pick it up without a restart."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests

from app.core.registry import POLL_SECONDS
from tests.app.zoo.defended.conftest import DP_MODEL, base_zoo_files
from tests.conftest import ADMIN_KEY, start_server, stop_server

HEADERS = {"Authorization": f"Bearer {ADMIN_KEY}"}


@pytest.mark.slow
def test_gunicorn_trains_in_the_background_and_workers_pick_the_model_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    for path in base_zoo_files():
        (cache / path.name).symlink_to(path)
    monkeypatch.delenv("MLAAS_DATA_DIR", raising=False)
    server = start_server(tmp_path, extra_env={"MLAAS_CACHE_DIR": str(cache), "MLAAS_TRAINING_DEFENSES": DP_MODEL})
    try:
        assert requests.get(f"{server.url}/v2/models/faces-softmax/ready", headers=HEADERS, timeout=30).ok
        states = []
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            answer = requests.get(f"{server.url}/v2/models/{DP_MODEL}", headers=HEADERS, timeout=30).json()
            states.append(answer["parameters"]["state"])
            if states[-1] == "ready":
                break
            time.sleep(0.5)
        assert states[-1] == "ready", states
        assert set(states) <= {"queued", "training", "ready"}
        time.sleep(2 * POLL_SECONDS)  # the other worker looks in the cache within POLL_SECONDS
        for _ in range(4):  # both workers, whichever answers
            ready = requests.get(f"{server.url}/v2/models/{DP_MODEL}/ready", headers=HEADERS, timeout=30)
            assert ready.status_code == 200
        assert answer["parameters"]["epsilon"] > 0
    finally:
        stop_server(server)
