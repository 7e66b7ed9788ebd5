"""The training-time defended models' table: noise multiplier -> epsilon -> accuracy, and the regularisers.

``MLAAS_DATA_DIR=../shared/data python bench/defended_table.py`` trains the defended
models that are not cached yet (as ``python -m app train-defenses`` does) and prints,
from each model's metadata and the served code, markdown rows for the README: DP-SGD
(epsilon at delta = 1e-5 from Opacus's RDP accountant, training and held-out accuracy)
and the regularised MLPs, with each one's training time. A measurement, not a speed
benchmark: no baseline ratio.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import bootstrap
from app.config import INSTANCE_PATH, from_environment


def main() -> None:
    defended = bootstrap.train_defenses(from_environment(INSTANCE_PATH))
    print("| model | noise multiplier | epsilon (delta 1e-5) | batch / epochs / steps | training acc | held-out acc "
          "| s (CPU s) |")
    print("|---|---|---|---|---|---|---|")
    for name, model in defended.items():
        meta, facts = model.metadata, model.metadata["training_defense_params"]
        X, y = model.heldout()
        heldout = float(np.mean(model.predict_proba(X).argmax(axis=1) == y))
        if facts["kind"] != "dp-sgd":
            continue
        print(
            f"| `{name}` | {facts['noise_multiplier']:g} | {facts['epsilon']:.1f} | {facts['batch_size']} / "
            f"{facts['epochs']} / {facts['steps']} | {meta['training_accuracy']:.3f} | {heldout:.3f} | "
            f"{meta['training_seconds']:.0f} ({meta['training_cpu_seconds']:.0f}) |"
        )
    print()
    print("| model | defence | training acc | held-out acc | epochs | s (CPU s) |")
    print("|---|---|---|---|---|---|")
    for name, model in defended.items():
        meta = model.metadata
        if meta["training_defense_params"]["kind"] == "dp-sgd":
            continue
        print(
            f"| `{name}` | {meta['training_defense']} | {meta['training_accuracy']:.3f} | "
            f"{meta['heldout_accuracy']:.3f} | {meta['iterations']['epochs']} | "
            f"{meta['training_seconds']:.0f} ({meta['training_cpu_seconds']:.0f}) |"
        )
    seconds = sum(m.metadata["training_seconds"] for m in defended.values())
    cpu = sum(m.metadata["training_cpu_seconds"] for m in defended.values())
    print(f"\n{len(defended)} defended models: {seconds:.0f} s of training ({cpu:.0f} CPU s)")


if __name__ == "__main__":
    main()
