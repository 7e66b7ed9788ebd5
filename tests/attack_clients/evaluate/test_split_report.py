"""The split-network report section, on synthetic split-decoder cells (no server)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from attack_clients.evaluate.document import Figure, Table, markdown
from attack_clients.evaluate.split_report import split_section
from attack_clients.evaluate.store import ResultStore


def split_cell(attack: str, model: str, b: float, accuracy: float, hits: int, ssim: float) -> dict[str, Any]:
    metrics = {"ssim_to_victim": ssim, "baseline_mean_face_ssim_to_victim": 0.35, "evaluation_network_top1": 0.1}
    success = {"judge": "face_recognizer", "top1": hits / 120, "hits": hits, "n": 120, "chance": 0.025}
    raw = {"device_noise": b, "accuracy_under_noise": accuracy, "clean_heldout_accuracy": 0.89,
           "chance_accuracy": 0.025, "metrics": metrics, "success": success}  # fmt: skip
    return {"key": f"{attack}.{model}.none", "attack": attack, "model": model, "defence": "none", "status": "ok",
            "raw": raw}  # fmt: skip


def summary_of(out: Path, cells: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    store = ResultStore(out)
    for cell in cells:
        store.save(cell["key"], cell, {})
    rows = [{k: cell[k] for k in ("key", "attack", "model", "status")} for cell in cells]
    return {"cells": rows, **extra}


def test_rows_by_model_then_b_with_success_ssim_and_the_users_accuracy(tmp_path: Path) -> None:
    cells = [
        split_cell("split-decoder-b100", "faces-split", 100, 0.042, 5, 0.336),
        split_cell("split-decoder", "faces-split", 0, 0.892, 6, 0.404),
        split_cell("split-decoder-b10", "faces-split", 10, 0.183, 3, 0.369),
        split_cell("split-decoder", "faces-split-dp-nm1", 0, 0.592, 2, 0.38),
        {**split_cell("split-decoder-b3", "faces-split", 3, 0.7, 3, 0.39), "status": "failed"},
    ]
    unrelated = {"key": "mi-face-bb.faces-softmax.none", "attack": "mi-face-bb", "model": "faces-softmax",
                 "status": "ok", "raw": {}}  # fmt: skip
    summary = summary_of(tmp_path, [*cells, unrelated], model_info={"faces-split-dp-nm1": {"epsilon": 40.308}})
    blocks = split_section(summary, tmp_path)
    (table,) = [b for b in blocks if isinstance(b, Table)]
    assert [row[:4] for row in table.rows] == [
        ("faces-split", "0", "0.892", "0.050 (6/120)"),
        ("faces-split", "10", "0.183", "0.025 (3/120)"),
        ("faces-split", "100", "0.042", "0.042 (5/120)"),
        ("faces-split-dp-nm1 (ε = 40.3)", "0", "0.592", "0.017 (2/120)"),
    ]
    assert [row[4] for row in table.rows] == ["0.404", "0.369", "0.336", "0.380"]
    (figure,) = [b for b in blocks if isinstance(b, Figure)]
    assert figure.path == tmp_path / "figures" / "split-network.png" and figure.path.stat().st_size > 1000
    assert "figures/split-network.png" in markdown(blocks, tmp_path)


def test_without_a_face_recogniser_the_success_column_is_blank(tmp_path: Path) -> None:
    digits = split_cell("split-decoder", "faces-split", 0, 0.95, 0, 0.5)
    digits["raw"]["success"] = {"judge": None, "top1": None, "hits": None, "n": 36, "chance": None}
    (table,) = [b for b in split_section(summary_of(tmp_path, [digits]), tmp_path) if isinstance(b, Table)]
    assert table.rows[0][:5] == ("faces-split", "0", "0.950", "-", "0.500")


def test_no_section_without_a_finished_split_cell(tmp_path: Path) -> None:
    failed = {**split_cell("split-decoder", "faces-split", 0, 0.9, 4, 0.4), "status": "failed"}
    assert split_section(summary_of(tmp_path, [failed]), tmp_path) == []
    assert not (tmp_path / "figures").exists()
