"""The per-attack face grids: one row per output defence the attack has a cell for."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pytest

from attack_clients.evaluate import figures
from attack_clients.evaluate.results import row
from attack_clients.evaluate.store import ResultStore

UTILITY = {"accuracy": 0.9, "clean_accuracy": 0.9, "log_loss": 0.31, "clean_log_loss": 0.3, "brier": 0.12,
           "clean_brier": 0.1, "mean_abs_change": 0.002, "label_change_rate": 0.0}  # fmt: skip


def recon_png(seed: int) -> bytes:
    buffer = io.BytesIO()
    plt.imsave(buffer, np.random.default_rng(seed).random((8, 8)), cmap="gray", format="png")
    return buffer.getvalue()


def save_cell(store: ResultStore, attack: str, model: str, defence: str, reconstructions: int) -> dict[str, Any]:
    success = {"judge": "face_recognizer", "top1": 0.1, "hits": 4, "n": 40, "chance": 1 / 40}
    cell = {"key": f"{attack}.{model}.{defence}", "attack": attack, "family": "face", "model": model,
            "defence": defence, "status": "ok", "utility": UTILITY, "wall_seconds": 1.0,
            "raw": {"metrics": {"face_recognizer_top1": 0.1}, "success": success}}  # fmt: skip
    store.save(cell["key"], cell, {f"recon-{k}.png": recon_png(k) for k in range(reconstructions)})
    return row(cell)


@pytest.fixture
def grid_rows(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """The y labels of each face grid drawn, by file name: one label per grid row."""
    drawn: dict[str, list[str]] = {}
    savefig = plt.Figure.savefig

    def recording_savefig(fig: plt.Figure, path: Path, *args: Any, **kwargs: Any) -> None:
        if Path(path).name.startswith("faces-"):
            first_column = [ax for ax in fig.axes if ax.get_subplotspec().is_first_col()]
            drawn[Path(path).name] = [ax.get_ylabel() for ax in first_column]
        savefig(fig, path, *args, **kwargs)

    monkeypatch.setattr(plt.Figure, "savefig", recording_savefig)
    return drawn


def test_a_face_grid_draws_a_row_only_for_the_defences_the_attack_has_cells_for(
    tmp_path: Path, grid_rows: dict[str, list[str]]
) -> None:
    store = ResultStore(tmp_path)
    rows = [save_cell(store, "split-decoder", "faces-split", "none", reconstructions=3)]
    rows += [
        save_cell(store, "mi-face-bb", "faces-softmax", defence, reconstructions=n)
        for defence, n in (("top-1", 2), ("none", 3), ("round-0.01", 0))  # a cell without reconstructions too
    ]
    store.save("mi-face-bb.faces-softmax.laplace-0.1", {}, {"recon-0.png": recon_png(0)})  # files, no row

    paths = figures.draw_all(rows, store, tmp_path / "figures")

    assert {p.name for p in paths} >= {"faces-split-decoder-faces-split.png", "faces-mi-face-bb-faces-softmax.png"}
    assert grid_rows["faces-split-decoder-faces-split.png"] == ["none"]
    assert grid_rows["faces-mi-face-bb-faces-softmax.png"] == ["none", "round-0.01", "top-1"]  # the sweep's order
    heights = {name: plt.imread(tmp_path / "figures" / name).shape[0] for name in grid_rows}
    assert heights["faces-split-decoder-faces-split.png"] * 2 < heights["faces-mi-face-bb-faces-softmax.png"]
