"""Black-box and label-only generative searches over HTTP: all identities, time, rows, top-1.

Starts gunicorn (the repository's config, 2 workers), creates a user and, for
each model, each access and each setting given, searches every identity
through the v2 binary client: each fold's victims with the prior of the other
fold's people (``prior_for``: read from ``instance/priors/`` or trained first,
which is timed apart from the search). Every row the client sends is counted.
The reconstructions are judged by the panel (success = the face recogniser's
top-1; chance 0.025 on the 40 AT&T people). The goal: all 40 identities,
black-box, within 300 s.

Run: ``MLAAS_DATA_DIR=../shared/data python bench/generative_black_box.py
[--models faces-softmax] [--access black-box label-only] [--prior vae|pca|gan]
[--set steps=100 --set prior_weight=0.5 ...]``. Each ``--grid key=v1,v2`` adds
one run per value.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from attack_clients.attacks.judging import face_data, judge_reconstructions
from attack_clients.clients import V2Client
from attack_clients.generative import black_box, label_only
from attack_clients.generative.folds import fold_of, prior_folds
from attack_clients.generative.prior import prior_for
from bench.harness import create_user, start_gunicorn

TARGET_SECONDS = 300.0
SEARCHES = {"black-box": (black_box, black_box.NesSettings), "label-only": (label_only, label_only.BrepSettings)}
TOP1 = ("face_recognizer_top1", "evaluation_network_top1", "pixel_evaluator_top1")


def parse_value(raw: str) -> Any:
    for kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            continue
    return raw


def attack(client: V2Client, access: str, prior_kind: str, size: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Every identity searched with its fold's prior; the search timed apart from loading the priors."""
    module, settings_type = SEARCHES[access]
    settings = settings_type(**changes)
    image_shape = tuple(int(v) for v in client.metadata()["image_shape"])
    classes = list(client.classes)
    data, mapping, problem = face_data(image_shape, classes)
    if data is None:
        raise SystemExit(f"no auxiliary photos: {problem}")
    folds = prior_folds(len(data.classes))
    labels = list(range(len(classes)))
    images = np.zeros((len(labels), int(np.prod(image_shape))))
    per_label: list[dict[str, Any]] = []
    search_seconds = prior_seconds = 0.0
    rows = client.stats.rows
    for fold in folds:
        mine = [k for k in labels if fold_of(int(mapping[k]), folds) is fold]
        started = time.perf_counter()
        prior = prior_for(fold.victims, image_shape, size=size, kind=prior_kind)
        prior_seconds += time.perf_counter() - started
        started = time.perf_counter()
        outcome = module.run_search(client, prior, mine, settings)
        search_seconds += time.perf_counter() - started
        images[mine] = outcome.images
        per_label += outcome.per_label(mine)
    rows = client.stats.rows - rows
    judged = judge_reconstructions(images, labels, image_shape, classes)
    metrics = judged.get("metrics", judged)
    return {
        "access": access,
        "prior": prior_kind,
        "settings": settings.as_dict(),
        "identities": len(labels),
        "search_seconds": round(search_seconds, 1),
        "prior_load_seconds": round(prior_seconds, 1),
        "rows": rows,
        "rows_per_identity": rows / len(labels),
        "met_300s": search_seconds <= TARGET_SECONDS,
        **{key: metrics.get(key) for key in TOP1},
        "per_label": per_label,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["faces-softmax"])
    parser.add_argument("--access", nargs="+", default=list(SEARCHES), choices=list(SEARCHES))
    parser.add_argument("--prior", default="vae")
    parser.add_argument("--size", default="full")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a search setting")
    parser.add_argument("--grid", default=None, metavar="KEY=V1,V2", help="one run per value of one setting")
    parser.add_argument("--out", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()
    fixed = {key: parse_value(value) for key, value in (item.split("=", 1) for item in args.set)}
    variants = [fixed]
    if args.grid:
        key, values = args.grid.split("=", 1)
        variants = [{**fixed, key: parse_value(value)} for value in values.split(",")]
    figures = []
    with tempfile.TemporaryDirectory() as tmp:
        host, server = start_gunicorn(Path(tmp))
        try:
            key = create_user(host)
            for model in args.models:
                for access in args.access:
                    for changes in variants:
                        client = V2Client(f"http://{host}", key, model)
                        row = {"model": model, **attack(client, access, args.prior, args.size, changes)}
                        figures.append(row)
                        print(json.dumps({k: v for k, v in row.items() if k != "per_label"}), flush=True)
        finally:
            server.terminate()
            server.wait(timeout=60)
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
