"""Black-box MI-Face over HTTP on every identity of ``faces-softmax``, against the same attack in-process.

Starts gunicorn (the repository's config, 2 workers), creates a user, and runs
the ``mi-face`` command's black-box defaults (zeroth-order estimator, 8
antithetic pairs in a 16x16 DCT basis, α = 2000, β = 100, γ = 0.99, λ = 0.1,
every label in one batch per step, binary v2 tensors) against it: target
under 60 s for the 40 AT&T identities with no defence. Baseline in the same
run: the identical attack on a local oracle over the downloaded network (no
HTTP), so the ratio shows what the wire costs. Both runs are judged by the
independent evaluator, so a fast but useless attack cannot pass.

Run: ``MLAAS_DATA_DIR=../shared/data python bench/mi_face_black_box.py``
(without the data directory the zoo's fallback, 8x8 digits, is attacked).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from attack_clients.clients import BigMLClient, V2Client
from attack_clients.faces.inversion import BlackBoxSettings, invert_black_box
from attack_clients.faces.mi_face import MIFaceParams
from attack_clients.faces.network import WhiteBoxModel
from attack_clients.judges import panel_for
from attack_clients.oracle import LocalOracle
from bench.harness import cpu_seconds, create_user, gunicorn_workers, start_gunicorn

MODEL = "faces-softmax"
TARGET_SECONDS = 60.0


def client_cpu() -> float:
    """CPU seconds of this process so far, every thread included."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def attack(
    oracle: V2Client | LocalOracle, image_shape: tuple[int, int], labels: list[int], settings: BlackBoxSettings
) -> dict:
    """One black-box run from x0 = 0 with the command's defaults; its cost and its success."""
    rows, cpu, started = oracle.stats.rows, client_cpu(), time.perf_counter()
    images, result = invert_black_box(oracle, labels, image_shape, MIFaceParams(alpha=2000), settings)
    seconds = time.perf_counter() - started
    judges = panel_for(image_shape).judge(images, np.asarray(labels))
    return {
        "seconds": round(seconds, 2),
        "client_cpu_seconds": round(client_cpu() - cpu, 2),
        "rows": oracle.stats.rows - rows,
        "stops": {reason: result.stop_reasons.count(reason) for reason in sorted(set(result.stop_reasons))},
        "face_recognizer_top1": round(float(judges["face_recognizer"]["top1"]), 3),
        "pixel_evaluator_top1": round(float(judges["pixel_evaluator"]["top1"]), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        host, server = start_gunicorn(Path(tmp))
        try:
            key = create_user(host)
            url = f"http://{host}"
            client = V2Client(url, key, MODEL)
            image_shape = tuple(int(v) for v in client.metadata()["image_shape"])
            labels = list(range(len(client.classes)))
            blank = client.predict_proba(np.zeros((1, int(np.prod(image_shape))), np.float32))[1][0]
            settings = BlackBoxSettings(log_gradient=bool(blank.min() < 1e-3))
            workers = gunicorn_workers(server.pid)
            server_cpu = cpu_seconds(workers)
            over_http = attack(client, image_shape, labels, settings)
            over_http["server_cpu_seconds"] = round(cpu_seconds(workers) - server_cpu, 2)
            over_http["bytes_sent"] = client.stats.bytes_sent
            with BigMLClient(url, key, MODEL) as bigml:
                network = WhiteBoxModel(bigml.download_model())
            local = attack(LocalOracle(network.predict_proba, client.classes), image_shape, labels, settings)
        finally:
            server.terminate()
            server.wait(timeout=60)
    figures: dict[str, Any] = {
        "model": MODEL,
        "image_shape": list(image_shape),
        "identities": len(labels),
        "over_http": over_http,
        "in_process": local,
        "http_over_local_seconds": round(over_http["seconds"] / local["seconds"], 2),
        "target_seconds": TARGET_SECONDS,
        "met": over_http["seconds"] < TARGET_SECONDS,
    }
    print(json.dumps(figures, indent=2))
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
