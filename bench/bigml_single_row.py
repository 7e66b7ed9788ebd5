"""Single-row BigML predictions on ``steak-tree`` against a bare Flask endpoint, and worker memory.

Both servers run under the repository's gunicorn configuration (2 workers) in the
same run and get the same requests from the same client threads (each with its own
keep-alive session). The bare endpoint returns the service's own precomputed answer,
so the ratio is what the whole stack costs per request. Then every model is touched
once and each worker's resident memory is read from /proc.

    python bench/bigml_single_row.py [--seconds 10] [--threads 4] [--rounds 3]

Environment as for the service (``MLAAS_DATA_DIR`` for the real steak survey, else the
``fair-tree`` fallback is used).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import ADMIN_KEY, create_user, gunicorn_workers, resident_mb, start_gunicorn  # noqa: E402


def tree_model(host: str) -> tuple[str, str, dict]:
    """The built-in tree's BigML id, name and one realistic input record."""
    auth = {"Authorization": f"Bearer {ADMIN_KEY}"}
    listing = requests.get(f"http://{host}/andromeda/model", headers=auth, params={"limit": 100}, timeout=60).json()
    tree = next(o for o in listing["objects"] if o["resource"].startswith("model/") and o["name"].endswith("-tree"))
    meta = requests.get(f"http://{host}/v2/models/{tree['name']}", headers=auth, timeout=60).json()["parameters"]
    record = {f["name"]: f["categories"][0] for f in meta["fields"] if f["optype"] == "categorical"}
    record.update({f["name"]: 1.0 for f in meta["fields"] if f["optype"] == "numeric"})
    return tree["resource"], tree["name"], record


def requests_per_second(url: str, body: bytes, key: str, threads: int, seconds: float) -> float:
    """Requests per second from ``threads`` keep-alive clients sending ``body`` for ``seconds``."""
    counts = [0] * threads
    stop = time.monotonic() + seconds

    def drive(slot: int) -> None:
        session = requests.Session()
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        while time.monotonic() < stop:
            response = session.post(url, data=body, headers=headers, timeout=60)
            if response.status_code != 201:
                raise RuntimeError(f"{url} answered {response.status_code}: {response.text[:300]}")
            counts[slot] += 1

    started = time.monotonic()
    workers = [threading.Thread(target=drive, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(counts) / (time.monotonic() - started)


def touch_every_model(host: str, key: str) -> None:
    """One prediction per built-in model, so every model's arrays are resident."""
    auth = {"Authorization": f"Bearer {key}"}
    listing = requests.get(f"http://{host}/andromeda/model", headers=auth, params={"limit": 100}, timeout=60).json()
    for obj in listing["objects"]:
        meta = requests.get(f"http://{host}/v2/models/{obj['name']}", headers=auth, timeout=60).json()
        if meta["parameters"]["kind"] != "image":
            continue
        width = meta["inputs"][0]["shape"][1]
        pixels = np.random.default_rng(0).random((8, width)).round(3).ravel().tolist()
        body = {"inputs": [{"name": "pixels", "shape": [8, width], "datatype": "FP32", "data": pixels}]}
        for _ in range(4):  # a few requests, so that both workers are likely to serve one
            requests.post(f"http://{host}/v2/models/{obj['name']}/infer", json=body, headers=auth, timeout=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each measurement")
    parser.add_argument("--threads", type=int, default=4, help="client threads")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (service, bare)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        host, service = start_gunicorn(tmp)
        try:
            key = create_user(host)
            model_id, name, record = tree_model(host)
            body = json.dumps({"model": model_id, "input_data": record}).encode()
            answer = requests.post(
                f"http://{host}/prediction", data=body, headers={"Authorization": f"Bearer {key}"}, timeout=60
            )
            (tmp / "answer.json").write_bytes(answer.content)
            os.environ["BARE_FLASK_ANSWER"] = str(tmp / "answer.json")
            bare_host, bare = start_gunicorn(tmp, app="bench.bare_flask:app")
            try:
                ours, theirs = [], []
                for _ in range(args.rounds):
                    ours.append(requests_per_second(f"http://{host}/prediction", body, key, args.threads, args.seconds))
                    theirs.append(
                        requests_per_second(f"http://{bare_host}/prediction", body, key, args.threads, args.seconds)
                    )
            finally:
                bare.terminate()
                bare.wait(timeout=60)
            touch_every_model(host, key)
            memory = {pid: resident_mb(pid) for pid in gunicorn_workers(service.pid)}
        finally:
            service.terminate()
            service.wait(timeout=60)

    ratio = statistics.median(o / t for o, t in zip(ours, theirs, strict=True))
    print(f"single-row BigML predictions on {name}, {args.threads} client threads, {args.rounds} rounds:")
    for label, values in (("service", ours), ("bare Flask", theirs)):
        rounds = ", ".join(f"{v:.0f}" for v in values)
        print(f"  {label:<16} {statistics.median(values):8.0f} requests/s  (rounds: {rounds})")
    print(f"  ratio (median of paired rounds) {ratio:.2f}   target >= 0.70")
    print("resident memory per worker with every model loaded and used (MB):")
    for pid, mb in memory.items():
        print(f"  worker {pid}: {mb:.0f} MB   target <= 600")
    return 0 if ratio >= 0.7 and max(memory.values()) <= 600 else 1


if __name__ == "__main__":
    sys.exit(main())
