"""Images an attack leaves in its output folder: one PNG per label and a grid."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np


def save_png(image: np.ndarray, image_shape: Sequence[int], path: Path) -> None:
    """One greyscale PNG at the model's input resolution."""
    plt.imsave(path, np.clip(image, 0, 1).reshape(image_shape), cmap="gray", vmin=0, vmax=1)


def save_reconstructions(images: np.ndarray, labels: Sequence[int], image_shape: Sequence[int], out: Path) -> list[str]:
    """``recon-<label>.png`` for each attacked label; returns the file names."""
    names = []
    for image, label in zip(images, labels, strict=True):
        name = f"recon-{int(label)}.png"
        save_png(image, image_shape, out / name)
        names.append(name)
    return names


def save_grid(
    images: np.ndarray,
    references: np.ndarray | None,
    labels: Sequence[int],
    image_shape: Sequence[int],
    path: Path,
    columns: int = 10,
) -> None:
    """Reconstructions, each above a real image of the person when known."""
    pairs = 1 if references is None else 2
    rows = int(np.ceil(len(images) / columns))
    fig, axes = plt.subplots(rows * pairs, columns, figsize=(columns * 1.2, rows * pairs * 1.4))
    axes = np.atleast_2d(axes)
    for ax in axes.ravel():
        ax.axis("off")
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        r, c = divmod(i, columns)
        ax = axes[r * pairs, c]
        ax.imshow(np.clip(image, 0, 1).reshape(image_shape), cmap="gray", vmin=0, vmax=1)
        ax.set_title(str(label), fontsize=7)
        if references is not None:
            axes[r * pairs + 1, c].imshow(references[i].reshape(image_shape), cmap="gray", vmin=0, vmax=1)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
