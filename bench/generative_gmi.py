"""White-box GMI over HTTP on every face model, all identities, with the full GAN prior of each fold.

Trains (or reads from ``instance/priors/``) the prior of each identity fold,
reports how long training took (and the load average at its end: the cores are
shared) and the share of 200 samples in which the face recogniser's detector
finds a face, writes a grid of samples per fold, then starts gunicorn (the
repository's config, 2 workers), creates a user and runs
``python -m attack_clients generative`` (white-box: the download through BigML,
no prediction query) on each model, all identities, judged by the panel
(success = the face recogniser's top-1; chance 0.025 on 40 people).

Run: ``MLAAS_DATA_DIR=../shared/data python bench/generative_gmi.py [--models faces-softmax]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from attack_clients.cli import main as cli
from attack_clients.datasets import load_faces
from attack_clients.generative.folds import prior_folds
from attack_clients.generative.prior import prior_for
from bench.harness import create_user, start_gunicorn

FACE_MODELS = ("faces-softmax", "faces-mlp", "faces-dae")


def sample_grid(images: np.ndarray, shape: tuple[int, int], columns: int = 8) -> np.ndarray:
    rows = len(images) // columns
    tiles = images[: rows * columns].reshape(rows, columns, *shape)
    return tiles.transpose(0, 2, 1, 3).reshape(rows * shape[0], columns * shape[1])


def priors(shape: tuple[int, int], size: str, out: Path) -> list[dict]:
    data = load_faces(shape)
    rows = []
    for fold in prior_folds(len(data.classes)):
        started = time.perf_counter()
        prior = prior_for(fold.victims, shape, size=size, progress=True)
        samples = prior.generate(prior.sample_latents(32, np.random.default_rng(1)))
        grid = np.round(sample_grid(samples, shape) * 255).astype(np.uint8)
        Image.fromarray(grid).save(out / f"prior-fold{fold.index}.png")
        rows.append(
            {
                "fold": fold.index,
                "victims": fold.victims.tolist(),
                "training_seconds": prior.description.get("training_seconds"),
                "seconds_now": time.perf_counter() - started,
                "training_load_average": prior.description.get("training_load_average"),
                "face_share": prior.description.get("face_share"),
                "samples_png": str(out / f"prior-fold{fold.index}.png"),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    return rows


def attack(models: list[str], size: str, out: Path, extra: list[str]) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        host, server = start_gunicorn(Path(tmp))
        try:
            key = create_user(host)
            for model in models:
                started = time.perf_counter()
                target = out / model
                argv = ["generative", "--url", f"http://{host}", f"--key={key}", "--model", model]
                code = cli([*argv, "--out", str(target), "--prior-size", size, "--quiet", *extra])
                results = json.loads((target / "results.json").read_text()) if code == 0 else {}
                metrics = results.get("metrics", {})
                rows.append(
                    {
                        "model": model,
                        "exit": code,
                        "seconds": time.perf_counter() - started,
                        "success_top1": (results.get("success") or {}).get("top1"),
                        **{k: metrics.get(k) for k in sorted(metrics) if k.startswith("face_recognizer")},
                        "evaluation_network_top1": metrics.get("evaluation_network_top1"),
                        "pixel_evaluator_top1": metrics.get("pixel_evaluator_top1"),
                        "ssim_mean": metrics.get("ssim_mean"),
                        "grid": str(target / "grid.png"),
                    }
                )
                print(json.dumps(rows[-1]), flush=True)
        finally:
            server.terminate()
            server.wait(timeout=60)
    return rows


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(FACE_MODELS))
    parser.add_argument("--size", default="full", choices=("full", "reduced"))
    parser.add_argument("--out", default="out/generative")
    parser.add_argument("--priors-only", action="store_true")
    args, extra = parser.parse_known_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    shape = load_faces().image_shape
    report = {"priors": priors(shape, args.size, out)}
    if not args.priors_only:
        report["attacks"] = attack(args.models.split(","), args.size, out, extra)
    (out / "bench.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    run()
