"""Re-judging a finished run: the ``recon-<label>.png`` files of any output folder, scored by the panel.

Labels are the served model's class indices. The class names come from the
run's own ``results.json`` when it records them (every face attack does);
otherwise the zoo's order is assumed, which is the data set's: AT&T people
``s1`` ... ``s40`` as 0 ... 39, digits 0 ... 9.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.image import imread

from attack_clients.datasets import load_faces
from attack_clients.judges.panel import panel_for
from attack_clients.judges.summary import headline

RECONSTRUCTION = re.compile(r"recon-(\d+)\.png$")


def read_reconstructions(folder: Path) -> tuple[np.ndarray, list[int], tuple[int, int]]:
    """Images ``(n, h*w)`` in [0, 1], their labels and the shape, from ``recon-<label>.png``."""
    found = sorted(
        ((int(m.group(1)), path) for path in folder.iterdir() if (m := RECONSTRUCTION.match(path.name))),
        key=lambda pair: pair[0],
    )
    if not found:
        raise FileNotFoundError(f"{folder}: no recon-<label>.png files")
    images = []
    for _, path in found:
        pixels = imread(path)
        grey = pixels[..., 0] if pixels.ndim == 3 else pixels
        images.append(np.asarray(grey, dtype=np.float64))
    shapes = {image.shape for image in images}
    if len(shapes) != 1:
        raise ValueError(f"{folder}: reconstructions of different sizes {sorted(shapes)}")
    shape = images[0].shape
    return np.stack([image.reshape(-1) for image in images]), [label for label, _ in found], shape


def recorded_classes(folder: Path, model: str | None) -> list[str] | None:
    """The class names ``results.json`` recorded for ``model`` (any model when None)."""
    path = folder / "results.json"
    if not path.is_file():
        return None
    document = json.loads(path.read_text())
    if model is not None and document.get("model") not in (None, model):
        return None
    classes = document.get("classes")
    return list(classes) if classes else None


def rescore(folder: Path, model: str | None = None, seed: int = 0) -> dict[str, Any]:
    """The panel's verdict on ``folder``'s reconstructions, written to ``folder/judged.json``."""
    images, labels, shape = read_reconstructions(folder)
    data = load_faces(shape)
    recorded = recorded_classes(folder, model)
    classes = recorded or list(data.classes)
    names = {name: i for i, name in enumerate(data.classes)}
    unknown = [c for c in classes if c not in names]
    if unknown:
        raise ValueError(f"{folder}: classes {unknown[:3]} are not people of the {data.source} data")
    identities = np.asarray([names[classes[label]] for label in labels])
    judges = panel_for(shape, seed).judge(images, identities)
    document = {
        "folder": str(folder),
        "model": model,
        "data": data.source,
        "image_shape": list(shape),
        "labels": labels,
        "classes_from": "results.json" if recorded else "zoo order",
        "judges": judges,
        "success": headline(judges),
    }
    (folder / "judged.json").write_text(json.dumps(document, indent=2))
    return document
