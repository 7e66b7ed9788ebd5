"""The one writer of an attack's files: ``results.json``, ``recon-<label>.png``, ``grid.png``, CSV tables."""

from __future__ import annotations

import csv
from pathlib import Path

from attack_clients.attacks.base import AttackResult
from attack_clients.jsonfile import write_json


def write_result(result: AttackResult, out: Path) -> Path:
    """Write every file of ``result`` into ``out``; returns the path of ``results.json``."""
    out.mkdir(parents=True, exist_ok=True)
    document = dict(result.document)
    if result.images is not None:
        from attack_clients.faces.report import save_grid, save_reconstructions

        document["files"] = save_reconstructions(result.images, result.labels, result.image_shape, out)
        save_grid(result.images, result.references, result.labels, result.image_shape, out / "grid.png")
    path = out / "results.json"
    write_json(path, document)
    for name, rows in result.tables.items():
        with open(out / name, "w", newline="") as handle:
            csv.writer(handle).writerows(rows)
    return path
