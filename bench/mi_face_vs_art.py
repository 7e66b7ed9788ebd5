"""Batched MI-Face against IBM ART's ``MIFace``, and the black-box cost.

Trains a softmax-regression target on the real faces (7 images per person,
Olivetti 64x64 by default; digits without ``MLAAS_DATA_DIR``), then:

1. white-box MI-Face over every label at once, α=5000, β=100, γ=0.99, λ=0.1,
   with Algorithm 1's stopping rule, and forced to run all 5000 iterations
   (what ART always does: the like-for-like speed comparison);
2. ART's ``MIFace`` with the same parameters on the same network (if ART is
   installed: ``pip install adversarial-robustness-toolbox``), timings and the
   ratio to the forced run;
3. black-box MI-Face with the zeroth-order estimator on a ``LocalOracle``
   (defaults of the ``mi-face`` command), unrounded and rounded to r=0.05:
   rows per identity, seconds, evaluator top-1/top-5, lineup, SSIM.

Run: ``MLAAS_DATA_DIR=../shared/data python bench/mi_face_vs_art.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from attack_clients.datasets import load_faces
from attack_clients.faces.inversion import BlackBoxSettings, invert_black_box, invert_white_box
from attack_clients.faces.mi_face import MIFaceParams
from attack_clients.faces.network import WhiteBoxModel
from attack_clients.faces.targets import fit_dense_target
from attack_clients.judges import panel_for
from attack_clients.judges.summary import flat
from attack_clients.oracle import LocalOracle

SUMMARY_KEYS = ("face_recognizer_top1", "evaluation_network_top1", "pixel_evaluator_top1", "ssim_mean")


def summary(judges: dict) -> dict:
    row = flat(judges)
    return {key: None if row[key] is None else round(float(row[key]), 3) for key in SUMMARY_KEYS}


def run_art(model: WhiteBoxModel, labels: list[int], params: MIFaceParams) -> tuple[np.ndarray, float]:
    from art.attacks.inference.model_inversion import MIFace
    from art.estimators.classification import PyTorchClassifier

    classifier = PyTorchClassifier(
        model=model.full,
        loss=torch.nn.CrossEntropyLoss(),
        input_shape=(model.n_pixels,),
        nb_classes=len(labels),
        clip_values=(0.0, 1.0),
    )
    attack = MIFace(
        classifier,
        max_iter=params.alpha,
        window_length=params.beta,
        threshold=params.gamma,
        learning_rate=params.lam,
        batch_size=len(labels),
        verbose=False,
    )
    start = time.perf_counter()
    images = attack.infer(None, y=np.asarray(labels))
    return images, time.perf_counter() - start


def rounding(step: float):
    return lambda p: np.round(p / step) * step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="64x64", help="64x64 (Olivetti) or 112x92 (AT&T)")
    parser.add_argument("--threads", type=int, default=1, help="torch/BLAS threads for both attacks")
    parser.add_argument("--skip-art", action="store_true")
    parser.add_argument("--skip-black-box", action="store_true")
    parser.add_argument("--out", help="write the figures as JSON here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    threadpool_limits(args.threads)

    h, w = (int(v) for v in args.shape.split("x"))
    data = load_faces((h, w))
    train = np.arange(len(data.labels)) % 10 < 7 if data.source != "digits" else np.arange(len(data.labels)) % 2 == 0
    start = time.perf_counter()
    export = fit_dense_target(data.images[train], data.labels[train], len(data.classes), data.image_shape)
    model = WhiteBoxModel(export)
    held_out = (model.predict_proba(data.images[~train]).argmax(axis=1) == data.labels[~train]).mean()
    print(
        f"target: softmax regression on {data.source} {data.image_shape}, held-out accuracy "
        f"{held_out:.3f}, trained in {time.perf_counter() - start:.1f}s"
    )
    panel = panel_for(data.image_shape)
    for name, judge in panel.judges.items():
        print(f"judge {name}: real held-out {judge.real_heldout()}")
    labels = list(range(len(data.classes)))
    params = MIFaceParams()
    figures: dict = {"data": data.source, "image_shape": list(data.image_shape), "target_heldout_accuracy": held_out}

    start = time.perf_counter()
    images, result = invert_white_box(export, labels, params)
    ours = time.perf_counter() - start
    figures["white_box"] = {
        "seconds": ours,
        "median_iterations": float(np.median(result.iterations)),
        **summary(panel.judge(images, np.asarray(labels))),
    }
    print(
        f"ours, white-box, {len(labels)} labels: {ours:.2f}s, median {np.median(result.iterations):.0f} "
        f"iterations, {figures['white_box']}"
    )
    forced_params = MIFaceParams(alpha=params.alpha, beta=params.alpha + 1, gamma=2.0, lam=params.lam)
    start = time.perf_counter()
    images, result = invert_white_box(export, labels, forced_params)
    forced = time.perf_counter() - start
    figures["white_box_5000_iterations"] = {"seconds": forced, **summary(panel.judge(images, np.asarray(labels)))}
    print(f"ours, white-box, all {params.alpha} iterations: {forced:.2f}s, {figures['white_box_5000_iterations']}")

    if not args.skip_art:
        try:
            art_images, art_seconds = run_art(model, labels, params)
        except ImportError:
            print("ART not installed: pip install adversarial-robustness-toolbox")
        else:
            figures["art"] = {"seconds": art_seconds, **summary(panel.judge(art_images, np.asarray(labels)))}
            figures["speedup_same_iterations"] = art_seconds / forced
            figures["speedup_with_stopping_rule"] = art_seconds / ours
            print(
                f"ART MIFace: {art_seconds:.2f}s, {figures['art']}; ours is {art_seconds / forced:.1f}x faster "
                f"at 5000 iterations each, {art_seconds / ours:.1f}x with Algorithm 1's stopping rule"
            )

    if not args.skip_black_box:
        settings = BlackBoxSettings()
        for name, defense, smooth in (("zo", None, False), ("zo r=0.05", rounding(0.05), True)):
            oracle = LocalOracle(model.predict_proba, data.classes, defense=defense)
            start = time.perf_counter()
            images, result = invert_black_box(
                oracle,
                labels,
                data.image_shape,
                MIFaceParams(alpha=2000),
                BlackBoxSettings(**{**settings.__dict__, "smooth_cost": smooth}),
            )
            seconds = time.perf_counter() - start
            figures[name] = {
                "rows": oracle.stats.rows,
                "rows_per_identity": oracle.stats.rows / len(labels),
                "seconds": seconds,
                **summary(panel.judge(images, np.asarray(labels))),
            }
            print(f"black-box {name}: {figures[name]}")
    if args.out:
        with open(args.out, "w") as handle:
            json.dump(figures, handle, indent=2, default=float)


if __name__ == "__main__":
    main()
